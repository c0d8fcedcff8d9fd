package inference

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/paimeng/paimeng/inference/sample"
	"github.com/paimeng/paimeng/kernels"
)

// SelfCheckTolerance is the largest difference SelfCheck allows between an
// output element and its reference. The outputs are probabilities near
// 1/8, so TF32 or FP16 arithmetic on a GPU stays well inside it while a
// wrong result does not.
const SelfCheckTolerance = 1e-3

// SelfCheckOptions configures SelfCheck. The zero value is ready to use.
type SelfCheckOptions struct {
	// Logger receives the check's sessions' own lines (provider fallbacks,
	// session ready); default none: the report carries what they say.
	Logger *slog.Logger
	// Detect lists the GPUs to name the device a CUDA or TensorRT session
	// got (default kernels.Detect).
	Detect func() (kernels.Devices, error)
}

// SelfCheckReport is what SelfCheck found.
type SelfCheckReport struct {
	// Requested is the provider list asked for, in spec form, cpu last.
	Requested string
	// Provider is the device the session runs on (Provider.DeviceName:
	// cpu, cuda:N or tensorrt:N): the first provider it got.
	Provider string
	// Providers lists every provider the session got, cpu last.
	Providers []string
	// Fallbacks are the requested providers that were skipped, in order.
	Fallbacks []ProviderFallback
	// Device names the hardware: the GPU's name for cuda and tensorrt,
	// "cpu" on the CPU.
	Device string
	// Memory is the GPU's total memory in bytes; 0 on the CPU.
	Memory uint64
	// CPUs is runtime.NumCPU() when the session runs on the CPU.
	CPUs int
	// LoadTime is the session creation time (graph optimisation and, on a
	// GPU, weight upload or engine build); RunTime is the one inference.
	LoadTime time.Duration
	RunTime  time.Duration
	// Reference says what the output was compared with: "cpu" (the same
	// model run by ONNX Runtime on the CPU) when the session got a GPU
	// provider, or "go" (the model evaluated in Go in float64) when it runs
	// on the CPU itself.
	Reference string
	// Finite reports whether every output element is finite; MaxDiff is the
	// largest difference from the reference and Match whether it is within
	// SelfCheckTolerance.
	Finite  bool
	MaxDiff float64
	Match   bool
}

// OK reports whether the check ran and its output is finite and matches.
func (r SelfCheckReport) OK() bool { return r.Provider != "" && r.Finite && r.Match }

// Attrs returns the report as slog key-value pairs: requested, then, once
// a session was made, provider, device, memory (GPU) or cpus (CPU) and
// load_time, then, once it ran, run_time, reference, max_diff, match (and
// finite=false when it was not), and fallback when a requested provider
// was skipped.
func (r SelfCheckReport) Attrs() []any {
	attrs := []any{"requested", r.Requested}
	if r.Provider != "" {
		attrs = append(attrs, "provider", r.Provider, "device", r.Device)
		if r.Memory > 0 {
			attrs = append(attrs, "memory", fmt.Sprintf("%.1f GiB", float64(r.Memory)/(1<<30)))
		}
		if r.CPUs > 0 {
			attrs = append(attrs, "cpus", r.CPUs)
		}
		attrs = append(attrs, "load_time", r.LoadTime.Round(time.Microsecond).String())
	}
	if r.Reference != "" {
		attrs = append(attrs, "run_time", r.RunTime.Round(time.Microsecond).String(),
			"reference", r.Reference, "max_diff", fmt.Sprintf("%.2g", r.MaxDiff), "match", r.Match)
		if !r.Finite {
			attrs = append(attrs, "finite", false)
		}
	}
	if len(r.Fallbacks) > 0 {
		attrs = append(attrs, "fallback", r.FallbackText())
	}
	return attrs
}

// FallbackText describes the skipped providers on one line: "provider:
// reason; provider: reason".
func (r SelfCheckReport) FallbackText() string {
	s := ""
	for i, f := range r.Fallbacks {
		if i > 0 {
			s += "; "
		}
		s += f.Provider + ": " + f.Reason
	}
	return s
}

// Self-check model dimensions: x [1, scC, scH, scW] → y [1, scK, scH, scW].
const (
	scC    = 4
	scK    = 8
	scH    = 16
	scW    = 16
	scSeed = 0x5e1fc4ec
)

// SelfCheck proves that ONNX Runtime computes correctly on the given
// execution providers. It builds a small seeded model (a 3×3 convolution,
// SiLU, a 256×256 matrix product, a 1×1 convolution and a softmax over
// channels; nothing is written to disk), opens a session on providers with
// the ordinary session code (so unavailable providers fall back as they
// would for an engine), runs one inference and compares the output with a
// reference: ONNX Runtime on the CPU when the session got a GPU provider,
// the same model evaluated in Go when it runs on the CPU.
//
// The report is filled as far as the check got. The error is non-nil when
// the runtime is not initialised, the session cannot be created or run, or
// the output is not finite or does not match; on a mismatch the caller
// should not trust the provider the report names.
func SelfCheck(ctx context.Context, providers []Provider, opt SelfCheckOptions) (SelfCheckReport, error) {
	if len(providers) == 0 || providers[len(providers)-1].Name != ProviderCPU {
		providers = append(append([]Provider(nil), providers...), Provider{Name: ProviderCPU})
	}
	rep := SelfCheckReport{Requested: providerList(providers)}
	fail := func(format string, args ...any) (SelfCheckReport, error) {
		return rep, fmt.Errorf("inference: self-check: "+format, args...)
	}
	if err := ctx.Err(); err != nil {
		return fail("%w", err)
	}
	m := newSelfCheckModel()
	onnx, err := m.onnx()
	if err != nil {
		return fail("%w", err)
	}
	next := slog.DiscardHandler
	if opt.Logger != nil {
		next = opt.Logger.Handler()
	}
	start := time.Now()
	s, err := NewSession(onnx, SessionConfig{Name: "self-check", Providers: providers, Logger: slog.New(next),
		OnFallback: func(f ProviderFallback) { rep.Fallbacks = append(rep.Fallbacks, f) }})
	rep.LoadTime = time.Since(start)
	if err != nil {
		return fail("%w", err)
	}
	defer s.Close()
	got := s.Providers()
	for _, p := range got {
		rep.Providers = append(rep.Providers, p.DeviceName())
	}
	rep.Provider = got[0].DeviceName()
	describeDevice(&rep, got[0], opt.Detect)
	if err := ctx.Err(); err != nil {
		return fail("%w", err)
	}

	var out []float32
	out, rep.RunTime, err = runSelfCheck(s, m.x)
	if err != nil {
		return fail("%w", err)
	}
	rep.Finite = !slices.ContainsFunc(out, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) })

	var want []float32
	ref := "go"
	if got[0].Name == ProviderCPU {
		want = m.eval()
	} else {
		ref = ProviderCPU
		cpu, err := NewSession(onnx, SessionConfig{Name: "self-check reference", Logger: slog.New(next)})
		if err != nil {
			return fail("reference: %w", err)
		}
		want, _, err = runSelfCheck(cpu, m.x)
		cpu.Close()
		if err != nil {
			return fail("reference: %w", err)
		}
	}
	rep.Reference = ref
	for i := range out {
		d := math.Abs(float64(out[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		rep.MaxDiff = max(rep.MaxDiff, d)
	}
	rep.Match = rep.MaxDiff <= SelfCheckTolerance
	switch {
	case !rep.Finite:
		return fail("%s output is not finite", rep.Provider)
	case !rep.Match:
		return fail("%s output differs from the %s reference by %.3g (more than %g)", rep.Provider, rep.Reference, rep.MaxDiff, SelfCheckTolerance)
	}
	return rep, nil
}

// describeDevice fills the report's device fields for provider p.
func describeDevice(rep *SelfCheckReport, p Provider, detect func() (kernels.Devices, error)) {
	if p.Name == ProviderCPU {
		rep.Device, rep.CPUs = ProviderCPU, runtime.NumCPU()
		return
	}
	if detect == nil {
		detect = kernels.Detect
	}
	ds, err := detect()
	if err != nil {
		rep.Device = fmt.Sprintf("unknown GPU (%v)", err)
		return
	}
	for _, g := range ds.GPUs {
		if g.Index == p.Device {
			rep.Device, rep.Memory = g.Name, g.Memory
			return
		}
	}
	rep.Device = fmt.Sprintf("unknown GPU (the driver lists %d, none with ordinal %d)", len(ds.GPUs), p.Device)
}

// runSelfCheck runs the model once on input x and returns a copy of y and
// the time the run took.
func runSelfCheck(s *Session, x []float32) ([]float32, time.Duration, error) {
	b, err := s.NewBinding()
	if err != nil {
		return nil, 0, err
	}
	defer b.Close()
	in, err := b.Alloc("x")
	if err != nil {
		return nil, 0, err
	}
	copy(in.Float32(), x)
	y, err := b.Alloc("y")
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	if err := b.Run(); err != nil {
		return nil, 0, err
	}
	d := time.Since(start)
	return append([]float32(nil), y.Float32()...), d, nil
}

// selfCheckModel holds the self-check model's seeded weights and input.
type selfCheckModel struct {
	x      []float32 // [1, C, H, W]
	w1, b1 []float32 // 3×3 convolution C → K: [K, C, 3, 3], [K]
	wm, bm []float32 // matrix product over H·W: [H·W, H·W], [H·W]
	w2, b2 []float32 // 1×1 convolution K → K: [K, K, 1, 1], [K]
}

func newSelfCheckModel() *selfCheckModel {
	off := uint64(0)
	noise := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		sample.FillNoise(v, scSeed, off)
		off += uint64(n)
		for i := range v {
			v[i] = float32(float64(v[i]) * scale)
		}
		return v
	}
	const hw = scH * scW
	return &selfCheckModel{
		x:  noise(scC*hw, 1),
		w1: noise(scK*scC*9, 1/math.Sqrt(scC*9)),
		b1: noise(scK, 0.1),
		wm: noise(hw*hw, 1/math.Sqrt(hw)),
		bm: noise(hw, 0.1),
		w2: noise(scK*scK, 2/math.Sqrt(scK)),
		b2: noise(scK, 0.1),
	}
}

// onnx builds the model: y = softmax over channels of
// conv1×1(silu(conv3×3(x)) · Wm + bm).
func (m *selfCheckModel) onnx() ([]byte, error) {
	const hw = scH * scW
	g := newGraph("paimeng_self_check")
	x := g.input("x", tFloat, 1, scC, scH, scW)
	h := g.node("Conv", []string{x, g.constF([]int64{scK, scC, 3, 3}, m.w1...), g.constF([]int64{scK}, m.b1...)},
		attrs{"kernel_shape": []int64{3, 3}, "pads": []int64{1, 1, 1, 1}})
	h = g.node("Mul", []string{h, g.node("Sigmoid", []string{h}, nil)}, nil)
	h = g.node("Reshape", []string{h, g.constI([]int64{3}, 1, scK, hw)}, nil)
	h = g.node("MatMul", []string{h, g.constF([]int64{hw, hw}, m.wm...)}, nil)
	h = g.node("Add", []string{h, g.constF([]int64{hw}, m.bm...)}, nil)
	h = g.node("Reshape", []string{h, g.constI([]int64{4}, 1, scK, scH, scW)}, nil)
	h = g.node("Conv", []string{h, g.constF([]int64{scK, scK, 1, 1}, m.w2...), g.constF([]int64{scK}, m.b2...)},
		attrs{"kernel_shape": []int64{1, 1}})
	g.node("Softmax", []string{h}, attrs{"axis": 1}, "y")
	g.output("y", tFloat, 1, scK, scH, scW)
	return g.model(17)
}

// eval computes the model in Go in float64.
func (m *selfCheckModel) eval() []float32 {
	const hw = scH * scW
	h := make([]float64, scK*hw)
	for k := 0; k < scK; k++ {
		for i := 0; i < scH; i++ {
			for j := 0; j < scW; j++ {
				acc := float64(m.b1[k])
				for c := 0; c < scC; c++ {
					for di := -1; di <= 1; di++ {
						for dj := -1; dj <= 1; dj++ {
							y, x := i+di, j+dj
							if y < 0 || y >= scH || x < 0 || x >= scW {
								continue
							}
							acc += float64(m.w1[((k*scC+c)*3+di+1)*3+dj+1]) * float64(m.x[(c*scH+y)*scW+x])
						}
					}
				}
				h[k*hw+i*scW+j] = acc / (1 + math.Exp(-acc)) // SiLU
			}
		}
	}
	g := make([]float64, scK*hw)
	for k := 0; k < scK; k++ {
		for o := 0; o < hw; o++ {
			acc := float64(m.bm[o])
			for i := 0; i < hw; i++ {
				acc += h[k*hw+i] * float64(m.wm[i*hw+o])
			}
			g[k*hw+o] = acc
		}
	}
	out := make([]float32, scK*hw)
	z := make([]float64, scK)
	for p := 0; p < hw; p++ {
		top := math.Inf(-1)
		for k := 0; k < scK; k++ {
			acc := float64(m.b2[k])
			for c := 0; c < scK; c++ {
				acc += float64(m.w2[k*scK+c]) * g[c*hw+p]
			}
			z[k] = acc
			top = max(top, acc)
		}
		sum := 0.0
		for k := range z {
			z[k] = math.Exp(z[k] - top)
			sum += z[k]
		}
		for k := range z {
			out[k*hw+p] = float32(z[k] / sum)
		}
	}
	return out
}
