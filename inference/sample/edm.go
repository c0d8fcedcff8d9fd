package sample

import (
	"context"
	"fmt"
	"math"
)

// Parameterization says what an EDM-family network outputs and which
// preconditioning (Karras et al. 2022, "Elucidating the Design Space of
// Diffusion-Based Generative Models", table 1) turns it into the denoiser
// D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)).
// With σ_d = EDMConfig.SigmaData and q = √(σ² + σ_d²):
//
//	c_skip = σ_d²/q²   c_in = 1/q   c_noise = ¼·ln σ
//	c_out  = −σ·σ_d/q  (PredictV)   or  +σ·σ_d/q  (PredictF)
type Parameterization uint8

const (
	// PredictV is the v-prediction network of Stable Video Diffusion
	// (σ_d = 1): c_out = −σ·σ_d/q.
	PredictV Parameterization = iota
	// PredictF is the EDM network F of Karras et al.: c_out = +σ·σ_d/q.
	PredictF
	// PredictDenoised is a network that outputs D(x; σ) itself, the
	// preconditioning being part of the exported graph: it receives the
	// unscaled latent and, by default, t = σ (see EDMConfig.Time).
	PredictDenoised
)

func (p Parameterization) String() string {
	switch p {
	case PredictV:
		return "v"
	case PredictF:
		return "F"
	case PredictDenoised:
		return "denoised"
	}
	return fmt.Sprintf("Parameterization(%d)", uint8(p))
}

// EDMTime says what an EDM network takes as its time input t.
type EDMTime uint8

const (
	// TimeDefault is TimeCNoise for PredictV and PredictF and TimeSigma
	// for PredictDenoised.
	TimeDefault EDMTime = iota
	// TimeCNoise is Karras et al.'s c_noise = ¼·ln σ (Stable Video
	// Diffusion's UNet).
	TimeCNoise
	// TimeSigma is σ itself.
	TimeSigma
)

func (t EDMTime) String() string {
	switch t {
	case TimeDefault:
		return "default"
	case TimeCNoise:
		return "c_noise"
	case TimeSigma:
		return "sigma"
	}
	return fmt.Sprintf("EDMTime(%d)", uint8(t))
}

// EDMConfig configures EDMEuler. Zero fields take the documented defaults,
// which are those of Stable Video Diffusion.
type EDMConfig struct {
	// Steps is the number of network evaluations (guided pairs); 0 means 25.
	Steps int
	// SigmaMin and SigmaMax bound the schedule; 0 means 0.002 and 700.
	// (Karras et al.'s image models use 0.002 and 80.)
	SigmaMin, SigmaMax float64
	// Rho is the Karras schedule exponent; 0 means 7.
	Rho float64
	// SigmaData is the data standard deviation σ_d of the preconditioning;
	// 0 means 1 (SVD). Karras et al.'s image models use 0.5.
	SigmaData float64
	// Network is what the network outputs; the zero value is PredictV.
	Network Parameterization
	// Time is what the network takes as t; the zero value follows Network
	// (c_noise, or σ for PredictDenoised).
	Time EDMTime
	// Guidance configures classifier-free guidance. It combines the
	// network outputs; since D is affine in F with the same c_skip·x for
	// both branches, this equals combining the two denoised estimates.
	Guidance Guidance
}

// Defaults of EDMConfig.
const (
	DefaultEDMSteps  = 25
	DefaultSigmaMin  = 0.002
	DefaultSigmaMax  = 700
	DefaultRho       = 7
	DefaultSigmaData = 1
)

// EDMEuler is the Euler sampler of the probability-flow ODE
// dx/dσ = (x − D(x; σ))/σ with the Karras schedule (Stable Video Diffusion
// and other EDM-trained models). Step i evaluates D at σ_i and updates
// x ← x + (σ_{i+1} − σ_i)·(x − D)/σ_i; the last step, to σ_N = 0, lands on
// D. The starting latent is the seed's noise times σ_max.
type EDMEuler struct {
	core
	sigmas    []float64
	sigmaData float64
	network   Parameterization
	time      EDMTime // TimeCNoise or TimeSigma
}

// NewEDMEuler returns an EDM Euler sampler for latents of n values. Its
// latent is zero until Reset or SetLatent.
func NewEDMEuler(cfg EDMConfig, n int, model Denoiser) (*EDMEuler, error) {
	def := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	steps := cfg.Steps
	if steps == 0 {
		steps = DefaultEDMSteps
	}
	smin := def(cfg.SigmaMin, DefaultSigmaMin)
	smax := def(cfg.SigmaMax, DefaultSigmaMax)
	rho := def(cfg.Rho, DefaultRho)
	sd := def(cfg.SigmaData, DefaultSigmaData)
	finitePos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch {
	case steps < 0:
		return nil, fmt.Errorf("sample: %d steps, want > 0", steps)
	case !finitePos(smin) || !finitePos(smax) || !(smin < smax):
		return nil, fmt.Errorf("sample: sigma range [%v, %v], want 0 < min < max finite", smin, smax)
	case !finitePos(rho):
		return nil, fmt.Errorf("sample: rho %v, want finite > 0", rho)
	case !finitePos(sd):
		return nil, fmt.Errorf("sample: sigma data %v, want finite > 0", sd)
	case cfg.Network > PredictDenoised:
		return nil, fmt.Errorf("sample: unknown %v", cfg.Network)
	case cfg.Time > TimeSigma:
		return nil, fmt.Errorf("sample: unknown %v", cfg.Time)
	}
	tm := cfg.Time
	if tm == TimeDefault {
		tm = TimeCNoise
		if cfg.Network == PredictDenoised {
			tm = TimeSigma
		}
	}
	c, err := newCore(n, model, cfg.Guidance)
	if err != nil {
		return nil, err
	}
	return &EDMEuler{
		core:      c,
		sigmas:    KarrasSigmas(steps, smin, smax, rho),
		sigmaData: sd,
		network:   cfg.Network,
		time:      tm,
	}, nil
}

// KarrasSigmas returns the N+1 noise levels of Karras et al. (eq. 5):
// σ_i = (σmax^(1/ρ) + i/(N−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ for i < N, and
// σ_N = 0. σ_0 = σmax and σ_{N−1} = σmin exactly; with N = 1 the schedule
// is [σmax, 0].
func KarrasSigmas(steps int, smin, smax, rho float64) []float64 {
	sig := make([]float64, steps+1)
	a, b := math.Pow(smax, 1/rho), math.Pow(smin, 1/rho)
	for i := 1; i < steps-1; i++ {
		sig[i] = math.Pow(a+float64(i)/float64(steps-1)*(b-a), rho)
	}
	if steps > 1 {
		sig[steps-1] = smin
	}
	sig[0] = smax
	return sig
}

// Steps implements Sampler.
func (e *EDMEuler) Steps() int { return len(e.sigmas) - 1 }

// Sigma implements Sampler.
func (e *EDMEuler) Sigma(i int) float64 { return e.sigmas[i] }

// Reset implements Sampler: the latent becomes σ_max times the noise of
// seed, each value rounded to float32 from the float64 product.
func (e *EDMEuler) Reset(seed uint64) {
	FillNoise(e.x, seed, 0)
	smax := e.sigmas[0]
	for i, z := range e.x {
		e.x[i] = float32(float64(z) * smax)
	}
	e.done = 0
}

// SetLatent implements Sampler.
func (e *EDMEuler) SetLatent(x []float32) error { return e.setLatent(x) }

// Precondition returns the coefficients of the configured parameterization
// at noise level sigma > 0, and the network's time input t (EDMConfig.Time).
func (e *EDMEuler) Precondition(sigma float64) (cSkip, cOut, cIn float64, t float32) {
	t = float32(sigma)
	if e.time == TimeCNoise {
		t = float32(0.25 * math.Log(sigma))
	}
	if e.network == PredictDenoised {
		return 0, 1, 1, t
	}
	sd := e.sigmaData
	q := math.Sqrt(sigma*sigma + sd*sd)
	cSkip = sd * sd / (q * q)
	cOut = sigma * sd / q
	if e.network == PredictV {
		cOut = -cOut
	}
	return cSkip, cOut, 1 / q, t
}

// Step implements Sampler.
func (e *EDMEuler) Step(ctx context.Context) error {
	if err := e.begin(ctx, e.Steps()); err != nil {
		return err
	}
	i := e.done
	sigma, next := e.sigmas[i], e.sigmas[i+1]
	cSkip, cOut, cIn, t := e.Precondition(sigma)
	f, err := e.predict(ctx, cIn, t)
	if err != nil {
		return stepError(i, err)
	}
	ratio := (next - sigma) / sigma
	for j, x := range e.x {
		xd := float64(x)
		d := float64(cOut * float64(f[j]))
		if cSkip != 0 {
			d += float64(cSkip * xd)
		}
		e.x[j] = float32(xd + float64(ratio*(xd-d)))
	}
	e.done++
	return nil
}
