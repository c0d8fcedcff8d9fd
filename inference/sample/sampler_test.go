package sample

import (
	"context"
	"errors"
	"math"
	"testing"
)

// smoothModel is a deterministic, nonlinear, allocation-free network stand-in:
// item b of the batch predicts tanh(x)·(1+t/7) + 0.1·(b+1)·sin(i).
func smoothModel(calls *int) Denoiser {
	return func(_ context.Context, x []float32, t float32, branches []Branch, out []float32) error {
		if calls != nil {
			*calls++
		}
		n := len(x) / len(branches)
		for b, br := range branches {
			for i := 0; i < n; i++ {
				k := b*n + i
				out[k] = float32(math.Tanh(float64(x[k]))*(1+float64(t)/7) + 0.1*float64(br+1)*math.Sin(float64(i)))
			}
		}
		return nil
	}
}

type samplerCase struct {
	name string
	new  func(steps int, g Guidance, model Denoiser) (Sampler, error)
}

func samplerCases() []samplerCase {
	return []samplerCase{
		{"flow", func(steps int, g Guidance, m Denoiser) (Sampler, error) {
			return NewFlowEuler(FlowConfig{Steps: steps, Shift: 3, Guidance: g}, 96, m)
		}},
		{"edm", func(steps int, g Guidance, m Denoiser) (Sampler, error) {
			return NewEDMEuler(EDMConfig{Steps: steps, SigmaMax: 80, Guidance: g}, 96, m)
		}},
	}
}

func runSeed(t *testing.T, c samplerCase, g Guidance, seed uint64) []float32 {
	t.Helper()
	s, err := c.new(12, g, smoothModel(nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Reset(seed)
	if err := Run(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), s.Latent()...)
}

func TestDeterminism(t *testing.T) {
	for _, c := range samplerCases() {
		for _, g := range []Guidance{{}, {Scale: 4, Batched: true}, {Scale: 4}} {
			a, b := runSeed(t, c, g, 11), runSeed(t, c, g, 11)
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) || math.IsNaN(float64(a[i])) {
					t.Fatalf("%s %+v: same seed differs at %d: %v vs %v", c.name, g, i, a[i], b[i])
				}
			}
			d := runSeed(t, c, g, 12)
			differ := 0
			for i := range a {
				if a[i] != d[i] {
					differ++
				}
			}
			if differ < len(a)/2 {
				t.Fatalf("%s %+v: seeds 11 and 12 differ in only %d of %d values", c.name, g, differ, len(a))
			}
		}
	}
}

// Reset after a run starts over: the second run repeats the first.
func TestResetRepeats(t *testing.T) {
	for _, c := range samplerCases() {
		s, err := c.new(5, Guidance{}, smoothModel(nil))
		if err != nil {
			t.Fatal(err)
		}
		s.Reset(3)
		if err := Run(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
		first := append([]float32(nil), s.Latent()...)
		if err := s.Step(context.Background()); !errors.Is(err, ErrFinished) {
			t.Fatalf("%s: step after the last: %v, want ErrFinished", c.name, err)
		}
		s.Reset(3)
		if s.Done() != 0 {
			t.Fatalf("%s: Done %d after Reset", c.name, s.Done())
		}
		if err := Run(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
		for i, v := range s.Latent() {
			if v != first[i] {
				t.Fatalf("%s: second run differs at %d", c.name, i)
			}
		}
	}
}

// A context canceled after step 3 stops the run before step 4: Run returns
// ctx.Err(), progress was reported for exactly steps 1, 2, 3 and the network
// ran three times.
func TestCancelBetweenSteps(t *testing.T) {
	for _, c := range samplerCases() {
		calls := 0
		s, err := c.new(10, Guidance{}, smoothModel(&calls))
		if err != nil {
			t.Fatal(err)
		}
		s.Reset(1)
		ctx, cancel := context.WithCancel(context.Background())
		var reported []int
		err = Run(ctx, s, func(done, total int) {
			if total != 10 {
				t.Errorf("total %d, want 10", total)
			}
			reported = append(reported, done)
			if done == 3 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || err != ctx.Err() {
			t.Fatalf("%s: Run returned %v, want ctx.Err() = %v", c.name, err, ctx.Err())
		}
		if len(reported) != 3 || reported[0] != 1 || reported[2] != 3 || calls != 3 || s.Done() != 3 {
			t.Fatalf("%s: progress %v, %d network calls, Done %d; want [1 2 3], 3, 3", c.name, reported, calls, s.Done())
		}
		// Step itself refuses a done context without calling the network.
		before := append([]float32(nil), s.Latent()...)
		if err := s.Step(ctx); err != context.Canceled {
			t.Fatalf("%s: Step on a canceled context: %v", c.name, err)
		}
		if calls != 3 || s.Done() != 3 {
			t.Fatalf("%s: Step on a canceled context ran the network", c.name)
		}
		for i, v := range s.Latent() {
			if v != before[i] {
				t.Fatalf("%s: Step on a canceled context changed the latent", c.name)
			}
		}
		// Resuming with a live context finishes the run.
		if err := Run(context.Background(), s, nil); err != nil || s.Done() != 10 || calls != 10 {
			t.Fatalf("%s: resume: %v, Done %d, calls %d", c.name, err, s.Done(), calls)
		}
	}
}

// A failing network leaves the latent and the step count as they were.
func TestNetworkErrorLeavesState(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range samplerCases() {
		fail := false
		good := smoothModel(nil)
		s, err := c.new(6, Guidance{Scale: 2}, func(ctx context.Context, x []float32, t float32, br []Branch, out []float32) error {
			if fail && br[0] == Unconditional {
				return boom
			}
			return good(ctx, x, t, br, out)
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Reset(2)
		if err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), s.Latent()...)
		fail = true
		if err := s.Step(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("%s: error %v, want wrapping boom", c.name, err)
		}
		if s.Done() != 1 {
			t.Fatalf("%s: Done %d after a failed step", c.name, s.Done())
		}
		for i, v := range s.Latent() {
			if v != before[i] {
				t.Fatalf("%s: failed step changed the latent", c.name)
			}
		}
	}
}

// In steady state a step allocates nothing, with and without guidance.
func TestStepAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	for _, c := range samplerCases() {
		for _, g := range []Guidance{{}, {Scale: 5, Batched: true}, {Scale: 5}} {
			s, err := c.new(1000, g, smoothModel(nil))
			if err != nil {
				t.Fatal(err)
			}
			s.Reset(9)
			var stepErr error
			allocs := testing.AllocsPerRun(200, func() {
				if err := s.Step(ctx); err != nil {
					stepErr = err
				}
			})
			if stepErr != nil {
				t.Fatal(stepErr)
			}
			if allocs != 0 {
				t.Errorf("%s %+v: %v allocations per step, want 0", c.name, g, allocs)
			}
		}
	}
}
