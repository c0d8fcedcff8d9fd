package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/kernels"
)

// scrape returns /metrics at url as sample line → value.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %d %q\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out, string(body)
}

// The dev app serves /metrics beside the playground: after one camera job
// it shows one ok run, some busy time and the camera on the CPU.
func TestMetricsAfterJob(t *testing.T) {
	app := startApp(t, testConfig(t, nil), Roles{Frontend: true, Worker: true, Playground: true})
	base := "http://" + app.Addr()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}

	m, _ := scrape(t, base+"/metrics")
	if m[`paimeng_engine_runs_total{engine="camera",outcome="ok"}`] != 0 || m[`paimeng_engine_info{engine="camera",device="cpu"}`] != 1 {
		t.Fatalf("before a job: %v", m)
	}
	if _, err := c.Get(base + "/"); err != nil { // the playground cookie
		t.Fatal(err)
	}
	code, j := postJob(t, c, base, "", "m1", jpegBytes(t, scene(320, 240)), "push in")
	if code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if done := waitJob(t, c, base, "", j.ID); done.Status != "succeeded" {
		t.Fatalf("job %+v", done)
	}
	m, text := scrape(t, base+"/metrics")
	for k, want := range map[string]float64{
		`paimeng_engine_info{engine="camera",device="cpu"}`:             1,
		`paimeng_engine_runs_total{engine="camera",outcome="ok"}`:       1,
		`paimeng_engine_runs_total{engine="camera",outcome="error"}`:    0,
		`paimeng_engine_runs_total{engine="camera",outcome="canceled"}`: 0,
		`paimeng_engine_running{engine="camera"}`:                       0,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if busy := m[`paimeng_engine_busy_seconds_total{engine="camera"}`]; !(busy > 0) {
		t.Errorf("busy seconds %v, want > 0", busy)
	}
	if _, ok := m["paimeng_jobs_inflight"]; !ok {
		t.Error("no paimeng_jobs_inflight")
	}
	if _, err := kernels.Detect(); err != nil && strings.Contains(text, "paimeng_gpu_info") {
		t.Errorf("GPU metrics without a GPU:\n%s", text)
	}
	t.Logf("/metrics:\n%s", text)
}

// A worker-only process serves /metrics on PAIMENG_METRICS_ADDR and logs
// its devices once at start.
func TestWorkerMetricsAddrAndDeviceLog(t *testing.T) {
	cfg := testConfig(t, map[string]string{"PAIMENG_METRICS_ADDR": "127.0.0.1:0"})
	var logs testenv.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, Roles{Worker: true}, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		app.Close()
	}()
	if app.Addr() != "" || app.MetricsAddr() == "" {
		t.Fatalf("addresses %q %q", app.Addr(), app.MetricsAddr())
	}
	m, text := scrape(t, "http://"+app.MetricsAddr()+"/metrics")
	if m[`paimeng_engine_info{engine="camera",device="cpu"}`] != 1 || m["paimeng_jobs_inflight"] != 0 {
		t.Errorf("worker metrics:\n%s", text)
	}

	out := logs.String()
	if _, err := kernels.Detect(); err != nil {
		if strings.Count(out, "no GPU present; engines run on CPU") != 1 || !strings.Contains(out, "libcuda.so.1") {
			t.Errorf("log lacks one no-GPU line naming libcuda.so.1:\n%s", out)
		}
	} else if !strings.Contains(out, "msg=GPU index=0") || !strings.Contains(text, "paimeng_gpu_info{index=\"0\"") {
		t.Errorf("GPU not logged or not in metrics:\n%s\n%s", out, text)
	}
	if strings.Count(out, "msg=\"engine device\" engine=camera device=cpu") != 1 {
		t.Errorf("log lacks the camera's device:\n%s", out)
	}
	t.Logf("log:\n%s", out)
}

// A worker stopped while it starts (before it has registered) stops
// cleanly: Run returns no error.
func TestWorkerStoppedWhileStarting(t *testing.T) {
	cfg := testConfig(t, map[string]string{"PAIMENG_METRICS_ADDR": "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, Roles{Worker: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer app.Close()
	cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// fakeEngine returns err from Generate after waiting for release.
type fakeEngine struct {
	release chan struct{}
	err     error
}

func (f *fakeEngine) Name() string { return "fake" }
func (f *fakeEngine) Plan(*paimeng.GenInput) (paimeng.VideoSpec, error) {
	return paimeng.VideoSpec{}, nil
}
func (f *fakeEngine) Generate(ctx context.Context, _ *paimeng.GenInput, _ paimeng.FrameSink, _ func(int, int)) error {
	select {
	case <-f.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return f.err
}

func TestMeteredEngine(t *testing.T) {
	m := newMetrics()
	m.setGPUs([]kernels.Device{{Index: 0, Name: `GPU "A"`, Memory: 80 << 30, Major: 9}})
	f := &fakeEngine{release: make(chan struct{})}
	eng := meteredEngine{Engine: f, st: m.addEngine("fake", "cuda:0,cpu")}
	if eng.Name() != "fake" {
		t.Fatal(eng.Name())
	}
	get := func() (map[string]float64, string) {
		srv := httptest.NewServer(m)
		defer srv.Close()
		return scrape(t, srv.URL+"/metrics")
	}

	errc := make(chan error, 1)
	go func() { errc <- eng.Generate(context.Background(), nil, nil, nil) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if s, _ := get(); s[`paimeng_engine_running{engine="fake"}`] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("run not counted as running")
		}
	}
	time.Sleep(20 * time.Millisecond)
	s, _ := get()
	if busy := s[`paimeng_engine_busy_seconds_total{engine="fake"}`]; busy < 0.015 {
		t.Errorf("busy %v while running, want ≥ 0.015", busy)
	}
	close(f.release)
	<-errc

	f.err = errors.New("boom")
	if err := eng.Generate(context.Background(), nil, nil, nil); err == nil {
		t.Fatal("error lost")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.release = make(chan struct{})
	if err := eng.Generate(ctx, nil, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	s, text := get()
	for k, want := range map[string]float64{
		`paimeng_engine_info{engine="fake",device="cuda:0,cpu"}`:                1,
		`paimeng_engine_runs_total{engine="fake",outcome="ok"}`:                 1,
		`paimeng_engine_runs_total{engine="fake",outcome="error"}`:              1,
		`paimeng_engine_runs_total{engine="fake",outcome="canceled"}`:           1,
		`paimeng_engine_running{engine="fake"}`:                                 0,
		`paimeng_gpu_info{index="0",name="GPU \"A\"",compute_capability="9.0"}`: 1,
		`paimeng_gpu_memory_bytes{index="0"}`:                                   80 << 30,
	} {
		if got, ok := s[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v\n%s", k, got, ok, want, text)
		}
	}
	for _, name := range []string{"paimeng_engine_info", "paimeng_engine_busy_seconds_total", "paimeng_engine_runs_total", "paimeng_engine_running", "paimeng_jobs_inflight", "paimeng_gpu_info"} {
		if strings.Count(text, "# TYPE "+name+" ") != 1 {
			t.Errorf("want one TYPE line for %s", name)
		}
	}
}

// A metrics address that cannot be bound fails NewApp cleanly.
func TestMetricsAddrInUse(t *testing.T) {
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	cfg := testConfig(t, map[string]string{"PAIMENG_METRICS_ADDR": busy.Listener.Addr().String()})
	app, err := NewApp(context.Background(), cfg, Roles{Worker: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || app != nil || !strings.Contains(err.Error(), "PAIMENG_METRICS_ADDR") {
		t.Fatalf("NewApp: %v, %v", app, err)
	}
}
