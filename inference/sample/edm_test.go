package sample

import (
	"context"
	"math"
	"testing"
)

// edmModel returns a network whose denoiser is exactly dOf(x, σ, i) for
// element i, expressed in the sampler's parameterization: it reads the
// latent and σ from the sampler (the network input is c_in·x, which it
// checks) and outputs F = (D − c_skip·x)/c_out.
func edmModel(t *testing.T, s **EDMEuler, dOf func(x, sigma float64, i int) float64) Denoiser {
	return func(_ context.Context, in []float32, tin float32, branches []Branch, out []float32) error {
		e := *s
		sigma := e.Sigma(e.Done())
		cSkip, cOut, cIn, wantT := e.Precondition(sigma)
		if tin != wantT {
			t.Errorf("t = %v at σ = %v, want %v", tin, sigma, wantT)
		}
		x := e.Latent()
		n := len(x)
		for b := range branches {
			for i, xv := range x {
				if want := float32(float64(xv) * cIn); in[b*n+i] != want {
					t.Errorf("network input %v, want c_in·x = %v", in[b*n+i], want)
					return nil
				}
				d := dOf(float64(xv), sigma, i)
				out[b*n+i] = float32((d - cSkip*float64(xv)) / cOut)
			}
		}
		return nil
	}
}

func TestEDMPreconditioning(t *testing.T) {
	e, err := NewEDMEuler(EDMConfig{}, 1, constModel([]float32{0}, nil))
	if err != nil {
		t.Fatal(err)
	}
	// SVD: σ_d = 1, v-prediction, c_noise = ¼ ln σ.
	cSkip, cOut, cIn, tt := e.Precondition(3)
	if math.Abs(cSkip-0.1) > 1e-16 || math.Abs(cOut+3/math.Sqrt(10)) > 1e-15 || math.Abs(cIn-1/math.Sqrt(10)) > 1e-15 || tt != float32(0.25*math.Log(3)) {
		t.Fatalf("SVD preconditioning at σ=3: %v %v %v %v", cSkip, cOut, cIn, tt)
	}
	e, _ = NewEDMEuler(EDMConfig{SigmaData: 0.5, Network: PredictF}, 1, constModel([]float32{0}, nil))
	cSkip, cOut, cIn, _ = e.Precondition(2)
	q := math.Sqrt(4.25)
	if math.Abs(cSkip-0.25/4.25) > 1e-15 || math.Abs(cOut-1/q) > 1e-15 || math.Abs(cIn-1/q) > 1e-15 {
		t.Fatalf("EDM preconditioning at σ=2: %v %v %v", cSkip, cOut, cIn)
	}
	if e.Steps() != DefaultEDMSteps || e.Sigma(0) != DefaultSigmaMax || e.Sigma(DefaultEDMSteps-1) != DefaultSigmaMin || e.Sigma(DefaultEDMSteps) != 0 {
		t.Fatalf("default schedule: %d steps, %v … %v, %v", e.Steps(), e.Sigma(0), e.Sigma(e.Steps()-1), e.Sigma(e.Steps()))
	}
}

func TestKarrasSigmasFormula(t *testing.T) {
	for _, n := range []int{1, 2, 3, 25, 100} {
		sig := KarrasSigmas(n, 0.002, 80, 7)
		if len(sig) != n+1 || sig[0] != 80 || sig[n] != 0 || (n > 1 && sig[n-1] != 0.002) {
			t.Fatalf("n %d: %v", n, sig)
		}
		for i := 0; i < n; i++ {
			if n > 1 {
				a, b := math.Pow(80, 1.0/7), math.Pow(0.002, 1.0/7)
				want := math.Pow(a+float64(i)/float64(n-1)*(b-a), 7)
				if math.Abs(sig[i]-want) > 1e-13*want {
					t.Fatalf("n %d: σ_%d = %v, want %v", n, i, sig[i], want)
				}
			}
			if !(sig[i+1] < sig[i]) {
				t.Fatalf("n %d: not decreasing at %d: %v", n, i, sig)
			}
		}
	}
}

// A single-point data distribution: D(x; σ) = target for every x and σ.
// The last Euler step is x + (0 − σ)·(x − D)/σ = D, so the run lands on the
// target: exactly when the network returns D, within the float32 rounding of
// F otherwise.
func TestEDMSinglePointReachesTarget(t *testing.T) {
	const n, seed = 129, 8
	target := testTarget(n)
	noise := Noise(seed, n)
	for _, p := range []Parameterization{PredictDenoised, PredictV, PredictF} {
		for _, steps := range []int{1, 2, 5, 25} {
			var e *EDMEuler
			model := edmModel(t, &e, func(_, _ float64, i int) float64 { return float64(target[i]) })
			var err error
			e, err = NewEDMEuler(EDMConfig{Steps: steps, SigmaMax: 80, SigmaData: 0.5, Network: p}, n, model)
			if err != nil {
				t.Fatal(err)
			}
			e.Reset(seed)
			for i, v := range e.Latent() {
				if v != float32(float64(noise[i])*80) {
					t.Fatalf("start x[%d] = %v, want noise·σmax = %v", i, v, float32(float64(noise[i])*80))
				}
			}
			if err := Run(context.Background(), e, nil); err != nil {
				t.Fatal(err)
			}
			for i, v := range e.Latent() {
				tol := 0.0
				if p != PredictDenoised {
					tol = 1e-6 * (1 + math.Abs(float64(target[i])))
				}
				if d := math.Abs(float64(v) - float64(target[i])); d > tol {
					t.Fatalf("%v, %d steps: x[%d] = %v, target %v", p, steps, i, v, target[i])
				}
			}
		}
	}
}

// gaussianEuler runs EDMEuler on the data distribution N(0, s²), whose
// optimal denoiser is D(x; σ) = x·s²/(s²+σ²), and returns the result, the
// sampler and the starting latent.
func gaussianEuler(t *testing.T, steps int, s float64, p Parameterization) (x []float32, e *EDMEuler, start []float32) {
	t.Helper()
	const n, seed = 64, 21
	model := edmModel(t, &e, func(x, sigma float64, _ int) float64 { return x * s * s / (s*s + sigma*sigma) })
	var err error
	e, err = NewEDMEuler(EDMConfig{Steps: steps, Network: p}, n, model)
	if err != nil {
		t.Fatal(err)
	}
	e.Reset(seed)
	start = append([]float32(nil), e.Latent()...)
	if err := Run(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	return e.Latent(), e, start
}

// For data N(0, s²) the probability-flow ODE dx/dσ = (x − D)/σ =
// x·σ/(s²+σ²) has the solution x(σ) = x(σmax)·√((s²+σ²)/(s²+σmax²)), so the
// exact sample is x(0) = x_T·s/√(s²+σmax²).
//
// Euler's step multiplies x by e_i = (s² + σ_i·σ_{i+1})/(s² + σ_i²), while
// the exact flow multiplies it by r_i = √((s²+σ_{i+1}²)/(s²+σ_i²)). Writing
// φ = atan(σ/s), e_i/r_i = cos(φ_i − φ_{i+1}) (the cosine of the angle
// between the vectors (s, σ_i) and (s, σ_{i+1})), so with Δφ_i = φ_i −
// φ_{i+1} ∈ [0, π/2):
//
//	x_Euler / x_exact = Π cos Δφ_i ∈ (0, 1]
//	0 ≤ 1 − Π cos Δφ_i ≤ Σ (1 − cos Δφ_i) ≤ ½ Σ Δφ_i²
//
// Since Σ Δφ_i = atan(σmax/s) < π/2, the bound is at most (π/4)·max Δφ_i,
// which halves when the steps double. The test checks the sampler against
// Π e_i to float32 rounding, against the ODE solution within the bound plus
// rounding, and that the error shrinks by at least 40% per doubling.
func TestEDMGaussianConvergesToODE(t *testing.T) {
	for _, p := range []Parameterization{PredictDenoised, PredictV} {
		for _, s := range []float64{1, 0.5} {
			prevErr := math.Inf(1)
			for _, steps := range []int{10, 20, 40, 80, 160} {
				x, e, start := gaussianEuler(t, steps, s, p)
				smax := e.Sigma(0)
				exactFactor := s / math.Sqrt(s*s+smax*smax)
				eulerFactor, bound := 1.0, 0.0
				for i := 0; i < steps; i++ {
					a, b := e.Sigma(i), e.Sigma(i+1)
					eulerFactor *= (s*s + a*b) / (s*s + a*a)
					dphi := math.Atan(a/s) - math.Atan(b/s)
					bound += dphi * dphi / 2
				}
				relErr := 1 - eulerFactor/exactFactor
				if relErr < 0 || relErr > bound {
					t.Fatalf("s %v, %d steps: Euler's relative error %v outside [0, %v]", s, steps, relErr, bound)
				}
				// float32 rounding: one rounding of x per step, of D (or F)
				// per step, of the start; relative to |x| each.
				round := float64(3*steps+4) * 0x1p-24
				var worst float64
				for i, v := range x {
					xT := float64(start[i])
					exact := xT * exactFactor
					if d := math.Abs(float64(v) - xT*eulerFactor); d > round*math.Abs(xT*exactFactor)+1e-30 {
						t.Fatalf("%v s %v, %d steps: x[%d] = %v, Euler's closed form %v", p, s, steps, i, v, xT*eulerFactor)
					}
					if math.Abs(exact) < 1e-3 {
						continue
					}
					rel := math.Abs(float64(v)-exact) / math.Abs(exact)
					if rel > bound+round {
						t.Fatalf("%v s %v, %d steps: x[%d] = %v, ODE %v: relative error %v > bound %v", p, s, steps, i, v, exact, rel, bound+round)
					}
					worst = max(worst, rel)
				}
				if worst > 0.6*prevErr {
					t.Fatalf("%v s %v: error %v at %d steps, %v at half as many: not shrinking ~linearly", p, s, worst, steps, prevErr)
				}
				t.Logf("%v s %v: %3d steps: error %.3e, bound %.3e", p, s, steps, worst, bound)
				prevErr = worst
			}
		}
	}
}

func TestEDMConfigErrors(t *testing.T) {
	m := constModel(make([]float32, 4), nil)
	bad := []EDMConfig{
		{Steps: -3},
		{SigmaMin: 5, SigmaMax: 1},
		{SigmaMin: -1},
		{SigmaMax: math.Inf(1)},
		{SigmaMin: math.NaN()},
		{Rho: -7},
		{SigmaData: -1},
		{Network: PredictDenoised + 1},
		{Guidance: Guidance{Scale: -2}},
	}
	for _, cfg := range bad {
		if _, err := NewEDMEuler(cfg, 4, m); err == nil {
			t.Errorf("NewEDMEuler(%+v) accepted", cfg)
		}
	}
}
