package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/kernels/kerneltest"
)

// startLogged is startApp with the log kept.
func startLogged(t *testing.T, cfg *Config, roles Roles) (*App, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	return startWithLog(t, cfg, roles, slog.New(slog.NewTextHandler(logs, nil))), logs
}

// waitLog waits until the log holds text.
func waitLog(t *testing.T, logs *testenv.LogBuffer, text string) {
	t.Helper()
	for start := time.Now(); !strings.Contains(logs.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no %q in the log:\n%s", text, logs.String())
		}
	}
}

// On a machine with a GPU (here the CUDA emulator behind
// PAIMENG_CUDA_DRIVER) the worker compiles the kernels, renders camera
// clips on the GPU, says so in its log and /metrics, and limits engine runs
// to one per GPU; a second start reads the compiled kernels from the cache.
func TestWorkerCameraOnGPU(t *testing.T) {
	env := map[string]string{
		"PAIMENG_CUDA_DRIVER":   kerneltest.Emulator(t),
		"PAIMENG_NVRTC_LIBRARY": kerneltest.NVRTC(t),
	}
	cfg := testConfig(t, env)
	app, logs := startLogged(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})
	out := logs.String()
	for _, want := range []string{
		`msg=GPU index=0 name="paimeng CUDA emulator (CPU)"`,
		`msg="CUDA kernels" device="cuda:0 paimeng CUDA emulator (CPU)`,
		`arch=sm_90 image=cubin nvrtc=11.8 cached=false`,
		`msg="engine device" engine=camera device=cuda:0`,
		`engine_slots=1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	base := "http://" + app.Addr()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if _, err := c.Get(base + "/"); err != nil {
		t.Fatal(err)
	}
	code, j := postJob(t, c, base, "", "m1", jpegBytes(t, scene(320, 240)), "镜头缓缓推近")
	if code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	done := waitJob(t, c, base, "", j.ID)
	if done.Status != "succeeded" {
		t.Fatalf("job %+v", done)
	}
	m, text := scrape(t, base+"/metrics")
	if m[`paimeng_engine_info{engine="camera",device="cuda:0"}`] != 1 || m[`paimeng_engine_runs_total{engine="camera",outcome="ok"}`] != 1 {
		t.Errorf("metrics:\n%s", text)
	}
	// The clip is a real H.264 MP4.
	mp4 := filepath.Join(cfg.BlobDir, "..")
	probe, err := exec.Command("sh", "-c", "find "+mp4+" -name '*.mp4' | head -1 | xargs ffprobe -v error -show_entries stream=codec_name,width,height,nb_frames -of csv=p=0").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(probe), "h264,320,240,120") {
		t.Errorf("ffprobe: %s %v", probe, err)
	}

	// Same settings again: the kernels come from the cache.
	cfg2 := testConfig(t, env)
	cfg2.KernelCache = cfg.KernelCache
	_, logs2 := startLogged(t, cfg2, Roles{Worker: true})
	waitLog(t, logs2, "worker started")
	if !strings.Contains(logs2.String(), "cached=true") {
		t.Errorf("second start did not use the kernel cache:\n%s", logs2.String())
	}
}

// PAIMENG_CAMERA_DEVICE=cpu keeps the camera on the CPU beside a GPU; a
// GPU that is not there refuses the start with the reason.
func TestWorkerCameraDeviceSetting(t *testing.T) {
	env := map[string]string{
		"PAIMENG_CUDA_DRIVER":   kerneltest.Emulator(t),
		"PAIMENG_NVRTC_LIBRARY": kerneltest.NVRTC(t),
		"PAIMENG_CAMERA_DEVICE": "cpu",
	}
	_, logs := startLogged(t, testConfig(t, env), Roles{Worker: true})
	waitLog(t, logs, "worker started")
	if out := logs.String(); !strings.Contains(out, `msg="engine device" engine=camera device=cpu`) || strings.Contains(out, "CUDA kernels") {
		t.Errorf("camera not on the CPU:\n%s", out)
	}

	env["PAIMENG_CAMERA_DEVICE"] = "cuda:3"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := NewApp(ctx, testConfig(t, env), Roles{Worker: true}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "PAIMENG_CAMERA_DEVICE=cuda:3") || !strings.Contains(err.Error(), "no device 3") {
		t.Errorf("cuda:3 on a one-GPU machine: %v", err)
	}

	env["PAIMENG_CAMERA_DEVICE"] = "gpu"
	base := map[string]string{"PAIMENG_DATA_DIR": t.TempDir(), "PAIMENG_CAMERA_DEVICE": "gpu"}
	_, _, err = parseConfig("test", nil, func(k string) string { return base[k] }, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `PAIMENG_CAMERA_DEVICE: "gpu" is not auto, cpu or cuda:N`) {
		t.Errorf("bad setting: %v", err)
	}
}
