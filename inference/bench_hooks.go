package inference

// Hooks for benchmarks and cross-runtime checks of the learned engine's
// denoiser (package bench): one sampler step through the same job, the same
// bindings and the same adapter that Generate runs, without the sampler
// loop or the VAE decode around it.

import (
	"context"
	"fmt"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference/sample"
)

// DenoiserStep is one learned-engine job stopped before sampling: the clip
// is planned, the conditioning computed (text, image and VAE encoders as
// Generate runs them) and the denoiser bound. Step runs what the sampler
// calls once per step. It is not safe for concurrent use; Close releases
// its bindings.
type DenoiserStep struct {
	j        *learnedJob
	branches []sample.Branch
	inRun    time.Duration
}

// DenoiserTensor is the content of one bound denoiser input.
type DenoiserTensor struct {
	Name   string
	DType  DType   // element type the denoiser takes
	Shape  []int64 // including the batch
	Values []float32
}

// NewDenoiserStep plans in and prepares the job as Generate does. With
// guidance the step is the guided pair (the conditional branch first), in
// one batch of 2 when the manifest asks for batched guidance.
func (e *LearnedEngine) NewDenoiserStep(in *paimeng.GenInput) (*DenoiserStep, error) {
	p, err := e.plan(in)
	if err != nil {
		return nil, err
	}
	j := &learnedJob{e: e, p: p}
	if err := j.prepare(in); err != nil {
		j.close()
		return nil, err
	}
	s := &DenoiserStep{j: j, branches: []sample.Branch{sample.Conditional}}
	if j.guided() {
		s.branches = append(s.branches, sample.Unconditional)
	}
	for _, set := range []*denoiseSet{&j.denoiseSet, j.low} {
		if set == nil {
			continue
		}
		for _, c := range []*denoiseCall{set.pair, set.single[0], set.single[1]} {
			if c != nil {
				c.inRun = &s.inRun
			}
		}
	}
	return s, nil
}

// InRun is the time the steps so far spent inside ONNX Runtime's Run: the
// rest of a step's time is the Go side's (copies in and out of the bound
// buffers, conversions).
func (s *DenoiserStep) InRun() time.Duration { return s.inRun }

// Spec is the planned clip.
func (s *DenoiserStep) Spec() paimeng.VideoSpec { return s.j.p.spec }

// Len is the number of latent values per batch item (C·T·h·w).
func (s *DenoiserStep) Len() int { return s.j.n }

// Batch is the number of branches one step evaluates (2 with guidance).
func (s *DenoiserStep) Batch() int { return len(s.branches) }

// Step is one sampler step's denoiser call: x holds Batch()·Len() latent
// values (branch-major), t is the step's time in the denoiser's units, out
// receives the predictions. It copies x and t into the bound buffers, runs
// the denoiser and copies the predictions out, allocating nothing.
func (s *DenoiserStep) Step(x []float32, t float32, out []float32) error {
	if n := s.Batch() * s.Len(); len(x) != n || len(out) != n {
		return fmt.Errorf("inference: denoiser step: %d latent and %d output values, want %d", len(x), len(out), n)
	}
	return s.j.denoise(context.Background(), x, t, s.branches, out)
}

// Inputs returns every input bound to the batched denoiser call (the guided
// pair, or the conditional call without batched guidance), in the
// session's input order; latent and timestep hold the last Step's values.
func (s *DenoiserStep) Inputs() []DenoiserTensor {
	c := s.j.pair
	if c == nil {
		c = s.j.single[sample.Conditional]
	}
	var ts []DenoiserTensor
	for _, ti := range c.b.s.inputs {
		buf := c.b.Buffer(ti.Name)
		v := make([]float32, buf.Len())
		switch buf.DType() {
		case Float32, Float16:
			getFloats(buf, 0, v)
		case Int64:
			for i, x := range buf.Int64() {
				v[i] = float32(x)
			}
		case Int32:
			for i, x := range buf.Int32() {
				v[i] = float32(x)
			}
		}
		ts = append(ts, DenoiserTensor{Name: ti.Name, DType: buf.DType(), Shape: append([]int64(nil), buf.Shape()...), Values: v})
	}
	return ts
}

// Close releases the job's bindings. It is idempotent.
func (s *DenoiserStep) Close() error {
	s.j.close()
	return nil
}
