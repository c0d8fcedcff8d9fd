package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting, read from PAIMENG_* variables; flags of the
// same name (lower case, dashes) override them. The README's settings
// table lists the same names and defaults.
type Config struct {
	DataDir       string
	DatabaseURL   string
	RedisURL      string
	HTTPAddr      string
	PublicURL     string
	BlobDir       string
	SignupCredits int64
	PricePerClip  int64

	TelegramToken   string
	TelegramAPIURL  string
	TelegramPolling bool

	ORTLibrary        string
	FFmpeg            string
	EncoderPreset     string
	MaxSide           int
	WorkerConcurrency int
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
		{"PAIMENG_PUBLIC_URL", "", "public base URL for links (default http://$PAIMENG_HTTP_ADDR)", str(&c.PublicURL)},
		{"PAIMENG_BLOB_DIR", "", "folder shared by front ends and workers for images and videos (default $PAIMENG_DATA_DIR/blobs)", str(&c.BlobDir)},
		{"PAIMENG_SIGNUP_CREDITS", "100", "credits granted once to every new member", i64(&c.SignupCredits)},
		{"PAIMENG_PRICE_PER_CLIP", "10", "credits per 5 s of video", i64(&c.PricePerClip)},
		{"PAIMENG_TELEGRAM_TOKEN", "", "Telegram bot token; the Telegram front end runs when set", str(&c.TelegramToken)},
		{"PAIMENG_TELEGRAM_API_URL", "https://api.telegram.org", "Telegram Bot API base URL (a self-hosted Bot API server works)", str(&c.TelegramAPIURL)},
		{"PAIMENG_TELEGRAM_POLLING", "true", "receive Telegram updates here; with several serve replicas set false on all but one (the others still deliver)", boolean(&c.TelegramPolling)},
		{"PAIMENG_ORT_LIBRARY", "", "path to libonnxruntime.so.1 (default .cache/ort/libonnxruntime.so.1, as make run installs it)", str(&c.ORTLibrary)},
		{"PAIMENG_FFMPEG", "ffmpeg", "ffmpeg binary", str(&c.FFmpeg)},
		{"PAIMENG_ENCODER_PRESET", "veryfast", "libx264 preset", str(&c.EncoderPreset)},
		{"PAIMENG_MAX_SIDE", "1280", "longest side of generated videos in pixels", in(&c.MaxSide)},
		{"PAIMENG_WORKER_CONCURRENCY", "1", "jobs a worker renders at once", in(&c.WorkerConcurrency)},
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
	if c.MaxSide < 64 || c.MaxSide > 4096 {
		return fmt.Errorf("PAIMENG_MAX_SIDE must be between 64 and 4096, not %d", c.MaxSide)
	}
	if c.WorkerConcurrency < 1 {
		return fmt.Errorf("PAIMENG_WORKER_CONCURRENCY must be at least 1")
	}
	if c.PricePerClip < 0 || c.SignupCredits < 0 {
		return fmt.Errorf("PAIMENG_PRICE_PER_CLIP and PAIMENG_SIGNUP_CREDITS must not be negative")
	}
	if c.TaskTimeout < time.Second {
		return fmt.Errorf("PAIMENG_TASK_TIMEOUT must be at least 1s")
	}
	return nil
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
