package main

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
)

// tinyModels writes the tiny model package into a models folder and
// returns the folder.
func tinyModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "model", "tiny", "--out", filepath.Join(dir, "paimeng-tiny"), "--seed", "3"},
		func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("admin model tiny: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `model "paimeng-tiny"`) {
		t.Errorf("admin model tiny said %q", stdout.String())
	}
	return dir
}

// paimeng gen --engine runs a learned model package end to end on CPU: the
// tiny model gives a valid MP4 at its own size, length and frame rate.
func TestGenLearnedEngine(t *testing.T) {
	models := tinyModels(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "in.jpg")
	if err := os.WriteFile(img, jpegBytes(t, scene(640, 420)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t), "PAIMENG_MODELS_DIR": models, "PAIMENG_ENCODER_PRESET": "ultrafast"}
	getenv := func(k string) string { return env[k] }
	out := filepath.Join(dir, "out.mp4")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"gen", "--engine", "paimeng-tiny", "--image", img, "--prompt", "a cat walks by the river", "--out", out},
		getenv, &stdout, &stderr); err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}
	info, err := media.Probe(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 96 || info.Height != 64 || info.Frames != 9 || math.Abs(info.FPS-8) > 0.01 {
		t.Errorf("probe %+v, want 96×64, 9 frames at 8 fps", info)
	}
	err = run(context.Background(), []string{"gen", "--engine", "wan-none", "--image", img, "--out", out}, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `no model package named "wan-none"`) {
		t.Errorf("unknown model: %v", err)
	}
}

// paimeng gen --engine runs the packages exported from PyTorch with
// torch.onnx (inference/testdata/torch-tiny*, scripts/torch-export.sh) as
// an operator would deploy them: copied into the models folder.
func TestGenTorchExportedModels(t *testing.T) {
	models := t.TempDir()
	for _, d := range []string{"torch-tiny", "torch-tiny-svd"} {
		if err := os.CopyFS(filepath.Join(models, d), os.DirFS("../../inference/testdata/"+d)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "in.jpg")
	if err := os.WriteFile(img, jpegBytes(t, scene(300, 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t), "PAIMENG_MODELS_DIR": models, "PAIMENG_ENCODER_PRESET": "ultrafast"}
	for _, c := range []struct {
		engine      string
		frames, fps int
	}{
		{"paimeng-torch-tiny", 9, 8},     // 5 s at 8 fps: 9 of {5, 9} is nearest
		{"paimeng-torch-tiny-svd", 8, 6}, // 5 s at 6 fps: 8 of {6, 8}
	} {
		out := filepath.Join(dir, c.engine+".mp4")
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"gen", "--engine", c.engine, "--image", img, "--prompt", "镜头缓慢推近，夕阳下的海边", "--out", out},
			func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
			t.Fatalf("gen %s: %v\n%s", c.engine, err, stderr.String())
		}
		info, err := media.Probe(out)
		if err != nil {
			t.Fatal(err)
		}
		if info.Width != 64 || info.Height != 64 || info.Frames != c.frames || math.Abs(info.FPS-float64(c.fps)) > 0.01 {
			t.Errorf("%s: probe %+v, want 64×64, %d frames at %d fps", c.engine, info, c.frames, c.fps)
		}
	}
}

// A worker serving camera and the tiny model takes a job that names the
// model through the API and delivers its video; the registry shows both
// engines.
func TestDevLearnedEngineEndToEnd(t *testing.T) {
	cfg := testConfig(t, map[string]string{"PAIMENG_ENGINES": "camera,paimeng-tiny", "PAIMENG_MODELS_DIR": tinyModels(t)})
	app := startApp(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})
	base := "http://" + app.Addr()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if resp, err := c.Get(base + "/"); err == nil { // the playground's session cookie
		resp.Body.Close()
	}
	tok := ""
	code, j := postJobFields(t, c, base, tok, "l1", jpegBytes(t, scene(400, 400)), map[string]string{"prompt": "a quiet harbour", "engine": "paimeng-tiny"})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, j)
	}
	done := waitJob(t, c, base, tok, j.ID)
	if done.Status != "succeeded" || done.VideoURL == "" {
		t.Fatalf("job %+v", done)
	}
	if served := app.served; strings.Join(served, ",") != "camera,paimeng-tiny" {
		t.Errorf("worker serves %v", served)
	}
}

// paimeng admin model check says what a package holds and that ONNX
// Runtime sessions take it, and fails with the first problem found.
func TestAdminModelCheck(t *testing.T) {
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t)}
	getenv := func(k string) string { return env[k] }
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "model", "check", "../../inference/testdata/torch-tiny"}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("check: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{`list it in PAIMENG_ENGINES as "paimeng-torch-tiny"`, "flow, flow_euler, 4 steps, guidance 3",
		"tokenizer/spiece.model (unigram)", "denoiser.onnx", "sessions created on cpu", "\nok\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	broken := filepath.Join(t.TempDir(), "pkg")
	if err := os.CopyFS(broken, os.DirFS("../../inference/testdata/torch-tiny-svd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(broken, "unet.onnx.data")); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	err := run(context.Background(), []string{"admin", "model", "check", broken}, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "unet.onnx.data") || !strings.Contains(err.Error(), "external data file missing") {
		t.Errorf("missing external data: %v", err)
	}
	if err := run(context.Background(), []string{"admin", "model", "check"}, getenv, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "give the package folder") {
		t.Errorf("no folder: %v", err)
	}
}
