package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/kernels"
)

func TestConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"PAIMENG_HTTP_ADDR": "0.0.0.0:9999", "PAIMENG_SIGNUP_CREDITS": "50", "PAIMENG_TASK_TIMEOUT": "2m"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg, err := loadConfig(fs, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--signup-credits", "70"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.finish(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "0.0.0.0:9999" || cfg.SignupCredits != 70 || cfg.TaskTimeout != 2*time.Minute || cfg.PricePerClip != 10 {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.PublicURL != "http://0.0.0.0:9999" || !strings.HasSuffix(cfg.BlobDir, "blobs") {
		t.Fatalf("derived %q %q", cfg.PublicURL, cfg.BlobDir)
	}

	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := loadConfig(fs, func(k string) string {
		if k == "PAIMENG_PRICE_PER_CLIP" {
			return "ten"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "PAIMENG_PRICE_PER_CLIP") {
		t.Fatalf("bad value accepted: %v", err)
	}
}

// Every setting appears in the README's table, and nothing else does.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var c Config
	known := map[string]bool{}
	for _, s := range c.settings() {
		known[s.env] = true
		if !strings.Contains(readme, "| `"+s.env+"` |") {
			t.Errorf("README settings table lacks %s", s.env)
		}
	}
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `PAIMENG_") {
			name := strings.Trim(strings.Fields(line)[1], "`")
			if !known[name] {
				t.Errorf("README lists unknown setting %s", name)
			}
		}
	}
}

func TestConfigEngines(t *testing.T) {
	load := func(spec string) (*Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg, err := loadConfig(fs, func(k string) string {
			if k == "PAIMENG_ENGINES" {
				return spec
			}
			return ""
		})
		if err != nil {
			return nil, err
		}
		return cfg, cfg.finish()
	}
	for _, c := range []struct{ spec, want, err string }{
		{"", "camera", ""},
		{"camera", "camera", ""},
		{" Camera ", "camera", ""},
		{"camera, wan2.1-i2v", "camera,wan2.1-i2v", ""},
		{"svd/1", "", `PAIMENG_ENGINES: engine "svd/1" is not camera or a model package name`},
		{"camera,camera", "", "listed twice"},
		{",", "", "no engine listed"},
	} {
		cfg, err := load(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(cfg.Engines, ",") != c.want {
			t.Errorf("%q: engines %v (%v), want %s", c.spec, cfg, err, c.want)
		}
	}
}

func TestConfigEngineConcurrency(t *testing.T) {
	load := func(v string) (*Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, err := loadConfig(fs, func(k string) string {
			if k == "PAIMENG_ENGINE_CONCURRENCY" {
				return v
			}
			return ""
		})
		if err != nil {
			return nil, err
		}
		return c, c.finish()
	}
	if c, err := load(""); err != nil || c.EngineConcurrency != 0 {
		t.Errorf("default: %v, %v", c, err)
	}
	if c, err := load("2"); err != nil || c.EngineConcurrency != 2 {
		t.Errorf("2: %v, %v", c, err)
	}
	if _, err := load("-1"); err == nil || !strings.Contains(err.Error(), "PAIMENG_ENGINE_CONCURRENCY") {
		t.Errorf("-1 accepted: %v", err)
	}
}

// loadEnv reads the configuration from env alone.
func loadEnv(env map[string]string) (*Config, error) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, err := loadConfig(fs, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	return c, c.finish()
}

func TestConfigVideoEncoder(t *testing.T) {
	for _, v := range []string{"", "auto", "libx264", "h264_nvenc"} {
		c, err := loadEnv(map[string]string{"PAIMENG_VIDEO_ENCODER": v})
		want := v
		if v == "" {
			want = "auto"
		}
		if err != nil || c.VideoEncoder != want {
			t.Errorf("%q: %v, %v", v, c, err)
		}
	}
	for _, v := range []string{"x265", "nvenc", "LIBX264", "hevc_nvenc"} {
		_, err := loadEnv(map[string]string{"PAIMENG_VIDEO_ENCODER": v})
		if want := `PAIMENG_VIDEO_ENCODER must be auto, libx264 or h264_nvenc, not "` + v + `"`; err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %s", v, err, want)
		}
	}
}

// Provider options are checked when the configuration is read.
func TestConfigProviderOptions(t *testing.T) {
	c, err := loadEnv(map[string]string{"PAIMENG_ORT_PROVIDERS": "tensorrt:1{trt_fp16_enable=true,trt_max_workspace_size=2GiB},cuda:1{gpu_mem_limit=8GiB,arena_extend_strategy=kSameAsRequested},cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if got := providersText(c.Providers); got != "tensorrt:1{trt_fp16_enable=1,trt_max_workspace_size=2147483648},cuda:1{arena_extend_strategy=kSameAsRequested,gpu_mem_limit=8589934592},cpu" {
		t.Errorf("providers %s", got)
	}
	_, err = loadEnv(map[string]string{"PAIMENG_ORT_PROVIDERS": "cuda:0{gpu_mem_limit=8GiB,cudnn_conv_algo_search=FASTEST}"})
	if want := `PAIMENG_ORT_PROVIDERS: inference: providers "cuda:0{gpu_mem_limit=8GiB,cudnn_conv_algo_search=FASTEST}": "cuda:0{gpu_mem_limit=8GiB,cudnn_conv_algo_search=FASTEST}": option cudnn_conv_algo_search: "FASTEST" is not one of EXHAUSTIVE, HEURISTIC, DEFAULT`; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

// A worker configured with a learned engine runs the ORT self-check once at
// start and logs it on one line, with the provider it got; it logs the video
// encoder it chose, and why not h264_nvenc. A failed self-check is logged
// as an error and the learned engines load on the CPU provider alone.
func TestWorkerSelfCheckAndEncoderLog(t *testing.T) {
	models := tinyModels(t)
	start := func(t *testing.T, env map[string]string) string {
		t.Helper()
		cfg := testConfig(t, env)
		var logs testenv.LogBuffer
		app, err := NewApp(context.Background(), cfg, Roles{Worker: true}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		app.Close()
		t.Logf("log:\n%s", logs.String())
		return logs.String()
	}
	_, noGPU := kernels.Detect()

	out := start(t, map[string]string{"PAIMENG_ENGINES": "camera,paimeng-tiny", "PAIMENG_MODELS_DIR": models, "PAIMENG_ORT_PROVIDERS": "cuda:0,cpu"})
	if strings.Count(out, `msg="ORT self-check"`) != 1 || strings.Contains(out, "self-check failed") {
		t.Errorf("want one self-check line")
	}
	if noGPU != nil && (!strings.Contains(out, `level=WARN msg="ORT self-check" requested=cuda:0,cpu provider=cpu device=cpu cpus=`) ||
		!strings.Contains(out, "match=true fallback=\"cuda:0: ")) {
		t.Errorf("self-check line lacks the CPU provider or the fallback")
	}
	if strings.Count(out, `msg="video encoder"`) != 1 {
		t.Errorf("want one video encoder line")
	}
	if noGPU != nil && !strings.Contains(out, `msg="video encoder" encoder=libx264 setting=auto reason="h264_nvenc test encode failed: `) {
		t.Errorf("encoder line lacks libx264 and the reason")
	}

	// The camera alone needs no self-check; libx264 named needs no test encode.
	out = start(t, map[string]string{"PAIMENG_VIDEO_ENCODER": "libx264"})
	if strings.Contains(out, "self-check") || !strings.Contains(out, `msg="video encoder" encoder=libx264 setting=libx264`+"\n") {
		t.Errorf("camera-only worker with libx264")
	}

	// h264_nvenc named where it does not work stops the worker.
	if noGPU != nil {
		cfg := testConfig(t, map[string]string{"PAIMENG_VIDEO_ENCODER": "h264_nvenc"})
		_, err := NewApp(context.Background(), cfg, Roles{Worker: true}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.HasPrefix(err.Error(), "PAIMENG_VIDEO_ENCODER: media: h264_nvenc does not work here (h264_nvenc ") {
			t.Errorf("h264_nvenc without NVENC: %v", err)
		}
	}

	defer func(f func(context.Context, []inference.Provider, inference.SelfCheckOptions) (inference.SelfCheckReport, error)) {
		ortSelfCheck = f
	}(ortSelfCheck)
	ortSelfCheck = func(_ context.Context, ps []inference.Provider, _ inference.SelfCheckOptions) (inference.SelfCheckReport, error) {
		return inference.SelfCheckReport{Requested: providersText(ps), Provider: "cuda:0", Device: "GPU", Memory: 1 << 30},
			errors.New("inference: self-check: cuda:0 output is not finite")
	}
	out = start(t, map[string]string{"PAIMENG_ENGINES": "paimeng-tiny", "PAIMENG_MODELS_DIR": models, "PAIMENG_ORT_PROVIDERS": "cuda:0,cpu"})
	if !strings.Contains(out, `level=ERROR msg="ORT self-check failed; learned engines go on with CPU only" err="inference: self-check: cuda:0 output is not finite" requested=cuda:0,cpu provider=cuda:0 device=GPU memory="1.0 GiB"`) {
		t.Errorf("no self-check error line")
	}
	if !strings.Contains(out, `msg="model loaded" engine=paimeng-tiny`) || !strings.Contains(out, "providers=cpu\n") {
		t.Errorf("the model did not load on the CPU provider alone")
	}
}

// paimeng admin selfcheck prints the report and the encoder a worker would
// use.
func TestAdminSelfCheck(t *testing.T) {
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t), "PAIMENG_DATA_DIR": t.TempDir()}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"admin", "selfcheck", "--ort-providers", "cuda:0,cpu"}, func(k string) string { return env[k] }, &stdout, &stderr)
	out := stdout.String()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"requested: cuda:0,cpu\n", "match:     true\n", "encoder:   ", "ok\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if _, noGPU := kernels.Detect(); noGPU != nil {
		for _, want := range []string{"provider:  cpu\n", "fallback:  cuda:0: ", "encoder:   libx264 (h264_nvenc test encode failed: "} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	}
}
