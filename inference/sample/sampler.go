package sample

import (
	"context"
	"errors"
	"fmt"
)

// Branch says which conditioning one batch item of a network call uses.
type Branch uint8

const (
	// Conditional is the prompt (and still) conditioned prediction.
	Conditional Branch = iota
	// Unconditional is the prediction with the empty / negative prompt,
	// used by classifier-free guidance.
	Unconditional
)

func (b Branch) String() string {
	switch b {
	case Conditional:
		return "conditional"
	case Unconditional:
		return "unconditional"
	}
	return fmt.Sprintf("Branch(%d)", uint8(b))
}

// Denoiser runs the network once on a batch of len(branches) latents.
//
// x holds the items back to back, item i being x[i·n:(i+1)·n] for the
// sampler's latent length n, to be conditioned as branches[i] says; out has
// the same length and receives the predictions in the same order. t is the
// network's time input for this step (each sampler documents what it is).
// The denoiser must not keep or modify x, branches or out after it returns;
// the slices are owned by the sampler and reused every step. With
// classifier-free guidance in batched mode x holds two identical copies of
// the latent and branches is [Conditional, Unconditional].
type Denoiser func(ctx context.Context, x []float32, t float32, branches []Branch, out []float32) error

// Guidance configures classifier-free guidance. The zero value is no
// guidance: one conditional prediction per step.
type Guidance struct {
	// Scale g combines the predictions as uncond + g·(cond − uncond).
	// 0 means 1; at 1 only the conditional prediction is computed. It
	// must not be negative.
	Scale float64
	// Batched asks for both predictions in one network call with a batch
	// of 2, [Conditional, Unconditional]; otherwise the network is called
	// twice per step with a batch of 1, conditional first.
	Batched bool
}

func (g Guidance) scale() float64 {
	if g.Scale == 0 {
		return 1
	}
	return g.Scale
}

// Sampler walks a latent from noise to the clean latent, one network
// evaluation (or guided pair) per step.
type Sampler interface {
	// Steps is the number of steps of a full run.
	Steps() int
	// Done is the number of steps taken since the last Reset or SetLatent.
	Done() int
	// Sigma returns the noise level before step i, for i in [0, Steps()];
	// Sigma(Steps()) is 0.
	Sigma(i int) float64
	// Latent is the current latent, owned by the sampler: valid and writable
	// by the caller between steps (for example to re-impose conditioning
	// frames), never to be retained across Reset.
	Latent() []float32
	// Reset sets the latent to the starting noise of seed and Done to 0.
	Reset(seed uint64)
	// SetLatent copies x, which must already be at noise level Sigma(0),
	// into the latent and sets Done to 0.
	SetLatent(x []float32) error
	// Step takes the next step. It returns ctx.Err() without calling the
	// network when ctx is done, ErrFinished after the last step, and the
	// network's error, wrapped, if the network fails; on any error the
	// latent and Done are unchanged. In steady state it allocates nothing.
	Step(ctx context.Context) error
}

// ErrFinished is returned by Step when every step has been taken.
var ErrFinished = errors.New("sample: all steps taken")

// Run takes the remaining steps of s, calling progress (if not nil) after
// each with the number of steps done and the total. It checks ctx before
// every step and returns ctx.Err() as soon as ctx is done, so a cancellation
// takes effect between steps: the step running when it comes completes (or
// fails, if the network itself honours ctx).
func Run(ctx context.Context, s Sampler, progress func(done, total int)) error {
	total := s.Steps()
	for s.Done() < total {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.Step(ctx); err != nil {
			return err
		}
		if progress != nil {
			progress(s.Done(), total)
		}
	}
	return nil
}

// core holds what every sampler shares: the latent, the network buffers and
// the guided prediction. All buffers are sized once, at construction.
type core struct {
	n        int
	model    Denoiser
	guide    float64
	batched  bool
	x        []float32 // the latent, n
	in       []float32 // network input, 2n when guided else n
	out      []float32 // network output, 2n when guided else n
	branches [2]Branch
	done     int
}

func newCore(n int, model Denoiser, g Guidance) (core, error) {
	if n <= 0 {
		return core{}, fmt.Errorf("sample: latent length %d, want > 0", n)
	}
	if model == nil {
		return core{}, errors.New("sample: nil Denoiser")
	}
	if !(g.Scale >= 0) { // also rejects NaN
		return core{}, fmt.Errorf("sample: guidance scale %v, want >= 0", g.Scale)
	}
	c := core{
		n:        n,
		model:    model,
		guide:    g.scale(),
		batched:  g.Batched,
		x:        make([]float32, n),
		branches: [2]Branch{Conditional, Unconditional},
	}
	width := n
	if c.guided() {
		width = 2 * n
	}
	c.in = make([]float32, width)
	c.out = make([]float32, width)
	return c, nil
}

func (c *core) guided() bool { return c.guide != 1 }

func (c *core) Done() int         { return c.done }
func (c *core) Latent() []float32 { return c.x }

func (c *core) setLatent(x []float32) error {
	if len(x) != c.n {
		return fmt.Errorf("sample: latent of length %d, want %d", len(x), c.n)
	}
	copy(c.x, x)
	c.done = 0
	return nil
}

// widen sizes the network buffers for a second network whose guidance
// scale is guide.
func (c *core) widen(guide float64) {
	if guide != 1 && len(c.in) < 2*c.n {
		c.in = make([]float32, 2*c.n)
		c.out = make([]float32, 2*c.n)
	}
}

// predict evaluates the network on the latent scaled by inScale at time t
// and returns the (guided) prediction, a sampler-owned slice of length n.
func (c *core) predict(ctx context.Context, inScale float64, t float32) ([]float32, error) {
	return c.predictWith(ctx, c.model, c.guide, inScale, t)
}

// predictWith is predict with another network and guidance scale (a second
// expert); the buffers must have been widened for guide.
func (c *core) predictWith(ctx context.Context, model Denoiser, guide, inScale float64, t float32) ([]float32, error) {
	n := c.n
	in := c.in[:n]
	if inScale == 1 {
		copy(in, c.x)
	} else {
		for i, v := range c.x {
			in[i] = float32(float64(v) * inScale)
		}
	}
	if guide == 1 {
		if err := model(ctx, in, t, c.branches[:1], c.out[:n]); err != nil {
			return nil, err
		}
		return c.out[:n], nil
	}
	if c.batched {
		copy(c.in[n:2*n], in)
		if err := model(ctx, c.in[:2*n], t, c.branches[:], c.out[:2*n]); err != nil {
			return nil, err
		}
	} else {
		if err := model(ctx, in, t, c.branches[:1], c.out[:n]); err != nil {
			return nil, err
		}
		if err := model(ctx, in, t, c.branches[1:], c.out[n:2*n]); err != nil {
			return nil, err
		}
	}
	cond, uncond := c.out[:n], c.out[n:2*n]
	g := guide
	for i := range cond {
		u := float64(uncond[i])
		cond[i] = float32(u + float64(g*(float64(cond[i])-u)))
	}
	return cond, nil
}

// begin checks whether a step may be taken.
func (c *core) begin(ctx context.Context, steps int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.done >= steps {
		return ErrFinished
	}
	return nil
}

func stepError(i int, err error) error {
	return fmt.Errorf("sample: step %d: %w", i, err)
}

var (
	_ Sampler = (*FlowEuler)(nil)
	_ Sampler = (*EDMEuler)(nil)
)
