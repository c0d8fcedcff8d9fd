package sample

import (
	"context"
	"math"
	"testing"
)

// LTX-Video's published scheduler (diffusers FlowMatchEulerDiscreteScheduler
// with use_dynamic_shifting): μ from 0.95 at 1024 tokens to 2.05 at 4096.
var ltxShift = DynamicShift{BaseShift: 0.95, MaxShift: 2.05, BaseSeqLen: 1024, MaxSeqLen: 4096}

// μ is the line through (1024, 0.95) and (4096, 2.05), extrapolated outside,
// and the schedule is diffusers' exponential time shift
// σ' = e^μ / (e^μ + (1/s − 1)) of s_i = 1 − i/N, to float64 rounding.
func TestDynamicShiftClosedForm(t *testing.T) {
	slope := 1.1 / 3072
	for _, c := range []struct {
		tokens int
		mu     float64
	}{
		{1024, 0.95},
		{4096, 2.05},
		{2560, 1.5},
		// LTX-Video at 768×512, 121 frames: (121−1)/8+1 = 16 latent
		// frames of 512/32 × 768/32 = 16 × 24: 6144 tokens, beyond max.
		{16 * 16 * 24, 0.95 + 5120*slope},
		{256, 0.95 - 768*slope},
	} {
		if got := ltxShift.Mu(c.tokens); math.Abs(got-c.mu) > 1e-14 {
			t.Errorf("μ(%d) = %v, want %v", c.tokens, got, c.mu)
		}
		if got, want := ltxShift.Shift(c.tokens), math.Exp(c.mu); math.Abs(got-want) > 1e-14*want {
			t.Errorf("shift(%d) = %v, want e^μ = %v", c.tokens, got, want)
		}
		for _, steps := range []int{1, 7, 40} {
			var ts []float32
			f, err := NewFlowEuler(FlowConfig{Steps: steps, Dynamic: &ltxShift, Tokens: c.tokens, TimeScale: 1000}, 3, constModel(make([]float32, 3), &ts))
			if err != nil {
				t.Fatal(err)
			}
			if f.Sigma(0) != 1 || f.Sigma(steps) != 0 {
				t.Fatalf("%d tokens, %d steps: ends %v, %v", c.tokens, steps, f.Sigma(0), f.Sigma(steps))
			}
			em := math.Exp(c.mu)
			for i := 1; i < steps; i++ {
				s := 1 - float64(i)/float64(steps)
				want := em / (em + (1/s - 1))
				if got := f.Sigma(i); math.Abs(got-want) > 4e-16 {
					t.Fatalf("%d tokens, %d steps: σ_%d = %v, exponential time shift %v", c.tokens, steps, i, got, want)
				}
			}
			f.Reset(1)
			if err := Run(context.Background(), f, nil); err != nil {
				t.Fatal(err)
			}
			for i, tv := range ts {
				if tv != float32(1000*f.Sigma(i)) {
					t.Fatalf("t_%d = %v, want 1000·σ_%d = %v", i, tv, i, float32(1000*f.Sigma(i)))
				}
			}
		}
	}
	// More tokens shift more: every intermediate level rises.
	lo, _ := NewFlowEuler(FlowConfig{Steps: 10, Dynamic: &ltxShift, Tokens: 1024}, 1, constModel([]float32{0}, nil))
	hi, _ := NewFlowEuler(FlowConfig{Steps: 10, Dynamic: &ltxShift, Tokens: 4096}, 1, constModel([]float32{0}, nil))
	for i := 1; i < 10; i++ {
		if !(hi.Sigma(i) > lo.Sigma(i)) {
			t.Errorf("σ_%d: %v at 4096 tokens, %v at 1024", i, hi.Sigma(i), lo.Sigma(i))
		}
	}
}

// shift_terminal stretches 1 − σ so that the last level before 0 is the
// terminal one: σ'_i = 1 − (1 − σ_i)·(1 − τ)/(1 − σ_{N−1}).
func TestFlowTerminal(t *testing.T) {
	for _, steps := range []int{2, 5, 40} {
		for _, shift := range []float64{1, 3, math.Exp(2.05)} {
			plain := FlowSigmas(steps, shift)
			f, err := NewFlowEuler(FlowConfig{Steps: steps, Shift: shift, Terminal: 0.1}, 1, constModel([]float32{0}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if f.Sigma(0) != 1 || f.Sigma(steps-1) != 0.1 || f.Sigma(steps) != 0 {
				t.Fatalf("%d steps, shift %v: σ_0 %v, σ_N−1 %v, σ_N %v", steps, shift, f.Sigma(0), f.Sigma(steps-1), f.Sigma(steps))
			}
			for i := 1; i < steps; i++ {
				want := 1 - (1-plain[i])*0.9/(1-plain[steps-1])
				if math.Abs(f.Sigma(i)-want) > 1e-15 {
					t.Fatalf("%d steps, shift %v: σ_%d = %v, want %v", steps, shift, i, f.Sigma(i), want)
				}
				if !(f.Sigma(i) < f.Sigma(i-1)) {
					t.Fatalf("not decreasing at %d", i)
				}
			}
		}
	}
	// One step: [1, 0] has no level to stretch.
	sig := []float64{1, 0}
	StretchToTerminal(sig, 0.1)
	if sig[0] != 1 || sig[1] != 0 {
		t.Errorf("one step stretched to %v", sig)
	}
}

// expertModel predicts a per-expert affine velocity and logs its calls.
type expertLog struct {
	calls    int
	branches [][]Branch
	ts       []float32
}

func expertModel(log *expertLog, a, b float64) Denoiser {
	return func(_ context.Context, x []float32, t float32, branches []Branch, out []float32) error {
		log.calls++
		log.branches = append(log.branches, append([]Branch(nil), branches...))
		log.ts = append(log.ts, t)
		n := len(x) / len(branches)
		for k, br := range branches {
			for i := range n {
				v := a*float64(x[k*n+i]) + b
				if br == Unconditional {
					v = 0.5*v - 0.25
				}
				out[k*n+i] = float32(v)
			}
		}
		return nil
	}
}

// Two experts (Wan 2.2 A14B): steps with σ_i ≥ boundary run the high-noise
// expert at its guidance, the others the low-noise expert at its own; the
// latent equals Euler on the same rule computed by hand.
func TestFlowLowNoiseExpert(t *testing.T) {
	const n, steps, seed = 33, 4, 6
	// Shift 3, 4 steps: σ = 1, 0.9, 0.75, 0.5, 0.
	for _, c := range []struct {
		boundary  float64
		high      Guidance
		low       float64
		wantHigh  int // steps on the high-noise expert
		highCalls int
	}{
		{0.875, Guidance{Scale: 3, Batched: true}, 1, 2, 2},
		{0.8, Guidance{Scale: 3.5}, 0, 2, 4},       // unbatched: two calls per step; low takes 3.5
		{FlowSigmas(4, 3)[1], Guidance{}, 4, 2, 2}, // σ = boundary stays high; low guided, high not
		{0.3, Guidance{Scale: 2, Batched: true}, 1.5, 4, 4},
		{0.99, Guidance{Scale: 2, Batched: true}, 1.5, 1, 1},
	} {
		var hi, lo expertLog
		f, err := NewFlowEuler(FlowConfig{Steps: steps, Shift: 3, TimeScale: 1000, Guidance: c.high,
			LowNoise: &LowNoise{Boundary: c.boundary, Model: expertModel(&lo, -0.7, 0.2), Guidance: c.low}},
			n, expertModel(&hi, 0.4, -0.1))
		if err != nil {
			t.Fatal(err)
		}
		f.Reset(seed)
		if err := Run(context.Background(), f, nil); err != nil {
			t.Fatal(err)
		}
		nHigh := 0
		for i := range steps {
			if !f.LowNoiseStep(i) {
				nHigh++
				if f.Sigma(i) < c.boundary {
					t.Fatalf("boundary %v: step %d at σ %v on the high-noise expert", c.boundary, i, f.Sigma(i))
				}
			} else if f.Sigma(i) >= c.boundary {
				t.Fatalf("boundary %v: step %d at σ %v on the low-noise expert", c.boundary, i, f.Sigma(i))
			}
		}
		lowScale := c.low
		if lowScale == 0 {
			lowScale = c.high.scale()
		}
		lowCalls := steps - nHigh
		if lowScale != 1 && !c.high.Batched {
			lowCalls *= 2
		}
		if nHigh != c.wantHigh || hi.calls != c.highCalls || lo.calls != lowCalls {
			t.Fatalf("boundary %v: %d high steps, %d high calls, %d low calls; want %d, %d, %d",
				c.boundary, nHigh, hi.calls, lo.calls, c.wantHigh, c.highCalls, lowCalls)
		}
		for k, br := range lo.branches {
			want := []Branch{Conditional}
			switch {
			case lowScale != 1 && c.high.Batched:
				want = []Branch{Conditional, Unconditional}
			case lowScale != 1:
				want = []Branch{Branch(k % 2)}
			}
			if len(br) != len(want) || br[0] != want[0] || br[len(br)-1] != want[len(want)-1] {
				t.Fatalf("boundary %v: low call %d branches %v, want %v", c.boundary, k, br, want)
			}
		}
		for k, tv := range hi.ts {
			i := k
			if !c.high.Batched && c.high.scale() != 1 {
				i = k / 2
			}
			if tv != float32(1000*f.Sigma(i)) {
				t.Fatalf("high call %d: t %v, want %v", k, tv, float32(1000*f.Sigma(i)))
			}
		}
		// By hand: v = u + g·(c − u) for the step's expert and scale.
		x := Noise(seed, n)
		for i := range steps {
			a, b, g := 0.4, -0.1, c.high.scale()
			if f.Sigma(i) < c.boundary {
				a, b, g = -0.7, 0.2, lowScale
			}
			dt := f.Sigma(i+1) - f.Sigma(i)
			for j, xv := range x {
				cv := float64(float32(a*float64(xv) + b))
				v := float32(cv)
				if g != 1 {
					u := float64(float32(0.5*(a*float64(xv)+b) - 0.25))
					v = float32(u + g*(cv-u))
				}
				x[j] = float32(float64(xv) + dt*float64(v))
			}
		}
		for j := range x {
			if d := math.Abs(float64(x[j] - f.Latent()[j])); d > 1e-6*(1+math.Abs(float64(x[j]))) {
				t.Fatalf("boundary %v: x[%d] = %v, by hand %v", c.boundary, j, f.Latent()[j], x[j])
			}
		}
	}
}

// A two-expert run is deterministic per seed and allocates nothing per step.
func TestFlowLowNoiseSteadyState(t *testing.T) {
	mk := func() *FlowEuler {
		f, err := NewFlowEuler(FlowConfig{Steps: 400, Shift: 5, Guidance: Guidance{Scale: 3.5, Batched: true},
			LowNoise: &LowNoise{Boundary: 0.9, Model: smoothModel(nil), Guidance: 1}}, 64, smoothModel(nil))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := mk(), mk()
	a.Reset(3)
	b.Reset(3)
	ctx := context.Background()
	var stepErr error
	allocs := testing.AllocsPerRun(300, func() {
		if err := a.Step(ctx); err != nil {
			stepErr = err
		}
	})
	if stepErr != nil || allocs != 0 {
		t.Fatalf("%v allocations per step (err %v)", allocs, stepErr)
	}
	if !a.LowNoiseStep(a.Done()-1) || a.LowNoiseStep(0) {
		t.Fatalf("301 of 400 steps at shift 5 should end on the low-noise expert")
	}
	if err := Run(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	for i := range a.Latent() {
		if math.Float32bits(a.Latent()[i]) != math.Float32bits(b.Latent()[i]) {
			t.Fatalf("x[%d] differs between two runs of seed 3", i)
		}
	}
}

func TestFlowVariantConfigErrors(t *testing.T) {
	m := constModel(make([]float32, 4), nil)
	bad := []FlowConfig{
		{Dynamic: &ltxShift},                        // no token count
		{Dynamic: &ltxShift, Tokens: 100, Shift: 3}, // both
		{Dynamic: &DynamicShift{BaseShift: 0.5, MaxShift: 1, BaseSeqLen: 256, MaxSeqLen: 256}, Tokens: 10},
		{Dynamic: &DynamicShift{BaseShift: math.NaN(), MaxShift: 1, BaseSeqLen: 1, MaxSeqLen: 256}, Tokens: 10},
		{Terminal: 1},
		{Terminal: -0.1},
		{Terminal: math.NaN()},
		{LowNoise: &LowNoise{Boundary: 0, Model: m}},
		{LowNoise: &LowNoise{Boundary: 1, Model: m}},
		{LowNoise: &LowNoise{Boundary: math.NaN(), Model: m}},
		{LowNoise: &LowNoise{Boundary: 0.5}},
		{LowNoise: &LowNoise{Boundary: 0.5, Model: m, Guidance: -1}},
	}
	for _, cfg := range bad {
		if _, err := NewFlowEuler(cfg, 4, m); err == nil {
			t.Errorf("NewFlowEuler(%+v) accepted", cfg)
		}
	}
}

// The EDM time input follows EDMConfig.Time: c_noise = ¼·ln σ (SVD) or σ,
// by default c_noise except for a network that outputs D itself.
func TestEDMTimeInput(t *testing.T) {
	m := constModel([]float32{0}, nil)
	for _, c := range []struct {
		net  Parameterization
		time EDMTime
		want func(float64) float32
	}{
		{PredictV, TimeDefault, func(s float64) float32 { return float32(0.25 * math.Log(s)) }},
		{PredictV, TimeCNoise, func(s float64) float32 { return float32(0.25 * math.Log(s)) }},
		{PredictV, TimeSigma, func(s float64) float32 { return float32(s) }},
		{PredictF, TimeSigma, func(s float64) float32 { return float32(s) }},
		{PredictDenoised, TimeDefault, func(s float64) float32 { return float32(s) }},
		{PredictDenoised, TimeCNoise, func(s float64) float32 { return float32(0.25 * math.Log(s)) }},
	} {
		var ts []float32
		e, err := NewEDMEuler(EDMConfig{Steps: 5, Network: c.net, Time: c.time}, 1, constModel([]float32{0}, &ts))
		if err != nil {
			t.Fatal(err)
		}
		e.Reset(1)
		if err := Run(context.Background(), e, nil); err != nil {
			t.Fatal(err)
		}
		for i, tv := range ts {
			if want := c.want(e.Sigma(i)); tv != want {
				t.Errorf("%v, time %v: t_%d = %v, want %v", c.net, c.time, i, tv, want)
			}
		}
		// The preconditioning itself does not depend on the time input.
		ref, _ := NewEDMEuler(EDMConfig{Steps: 5, Network: c.net}, 1, m)
		a1, b1, c1, _ := e.Precondition(3)
		a2, b2, c2, _ := ref.Precondition(3)
		if a1 != a2 || b1 != b2 || c1 != c2 {
			t.Errorf("%v, time %v: preconditioning changed", c.net, c.time)
		}
	}
	if _, err := NewEDMEuler(EDMConfig{Time: TimeSigma + 1}, 1, m); err == nil {
		t.Error("unknown time input accepted")
	}
}
