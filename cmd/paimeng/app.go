package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/blob"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/discord"
	"github.com/paimeng/paimeng/bots/telegram"
	"github.com/paimeng/paimeng/bots/web"
	"github.com/paimeng/paimeng/bots/wechat"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/kernels"
	"github.com/paimeng/paimeng/media"
	"github.com/paimeng/paimeng/moderation"
	"github.com/paimeng/paimeng/queue"
)

// Roles says which halves of the service a process runs.
type Roles struct {
	Frontend   bool // HTTP, bots, finished events, reconciler; needs the database
	Worker     bool // engines; needs Redis and the blob store only
	Playground bool // issue a local web user through a cookie
}

// App is one running paimeng process. Tests boot the real thing with
// HTTPAddr ":0" and read Addr.
type App struct {
	cfg   *Config
	roles Roles
	log   *slog.Logger

	mini      *miniredis.Miniredis
	redisOpt  asynq.RedisConnOpt
	rdb       redis.UniversalClient
	client    *asynq.Client
	inspector *asynq.Inspector
	blobs     *blob.Dir

	Store      *credits.Store
	Submitter  *queue.Submitter
	Dispatcher *queue.Dispatcher
	Community  *queue.Community
	Finisher   *queue.Finisher
	Web        *web.Server
	Telegram   *telegram.Bot
	Discord    *discord.Bot
	WeChat     *wechat.Bot

	servers []boundServer
	served  []string // the engines this worker renders
	gpus    []kernels.Device
	ln      net.Listener
	httpSrv *http.Server

	metrics    *metrics
	metricsLn  net.Listener // PAIMENG_METRICS_ADDR; nil when unset
	metricsSrv *http.Server

	closeOnce sync.Once
	closers   []func() error
}

// NewApp opens every dependency the roles need. Nothing runs until Run.
func NewApp(ctx context.Context, cfg *Config, roles Roles, log *slog.Logger) (a *App, err error) {
	app := &App{cfg: cfg, roles: roles, log: log, metrics: newMetrics()}
	a = app
	defer func() {
		if err != nil {
			// a is nil here: close what was opened through app.
			app.Close()
		}
	}()

	if err := a.openRedis(); err != nil {
		return nil, err
	}
	if a.blobs, err = blob.NewDir(cfg.BlobDir); err != nil {
		return nil, err
	}

	if roles.Frontend {
		if a.Store, err = openStore(ctx, cfg); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.Store.Close)
		if err := a.Store.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate database: %w", err)
		}
		if err := a.openFrontend(ctx); err != nil {
			return nil, err
		}
	}
	if roles.Worker {
		if err := a.openWorker(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("PAIMENG_METRICS_ADDR: listen on %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.metrics)
		a.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	return a, nil
}

func (a *App) openRedis() error {
	url := a.cfg.RedisURL
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		a.mini = m
		a.closers = append(a.closers, func() error { m.Close(); return nil })
		url = "redis://" + m.Addr() + "/0"
		a.log.Info("using in-process Redis; set PAIMENG_REDIS_URL to share work between processes")
	}
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		return fmt.Errorf("PAIMENG_REDIS_URL: %w", err)
	}
	ropt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("PAIMENG_REDIS_URL: %w", err)
	}
	a.redisOpt = opt
	a.rdb = redis.NewClient(ropt)
	a.closers = append(a.closers, a.rdb.Close)
	a.client = asynq.NewClient(opt)
	a.closers = append(a.closers, a.client.Close)
	a.inspector = asynq.NewInspector(opt)
	a.closers = append(a.closers, a.inspector.Close)
	return nil
}

func (a *App) taskOptions() queue.TaskOptions {
	retries := a.cfg.TaskRetries
	if retries == 0 {
		retries = -1
	}
	return queue.TaskOptions{Timeout: a.cfg.TaskTimeout, MaxRetry: retries}
}

// wechatConfig is the WeChat front end's configuration.
func (a *App) wechatConfig() wechat.Config {
	return wechat.Config{
		AppID:           a.cfg.WeChatAppID,
		Secret:          a.cfg.WeChatSecret,
		Token:           a.cfg.WeChatToken,
		AESKey:          a.cfg.WeChatAESKey,
		APIURL:          a.cfg.WeChatAPIURL,
		CustomerService: a.cfg.WeChatCustomerService,
		PublicURL:       a.cfg.PublicURL,
		Shrink: func(ctx context.Context, in, out string, maxBytes int64) error {
			return media.Shrink(ctx, media.EncodeOptions{FFmpeg: a.cfg.FFmpeg, Preset: a.cfg.EncoderPreset}, in, out, maxBytes)
		},
		Logger: a.log,
	}
}

func (a *App) openFrontend(ctx context.Context) error {
	var terms []string
	if a.cfg.BannedTerms != "" {
		var err error
		if terms, err = moderation.LoadTerms(a.cfg.BannedTerms); err != nil {
			return fmt.Errorf("PAIMENG_BANNED_TERMS: %w", err)
		}
	}
	filter := moderation.New(terms)
	a.Dispatcher = queue.NewDispatcher(queue.DispatcherConfig{
		Store:      a.Store,
		Client:     a.client,
		Inspector:  a.inspector,
		Task:       a.taskOptions(),
		MaxRunning: a.cfg.MaxRunning,
		Ahead:      a.cfg.DispatchAhead,
		Workers:    queue.NewRegistry(a.rdb),
		Logger:     a.log,
	})
	var err error
	a.Submitter, err = queue.NewSubmitter(queue.SubmitterConfig{
		Store:       a.Store,
		Blobs:       a.blobs,
		Prices:      a.cfg.Prices,
		CheckImage:  media.CheckImage,
		CheckPrompt: filter.Check,
		Shot:        command.ParseShot,
		Kick:        a.Dispatcher.Kick,
		Engines:     a.cfg.Engines,
		Logger:      a.log,
	})
	if err != nil {
		return err
	}
	// The finisher's deliverers are filled in below; the community service
	// needs the finisher to tell front ends about canceled jobs.
	a.Finisher = queue.NewFinisher(a.Store, a.log)
	a.Community = queue.NewCommunity(queue.CommunityConfig{
		Store:     a.Store,
		Inspector: a.inspector,
		Finisher:  a.Finisher,
		Kick:      a.Dispatcher.Kick,
		Logger:    a.log,
	})
	handler := command.NewHandler(command.Env{
		Community: a.Community,
		Prices:    a.cfg.Prices,
		Engines:   a.cfg.Engines,
		Admins:    a.cfg.AdminIDs,
		PublicURL: a.cfg.PublicURL,
		Location:  a.cfg.Location,
		Logger:    a.log,
	})
	a.Web = web.New(web.Config{
		Playground: a.roles.Playground,
		Prices:     a.cfg.Prices,
		Engines:    a.cfg.Engines,
		PublicURL:  a.cfg.PublicURL,
		Logger:     a.log,
	}, a.Submitter, a.Store, a.Community, a.Store, a.blobs)
	deliverers := []paimeng.Deliverer{a.Web}
	if a.cfg.TelegramToken != "" {
		a.Telegram, err = telegram.New(telegram.Config{
			Token:  a.cfg.TelegramToken,
			APIURL: a.cfg.TelegramAPIURL,
			Logger: a.log,
		}, a.Submitter, a.Store, a.Community, handler, a.blobs)
		if err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		deliverers = append(deliverers, a.Telegram)
	}
	if a.cfg.DiscordToken != "" {
		a.Discord, err = discord.New(discord.Config{
			Token:     a.cfg.DiscordToken,
			AppID:     a.cfg.DiscordAppID,
			PublicKey: a.cfg.DiscordPublicKey,
			APIURL:    a.cfg.DiscordAPIURL,
			GuildID:   a.cfg.DiscordGuildID,
			Mode:      a.cfg.DiscordMode,
			PublicURL: a.cfg.PublicURL,
			Logger:    a.log,
		}, a.Submitter, a.Store, a.Community, handler, a.blobs)
		if err != nil {
			return fmt.Errorf("discord: %w", err)
		}
		deliverers = append(deliverers, a.Discord)
	}
	if a.cfg.WeChatAppID != "" {
		a.WeChat, err = wechat.New(a.wechatConfig(), a.rdb, a.Submitter, a.Store, a.Community, handler, a.blobs)
		if err != nil {
			return fmt.Errorf("wechat: %w", err)
		}
		deliverers = append(deliverers, a.WeChat)
	}
	a.Finisher.AddDeliverers(deliverers...)
	a.Finisher.OnSettle(a.Dispatcher.Kick)

	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	a.ln = ln
	mux := http.NewServeMux()
	if a.Discord != nil {
		mux.Handle(discord.InteractionsPath, a.Discord.Handler())
	}
	if a.WeChat != nil {
		mux.Handle(wechat.CallbackPath, a.WeChat.Handler())
	}
	mux.Handle("/metrics", a.metrics)
	mux.Handle("/", a.Web.Handler())
	a.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return nil
}

func (a *App) openWorker(ctx context.Context) error {
	if err := inference.InitORT(a.cfg.ORTLibrary); err != nil {
		return fmt.Errorf("onnx runtime (%s): %w; run make setup or set PAIMENG_ORT_LIBRARY", a.cfg.ORTLibrary, err)
	}
	gpus := a.logGPUs()
	a.gpus = gpus
	codec, err := a.chooseEncoder(ctx)
	if err != nil {
		return err
	}
	mcfg := a.cfg
	if slices.ContainsFunc(a.cfg.Engines, func(n string) bool { return !slices.Contains(builtinEngines, n) }) && !a.checkORT(ctx) {
		cpuOnly := *a.cfg
		cpuOnly.Providers = []inference.Provider{{Name: inference.ProviderCPU}}
		mcfg = &cpuOnly
	}
	built := map[string]paimeng.Engine{}
	models, closers, err := modelEngines(a.cfg.ModelsDir, a.cfg.Engines, mcfg, a.log)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, closers...)
	for _, name := range a.cfg.Engines {
		if eng := models[name]; eng != nil {
			built[name] = eng
			a.served = append(a.served, name)
			continue
		}
		if !slices.Contains(builtinEngines, name) {
			continue // logged by modelEngines: another worker may serve it
		}
		eng, closeEngine, err := a.newEngine(name)
		if err != nil {
			return fmt.Errorf("%s engine: %w", name, err)
		}
		a.closers = append(a.closers, closeEngine)
		built[name] = eng
		a.served = append(a.served, name)
	}
	if len(a.served) == 0 {
		return fmt.Errorf("this worker can serve none of PAIMENG_ENGINES (%s): no model package of those names in %s", strings.Join(a.cfg.Engines, ", "), a.cfg.ModelsDir)
	}
	slots := a.engineSlots(built)
	a.meterEngines(built, gpus)
	def := a.served[0]
	if built[queue.DefaultEngine] != nil {
		// Tasks without an engine come from versions with the camera only.
		def = queue.DefaultEngine
	}
	renderer := media.NewRendererWith(built, def, media.EncodeOptions{
		FFmpeg: a.cfg.FFmpeg,
		Codec:  codec,
		Preset: a.cfg.EncoderPreset,
	}, media.RendererOptions{EngineSlots: slots})
	w, err := queue.NewWorker(queue.WorkerConfig{
		Renderer: renderer,
		Blobs:    a.blobs,
		Client:   a.client,
		Redis:    a.rdb,
		Logger:   a.log,
	})
	if err != nil {
		return err
	}
	mux := asynq.NewServeMux()
	mux.Use(a.metrics.countJobs)
	w.Register(mux)
	srv := asynq.NewServer(a.redisOpt, asynq.Config{
		Concurrency:     a.cfg.WorkerConcurrency,
		Queues:          queue.WorkerQueues(a.cfg.FastWeight, a.cfg.RelaxWeight, a.served...),
		Logger:          asynqLogger{a.log.With("component", "worker")},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 30 * time.Second,
		RetryDelayFunc:  retryDelay,
	})
	a.servers = append(a.servers, boundServer{srv, mux})
	return nil
}

// ortSelfCheck is inference.SelfCheck; tests replace it.
var ortSelfCheck = inference.SelfCheck

// checkORT runs the ONNX Runtime self-check on PAIMENG_ORT_PROVIDERS once
// and logs what it found on one line. It reports false when the check
// failed: the learned engines then go on with the CPU provider only.
func (a *App) checkORT(ctx context.Context) bool {
	rep, err := ortSelfCheck(ctx, a.cfg.Providers, inference.SelfCheckOptions{})
	if err != nil {
		a.log.Error("ORT self-check failed; learned engines go on with CPU only",
			append([]any{"err", err}, rep.Attrs()...)...)
		return false
	}
	if len(rep.Fallbacks) > 0 {
		a.log.Warn("ORT self-check", rep.Attrs()...)
	} else {
		a.log.Info("ORT self-check", rep.Attrs()...)
	}
	return true
}

// chooseEncoder resolves PAIMENG_VIDEO_ENCODER and logs the encoder on one
// line, with the reason when auto found no working h264_nvenc.
func (a *App) chooseEncoder(ctx context.Context) (string, error) {
	codec, reason, err := media.ChooseCodec(ctx, a.cfg.FFmpeg, a.cfg.VideoEncoder)
	if err != nil {
		return "", fmt.Errorf("PAIMENG_VIDEO_ENCODER: %w", err)
	}
	attrs := []any{"encoder", codec, "setting", a.cfg.VideoEncoder}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	a.log.Info("video encoder", attrs...)
	return codec, nil
}

// logGPUs looks for GPUs once, logs each one found or why there is none,
// and records them for /metrics.
func (a *App) logGPUs() []kernels.Device {
	ds, err := kernels.DetectLibrary(a.cfg.CUDADriver)
	if err != nil {
		var ng *kernels.NoGPUError
		if errors.As(err, &ng) {
			a.log.Info("no GPU present; engines run on CPU", "reason", ng.Reason)
		} else {
			a.log.Warn("no GPU present; engines run on CPU", "reason", err)
		}
		return nil
	}
	for _, g := range ds.GPUs {
		a.log.Info("GPU", "index", g.Index, "name", g.Name, "memory", fmt.Sprintf("%.1f GiB", float64(g.Memory)/(1<<30)),
			"compute_capability", g.ComputeCapability(), "driver", ds.DriverVersion())
	}
	a.metrics.setGPUs(ds.GPUs)
	return ds.GPUs
}

// meterEngines logs the device each served engine runs on and wraps it so
// that /metrics counts its runs and busy time.
func (a *App) meterEngines(built map[string]paimeng.Engine, gpus []kernels.Device) {
	for _, name := range a.served {
		eng := built[name]
		device := engineDevice(eng)
		a.log.Info("engine device", "engine", name, "device", device)
		if len(gpus) > 0 && device == inference.ProviderCPU && !slices.Contains(builtinEngines, name) {
			a.log.Warn("a GPU is present but this learned engine runs on CPU; see PAIMENG_ORT_PROVIDERS", "engine", name, "providers", providersText(a.cfg.Providers))
		}
		built[name] = meteredEngine{Engine: eng, st: a.metrics.addEngine(name, device)}
	}
}

// engineDevice names where eng runs: the execution providers a learned
// engine's sessions got ("cuda:0,cpu"), or cpu for the built-in engines.
func engineDevice(eng paimeng.Engine) string {
	if d, ok := eng.(interface{ Devices() []string }); ok {
		if ds := d.Devices(); len(ds) > 0 {
			return strings.Join(ds, ",")
		}
	}
	return inference.ProviderCPU
}

// newEngine builds the named built-in engine and returns it
// with its close function.
func (a *App) newEngine(name string) (paimeng.Engine, func() error, error) {
	switch name {
	case "camera":
		gpu, err := a.cameraGPU()
		if err != nil {
			return nil, nil, err
		}
		if gpu != nil {
			ge, err := inference.NewGPUCameraEngine(gpu, inference.CameraOptions{MaxSide: a.cfg.MaxSide})
			if err == nil {
				return ge, func() error { ge.Close(); return gpu.Close() }, nil
			}
			gpu.Close()
			if a.cfg.CameraDevice != "auto" {
				return nil, nil, fmt.Errorf("camera engine on %s: %w", a.cfg.CameraDevice, err)
			}
			a.log.Warn("camera engine cannot run on the GPU; it runs on CPU", "err", err)
		}
		cam, err := inference.NewCameraEngine(inference.CameraOptions{MaxSide: a.cfg.MaxSide})
		if err != nil {
			return nil, nil, err
		}
		return cam, cam.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown engine %q; built-in engines: %s", name, strings.Join(builtinEngines, ", "))
}

// engineSlots is PAIMENG_ENGINE_CONCURRENCY, or, when that is 0 and
// engines run on GPUs, one engine run per GPU in use.
func (a *App) engineSlots(built map[string]paimeng.Engine) int {
	if a.cfg.EngineConcurrency > 0 {
		return a.cfg.EngineConcurrency
	}
	used := map[string]bool{}
	for _, name := range a.served {
		for _, d := range strings.Split(engineDevice(built[name]), ",") {
			if d != inference.ProviderCPU {
				_, ord, _ := strings.Cut(d, ":")
				used[ord] = true
			}
		}
	}
	if len(used) > 0 {
		a.log.Info("engine runs limited to one per GPU in use (PAIMENG_ENGINE_CONCURRENCY=0)", "engine_slots", len(used))
	}
	return len(used)
}

// cameraGPU opens the GPU PAIMENG_CAMERA_DEVICE names, compiling the
// kernels for it, and logs the result. With auto it returns nil when there
// is no GPU or the kernels cannot be loaded (logged); with cuda:N that is
// an error. With cpu it returns nil.
func (a *App) cameraGPU() (*kernels.GPU, error) {
	dev, _ := cameraDevice(a.cfg.CameraDevice)
	if dev == -2 || (dev == -1 && len(a.gpus) == 0) {
		return nil, nil
	}
	g, err := kernels.Open(kernels.Options{
		Device:         max(dev, 0),
		Driver:         a.cfg.CUDADriver,
		NVRTC:          a.cfg.NVRTCLibrary,
		NVRTCFallbacks: nvrtcFallbacks(),
		CacheDir:       a.cfg.KernelCache,
	})
	if err != nil {
		if dev >= 0 {
			return nil, fmt.Errorf("PAIMENG_CAMERA_DEVICE=%s: %w", a.cfg.CameraDevice, err)
		}
		a.log.Warn("CUDA kernels cannot be loaded; the camera engine runs on CPU", "err", err)
		return nil, nil
	}
	p := g.Program
	a.log.Info("CUDA kernels", "device", g.Device.String(), "arch", p.Arch, "image", p.Kind, "nvrtc", p.NVRTC,
		"cached", p.Cached, "took", p.Took.Round(time.Millisecond))
	return g, nil
}

// retryDelay backs off 5 s, 20 s, 80 s… capped at 10 min.
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := 5 * time.Second
	for i := 0; i < n && d < 10*time.Minute; i++ {
		d *= 4
	}
	return min(d, 10*time.Minute)
}

// Addr returns the HTTP listener's address, or "" without a front end.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// MetricsAddr returns the PAIMENG_METRICS_ADDR listener's address, or ""
// when it is not set.
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// Run serves until ctx is done, then shuts everything down.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- err
				cancel()
			}
		}()
	}

	if a.mini != nil {
		// miniredis only expires keys when told time has passed.
		goRun(func() error {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			last := time.Now()
			for {
				select {
				case <-ctx.Done():
					return nil
				case now := <-t.C:
					a.mini.FastForward(now.Sub(last))
					last = now
				}
			}
		})
	}

	if a.metricsSrv != nil {
		goRun(func() error {
			err := a.metricsSrv.Serve(a.metricsLn)
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("metrics http: %w", err)
		})
		goRun(func() error {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			return a.metricsSrv.Shutdown(sctx)
		})
		a.log.Info("metrics listening", "addr", a.MetricsAddr())
	}

	if a.roles.Worker {
		for _, s := range a.servers {
			if err := s.srv.Start(s.mux); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
		}
		// Tell the front ends which engines this worker serves; the key
		// goes when the worker stops (or expires if it dies).
		reg, err := queue.NewRegistry(a.rdb).Register(ctx, "", a.served)
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopped while starting: a clean stop, below.
		case err != nil:
			for _, s := range a.servers {
				s.srv.Shutdown()
			}
			return err
		default:
			defer func() {
				if err := reg.Close(); err != nil {
					a.log.Warn("shutdown", "err", err)
				}
			}()
			a.log.Info("worker started", "concurrency", a.cfg.WorkerConcurrency, "engine_concurrency", a.cfg.EngineConcurrency, "engines", strings.Join(a.served, ","), "ort", a.cfg.ORTLibrary)
		}
	}

	if a.roles.Frontend {
		mux := asynq.NewServeMux()
		a.Finisher.Register(mux)
		events := asynq.NewServer(a.redisOpt, asynq.Config{
			Concurrency:     8,
			Queues:          map[string]int{queue.QueueEvents: 1},
			Logger:          asynqLogger{a.log.With("component", "events")},
			LogLevel:        asynq.WarnLevel,
			ShutdownTimeout: 10 * time.Second,
			RetryDelayFunc:  retryDelay,
		})
		if err := events.Start(mux); err != nil {
			return fmt.Errorf("start event handler: %w", err)
		}
		defer events.Shutdown()

		goRun(func() error { return a.Finisher.ListenProgress(ctx, a.rdb) })
		rec := queue.NewReconciler(queue.ReconcilerConfig{
			Store: a.Store, Client: a.client, Inspector: a.inspector, Finisher: a.Finisher,
			Task: a.taskOptions(), Deadline: a.cfg.JobDeadline, Logger: a.log,
		})
		goRun(func() error { rec.Run(ctx); return nil })
		goRun(func() error { a.Dispatcher.Run(ctx); return nil })
		if a.Telegram != nil && a.cfg.TelegramPolling {
			goRun(func() error { return a.Telegram.Run(ctx) })
		}
		if a.Discord != nil {
			goRun(func() error { return a.Discord.Run(ctx) })
		}
		goRun(func() error {
			err := a.httpSrv.Serve(a.ln)
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("http: %w", err)
		})
		goRun(func() error {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			err := a.httpSrv.Shutdown(sctx)
			// Messages and interactions already answered may still be
			// submitting; the database and Redis close after this.
			wctx, wc := context.WithTimeout(context.Background(), time.Minute)
			defer wc()
			if a.WeChat != nil {
				if werr := a.WeChat.Wait(wctx); werr != nil {
					a.log.Warn("shutdown", "err", werr)
				}
			}
			if a.Discord != nil {
				if derr := a.Discord.Wait(wctx); derr != nil {
					a.log.Warn("shutdown", "err", derr)
				}
			}
			return err
		})
		a.log.Info("front end ready", "url", a.cfg.PublicURL, "addr", a.Addr(),
			"telegram", a.Telegram != nil, "discord", a.Discord != nil, "wechat", a.WeChat != nil)
	}

	<-ctx.Done()
	for _, s := range a.servers {
		s.srv.Shutdown()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// Close releases everything NewApp opened.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		if a.ln != nil {
			a.ln.Close()
		}
		if a.metricsLn != nil {
			a.metricsLn.Close()
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			if err := a.closers[i](); err != nil {
				a.log.Debug("close", "err", err)
			}
		}
	})
}

// boundServer is an asynq server with its handler.
type boundServer struct {
	srv *asynq.Server
	mux *asynq.ServeMux
}

// asynqLogger routes asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.l.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.l.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.l.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.l.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.l.Error(fmt.Sprint(args...)); os.Exit(1) }
