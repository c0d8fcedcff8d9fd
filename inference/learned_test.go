package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

var learnedTestOptions = LearnedOptions{Providers: []Provider{{Name: ProviderCPU}}, IntraOpThreads: 1, Logger: quiet}

func newLearned(t testing.TB, p *model.Package) *LearnedEngine {
	t.Helper()
	needORT(t)
	e, err := NewLearnedEngine(p, learnedTestOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testStill is a w×h picture with a colour gradient and a bright square.
func testStill(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(128 + 127*(x+y)%2), 255}
			if x > w/3 && x < w/2 && y > h/3 && y < h/2 {
				c = color.RGBA{250, 250, 240, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func TestLearnedGenerate(t *testing.T) {
	for _, half := range []bool{false, true} {
		_, p := writeTiny(t, TinyOptions{Seed: 5, Float16: half})
		e := newLearned(t, p)
		if e.Name() != "paimeng-tiny" {
			t.Errorf("name %q", e.Name())
		}
		in := &paimeng.GenInput{Image: testStill(120, 80), Prompt: "a cat walks by the river", Seconds: 1, Seed: 42}
		spec, err := e.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		// 1 s at the model's 8 fps: 9 of {5, 9} frames is nearest.
		want := paimeng.VideoSpec{Width: 96, Height: 64, FPS: 8, Frames: 9, PixFmt: paimeng.PixYUV420P}
		if spec != want {
			t.Fatalf("plan %+v, want %+v", spec, want)
		}
		var sink memSink
		var calls [][2]int
		if err := e.Generate(context.Background(), in, &sink, func(d, n int) { calls = append(calls, [2]int{d, n}) }); err != nil {
			t.Fatal(err)
		}
		if len(sink.frames) != spec.Frames {
			t.Fatalf("%d frames, want %d", len(sink.frames), spec.Frames)
		}
		steps := p.Manifest.Defaults.Steps
		if len(calls) != steps+1 {
			t.Errorf("progress %v, want %d calls", calls, steps+1)
		}
		for i, c := range calls {
			if c != [2]int{i + 1, steps + 1} {
				t.Errorf("progress call %d is %v, want [%d %d]", i, c, i+1, steps+1)
			}
		}
		n := spec.Width * spec.Height
		same := true
		for i, f := range sink.frames {
			if len(f) != spec.FrameSize() {
				t.Fatalf("frame %d has %d bytes, want %d", i, len(f), spec.FrameSize())
			}
			ylo, yhi := byte(255), byte(0)
			for _, v := range f[:n] {
				ylo, yhi = min(ylo, v), max(yhi, v)
			}
			clo, chi := byte(255), byte(0)
			for _, v := range f[n:] {
				clo, chi = min(clo, v), max(chi, v)
			}
			if ylo < 16 || yhi > 235 || clo < 16 || chi > 240 || ylo == yhi {
				t.Errorf("frame %d: Y in [%d, %d], chroma in [%d, %d]", i, ylo, yhi, clo, chi)
			}
			if i > 0 && !bytes.Equal(f, sink.frames[0]) {
				same = false
			}
		}
		if same {
			t.Error("every frame is the same")
		}
	}
}

func TestLearnedDeterministic(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 9})
	e := newLearned(t, p)
	run := func(seed int64) [][]byte {
		var sink memSink
		in := &paimeng.GenInput{Image: testStill(64, 64), Prompt: "a dog on the street", Seconds: 1, Seed: seed}
		if err := e.Generate(context.Background(), in, &sink, nil); err != nil {
			t.Fatal(err)
		}
		return sink.frames
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("frame %d differs between two runs with seed 7", i)
		}
	}
	differ := false
	for i := range a {
		differ = differ || !bytes.Equal(a[i], c[i])
	}
	if !differ {
		t.Error("seeds 7 and 8 give the same clip")
	}
}

func TestLearnedCancel(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 2})
	e := newLearned(t, p)
	base := liveORT.Load()
	var rss0 int64
	in := &paimeng.GenInput{Image: testStill(96, 64), Prompt: "waves", Seconds: 1, Seed: 1}
	for i := range 21 {
		if i == 1 {
			rss0 = rss(t)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var sink memSink
		var last int
		err := e.Generate(ctx, in, &sink, func(d, _ int) {
			last = d
			if d == 2 {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) || last != 2 || len(sink.frames) != 0 {
			t.Fatalf("run %d: err %v after step %d and %d frames, want context.Canceled after step 2 and no frames", i, err, last, len(sink.frames))
		}
		if n := liveORT.Load(); n != base {
			t.Fatalf("run %d: %d runtime objects live after the cancel, %d before", i, n, base)
		}
	}
	rss1 := rss(t)
	t.Logf("20 canceled jobs after a first: RSS %.1f MiB → %.1f MiB (bound +8 MiB)", float64(rss0)/(1<<20), float64(rss1)/(1<<20))
	if rss1-rss0 > 8<<20 {
		t.Errorf("RSS grew by %d KiB over 20 canceled jobs", (rss1-rss0)>>10)
	}
	var sink memSink
	if err := e.Generate(context.Background(), in, &sink, nil); err != nil || len(sink.frames) != 9 {
		t.Fatalf("after cancels: %v, %d frames", err, len(sink.frames))
	}
	if n := liveORT.Load(); n != base {
		t.Errorf("%d runtime objects live after a job, %d before", n, base)
	}
}

// TestLearnedDenoiserSteadyState calls the denoiser adapter 1,000 times with
// a guided pair at the smallest size and checks that it allocates nothing
// in Go and that resident memory stays within a bound.
func TestLearnedDenoiserSteadyState(t *testing.T) {
	const (
		runs  = 1000
		warm  = 50
		bound = 8 << 20
	)
	_, p := writeTiny(t, TinyOptions{Seed: 4})
	e := newLearned(t, p)
	for _, batched := range []bool{true, false} {
		e.m.BatchedGuidance = batched
		pl, err := e.plan(&paimeng.GenInput{Image: testStill(64, 64), Seconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		pl.spec.Frames, pl.T = 5, 2
		j := &learnedJob{e: e, p: pl}
		if err := j.prepare(&paimeng.GenInput{Image: testStill(64, 64), Prompt: "a bird flies"}); err != nil {
			t.Fatal(err)
		}
		if got := len(j.bindings); batched && got != 3 || !batched && got != 4 {
			t.Errorf("batched %v: %d bindings", batched, got)
		}
		x := sample.Noise(1, 2*j.n)
		copy(x[j.n:], x[:j.n])
		out := make([]float32, 2*j.n)
		br := []sample.Branch{sample.Conditional, sample.Unconditional}
		step := func() {
			if err := j.denoise(context.Background(), x, 500, br, out); err != nil {
				t.Fatal(err)
			}
		}
		for range warm {
			step()
		}
		if a := testing.AllocsPerRun(20, step); a != 0 {
			t.Errorf("batched %v: %v allocations per step", batched, a)
		}
		before := rss(t)
		for range runs {
			step()
		}
		after := rss(t)
		t.Logf("batched %v: %d denoiser steps, latent %d values: RSS %.1f MiB → %.1f MiB (%+.0f KiB, bound %d KiB)",
			batched, runs, j.n, float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/1024, bound>>10)
		if after-before > bound {
			t.Errorf("RSS grew by %d KiB", (after-before)>>10)
		}
		j.close()
	}
	e.m.BatchedGuidance = true
}

// setName rewrites the manifest name of the package in dir.
func setName(t *testing.T, dir, name string) {
	t.Helper()
	path := filepath.Join(dir, model.ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = name
	data, _ = json.Marshal(m)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadModels(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	for _, c := range []struct {
		folder, name string
		opt          TinyOptions
	}{{"a", "tiny-a", TinyOptions{Seed: 1}}, {"b", "tiny-b", TinyOptions{Seed: 2, Float16: true}}, {"c", "tiny-a", TinyOptions{Seed: 3}}, {"z", "tiny-z", TinyOptions{Seed: 4}}} {
		sub := filepath.Join(dir, c.folder)
		if err := WriteTinyModel(sub, c.opt); err != nil {
			t.Fatal(err)
		}
		setName(t, sub, c.name)
	}
	broken := filepath.Join(dir, "broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, model.ManifestFile), []byte(`{"name": "x", "kind": 3}`), 0o644)
	os.Remove(filepath.Join(dir, "z", "denoiser.onnx"))
	os.MkdirAll(filepath.Join(dir, "notes"), 0o755)
	os.WriteFile(filepath.Join(dir, "README"), []byte("models"), 0o644)

	base := liveORT.Load()
	engines, errs := LoadModels(dir, learnedTestOptions)
	t.Cleanup(func() {
		for _, e := range engines {
			e.Close()
		}
	})
	if len(engines) != 2 || engines["tiny-a"] == nil || engines["tiny-b"] == nil {
		t.Fatalf("engines %v", engines)
	}
	if engines["tiny-a"].Package().Dir != filepath.Join(dir, "a") {
		t.Errorf("tiny-a from %s", engines["tiny-a"].Package().Dir)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3", errs)
	}
	for i, folder := range []string{"broken", "c", "z"} {
		if !strings.Contains(errs[i].Error(), filepath.Join(dir, folder)) {
			t.Errorf("error %d %q does not name %s", i, errs[i], folder)
		}
	}
	t.Log(errs)
	for name, e := range engines {
		var sink memSink
		if err := e.Generate(context.Background(), &paimeng.GenInput{Image: testStill(64, 64), Prompt: "rain", Seconds: 1}, &sink, nil); err != nil || len(sink.frames) != 9 {
			t.Errorf("%s: %v, %d frames", name, err, len(sink.frames))
		}
	}
	for _, e := range engines {
		e.Close()
	}
	if n := liveORT.Load(); n != base {
		t.Errorf("%d runtime objects live after closing the engines, %d before", n, base)
	}
	if _, errs := LoadModels(filepath.Join(dir, "none"), learnedTestOptions); len(errs) != 1 {
		t.Errorf("missing folder: %v", errs)
	}
}

func TestLearnedPlan(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 6, Resolutions: []model.Resolution{{Width: 64, Height: 64}, {Width: 96, Height: 64}, {Width: 128, Height: 128}}})
	e := newLearned(t, p)
	in := func(w, h int) *paimeng.GenInput { return &paimeng.GenInput{Image: testStill(w, h), Seconds: 1} }

	tail := in(64, 64)
	tail.Tail = testStill(64, 64)
	_, err := e.Plan(tail)
	if paimeng.ErrorCode(err) != paimeng.EBadOption || !strings.Contains(err.Error(), "this engine has no end frame") {
		t.Errorf("tail: %v", err)
	}
	if err := e.Generate(context.Background(), tail, &memSink{}, nil); paimeng.ErrorCode(err) != paimeng.EBadOption {
		t.Errorf("generate with tail: %v", err)
	}

	for _, c := range []struct {
		in   *paimeng.GenInput
		w, h int
	}{
		{in(300, 200), 96, 64},   // 3:2
		{in(400, 200), 96, 64},   // 2:1: 3:2 is nearest
		{in(100, 100), 128, 128}, // square, the largest
		{in(64, 100), 128, 128},  // portrait: square is nearest
		{&paimeng.GenInput{Image: testStill(100, 100), MaxSide: 100}, 64, 64},
		{&paimeng.GenInput{Image: testStill(100, 100), MaxSide: 32}, 64, 64}, // none fits: the smallest
		{&paimeng.GenInput{Image: testStill(100, 100), Aspect: paimeng.AspectWide}, 96, 64},
	} {
		s, err := e.Plan(c.in)
		if err != nil {
			t.Fatal(err)
		}
		b := c.in.Image.Bounds()
		if s.Width != c.w || s.Height != c.h {
			t.Errorf("%dx%d max %d aspect %q: %dx%d, want %dx%d", b.Dx(), b.Dy(), c.in.MaxSide, c.in.Aspect, s.Width, s.Height, c.w, c.h)
		}
	}
	for secs, frames := range map[int]int{0: 9, 1: 9, 10: 9} {
		s, err := e.Plan(&paimeng.GenInput{Image: testStill(64, 64), Seconds: secs, FPS: 30})
		if err != nil || s.Frames != frames || s.FPS != 8 {
			t.Errorf("%d s: %+v %v, want %d frames at 8 fps", secs, s, err, frames)
		}
	}
	if _, err := e.Plan(&paimeng.GenInput{Image: testStill(64, 64), Seconds: 11}); paimeng.ErrorCode(err) != paimeng.EBadOption {
		t.Errorf("11 s: %v", err)
	}
	if got := pickFrames([]int{5, 9, 17}, 7); got != 9 {
		t.Errorf("7 frames → %d, want 9 (ties take the longer)", got)
	}
	if got := pickFrames([]int{5, 9, 17}, 2); got != 5 {
		t.Errorf("2 frames → %d, want 5", got)
	}
	// A portrait still on a portrait-only list of another size.
	if r := pickResolution([]model.Resolution{{Width: 832, Height: 480}, {Width: 480, Height: 832}}, 9.0/16, 0); r != (model.Resolution{Width: 480, Height: 832}) {
		t.Errorf("9:16 → %v", r)
	}
}

// TestLearnedSamplers runs the engine without guidance (one conditional
// call per step) and with the EDM sampler, unbatched.
func TestLearnedSamplers(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 8, Float16: true})
	needORT(t)
	opt := learnedTestOptions
	opt.Guidance, opt.Steps = 1, 3
	e, err := NewLearnedEngine(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	in := &paimeng.GenInput{Image: testStill(64, 64), Prompt: "snow", Seconds: 1, Seed: 3}
	var calls int
	var sink memSink
	if err := e.Generate(context.Background(), in, &sink, func(d, n int) { calls++ }); err != nil || len(sink.frames) != 9 || calls != 4 {
		t.Fatalf("unguided: %v, %d frames, %d progress calls", err, len(sink.frames), calls)
	}
	e2 := newLearned(t, p)
	e2.m.Kind, e2.m.BatchedGuidance = model.KindEDM, false
	e2.m.Scheduler = model.Scheduler{Type: model.SchedulerEDMEuler, Prediction: "v"}
	sink = memSink{}
	if err := e2.Generate(context.Background(), in, &sink, nil); err != nil || len(sink.frames) != 9 {
		t.Fatalf("edm: %v, %d frames", err, len(sink.frames))
	}
}

// TestLearnedConcurrent runs two jobs at once on one engine: each binds its
// own buffers, so both give the clip a single job gives.
func TestLearnedConcurrent(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 10})
	e := newLearned(t, p)
	in := &paimeng.GenInput{Image: testStill(96, 64), Prompt: "a boat on the lake", Seconds: 1, Seed: 5}
	var want memSink
	if err := e.Generate(context.Background(), in, &want, nil); err != nil {
		t.Fatal(err)
	}
	var got [2]memSink
	errs := make(chan error, 2)
	for i := range got {
		go func() { errs <- e.Generate(context.Background(), in, &got[i], nil) }()
	}
	for range got {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range got {
		if len(got[i].frames) != len(want.frames) {
			t.Fatalf("job %d: %d frames", i, len(got[i].frames))
		}
		for f := range want.frames {
			if !bytes.Equal(got[i].frames[f], want.frames[f]) {
				t.Fatalf("job %d frame %d differs from the single job's", i, f)
			}
		}
	}
}

func TestLearnedRefusesLayouts(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 1})
	needORT(t)
	base := liveORT.Load()
	ts := p.Component(model.CompDenoiser).Inputs[model.RoleTimestep]
	ts.Shape = nil
	p.Component(model.CompDenoiser).Inputs[model.RoleTimestep] = ts
	if _, err := NewLearnedEngine(p, learnedTestOptions); err == nil || !strings.Contains(err.Error(), "components.denoiser.inputs.timestep") {
		t.Errorf("scalar timestep: %v", err)
	}
	_, p = writeTiny(t, TinyOptions{Seed: 1})
	v := p.Component(model.CompVAEDecoder).Outputs[model.RoleVideo]
	v.Shape = v.Shape[1:]
	p.Component(model.CompVAEDecoder).Outputs[model.RoleVideo] = v
	if _, err := NewLearnedEngine(p, learnedTestOptions); err == nil || !strings.Contains(err.Error(), "components.vae_decoder.outputs.video") {
		t.Errorf("rank 4 video: %v", err)
	}
	if n := liveORT.Load(); n != base {
		t.Errorf("%d runtime objects live, %d before", n, base)
	}
}
