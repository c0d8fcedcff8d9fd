package sample

import (
	"context"
	"errors"
	"math"
	"testing"
)

// constModel returns a Denoiser that writes pred (per item, whatever the
// branch) and records each call's t.
func constModel(pred []float32, ts *[]float32) Denoiser {
	return func(_ context.Context, x []float32, t float32, branches []Branch, out []float32) error {
		n := len(pred)
		if len(x) != n*len(branches) || len(out) != len(x) {
			return errors.New("bad batch shape")
		}
		if ts != nil {
			*ts = append(*ts, t)
		}
		for b := range branches {
			copy(out[b*n:(b+1)*n], pred)
		}
		return nil
	}
}

func testTarget(n int) []float32 {
	z := Noise(99, n)
	for i := range z {
		z[i] = 0.7*z[i] + 0.3
	}
	return z
}

// With the exact velocity of the straight path from target to noise, Euler
// is exact for any schedule: x_N = ε + Σ(σ_{i+1}−σ_i)·v = ε − v = target,
// up to one float32 rounding of x per step and the rounding of v itself.
func TestFlowStraightPathLandsOnTarget(t *testing.T) {
	const n, seed = 257, 5
	target := testTarget(n)
	noise := Noise(seed, n)
	v := make([]float32, n)
	for i := range v {
		v[i] = noise[i] - target[i]
	}
	for _, steps := range []int{1, 2, 3, 7, 30, 50} {
		for _, shift := range []float64{0, 1, 3, 5, 17.5, 0.4} {
			for _, timeScale := range []float64{0, 1000} {
				var ts []float32
				f, err := NewFlowEuler(FlowConfig{Steps: steps, Shift: shift, TimeScale: timeScale}, n, constModel(v, &ts))
				if err != nil {
					t.Fatal(err)
				}
				f.Reset(seed)
				if err := Run(context.Background(), f, nil); err != nil {
					t.Fatal(err)
				}
				x := f.Latent()
				for i := range x {
					bound := float64(steps+1) * 0x1p-24 * (math.Abs(float64(noise[i])) + math.Abs(float64(target[i]))) * 1.01
					if d := math.Abs(float64(x[i]) - float64(target[i])); d > bound {
						t.Fatalf("steps %d shift %v: x[%d] = %v, target %v (|d| = %g > %g)", steps, shift, i, x[i], target[i], d, bound)
					}
				}
				// The schedule: σ_i = shift·s/(1+(shift−1)·s), s = 1 − i/N.
				sh, sc := shift, timeScale
				if sh == 0 {
					sh = 1
				}
				if sc == 0 {
					sc = 1
				}
				if len(ts) != steps || f.Steps() != steps || f.Done() != steps {
					t.Fatalf("steps %d: %d calls, Steps %d, Done %d", steps, len(ts), f.Steps(), f.Done())
				}
				for i := 0; i <= steps; i++ {
					s := 1 - float64(i)/float64(steps)
					want := sh * s / (1 + (sh-1)*s)
					if math.Abs(f.Sigma(i)-want) > 1e-15 {
						t.Fatalf("steps %d shift %v: σ_%d = %v, want %v", steps, sh, i, f.Sigma(i), want)
					}
					if i < steps && ts[i] != float32(sc*f.Sigma(i)) {
						t.Fatalf("steps %d shift %v: t_%d = %v, want %v", steps, sh, i, ts[i], float32(sc*want))
					}
				}
				if f.Sigma(0) != 1 || f.Sigma(steps) != 0 {
					t.Fatalf("schedule ends %v, %v", f.Sigma(0), f.Sigma(steps))
				}
			}
		}
	}
}

// A shift above 1 keeps more of the steps at high noise.
func TestFlowShiftMonotone(t *testing.T) {
	plain, shifted := FlowSigmas(10, 1), FlowSigmas(10, 5)
	for i := 1; i < 10; i++ {
		if !(shifted[i] > plain[i]) || !(shifted[i] < shifted[i-1]) {
			t.Fatalf("σ_%d: shifted %v, plain %v, previous %v", i, shifted[i], plain[i], shifted[i-1])
		}
	}
}

func TestFlowConfigErrors(t *testing.T) {
	m := constModel(make([]float32, 4), nil)
	bad := []FlowConfig{
		{Steps: -1},
		{Shift: -2},
		{Shift: math.NaN()},
		{Shift: math.Inf(1)},
		{TimeScale: -1},
		{Guidance: Guidance{Scale: -1}},
		{Guidance: Guidance{Scale: math.NaN()}},
	}
	for _, cfg := range bad {
		if _, err := NewFlowEuler(cfg, 4, m); err == nil {
			t.Errorf("NewFlowEuler(%+v) accepted", cfg)
		}
	}
	if _, err := NewFlowEuler(FlowConfig{}, 0, m); err == nil {
		t.Error("latent length 0 accepted")
	}
	if _, err := NewFlowEuler(FlowConfig{}, 4, nil); err == nil {
		t.Error("nil model accepted")
	}
	f, err := NewFlowEuler(FlowConfig{}, 4, m)
	if err != nil {
		t.Fatal(err)
	}
	if f.Steps() != DefaultFlowSteps {
		t.Errorf("default steps %d, want %d", f.Steps(), DefaultFlowSteps)
	}
	if err := f.SetLatent(make([]float32, 3)); err == nil {
		t.Error("SetLatent of the wrong length accepted")
	}
}
