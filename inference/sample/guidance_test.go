package sample

import (
	"context"
	"math"
	"testing"
)

// callLog records every network call of a recordingModel.
type callLog struct {
	batches  []int // items per call
	branches [][]Branch
}

// recordingModel predicts cond(x) = tanh(x)+0.2 and uncond(x) = 0.5·x−0.1,
// checks that batched copies of the latent are identical, and logs calls.
func recordingModel(t *testing.T, log *callLog) Denoiser {
	return func(_ context.Context, x []float32, tt float32, branches []Branch, out []float32) error {
		log.batches = append(log.batches, len(branches))
		log.branches = append(log.branches, append([]Branch(nil), branches...))
		n := len(x) / len(branches)
		for b, br := range branches {
			for i := 0; i < n; i++ {
				v := float64(x[b*n+i])
				if x[b*n+i] != x[i] {
					t.Errorf("batch item %d differs from item 0 at %d", b, i)
				}
				if br == Conditional {
					out[b*n+i] = float32(math.Tanh(v) + 0.2)
				} else {
					out[b*n+i] = float32(0.5*v - 0.1)
				}
			}
		}
		return nil
	}
}

func flowRun(t *testing.T, steps int, g Guidance, model Denoiser) []float32 {
	t.Helper()
	f, err := NewFlowEuler(FlowConfig{Steps: steps, Shift: 3, Guidance: g}, 50, model)
	if err != nil {
		t.Fatal(err)
	}
	f.Reset(4)
	if err := Run(context.Background(), f, nil); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), f.Latent()...)
}

// Guidance 1 (or the zero value) computes only the conditional prediction,
// one item per call, and so equals an unguided run.
func TestGuidanceOneIsConditional(t *testing.T) {
	var ref callLog
	want := flowRun(t, 6, Guidance{}, recordingModel(t, &ref))
	for _, g := range []Guidance{{Scale: 1}, {Scale: 1, Batched: true}, {Batched: true}} {
		var log callLog
		got := flowRun(t, 6, g, recordingModel(t, &log))
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: x[%d] = %v, conditional-only run %v", g, i, got[i], want[i])
			}
		}
		if len(log.batches) != 6 {
			t.Fatalf("%+v: %d calls for 6 steps", g, len(log.batches))
		}
		for k, br := range log.branches {
			if len(br) != 1 || br[0] != Conditional {
				t.Fatalf("%+v: call %d branches %v, want [conditional]", g, k, br)
			}
		}
	}
}

// Guidance g: the prediction is uncond + g·(cond − uncond); batched mode
// makes one call of [Conditional, Unconditional] per step, unbatched two
// calls, conditional first; both give the same latent bit for bit.
func TestGuidanceCombines(t *testing.T) {
	const steps, g = 5, 4.5
	var batched, single callLog
	a := flowRun(t, steps, Guidance{Scale: g, Batched: true}, recordingModel(t, &batched))
	b := flowRun(t, steps, Guidance{Scale: g}, recordingModel(t, &single))
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("batched x[%d] = %v, unbatched %v", i, a[i], b[i])
		}
	}
	if len(batched.batches) != steps {
		t.Fatalf("batched: %d calls for %d steps", len(batched.batches), steps)
	}
	for k, br := range batched.branches {
		if len(br) != 2 || br[0] != Conditional || br[1] != Unconditional {
			t.Fatalf("batched call %d: branches %v", k, br)
		}
	}
	if len(single.batches) != 2*steps {
		t.Fatalf("unbatched: %d calls for %d steps", len(single.batches), steps)
	}
	for k, br := range single.branches {
		if len(br) != 1 || br[0] != Branch(k%2) {
			t.Fatalf("unbatched call %d: branches %v", k, br)
		}
	}

	// The same run by hand: x ← x + (σ_{i+1} − σ_i)·(u + g·(c − u)).
	x := Noise(4, 50)
	sig := FlowSigmas(steps, 3)
	for i := 0; i < steps; i++ {
		for j, xv := range x {
			c := float64(float32(math.Tanh(float64(xv)) + 0.2))
			u := float64(float32(0.5*float64(xv) - 0.1))
			v := float32(u + g*(c-u))
			x[j] = float32(float64(xv) + (sig[i+1]-sig[i])*float64(v))
		}
	}
	for j := range x {
		if d := math.Abs(float64(a[j] - x[j])); d > 1e-6*(1+math.Abs(float64(x[j]))) {
			t.Fatalf("x[%d] = %v, by hand %v", j, a[j], x[j])
		}
	}
}

// For EDM, guiding the network outputs equals guiding the denoised
// estimates: D is affine in F with the same c_skip·x for both branches.
func TestEDMGuidanceCombinesDenoised(t *testing.T) {
	const steps, g, n = 6, 3.0, 40
	dCond := func(x, sigma float64, i int) float64 { return math.Sin(float64(i)) }
	dUncond := func(x, sigma float64, i int) float64 { return 0.5 * x / (1 + sigma*sigma) }
	var guided *EDMEuler
	model := func(ctx context.Context, in []float32, tt float32, br []Branch, out []float32) error {
		e := guided
		sigma := e.Sigma(e.Done())
		cSkip, cOut, _, _ := e.Precondition(sigma)
		for b, which := range br {
			for i, xv := range e.Latent() {
				f := dCond
				if which == Unconditional {
					f = dUncond
				}
				out[b*n+i] = float32((f(float64(xv), sigma, i) - cSkip*float64(xv)) / cOut)
			}
		}
		return nil
	}
	var err error
	guided, err = NewEDMEuler(EDMConfig{Steps: steps, SigmaMax: 80, Guidance: Guidance{Scale: g, Batched: true}}, n, model)
	if err != nil {
		t.Fatal(err)
	}
	guided.Reset(6)
	if err := Run(context.Background(), guided, nil); err != nil {
		t.Fatal(err)
	}
	// Euler on D = D_u + g·(D_c − D_u) in float64.
	x := Noise(6, n)
	sig := KarrasSigmas(steps, DefaultSigmaMin, 80, DefaultRho)
	for i := range x {
		xv := float64(x[i]) * 80
		for k := 0; k < steps; k++ {
			du, dc := dUncond(xv, sig[k], i), dCond(xv, sig[k], i)
			d := du + g*(dc-du)
			xv += (sig[k+1] - sig[k]) * (xv - d) / sig[k]
		}
		if got := float64(guided.Latent()[i]); math.Abs(got-xv) > 1e-5*(1+math.Abs(xv)) {
			t.Fatalf("x[%d] = %v, Euler on the guided D %v", i, got, xv)
		}
	}
}
