package bench

// The denoiser step benchmark: one guided sampler step (a batch of 2, the
// conditional branch first) of the learned engine on a tiny model package,
// through the engine's own denoiser adapter (inference.DenoiserStep: copy
// the latent and the time into the bound buffers, Run, copy the predictions
// out). bench/denoiser.mjs runs the same ONNX file on the same inputs with
// onnxruntime-node over the same ONNX Runtime library; bench/denoiser.sh
// interleaves both and prints the Go side's overhead.
//
// The fixture folder holds the model package (model/), every denoiser
// input as little-endian float32 (in_<name>.bin), the Go side's predictions
// for those inputs (go_out.bin) and denoiser.json, which tells the node
// side the file, the shapes, the thread counts and the optimisation level.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

// denoiserBenchModel is the benchmarked model: width 192 (4 heads), 4
// blocks, 128×128 and 17 frames, so a step sees 5 latent frames of 16×16
// (320 tokens) per batch item.
var denoiserBenchModel = inference.TinyOptions{
	Seed: 7, Width: 192, Heads: 4, Blocks: 4,
	Resolutions: []model.Resolution{{Width: 128, Height: 128}},
	Frames:      []int{5, 17},
}

// denoiserCheckModel is the small model of the plain tests (the tiny
// model's defaults: width 32, 2 blocks, 96×64 and 9 frames).
var denoiserCheckModel = inference.TinyOptions{Seed: 7}

const (
	denoiserSeed   = 11
	denoiserTime   = 750 // the step's time in the denoiser's units (flow time · 1000)
	denoiserWarmup = 3   // untimed steps before timing, on both sides
)

// denoiserInput is the job: a 2 s clip (17 frames at 8 fps, the largest
// count) from a square still, so the plan takes the largest square size.
func denoiserInput(w, h int) *paimeng.GenInput {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(64 + 96*((x/8+y/8)%2)), 255})
		}
	}
	return &paimeng.GenInput{Image: img, Prompt: "a cat walks by the river", Seconds: 2, Seed: denoiserSeed}
}

// denoiserLatent is the step's latent: the sampler's starting noise for
// the job's seed, one copy per branch (the sampler feeds both branches the
// same latent).
func denoiserLatent(batch, n int) []float32 {
	one := sample.Noise(denoiserSeed, n)
	x := make([]float32, 0, batch*n)
	for range batch {
		x = append(x, one...)
	}
	return x
}

// denoiserThreads is the intra-op and inter-op thread count of both sides:
// PAIMENG_BENCH_THREADS, default 1.
func denoiserThreads(tb testing.TB) int {
	s := os.Getenv("PAIMENG_BENCH_THREADS")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("PAIMENG_BENCH_THREADS=%q, want a positive integer", s)
	}
	return n
}

// denoiserSpec is denoiser.json.
type denoiserSpec struct {
	Model    string           `json:"model"` // relative to the fixture folder
	About    string           `json:"about"` // the model's size, for the report
	Threads  int              `json:"threads"`
	GraphOpt string           `json:"graph_optimization"`
	Warmup   int              `json:"warmup"`
	Latent   string           `json:"latent"`   // input that takes x each step
	Timestep string           `json:"timestep"` // input that takes t each step
	Time     float32          `json:"time"`
	Inputs   []denoiserTensor `json:"inputs"`
	Output   denoiserTensor   `json:"output"`
}

type denoiserTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	File  string  `json:"file"`
}

// denoiserFixture is an open engine, a prepared step, its latent and its
// predictions.
type denoiserFixture struct {
	eng  *inference.LearnedEngine
	step *inference.DenoiserStep
	x    []float32
	out  []float32
}

func (f *denoiserFixture) close() {
	f.step.Close()
	f.eng.Close()
}

var (
	denoiserORT    sync.Once
	denoiserORTErr error
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// writeDenoiserFixture writes the model package for opt into dir/model,
// opens it with the learned engine (CPU, threads intra-op and inter-op
// threads, all graph optimisations), prepares the job, runs one step on the
// latent and writes the inputs, the predictions and denoiser.json. The
// caller closes the fixture.
func writeDenoiserFixture(tb testing.TB, dir string, opt inference.TinyOptions, threads int) *denoiserFixture {
	tb.Helper()
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		tb.Fatal("PAIMENG_ORT_LIBRARY not set: run make bench")
	}
	// One environment for the process, never torn down (inference/session.go).
	denoiserORT.Do(func() { denoiserORTErr = inference.InitORT(lib) })
	if denoiserORTErr != nil {
		tb.Fatal(denoiserORTErr)
	}
	mdir := filepath.Join(dir, "model")
	if err := inference.WriteTinyModel(mdir, opt); err != nil {
		tb.Fatal(err)
	}
	pkg, err := model.Load(mdir)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := inference.NewLearnedEngine(pkg, inference.LearnedOptions{
		Providers:      []inference.Provider{{Name: inference.ProviderCPU}},
		IntraOpThreads: threads, InterOpThreads: threads, Logger: quietLog,
	})
	if err != nil {
		tb.Fatal(err)
	}
	side := model.Resolution{Width: 96, Height: 64} // the tiny model's largest default
	if len(opt.Resolutions) > 0 {
		side = opt.Resolutions[len(opt.Resolutions)-1]
	}
	step, err := eng.NewDenoiserStep(denoiserInput(side.Width, side.Height))
	if err != nil {
		eng.Close()
		tb.Fatal(err)
	}
	f := &denoiserFixture{eng: eng, step: step, x: denoiserLatent(step.Batch(), step.Len())}
	f.out = make([]float32, len(f.x))
	if err := step.Step(f.x, denoiserTime, f.out); err != nil {
		f.close()
		tb.Fatal(err)
	}

	den := pkg.Component(model.CompDenoiser)
	spec := denoiserSpec{
		Model: "model/" + den.File, Threads: threads,
		About: fmt.Sprintf("width %d, %d heads, %d blocks, %dx%d, %d frames",
			eng.Package().Manifest.Components.TextEncoder.Outputs[model.RoleHiddenStates].Shape[2].Size,
			max(opt.Heads, 2), max(opt.Blocks, 2), step.Spec().Width, step.Spec().Height, step.Spec().Frames), GraphOpt: "all", Warmup: denoiserWarmup,
		Latent: den.Inputs[model.RoleLatent].Name, Timestep: den.Inputs[model.RoleTimestep].Name, Time: denoiserTime,
	}
	for _, in := range step.Inputs() {
		if in.DType != inference.Float32 {
			f.close()
			tb.Fatalf("denoiser input %s is %s; the fixture writes float32 only", in.Name, in.DType)
		}
		file := "in_" + in.Name + ".bin"
		writeFloats(tb, filepath.Join(dir, file), in.Values)
		spec.Inputs = append(spec.Inputs, denoiserTensor{Name: in.Name, Shape: in.Shape, File: file})
	}
	spec.Output = denoiserTensor{Name: den.Outputs[model.RolePrediction].Name,
		Shape: spec.Inputs[0].Shape, File: "go_out.bin"}
	for _, in := range spec.Inputs {
		if in.Name == spec.Latent {
			spec.Output.Shape = in.Shape
		}
	}
	writeFloats(tb, filepath.Join(dir, "go_out.bin"), f.out)
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "denoiser.json"), append(b, '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
	return f
}

func writeFloats(tb testing.TB, path string, v []float32) {
	tb.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func readFloats(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// BenchmarkDenoiserStep times one guided step (batch 2) of the benchmark
// model; ns/op is ns per step. PAIMENG_DENOISER_DIR keeps the fixture for
// bench/denoiser.mjs (default: a temporary folder).
func BenchmarkDenoiserStep(b *testing.B) {
	dir := os.Getenv("PAIMENG_DENOISER_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	f := writeDenoiserFixture(b, dir, denoiserBenchModel, denoiserThreads(b))
	defer f.close()
	for range denoiserWarmup {
		if err := f.step.Step(f.x, denoiserTime, f.out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := f.step.InRun()
	for range b.N {
		if err := f.step.Step(f.x, denoiserTime, f.out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The same steps split in process: time inside ONNX Runtime's Run, and
	// the Go side's share of each step beyond it.
	inRun := f.step.InRun() - before
	b.ReportMetric(float64(inRun.Nanoseconds())/float64(b.N), "ort-ns/op")
	b.ReportMetric(100*(float64(b.Elapsed())/float64(inRun)-1), "go-overhead-%")
}

// TestDenoiserFixtureDeterministic: two fixtures of the same options hold
// byte-identical files (model, inputs, predictions, denoiser.json), so both
// sides of the benchmark and every round see the same inputs.
func TestDenoiserFixtureDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeDenoiserFixture(t, a, denoiserCheckModel, 1).close()
	writeDenoiserFixture(t, b, denoiserCheckModel, 1).close()
	n := 0
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s differs between two fixtures", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 9 { // 6 package files, 4 inputs, go_out.bin, denoiser.json
		t.Fatalf("%d files compared", n)
	}
	x := denoiserLatent(2, 1000)
	if !slicesEqual(x[:1000], x[1000:]) || !slicesEqual(x, denoiserLatent(2, 1000)) {
		t.Fatal("latent differs between branches or calls")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// ortNodeDir is where bench/denoiser.sh installs onnxruntime-node.
func ortNodeDir() string {
	if d := os.Getenv("PAIMENG_ORT_NODE_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", ".cache", "ort-node")
}

// TestDenoiserStepMatchesNode: onnxruntime-node, given the fixture's inputs,
// predicts what the Go step predicted (same library, same options). node
// and onnxruntime-node (scripts/ort-node.sh, run by make test) are required.
func TestDenoiserStepMatchesNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: it runs onnxruntime-node for this comparison (make test installs what is missing)")
	}
	nd, err := filepath.Abs(ortNodeDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nd, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		t.Fatalf("onnxruntime-node not in %s: run scripts/ort-node.sh (make test does)", nd)
	}
	dir := t.TempDir()
	f := writeDenoiserFixture(t, dir, denoiserCheckModel, 1)
	f.close()
	out := filepath.Join(dir, "node_out.bin")
	cmd := exec.Command(node, "denoiser.mjs", "--dir", dir, "--steps", "0", "--out", out)
	cmd.Env = append(os.Environ(), "PAIMENG_ORT_NODE_DIR="+nd)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	g, n := readFloats(t, filepath.Join(dir, "go_out.bin")), readFloats(t, out)
	if len(g) != len(n) || len(g) == 0 {
		t.Fatalf("%d Go and %d node values", len(g), len(n))
	}
	var worst float64
	for i := range g {
		worst = max(worst, math.Abs(float64(g[i])-float64(n[i])))
	}
	if worst > 1e-5 {
		t.Fatalf("largest difference between Go and node predictions %g", worst)
	}
	t.Logf("%d values, largest difference %g", len(g), worst)
}
