package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

// Config is every setting, read from PAIMENG_* variables; flags of the
// same name (lower case, dashes) override them. The README's settings
// table lists the same names and defaults.
type Config struct {
	DataDir       string
	DatabaseURL   string
	RedisURL      string
	HTTPAddr      string
	MetricsAddr   string
	PublicURL     string
	BlobDir       string
	SignupCredits int64
	PricePerClip  int64
	PriceSpec     string
	DailyCredits  int64
	TZ            string
	Admins        string
	BannedTerms   string
	MaxQueued     int
	MaxRunning    int
	RateLimit     string
	FastWeight    int
	RelaxWeight   int
	DispatchAhead int
	LinkCodeTTL   time.Duration
	EngineSpec    string
	ModelsDir     string
	ProviderSpec  string

	// Derived by finish.
	Engines    []string // PAIMENG_ENGINES: the engines offered; the first is the default
	Providers  []inference.Provider
	Prices     *paimeng.Prices
	Location   *time.Location
	AdminIDs   []paimeng.Identity
	RateCount  int
	RateWindow time.Duration

	TelegramToken   string
	TelegramAPIURL  string
	TelegramPolling bool

	DiscordToken     string
	DiscordAppID     string
	DiscordPublicKey string
	DiscordAPIURL    string
	DiscordGuildID   string
	DiscordMode      string

	WeChatAppID           string
	WeChatSecret          string
	WeChatToken           string
	WeChatAESKey          string
	WeChatAPIURL          string
	WeChatCustomerService bool

	ORTLibrary        string
	FFmpeg            string
	EncoderPreset     string
	VideoEncoder      string // auto, libx264 or h264_nvenc; a worker resolves auto at start
	CameraDevice      string // auto, cpu or cuda:N
	CUDADriver        string
	NVRTCLibrary      string
	KernelCache       string
	MaxSide           int
	WorkerConcurrency int
	EngineConcurrency int
	TaskTimeout       time.Duration
	TaskRetries       int
	JobDeadline       time.Duration

	LogLevel  string
	LogFormat string
}

// setting is one row of the settings table.
type setting struct {
	env, def, help string
	bind           func(fs *flag.FlagSet, name, value, help string) error
}

func (c *Config) settings() []setting {
	type binder = func(*flag.FlagSet, string, string, string) error
	str := func(p *string) binder {
		return func(fs *flag.FlagSet, n, v, h string) error { fs.StringVar(p, n, v, h); return nil }
	}
	parsed := func(set func(string) error) binder {
		return func(fs *flag.FlagSet, n, v, h string) error { fs.Func(n, h+" (default "+v+")", set); return set(v) }
	}
	i64 := func(p *int64) binder { return parsed(setInt64(p)) }
	in := func(p *int) binder { return parsed(setInt(p)) }
	dur := func(p *time.Duration) binder { return parsed(setDuration(p)) }
	boolean := func(p *bool) binder { return parsed(setBool(p)) }
	return []setting{
		{"PAIMENG_DATA_DIR", "./data", "folder for the embedded database and blobs", str(&c.DataDir)},
		{"PAIMENG_DATABASE_URL", "", "postgres://… or a SQLite file path (dev default: $PAIMENG_DATA_DIR/paimeng.db)", str(&c.DatabaseURL)},
		{"PAIMENG_REDIS_URL", "", "redis://host:port/db (dev default: in-process Redis)", str(&c.RedisURL)},
		{"PAIMENG_HTTP_ADDR", "127.0.0.1:8080", "address of the web playground, API and webhooks", str(&c.HTTPAddr)},
		{"PAIMENG_METRICS_ADDR", "", "address of a separate /metrics listener (Prometheus text format) in any role; empty: none (front ends also serve /metrics on PAIMENG_HTTP_ADDR)", str(&c.MetricsAddr)},
		{"PAIMENG_PUBLIC_URL", "", "public base URL for links (default http://$PAIMENG_HTTP_ADDR)", str(&c.PublicURL)},
		{"PAIMENG_BLOB_DIR", "", "folder shared by front ends and workers for images and videos (default $PAIMENG_DATA_DIR/blobs)", str(&c.BlobDir)},
		{"PAIMENG_SIGNUP_CREDITS", "100", "credits granted once to every new member", i64(&c.SignupCredits)},
		{"PAIMENG_PRICE_PER_CLIP", "10", "credits for a std 5 s clip in the fast lane (the base of the price table)", i64(&c.PricePerClip)},
		{"PAIMENG_ENGINES", "camera", "engines members may pick (--engine, the API's engine field), comma-separated; the first is the default: camera, or the name of a model package in PAIMENG_MODELS_DIR", str(&c.EngineSpec)},
		{"PAIMENG_MODELS_DIR", "", "folder of learned model packages, one subfolder each (docs/models.md); workers serve those named in PAIMENG_ENGINES (default $PAIMENG_DATA_DIR/models)", str(&c.ModelsDir)},
		{"PAIMENG_ORT_PROVIDERS", "cpu", "ONNX Runtime execution providers for learned models, tried in order: cpu, cuda:0, tensorrt:0,cuda:0,cpu, with options as cuda:0{gpu_mem_limit=8GiB} (keys: docs/models.md)", str(&c.ProviderSpec)},
		{"PAIMENG_PRICES", "", "price table, inline (\"camera=10, pro=1.75, 10s=2, relax=0.5, camera/pro/10=40\") or the path of a file of it", str(&c.PriceSpec)},
		{"PAIMENG_DAILY_CREDITS", "10", "credits paid by /daily once per calendar day (0 turns it off)", i64(&c.DailyCredits)},
		{"PAIMENG_TZ", "Asia/Shanghai", "the community's time zone: daily check-in days, leaderboard weeks and months", str(&c.TZ)},
		{"PAIMENG_ADMINS", "", "admin identities, comma-separated (telegram:123,web:alice): they may /grant, /ban and /unban", str(&c.Admins)},
		{"PAIMENG_BANNED_TERMS", "", "file of banned prompt terms, one per line (matched after NFKC, case folding and removal of zero-width and bidi characters)", str(&c.BannedTerms)},
		{"PAIMENG_MAX_QUEUED", "3", "unfinished jobs a member may have at once", in(&c.MaxQueued)},
		{"PAIMENG_MAX_RUNNING", "1", "jobs of one member handed to the workers at once", in(&c.MaxRunning)},
		{"PAIMENG_RATE_LIMIT", "6/1m", "submissions a member may make per window (N/duration; 0 for no limit)", str(&c.RateLimit)},
		{"PAIMENG_FAST_WEIGHT", "6", "asynq weight of the fast lane", in(&c.FastWeight)},
		{"PAIMENG_RELAX_WEIGHT", "1", "asynq weight of the relax lane (relax jobs also wait while fast jobs wait)", in(&c.RelaxWeight)},
		{"PAIMENG_DISPATCH_AHEAD", "2", "tasks per lane waiting in Redis; the rest wait in the database in fair-share order", in(&c.DispatchAhead)},
		{"PAIMENG_LINK_CODE_TTL", "10m", "how long a /link code stays valid", dur(&c.LinkCodeTTL)},
		{"PAIMENG_TELEGRAM_TOKEN", "", "Telegram bot token; the Telegram front end runs when set", str(&c.TelegramToken)},
		{"PAIMENG_TELEGRAM_API_URL", "https://api.telegram.org", "Telegram Bot API base URL (a self-hosted Bot API server works)", str(&c.TelegramAPIURL)},
		{"PAIMENG_TELEGRAM_POLLING", "true", "receive Telegram updates here; with several serve replicas set false on all but one (the others still deliver)", boolean(&c.TelegramPolling)},
		{"PAIMENG_DISCORD_TOKEN", "", "Discord bot token; the Discord front end runs when set", str(&c.DiscordToken)},
		{"PAIMENG_DISCORD_APP_ID", "", "Discord application id", str(&c.DiscordAppID)},
		{"PAIMENG_DISCORD_PUBLIC_KEY", "", "Discord application public key (hex), checks every interaction (http mode)", str(&c.DiscordPublicKey)},
		{"PAIMENG_DISCORD_API_URL", "https://discord.com/api/v10", "Discord REST base URL", str(&c.DiscordAPIURL)},
		{"PAIMENG_DISCORD_GUILD_ID", "", "register the slash commands in this server only (instant); empty registers them globally", str(&c.DiscordGuildID)},
		{"PAIMENG_DISCORD_MODE", "http", "http: Discord posts interactions to $PAIMENG_PUBLIC_URL/discord/interactions; gateway: connect out over the gateway (no public address needed)", str(&c.DiscordMode)},
		{"PAIMENG_WECHAT_APPID", "", "WeChat official account AppID; the WeChat front end runs when it and the token are set", str(&c.WeChatAppID)},
		{"PAIMENG_WECHAT_SECRET", "", "WeChat AppSecret (for the access token)", str(&c.WeChatSecret)},
		{"PAIMENG_WECHAT_TOKEN", "", "the callback Token set in the official account's server settings", str(&c.WeChatToken)},
		{"PAIMENG_WECHAT_AES_KEY", "", "EncodingAESKey for safe mode (43 characters); empty: plain mode", str(&c.WeChatAESKey)},
		{"PAIMENG_WECHAT_API_URL", "https://api.weixin.qq.com", "WeChat API base URL", str(&c.WeChatAPIURL)},
		{"PAIMENG_WECHAT_CUSTOMER_SERVICE", "false", "deliver videos by customer-service message (verified service accounts); otherwise on the reader's next message", boolean(&c.WeChatCustomerService)},
		{"PAIMENG_ORT_LIBRARY", "", "path to libonnxruntime.so.1 (default .cache/ort/libonnxruntime.so.1, as make run installs it)", str(&c.ORTLibrary)},
		{"PAIMENG_FFMPEG", "ffmpeg", "ffmpeg binary", str(&c.FFmpeg)},
		{"PAIMENG_ENCODER_PRESET", "veryfast", "libx264 preset (h264_nvenc takes p1 … p7; other values mean p4)", str(&c.EncoderPreset)},
		{"PAIMENG_VIDEO_ENCODER", "auto", "H.264 encoder of workers: auto (h264_nvenc when a test encode works, else libx264), libx264 or h264_nvenc", str(&c.VideoEncoder)},
		{"PAIMENG_CAMERA_DEVICE", "auto", "where the camera engine renders: auto (the first GPU when its kernels load, else the CPU), cpu, or cuda:N (the worker refuses to start if that GPU cannot be used)", str(&c.CameraDevice)},
		{"PAIMENG_CUDA_DRIVER", "libcuda.so.1", "the CUDA driver library workers look for GPUs with", str(&c.CUDADriver)},
		{"PAIMENG_NVRTC_LIBRARY", "", "NVIDIA's runtime compiler, which compiles the CUDA kernels at worker start (default: the system's libnvrtc.so.13, .12 or .11.2, /usr/local/cuda/lib64, then .cache/nvrtc as scripts/nvrtc.sh fetches it)", str(&c.NVRTCLibrary)},
		{"PAIMENG_KERNEL_CACHE", "", "folder for compiled CUDA kernels, per device architecture and source (default $PAIMENG_DATA_DIR/kernels)", str(&c.KernelCache)},
		{"PAIMENG_MAX_SIDE", "1280", "longest side of generated videos in pixels", in(&c.MaxSide)},
		{"PAIMENG_WORKER_CONCURRENCY", "1", "jobs a worker renders at once", in(&c.WorkerConcurrency)},
		{"PAIMENG_ENGINE_CONCURRENCY", "0", "engine runs a worker allows at once; 0: each job runs its engine, bounded only by PAIMENG_WORKER_CONCURRENCY; N > 0: N at most, while up to PAIMENG_WORKER_CONCURRENCY jobs fetch, encode and upload around them", in(&c.EngineConcurrency)},
		{"PAIMENG_TASK_TIMEOUT", "10m", "time limit of one render attempt", dur(&c.TaskTimeout)},
		{"PAIMENG_TASK_RETRIES", "3", "retries of a render after a transient failure", in(&c.TaskRetries)},
		{"PAIMENG_JOB_DEADLINE", "2h", "after this, an unfinished job fails and its credits are released", dur(&c.JobDeadline)},
		{"PAIMENG_LOG_LEVEL", "info", "debug, info, warn or error", str(&c.LogLevel)},
		{"PAIMENG_LOG_FORMAT", "text", "text or json", str(&c.LogFormat)},
	}
}

// flagName turns PAIMENG_HTTP_ADDR into http-addr.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "PAIMENG_")), "_", "-")
}

// loadConfig binds every setting to fs with its environment value (or
// default) as the flag default. Call fs.Parse afterwards, then finish.
func loadConfig(fs *flag.FlagSet, getenv func(string) string) (*Config, error) {
	c := &Config{}
	for _, s := range c.settings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if err := s.bind(fs, flagName(s.env), v, s.help+" ("+s.env+")"); err != nil {
			return nil, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	return c, nil
}

// finish fills derived defaults and checks values.
func (c *Config) finish() error {
	if c.ModelsDir == "" {
		c.ModelsDir = filepath.Join(c.DataDir, "models")
	}
	if c.BlobDir == "" {
		c.BlobDir = filepath.Join(c.DataDir, "blobs")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.ORTLibrary == "" {
		c.ORTLibrary = findORT()
	}
	if c.KernelCache == "" {
		c.KernelCache = filepath.Join(c.DataDir, "kernels")
	}
	if _, err := cameraDevice(c.CameraDevice); err != nil {
		return fmt.Errorf("PAIMENG_CAMERA_DEVICE: %w", err)
	}
	if c.MaxSide < 64 || c.MaxSide > 4096 {
		return fmt.Errorf("PAIMENG_MAX_SIDE must be between 64 and 4096, not %d", c.MaxSide)
	}
	if c.WorkerConcurrency < 1 {
		return fmt.Errorf("PAIMENG_WORKER_CONCURRENCY must be at least 1")
	}
	if c.EngineConcurrency < 0 {
		return fmt.Errorf("PAIMENG_ENGINE_CONCURRENCY must not be negative")
	}
	if c.PricePerClip < 0 || c.SignupCredits < 0 {
		return fmt.Errorf("PAIMENG_PRICE_PER_CLIP and PAIMENG_SIGNUP_CREDITS must not be negative")
	}
	if c.TaskTimeout < time.Second {
		return fmt.Errorf("PAIMENG_TASK_TIMEOUT must be at least 1s")
	}
	switch c.VideoEncoder {
	case media.CodecAuto, media.CodecX264, media.CodecNVENC:
	default:
		return fmt.Errorf("PAIMENG_VIDEO_ENCODER must be %s, %s or %s, not %q", media.CodecAuto, media.CodecX264, media.CodecNVENC, c.VideoEncoder)
	}
	switch c.DiscordMode {
	case "http", "gateway":
	default:
		return fmt.Errorf("PAIMENG_DISCORD_MODE must be http or gateway, not %q", c.DiscordMode)
	}
	if c.DiscordToken != "" && (c.DiscordAppID == "" || (c.DiscordMode == "http" && c.DiscordPublicKey == "")) {
		return fmt.Errorf("the Discord front end needs PAIMENG_DISCORD_APP_ID and, in http mode, PAIMENG_DISCORD_PUBLIC_KEY")
	}
	if (c.WeChatAppID == "") != (c.WeChatToken == "") || (c.WeChatAppID != "" && c.WeChatSecret == "") {
		return fmt.Errorf("the WeChat front end needs PAIMENG_WECHAT_APPID, PAIMENG_WECHAT_SECRET and PAIMENG_WECHAT_TOKEN together")
	}
	if c.DailyCredits < 0 {
		return fmt.Errorf("PAIMENG_DAILY_CREDITS must not be negative")
	}
	if c.MaxQueued < 1 || c.MaxRunning < 1 || c.DispatchAhead < 1 {
		return fmt.Errorf("PAIMENG_MAX_QUEUED, PAIMENG_MAX_RUNNING and PAIMENG_DISPATCH_AHEAD must be at least 1")
	}
	if c.FastWeight < 1 || c.RelaxWeight < 1 {
		return fmt.Errorf("PAIMENG_FAST_WEIGHT and PAIMENG_RELAX_WEIGHT must be at least 1")
	}
	var err error
	if c.Location, err = time.LoadLocation(c.TZ); err != nil {
		return fmt.Errorf("PAIMENG_TZ: %w", err)
	}
	spec := c.PriceSpec
	if spec != "" && !strings.Contains(spec, "=") {
		b, err := os.ReadFile(spec)
		if err != nil {
			return fmt.Errorf("PAIMENG_PRICES: %w", err)
		}
		spec = string(b)
	}
	if c.Prices, err = paimeng.ParsePrices(spec, c.PricePerClip); err != nil {
		return fmt.Errorf("PAIMENG_PRICES: %w", err)
	}
	if c.Engines, err = parseEngines(c.EngineSpec); err != nil {
		return fmt.Errorf("PAIMENG_ENGINES: %w", err)
	}
	if c.Providers, err = inference.ParseProviders(c.ProviderSpec); err != nil {
		return fmt.Errorf("PAIMENG_ORT_PROVIDERS: %w", err)
	}
	c.AdminIDs = nil
	for _, a := range strings.Split(c.Admins, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		id, err := paimeng.ParseIdentity(a)
		if err != nil {
			return fmt.Errorf("PAIMENG_ADMINS: %w", err)
		}
		c.AdminIDs = append(c.AdminIDs, id)
	}
	if c.RateCount, c.RateWindow, err = parseRate(c.RateLimit); err != nil {
		return fmt.Errorf("PAIMENG_RATE_LIMIT: %w", err)
	}
	return nil
}

// builtinEngines are the engines every worker can build; any other engine
// name is a learned model package, served by workers that have it in
// PAIMENG_MODELS_DIR.
var builtinEngines = []string{"camera"}

// engineName is what a model package's name must look like to be offered.
var engineName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// parseEngines reads PAIMENG_ENGINES: engine names, comma- or
// space-separated, without repeats; at least one.
func parseEngines(spec string) ([]string, error) {
	var out []string
	for _, e := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		e = strings.ToLower(e)
		if !slices.Contains(builtinEngines, e) && !engineName.MatchString(e) {
			return nil, fmt.Errorf("engine %q is not %s or a model package name (letters, digits, '.', '_', '-')", e, strings.Join(builtinEngines, ", "))
		}
		if slices.Contains(out, e) {
			return nil, fmt.Errorf("engine %q listed twice", e)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine listed (for example %s)", strings.Join(builtinEngines, ", "))
	}
	return out, nil
}

// parseRate reads "N/duration" ("6/1m"); "0" or "" means no limit.
func parseRate(s string) (int, time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, 0, nil
	}
	n, w, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 0 {
		return 0, 0, fmt.Errorf("%q is not N/duration", s)
	}
	win, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || win <= 0 {
		return 0, 0, fmt.Errorf("%q is not N/duration", s)
	}
	return count, win, nil
}

// findORT looks for the ONNX Runtime library where make run puts it, then
// in the usual system places.
func findORT() string {
	cands := []string{filepath.Join(".cache", "ort", "libonnxruntime.so.1")}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", ".cache", "ort", "libonnxruntime.so.1"))
	}
	cands = append(cands, "/usr/local/lib/libonnxruntime.so.1", "/usr/lib/libonnxruntime.so.1", "/usr/lib/x86_64-linux-gnu/libonnxruntime.so.1")
	for _, p := range cands {
		if _, err := os.Stat(p); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	return cands[0]
}

// nvrtcFallbacks are the copies of NVRTC scripts/nvrtc.sh fetches, tried
// after the system's.
func nvrtcFallbacks() []string {
	cands := []string{filepath.Join(".cache", "nvrtc", "libnvrtc.so.11.2")}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", ".cache", "nvrtc", "libnvrtc.so.11.2"))
	}
	var out []string
	for _, p := range cands {
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				out = append(out, abs)
			}
		}
	}
	return out
}

// cameraDevice reads PAIMENG_CAMERA_DEVICE: -1 for auto, -2 for cpu, else
// the GPU ordinal.
func cameraDevice(v string) (int, error) {
	switch v {
	case "auto", "":
		return -1, nil
	case "cpu":
		return -2, nil
	}
	if n, ok := strings.CutPrefix(v, "cuda:"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < 64 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%q is not auto, cpu or cuda:N", v)
}

func setInt64(p *int64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		*p = v
		return nil
	}
}

func setInt(p *int) func(string) error {
	return func(s string) error {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		*p = v
		return nil
	}
}

func setBool(p *bool) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not true or false: %q", s)
		}
		*p = v
		return nil
	}
}

func setDuration(p *time.Duration) func(string) error {
	return func(s string) error {
		v, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a duration: %q", s)
		}
		*p = v
		return nil
	}
}
