package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/wechat"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

func runGen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var image, prompt, out, sheet, cameraFlag, tailFile, resFlag, aspectFlag, engine string
	var seconds, fps int
	var seed int64
	cfg, _, err := parseConfig("gen", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&image, "image", "", "input image (JPEG, PNG or WebP)")
		fs.StringVar(&prompt, "prompt", "", "what should happen, camera words included (推近, pull back, 左移…)")
		fs.IntVar(&seconds, "seconds", 5, "clip length: 5 or 10")
		fs.Int64Var(&seed, "seed", 1, "seed for the camera shake")
		fs.StringVar(&cameraFlag, "camera", "", "camera control replacing the prompt's camera moves: AXIS:VALUE (zoom:-5, pan:3; -10 to 10) or down_back, forward_up, right_turn_forward, left_turn_forward")
		fs.StringVar(&tailFile, "tail", "", "end frame (JPEG, PNG or WebP): the clip travels from --image to it")
		fs.IntVar(&fps, "fps", paimeng.DefaultFPS, "frame rate: 24 or 30")
		fs.StringVar(&resFlag, "res", "", "output size: 540, 720 or 1080 (default: the picture's own, longest side at most PAIMENG_MAX_SIDE)")
		fs.StringVar(&aspectFlag, "aspect", "", "letterbox into 16:9, 9:16 or 1:1 (default: the picture's own shape)")
		fs.StringVar(&out, "out", "out.mp4", "output MP4; the poster is written beside it as .jpg")
		fs.StringVar(&sheet, "contact-sheet", "", "also write a PNG of every 12th frame here, to see the motion without a player")
		fs.StringVar(&engine, "engine", "camera", "engine: camera, or the name of a model package in --models-dir")
	})
	if err != nil {
		return err
	}
	if image == "" {
		return errors.New("gen: --image is required")
	}
	if seconds != 5 && seconds != 10 {
		return errors.New("gen: --seconds must be 5 or 10")
	}
	var camera *paimeng.CameraControl
	if cameraFlag != "" {
		if camera, err = paimeng.ParseCameraControl(cameraFlag); err != nil {
			return fmt.Errorf("gen: --camera: %w", err)
		}
	}
	res := 0
	if resFlag != "" {
		if res, err = paimeng.ParseResolution(resFlag); err != nil {
			return fmt.Errorf("gen: --res: %w", err)
		}
	}
	aspect, err := paimeng.ParseAspect(aspectFlag)
	if err != nil {
		return fmt.Errorf("gen: --aspect: %w", err)
	}
	if err := paimeng.CheckVideoOptions(fps, res, aspect); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	data, err := os.ReadFile(image)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	var tail []byte
	if tailFile != "" {
		if tail, err = os.ReadFile(tailFile); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
	}
	shot := command.ParseShot(prompt).WithControl(camera)
	if err := inference.InitORT(cfg.ORTLibrary); err != nil {
		return fmt.Errorf("gen: onnx runtime (%s): %w; run make setup or set PAIMENG_ORT_LIBRARY", cfg.ORTLibrary, err)
	}
	engines := map[string]paimeng.Engine{}
	if engine == "camera" {
		cam, err := inference.NewCameraEngine(inference.CameraOptions{MaxSide: cfg.MaxSide})
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		defer cam.Close()
		engines[engine] = cam
	} else {
		models, closers, err := modelEngines(cfg.ModelsDir, []string{engine}, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		for _, c := range closers {
			defer c()
		}
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		if models[engine] == nil {
			return fmt.Errorf("gen: no model package named %q in %s (paimeng admin model tiny --out %s writes a tiny one)", engine, cfg.ModelsDir, filepath.Join(cfg.ModelsDir, "paimeng-tiny"))
		}
		engines[engine] = models[engine]
	}
	r := media.NewRenderer(engines, engine, media.EncodeOptions{FFmpeg: cfg.FFmpeg, Preset: cfg.EncoderPreset})

	dir, err := os.MkdirTemp("", "paimeng-gen-")
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer os.RemoveAll(dir)
	bar := newProgressBar(stderr)
	start := time.Now()
	rendered, err := r.Render(ctx, &paimeng.RenderInput{
		Image: data, Prompt: prompt, Seconds: seconds, Seed: seed, OutDir: dir,
		Shot: &shot, Tail: tail, FPS: fps, Resolution: res, Aspect: aspect,
	}, bar.update)
	bar.finish()
	if err != nil {
		return fmt.Errorf("gen: %s: %w", paimeng.ErrorCode(err), err)
	}
	if err := copyFile(rendered.VideoPath, out); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	poster := strings.TrimSuffix(out, filepath.Ext(out)) + ".jpg"
	if err := copyFile(rendered.PosterPath, poster); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	fmt.Fprintf(stdout, "%s  %dx%d  %d frames at %.0f fps  %.1f s  %.1f MB  (took %.1f s)\n", out, rendered.Width, rendered.Height, rendered.Frames,
		float64(rendered.Frames)/rendered.Seconds, rendered.Seconds, float64(rendered.Bytes)/1e6, time.Since(start).Seconds())
	if sheet != "" {
		if err := media.ContactSheet(ctx, media.EncodeOptions{FFmpeg: cfg.FFmpeg}, out, sheet, 12, 240); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		fmt.Fprintf(stdout, "%s  every 12th frame\n", sheet)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

// progressBar draws a one-line bar on a terminal.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last string
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

func (b *progressBar) update(p paimeng.Progress) {
	const width = 30
	n := int(p.Fraction()*width + 0.5)
	line := fmt.Sprintf("\r%-7s [%s%s] %3.0f%%", p.Stage, strings.Repeat("█", n), strings.Repeat("░", width-n), p.Fraction()*100)
	b.mu.Lock()
	defer b.mu.Unlock()
	if line != b.last {
		fmt.Fprint(b.w, line)
		b.last = line
	}
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != "" {
		fmt.Fprintln(b.w)
	}
}

func openStore(ctx context.Context, cfg *Config) (*credits.Store, error) {
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "paimeng.db")
	}
	s, err := credits.Open(ctx, dsn, credits.Options{
		SignupCredits: cfg.SignupCredits,
		DailyCredits:  cfg.DailyCredits,
		Location:      cfg.Location,
		MaxQueued:     cfg.MaxQueued,
		RateLimit:     cfg.RateCount,
		RateWindow:    cfg.RateWindow,
		LinkCodeTTL:   cfg.LinkCodeTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return s, nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	verb := "up"
	if fs.NArg() > 0 {
		verb = fs.Arg(0)
	}
	s, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	switch verb {
	case "up":
		if err := s.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrated up ("+s.Dialect()+")")
		return nil
	case "down":
		if err := s.MigrateDown(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrated down one version ("+s.Dialect()+")")
		return nil
	case "status":
		return s.MigrateStatus(ctx, stdout)
	}
	return fmt.Errorf("migrate: unknown action %q (up, down, status)", verb)
}

const adminUsage = `admin commands:
  token create --user NAME|PLATFORM:ID        print a new API token
  grant   --user PLATFORM:ID --credits N [--reason TEXT]   add (or, negative, take) credits
  balance --user PLATFORM:ID                  show a wallet and its identities
  ledger  --user PLATFORM:ID [--limit N]      show a wallet's ledger, newest first
  codes create --credits N --count K [--expires 2026-12-31|72h] [--batch NAME]
                                              print K redemption codes worth N credits each
  ban     --user PLATFORM:ID [--reason TEXT]  stop a member from generating
  unban   --user PLATFORM:ID
  refund  --job ID [--reason TEXT]            give back the price of a succeeded job, once
  audit                                       recompute every balance from the ledger; exit 1 on drift
  model tiny --out DIR [--seed N] [--fp16]    write a tiny untrained model package (docs/models.md) to try the learned engine
  model check [--ort-providers SPEC] DIR      check a model package as a worker loads it (manifest, files, tokenizer,
                                              ONNX Runtime sessions) and say what it holds; exit 1 with the first problem
  selfcheck [--ort-providers SPEC]            run one inference on PAIMENG_ORT_PROVIDERS, compare it with the CPU, and say
                                              which provider and device it got and which video encoder a worker would use
  wechat menu [--file menu.json]              create the official account's custom menu (default: help, balance, leaderboard)`

// runSelfCheck prints the ONNX Runtime self-check a worker runs at start
// (paimeng admin selfcheck) and the video encoder it would choose; it
// fails when either check does.
func runSelfCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("admin selfcheck", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if err := inference.InitORT(cfg.ORTLibrary); err != nil {
		return fmt.Errorf("admin selfcheck: onnx runtime (%s): %w; run make setup or set PAIMENG_ORT_LIBRARY", cfg.ORTLibrary, err)
	}
	defer inference.DestroyORT()
	rep, checkErr := inference.SelfCheck(ctx, cfg.Providers, inference.SelfCheckOptions{})
	kv := rep.Attrs()
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(stdout, "%-10s %v\n", kv[i].(string)+":", kv[i+1])
	}
	codec, reason, encErr := media.ChooseCodec(ctx, cfg.FFmpeg, cfg.VideoEncoder)
	if encErr == nil {
		if reason != "" {
			codec += " (" + reason + ")"
		}
		fmt.Fprintf(stdout, "%-10s %s\n", "encoder:", codec)
	}
	if checkErr != nil || encErr != nil {
		return fmt.Errorf("admin selfcheck: %w", errors.Join(checkErr, encErr))
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	verb := args[0]
	args = args[1:]
	if verb == "model" {
		switch {
		case len(args) > 0 && args[0] == "tiny":
			return runModelTiny(args[1:], stdout, stderr)
		case len(args) > 0 && args[0] == "check":
			return runModelCheck(args[1:], getenv, stdout, stderr)
		}
		return errors.New(adminUsage)
	}
	if verb == "selfcheck" {
		return runSelfCheck(ctx, args, getenv, stdout, stderr)
	}
	if verb == "wechat" {
		if len(args) == 0 || args[0] != "menu" {
			return errors.New(adminUsage)
		}
		return runWeChatMenu(ctx, args[1:], getenv, stdout, stderr)
	}
	if verb == "token" || verb == "codes" {
		if len(args) == 0 || args[0] != "create" {
			return errors.New(adminUsage)
		}
		args = args[1:]
	}
	var user, reason, expires, batch, jobID string
	var amount int64
	var count, limit int
	cfg, _, err := parseConfig("admin "+verb, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "web user name, or PLATFORM:ID")
		fs.Int64Var(&amount, "credits", 0, "credits to grant, or the value of each code")
		fs.StringVar(&reason, "reason", "", "reason written to the ledger or the ban")
		fs.IntVar(&count, "count", 1, "how many codes to create")
		fs.StringVar(&expires, "expires", "", "code expiry: a date (2026-12-31, end of that day in PAIMENG_TZ), an RFC 3339 time, or a duration from now (72h)")
		fs.StringVar(&batch, "batch", "", "batch name stored with the codes")
		fs.IntVar(&limit, "limit", 50, "ledger entries to show")
		fs.StringVar(&jobID, "job", "", "job id to refund")
	})
	if err != nil {
		return err
	}
	var id paimeng.Identity
	switch verb {
	case "token", "grant", "balance", "ledger", "ban", "unban":
		if user == "" {
			return errors.New("admin: --user is required")
		}
		id = paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user}
		if strings.Contains(user, ":") {
			if id, err = paimeng.ParseIdentity(user); err != nil {
				return err
			}
		}
	case "refund":
		if jobID == "" {
			return errors.New("admin refund: --job is required")
		}
	case "codes", "audit":
	default:
		return errors.New(adminUsage)
	}
	s, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	const actor = "admin:cli"
	switch verb {
	case "token":
		tok, err := s.CreateToken(ctx, id, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
	case "grant":
		if amount == 0 {
			return errors.New("admin grant: --credits must not be zero")
		}
		if reason == "" {
			reason = "admin grant"
		}
		acc, err := s.Grant(ctx, id, amount, reason, actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s balance %d\n", id, acc.Balance)
	case "balance":
		acc, err := s.Account(ctx, id)
		if err != nil {
			return err
		}
		ids, err := s.Identities(ctx, acc.ID)
		if err != nil {
			return err
		}
		names := make([]string, len(ids))
		for i, x := range ids {
			names[i] = x.String()
		}
		fmt.Fprintf(stdout, "%s balance %d (account %d: %s)", id, acc.Balance, acc.ID, strings.Join(names, ", "))
		if acc.Banned {
			fmt.Fprintf(stdout, " banned: %s", acc.BanReason)
		}
		fmt.Fprintln(stdout)
	case "ledger":
		acc, err := s.Account(ctx, id)
		if err != nil {
			return err
		}
		entries, err := s.Ledger(ctx, acc.ID, limit)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %d balance %d\n", acc.ID, acc.Balance)
		for _, e := range entries {
			fmt.Fprintf(stdout, "%s  %-8s %+7d  → %-7d %s  %s\n", e.CreatedAt.In(cfg.Location).Format("2006-01-02 15:04"), e.Kind, e.Amount, e.BalanceAfter, e.Actor, e.Reason)
		}
	case "codes":
		if amount <= 0 || count < 1 {
			return errors.New("admin codes create: --credits and --count must be positive")
		}
		exp, err := parseExpiry(expires, cfg.Location, time.Now())
		if err != nil {
			return fmt.Errorf("admin codes create: --expires: %w", err)
		}
		codes, err := s.CreateCodes(ctx, amount, count, exp, batch, actor)
		if err != nil {
			return err
		}
		for _, c := range codes {
			fmt.Fprintln(stdout, c)
		}
	case "ban":
		if reason == "" {
			reason = "banned by an admin"
		}
		if err := s.Ban(ctx, id, reason, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s banned: %s\n", id, reason)
		// Waiting jobs are canceled and refunded; a running service tells
		// the member (its reconciler delivers final jobs never delivered).
		jobs, err := s.ActiveJobs(ctx, id)
		if err != nil {
			return err
		}
		for _, q := range jobs {
			if q.Job.Status != paimeng.JobQueued {
				continue
			}
			if _, err := s.CancelQueued(ctx, id, q.Job.ID); err != nil && paimeng.ErrorCode(err) != paimeng.ENotCancelable {
				return err
			}
			fmt.Fprintf(stdout, "job %s canceled, %d credits released\n", q.Job.ID, q.Job.Price)
		}
	case "unban":
		if err := s.Unban(ctx, id, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s unbanned\n", id)
	case "refund":
		acc, err := s.RefundJob(ctx, jobID, reason, actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "job %s refunded; account %d balance %d\n", jobID, acc.ID, acc.Balance)
	case "audit":
		return runAudit(ctx, s, stdout)
	}
	return nil
}

// runAudit prints the ledger check and fails when any balance drifts.
func runAudit(ctx context.Context, s *credits.Store, stdout io.Writer) error {
	drift, err := s.Audit(ctx)
	if err != nil {
		return err
	}
	for _, d := range drift {
		fmt.Fprintf(stdout, "account %d: balance %d, ledger sum %d, last entry says %d\n", d.AccountID, d.Balance, d.LedgerSum, d.LastAfter)
	}
	if len(drift) > 0 {
		return fmt.Errorf("audit: %d account(s) drift from the ledger", len(drift))
	}
	fmt.Fprintln(stdout, "audit: every balance equals the sum of its ledger entries (drift 0)")
	return nil
}

// parseExpiry reads a date (its end in loc), an RFC 3339 time or a
// duration from now; "" means never.
func parseExpiry(s string, loc *time.Location, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		t := d.AddDate(0, 0, 1).UTC()
		return &t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		t = t.UTC()
		return &t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		t := now.Add(d).UTC()
		return &t, nil
	}
	return nil, fmt.Errorf("%q is not a date, an RFC 3339 time or a positive duration", s)
}

// runWeChatMenu creates the official account's custom menu. The access
// token comes from the Redis the service shares (PAIMENG_REDIS_URL), or is
// fetched here through the stable-token API, which leaves the service's
// token valid.
func runWeChatMenu(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var file string
	cfg, _, err := parseConfig("admin wechat menu", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "menu JSON as the menu/create API takes it (default: help, balance, leaderboard)")
	})
	if err != nil {
		return err
	}
	if cfg.WeChatAppID == "" {
		return errors.New("admin wechat menu: set PAIMENG_WECHAT_APPID, PAIMENG_WECHAT_SECRET and PAIMENG_WECHAT_TOKEN")
	}
	menu := wechat.DefaultMenu(cfg.PublicURL)
	if file != "" {
		if menu, err = os.ReadFile(file); err != nil {
			return fmt.Errorf("admin wechat menu: %w", err)
		}
	}
	url := cfg.RedisURL
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return fmt.Errorf("admin wechat menu: %w", err)
		}
		defer m.Close()
		url = "redis://" + m.Addr() + "/0"
	}
	ropt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("PAIMENG_REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	a := &App{cfg: cfg, log: newLogger(cfg, stderr)}
	if err := wechat.SetMenu(ctx, a.wechatConfig(), rdb, menu); err != nil {
		return fmt.Errorf("admin wechat menu: %w", err)
	}
	fmt.Fprintln(stdout, "menu created")
	return nil
}
