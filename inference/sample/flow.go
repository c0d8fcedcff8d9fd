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
	// Dynamic, when not nil, computes the shift from the number of latent
	// tokens instead (LTX-Video, Flux): Shift must be 0 and Tokens > 0.
	Dynamic *DynamicShift
	// Tokens is the number of latent tokens the network sees, for Dynamic.
	Tokens int
	// Terminal, when not 0, stretches the shifted schedule so that the last
	// noise level before 0 is Terminal (diffusers' shift_terminal, 0.1 for
	// LTX-Video): σ'_i = 1 − (1 − σ_i)·(1 − Terminal)/(1 − σ_{N−1}) for
	// i < N. It must lie in (0, 1).
	Terminal float64
	// TimeScale multiplies σ into the network's time input t; 0 means 1.
	// Models trained on 1000 discrete timesteps (Wan, SD3) take 1000.
	TimeScale float64
	// Guidance configures classifier-free guidance.
	Guidance Guidance
	// LowNoise, when not nil, hands the low-noise steps to a second
	// network (Wan 2.2 A14B's mixture of experts).
	LowNoise *LowNoise
}

// DynamicShift is resolution-dependent shifting, diffusers'
// FlowMatchEulerDiscreteScheduler with use_dynamic_shifting (LTX-Video,
// Flux). μ is interpolated linearly in the token count n, through BaseShift
// at BaseSeqLen tokens and MaxShift at MaxSeqLen tokens (and extrapolated
// beyond them, as diffusers does):
//
//	μ = BaseShift + (MaxShift − BaseShift)·(n − BaseSeqLen)/(MaxSeqLen − BaseSeqLen)
//
// and the schedule is shifted exponentially, σ' = e^μ / (e^μ + (1/σ − 1)),
// which is the constant shift of FlowConfig.Shift with shift = e^μ.
type DynamicShift struct {
	BaseShift, MaxShift   float64
	BaseSeqLen, MaxSeqLen int
}

// Mu returns μ for n tokens.
func (d DynamicShift) Mu(n int) float64 {
	m := (d.MaxShift - d.BaseShift) / float64(d.MaxSeqLen-d.BaseSeqLen)
	return d.BaseShift + m*float64(n-d.BaseSeqLen)
}

// Shift returns e^μ for n tokens, the constant shift it amounts to.
func (d DynamicShift) Shift(n int) float64 { return math.Exp(d.Mu(n)) }

func (d DynamicShift) check() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(d.BaseShift) || !finite(d.MaxShift):
		return fmt.Errorf("sample: dynamic shift between %v and %v, want finite", d.BaseShift, d.MaxShift)
	case d.BaseSeqLen < 1 || d.MaxSeqLen <= d.BaseSeqLen:
		return fmt.Errorf("sample: dynamic shift over %d..%d tokens, want 1 ≤ base < max", d.BaseSeqLen, d.MaxSeqLen)
	}
	return nil
}

// LowNoise is the second expert of a two-expert model (Wan 2.2 A14B): step
// i calls the sampler's network, the high-noise expert, while
// σ_i ≥ Boundary, and Model from the first step below Boundary on, each
// with its own guidance scale (the batched mode of Guidance is shared).
type LowNoise struct {
	// Boundary is the noise level σ in (0, 1) where Model takes over.
	Boundary float64
	// Model is the low-noise expert.
	Model Denoiser
	// Guidance is the guidance scale of the low-noise steps; 0 takes
	// FlowConfig.Guidance.Scale.
	Guidance float64
}

// Defaults of FlowConfig.
const (
	DefaultFlowSteps = 30
)

// FlowEuler is the Euler sampler for rectified-flow / flow-matching models
// (Wan 2.x, LTX-Video, SD3): x_σ = (1−σ)·x₀ + σ·ε, and the network predicts
// the velocity v = ε − x₀. The schedule is s_i = 1 − i/N for i = 0…N,
// shifted to σ_i = shift·s_i / (1 + (shift−1)·s_i) (optionally stretched to
// a terminal level, see FlowConfig.Terminal), so σ_0 = 1 and σ_N = 0.
// Step i calls the network (the low-noise expert's when σ_i is below
// FlowConfig.LowNoise's boundary) with t = float32(TimeScale·σ_i) and
// updates x ← x + (σ_{i+1} − σ_i)·v. The starting latent is the seed's
// noise.
type FlowEuler struct {
	core
	sigmas    []float64
	timeScale float64
	low       Denoiser
	lowGuide  float64
	boundary  float64
}

// NewFlowEuler returns a flow-matching Euler sampler for latents of n
// values. Its latent is zero until Reset or SetLatent.
func NewFlowEuler(cfg FlowConfig, n int, model Denoiser) (*FlowEuler, error) {
	steps := cfg.Steps
	if steps == 0 {
		steps = DefaultFlowSteps
	}
	shift := cfg.Shift
	if d := cfg.Dynamic; d != nil {
		switch {
		case cfg.Shift != 0:
			return nil, fmt.Errorf("sample: shift %v and a dynamic shift, want one", cfg.Shift)
		case cfg.Tokens < 1:
			return nil, fmt.Errorf("sample: dynamic shift for %d tokens, want ≥ 1", cfg.Tokens)
		}
		if err := d.check(); err != nil {
			return nil, err
		}
		shift = d.Shift(cfg.Tokens)
	}
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
	case cfg.Terminal != 0 && !(cfg.Terminal > 0 && cfg.Terminal < 1):
		return nil, fmt.Errorf("sample: terminal %v, want 0 < terminal < 1", cfg.Terminal)
	}
	c, err := newCore(n, model, cfg.Guidance)
	if err != nil {
		return nil, err
	}
	f := &FlowEuler{core: c, sigmas: FlowSigmas(steps, shift), timeScale: timeScale}
	if cfg.Terminal != 0 {
		StretchToTerminal(f.sigmas, cfg.Terminal)
	}
	if l := cfg.LowNoise; l != nil {
		switch {
		case !(l.Boundary > 0 && l.Boundary < 1):
			return nil, fmt.Errorf("sample: low-noise boundary %v, want 0 < boundary < 1", l.Boundary)
		case l.Model == nil:
			return nil, fmt.Errorf("sample: nil low-noise Denoiser")
		case !(l.Guidance >= 0):
			return nil, fmt.Errorf("sample: low-noise guidance scale %v, want >= 0", l.Guidance)
		}
		f.low, f.boundary, f.lowGuide = l.Model, l.Boundary, l.Guidance
		if f.lowGuide == 0 {
			f.lowGuide = f.guide
		}
		f.widen(f.lowGuide)
	}
	return f, nil
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

// StretchToTerminal rescales the distance to 1 of a schedule's levels
// σ_0 … σ_{N−1} (sig has N+1 entries, the last 0 and left alone) so that
// σ_{N−1} becomes terminal, as diffusers' shift_terminal does:
// σ_i ← 1 − (1 − σ_i)·(1 − terminal)/(1 − σ_{N−1}). σ_0 = 1 stays 1. A
// one-step schedule ([1, 0]) is left as it is.
func StretchToTerminal(sig []float64, terminal float64) {
	n := len(sig) - 1
	if n < 1 || sig[n-1] == 1 {
		return
	}
	scale := (1 - sig[n-1]) / (1 - terminal)
	for i := range n {
		sig[i] = 1 - (1-sig[i])/scale
	}
	sig[n-1] = terminal
}

// Steps implements Sampler.
func (f *FlowEuler) Steps() int { return len(f.sigmas) - 1 }

// Sigma implements Sampler.
func (f *FlowEuler) Sigma(i int) float64 { return f.sigmas[i] }

// LowNoiseStep reports whether step i runs the low-noise expert: there is
// one and σ_i is below its boundary.
func (f *FlowEuler) LowNoiseStep(i int) bool { return f.low != nil && f.sigmas[i] < f.boundary }

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
	model, guide := f.model, f.guide
	if f.LowNoiseStep(i) {
		model, guide = f.low, f.lowGuide
	}
	v, err := f.predictWith(ctx, model, guide, 1, float32(f.timeScale*sigma))
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
