package sample

import (
	"context"
	"fmt"
	"math"
)

// FlowConfig configures FlowEuler. Zero fields take the documented defaults.
type FlowConfig struct {
	// Steps is the number of network evaluations (guided pairs); 0 means 30.
	Steps int
	// Shift moves the schedule toward high noise:
	// σ' = shift·s / (1 + (shift−1)·s). 0 means 1 (no shift). The Wan 2.x
	// image-to-video models use 5 (3 at 480p), SD3 uses 3.
	Shift float64
	// TimeScale multiplies σ into the network's time input t; 0 means 1.
	// Models trained on 1000 discrete timesteps (Wan, SD3) take 1000.
	TimeScale float64
	// Guidance configures classifier-free guidance.
	Guidance Guidance
}

// Defaults of FlowConfig.
const (
	DefaultFlowSteps = 30
)

// FlowEuler is the Euler sampler for rectified-flow / flow-matching models
// (Wan 2.x, LTX-Video, SD3): x_σ = (1−σ)·x₀ + σ·ε, and the network predicts
// the velocity v = ε − x₀. The schedule is s_i = 1 − i/N for i = 0…N,
// shifted to σ_i = shift·s_i / (1 + (shift−1)·s_i), so σ_0 = 1 and σ_N = 0.
// Step i calls the network with t = float32(TimeScale·σ_i) and updates
// x ← x + (σ_{i+1} − σ_i)·v. The starting latent is the seed's noise.
type FlowEuler struct {
	core
	sigmas    []float64
	timeScale float64
}

// NewFlowEuler returns a flow-matching Euler sampler for latents of n
// values. Its latent is zero until Reset or SetLatent.
func NewFlowEuler(cfg FlowConfig, n int, model Denoiser) (*FlowEuler, error) {
	steps := cfg.Steps
	if steps == 0 {
		steps = DefaultFlowSteps
	}
	shift := cfg.Shift
	if shift == 0 {
		shift = 1
	}
	timeScale := cfg.TimeScale
	if timeScale == 0 {
		timeScale = 1
	}
	switch {
	case steps < 0:
		return nil, fmt.Errorf("sample: %d steps, want > 0", steps)
	case !(shift > 0) || math.IsInf(shift, 0):
		return nil, fmt.Errorf("sample: shift %v, want finite > 0", shift)
	case !(timeScale > 0) || math.IsInf(timeScale, 0):
		return nil, fmt.Errorf("sample: time scale %v, want finite > 0", timeScale)
	}
	c, err := newCore(n, model, cfg.Guidance)
	if err != nil {
		return nil, err
	}
	return &FlowEuler{core: c, sigmas: FlowSigmas(steps, shift), timeScale: timeScale}, nil
}

// FlowSigmas returns the N+1 noise levels of the shifted flow-matching
// schedule: σ_i = shift·s_i / (1 + (shift−1)·s_i) with s_i = 1 − i/N.
// σ_0 = 1 and σ_N = 0 exactly.
func FlowSigmas(steps int, shift float64) []float64 {
	sig := make([]float64, steps+1)
	for i := range sig {
		s := 1 - float64(i)/float64(steps)
		sig[i] = shift * s / (1 + (shift-1)*s)
	}
	sig[0], sig[steps] = 1, 0
	return sig
}

// Steps implements Sampler.
func (f *FlowEuler) Steps() int { return len(f.sigmas) - 1 }

// Sigma implements Sampler.
func (f *FlowEuler) Sigma(i int) float64 { return f.sigmas[i] }

// Reset implements Sampler: the latent becomes the noise of seed.
func (f *FlowEuler) Reset(seed uint64) {
	FillNoise(f.x, seed, 0)
	f.done = 0
}

// SetLatent implements Sampler.
func (f *FlowEuler) SetLatent(x []float32) error { return f.setLatent(x) }

// Step implements Sampler.
func (f *FlowEuler) Step(ctx context.Context) error {
	if err := f.begin(ctx, f.Steps()); err != nil {
		return err
	}
	i := f.done
	sigma, next := f.sigmas[i], f.sigmas[i+1]
	v, err := f.predict(ctx, 1, float32(f.timeScale*sigma))
	if err != nil {
		return stepError(i, err)
	}
	dt := next - sigma
	for j, x := range f.x {
		f.x[j] = float32(float64(x) + float64(dt*float64(v[j])))
	}
	f.done++
	return nil
}
