package inference

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/paimeng/paimeng"
	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

func generate(t *testing.T, e *LearnedEngine, in *paimeng.GenInput, progress func(done, total int)) [][]byte {
	t.Helper()
	var sink memSink
	if err := e.Generate(context.Background(), in, &sink, progress); err != nil {
		t.Fatal(err)
	}
	spec, _ := e.Plan(in)
	if len(sink.frames) != spec.Frames {
		t.Fatalf("%d frames, want %d", len(sink.frames), spec.Frames)
	}
	return sink.frames
}

func sameClip(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// checkFrames checks that frames are valid limited-range yuv420p that are
// not all the same.
func checkFrames(t *testing.T, frames [][]byte, spec paimeng.VideoSpec) {
	t.Helper()
	n := spec.Width * spec.Height
	for i, f := range frames {
		lo, hi := byte(255), byte(0)
		for _, v := range f[:n] {
			lo, hi = min(lo, v), max(hi, v)
		}
		if len(f) != spec.FrameSize() || lo < 16 || hi > 235 || lo == hi {
			t.Fatalf("frame %d: %d bytes, Y in [%d, %d]", i, len(f), lo, hi)
		}
	}
	if sameClip(frames[:1], frames[len(frames)-1:]) {
		t.Fatal("first and last frames are the same")
	}
}

// A two-expert package (Wan 2.2 A14B): both denoisers are loaded once;
// steps at noise levels from the boundary up run the denoiser, the others
// the low-noise expert, each at its own guidance; the clip depends on the
// seed only.
func TestLearnedExperts(t *testing.T) {
	const boundary = 0.875
	_, p := writeTiny(t, TinyOptions{Seed: 12, Boundary: boundary})
	e := newLearned(t, p)
	if e.sessions[model.CompDenoiser] == nil || e.sessions[model.CompDenoiserLowNoise] == nil || e.guidance != 3 || e.guidanceLow != 2 {
		t.Fatalf("sessions %v, guidance %v and %v", e.sessions, e.guidance, e.guidanceLow)
	}
	in := &paimeng.GenInput{Image: testStill(96, 64), Prompt: "waves on the ocean", Seconds: 1, Seed: 7}
	high, low := model.CompDenoiser, model.CompDenoiserLowNoise
	// Which denoiser each step ran, from the run counts after each step.
	var ran []string
	var h0, l0 int64
	progress := func(done, total int) {
		if done == total {
			return
		}
		h, l := e.denoiserRuns(high), e.denoiserRuns(low)
		switch {
		case h == h0+1 && l == l0: // batched guidance: one run per step
			ran = append(ran, high)
		case l == l0+1 && h == h0:
			ran = append(ran, low)
		default:
			t.Fatalf("step %d: runs %d → %d and %d → %d", done, h0, h, l0, l)
		}
		h0, l0 = h, l
	}
	a := generate(t, e, in, progress)
	// 4 steps at shift 3: σ = 1, 0.9, 0.75, 0.5.
	sig := sample.FlowSigmas(4, 3)
	if len(ran) != 4 {
		t.Fatalf("ran %v", ran)
	}
	for i, c := range ran {
		want := high
		if sig[i] < boundary {
			want = low
		}
		if c != want {
			t.Errorf("step %d at σ %v ran %s, want %s", i, sig[i], c, want)
		}
	}
	if ran[0] != high || ran[3] != low {
		t.Fatalf("ran %v: both experts should run", ran)
	}
	spec, _ := e.Plan(in)
	checkFrames(t, a, spec)

	// Deterministic per seed; another seed, or the denoiser alone, differ.
	if b := generate(t, e, in, nil); !sameClip(a, b) {
		t.Error("two runs of seed 7 differ")
	}
	in8 := *in
	in8.Seed = 8
	if c := generate(t, e, &in8, nil); sameClip(a, c) {
		t.Error("seeds 7 and 8 give the same clip")
	}
	_, one := writeTiny(t, TinyOptions{Seed: 12}) // the same high-noise weights
	if c := generate(t, newLearned(t, one), in, nil); sameClip(a, c) {
		t.Error("the low-noise expert changes nothing")
	}

	// Unbatched, the low-noise expert unguided: two runs per high-noise
	// step, one per low-noise step; 10 steps with a boundary of 0.6.
	_, p = writeTiny(t, TinyOptions{Seed: 12, Boundary: 0.6})
	p.Manifest.BatchedGuidance = false
	p.Manifest.Defaults.GuidanceLowNoise = 1
	opt := learnedTestOptions
	opt.Steps = 10
	needORT(t)
	e2, err := NewLearnedEngine(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	generate(t, e2, in, nil)
	nHigh := 0
	for _, s := range sample.FlowSigmas(10, 3)[:10] {
		if s >= 0.6 {
			nHigh++
		}
	}
	if h, l := e2.denoiserRuns(high), e2.denoiserRuns(low); h != int64(2*nHigh) || l != int64(10-nHigh) || nHigh == 0 || nHigh == 10 {
		t.Errorf("%d runs of the denoiser and %d of the low-noise expert, want %d and %d", h, l, 2*nHigh, 10-nHigh)
	}
	// A requested guidance scale applies to both experts.
	opt.Guidance = 1
	e3, err := NewLearnedEngine(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e3.Close()
	generate(t, e3, in, nil)
	if h, l := e3.denoiserRuns(high), e3.denoiserRuns(low); h != int64(nHigh) || l != int64(10-nHigh) {
		t.Errorf("guidance 1: %d and %d runs, want %d and %d", h, l, nHigh, 10-nHigh)
	}
}

// A dynamic shift is computed from the planned clip's token count: the
// sampler's schedule is the flow schedule shifted by e^μ(T·h·w).
func TestLearnedDynamicShift(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 13})
	dyn := &model.DynamicShift{BaseShift: 0.5, MaxShift: 1.5, BaseSeqLen: 64, MaxSeqLen: 512}
	p.Manifest.Scheduler.Shift, p.Manifest.Scheduler.DynamicShift, p.Manifest.Scheduler.ShiftTerminal = 0, dyn, 0.1
	e := newLearned(t, p)
	sd := sample.DynamicShift{BaseShift: 0.5, MaxShift: 1.5, BaseSeqLen: 64, MaxSeqLen: 512}
	var firstSigma []float64
	for _, c := range []struct {
		w, h, frames, tokens int
	}{
		{64, 64, 5, 2 * 8 * 8},  // T 2 of 8×8
		{96, 64, 9, 3 * 8 * 12}, // T 3 of 8×12
		{96, 64, 5, 2 * 8 * 12}, // T 2 of 8×12
		{64, 64, 9, 3 * 8 * 8},  // T 3 of 8×8
		{96, 64, 9, 3 * 8 * 12}, // again
	} {
		in := &paimeng.GenInput{Image: testStill(c.w, c.h), Prompt: "a river", Seconds: 1, Seed: 3}
		pl, err := e.plan(in)
		if err != nil {
			t.Fatal(err)
		}
		pl.spec.Frames, pl.T = c.frames, p.Manifest.Latent.Frames(c.frames)
		if got := p.Manifest.Tokens(model.Resolution{Width: pl.spec.Width, Height: pl.spec.Height}, pl.spec.Frames); got != c.tokens {
			t.Fatalf("%dx%d×%d: %d tokens, want %d", c.w, c.h, c.frames, got, c.tokens)
		}
		j := &learnedJob{e: e, p: pl}
		if err := j.prepare(in); err != nil {
			t.Fatal(err)
		}
		s, err := j.sampler()
		j.close()
		if err != nil {
			t.Fatal(err)
		}
		want := sample.FlowSigmas(4, sd.Shift(c.tokens))
		sample.StretchToTerminal(want, 0.1)
		for i := range want {
			if s.Sigma(i) != want[i] {
				t.Fatalf("%d tokens: σ_%d = %v, want %v (shift e^μ = %v)", c.tokens, i, s.Sigma(i), want[i], sd.Shift(c.tokens))
			}
		}
		if s.Sigma(3) != 0.1 {
			t.Fatalf("last level %v, want the terminal 0.1", s.Sigma(3))
		}
		firstSigma = append(firstSigma, s.Sigma(1))
	}
	if !(firstSigma[0] < firstSigma[3] && firstSigma[3] < firstSigma[1]) || firstSigma[1] != firstSigma[4] {
		t.Errorf("σ_1 by token count 128, 288, 192, 192, 288: %v; want it rising with the count", firstSigma)
	}
	in := &paimeng.GenInput{Image: testStill(96, 64), Prompt: "a river", Seconds: 1, Seed: 3}
	spec, _ := e.Plan(in)
	checkFrames(t, generate(t, e, in, nil), spec)
}

func TestLatentTranspose(t *testing.T) {
	needORT(t)
	const B, C, T, hw = 2, 3, 4, 5
	n := C * T * hw
	buf, err := NewBuffer(Float32, B*T, C, 1, hw)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	src := make([]float32, B*n)
	for i := range src {
		src[i] = float32(i)
	}
	for b := range B {
		putLatent(buf, b*n, src[b*n:(b+1)*n], C, T, hw, true)
	}
	// Item b, channel c, frame t, pixel k sits at ((b·T + t)·C + c)·hw + k.
	for b := range B {
		for c := range C {
			for tt := range T {
				for k := range hw {
					if got, want := buf.Float32()[((b*T+tt)*C+c)*hw+k], src[b*n+(c*T+tt)*hw+k]; got != want {
						t.Fatalf("b %d c %d t %d k %d: %v, want %v", b, c, tt, k, got, want)
					}
				}
			}
		}
	}
	back := make([]float32, B*n)
	for b := range B {
		getLatent(buf, b*n, back[b*n:(b+1)*n], C, T, hw, true)
	}
	for i := range src {
		if back[i] != src[i] {
			t.Fatalf("round trip: %d is %v", i, back[i])
		}
	}
}

// bufAt binds a buffer for a role on a binding of the package's component.
func bufAt(t *testing.T, p *model.Package, b *Binding, comp string, out bool, role string, shape ...int64) *Buffer {
	t.Helper()
	tt := p.Component(comp).Inputs[role]
	if out {
		tt = p.Component(comp).Outputs[role]
	}
	buf, err := b.Alloc(tt.Name, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// Stable Video Diffusion's layout end to end: a per-frame VAE, a denoiser
// taking [B·F, C, h, w] latents, with a scalar or a [B] timestep. The
// engine's transposes equal a plain index-by-index reference, the scalar
// timestep (a rewritten graph) gives the clip the [B] timestep gives, and
// the clip depends on the seed only.
func TestLearnedSVDLayout(t *testing.T) {
	for _, half := range []bool{false, true} {
		_, pv := writeTiny(t, TinyOptions{Seed: 14, SVD: true, Float16: half})
		_, ps := writeTiny(t, TinyOptions{Seed: 14, SVD: true, Float16: half, ScalarTimestep: true})
		ev, es := newLearned(t, pv), newLearned(t, ps)
		if ev.vecT[model.CompDenoiser] != "" || es.vecT[model.CompDenoiser] != "t_1d" {
			t.Fatalf("vectorized timestep inputs %q and %q", ev.vecT, es.vecT)
		}
		in := &paimeng.GenInput{Image: testStill(96, 64), Seconds: 1, Seed: 21}
		spec, err := ev.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		a := generate(t, ev, in, nil)
		checkFrames(t, a, spec)
		if b := generate(t, es, in, nil); !sameClip(a, b) {
			t.Errorf("float16 %v: the scalar timestep gives another clip than [B]", half)
		}
		if b := generate(t, ev, in, nil); !sameClip(a, b) {
			t.Errorf("float16 %v: two runs of seed 21 differ", half)
		}
		in2 := *in
		in2.Seed = 22
		if b := generate(t, ev, &in2, nil); sameClip(a, b) {
			t.Errorf("float16 %v: seeds 21 and 22 give the same clip", half)
		}
		if ev.denoiserRuns(model.CompDenoiser) != 3*4 {
			t.Errorf("%d denoiser runs for 3 clips of 4 steps with batched guidance", ev.denoiserRuns(model.CompDenoiser))
		}
	}

	// The engine's buffers against a reference that indexes every element.
	_, p := writeTiny(t, TinyOptions{Seed: 15, SVD: true})
	e := newLearned(t, p)
	in := &paimeng.GenInput{Image: testStill(96, 64), Seconds: 1, Seed: 2}
	pl, err := e.plan(in)
	if err != nil {
		t.Fatal(err)
	}
	j := &learnedJob{e: e, p: pl}
	defer j.close()
	if err := j.prepare(in); err != nil {
		t.Fatal(err)
	}
	m := p.Manifest
	C, T, h, w := m.Latent.Channels, pl.T, pl.h, pl.w
	hw, n := h*w, j.n
	if T != 9 || n != C*T*hw || j.pair == nil {
		t.Fatalf("T %d, n %d, pair %v", T, n, j.pair)
	}
	at := func(c, f, k int) int { return (c*T+f)*hw + k } // Go's [C, T, h·w]

	// Denoiser: a guided pair through the engine, and by hand.
	x := sample.Noise(5, 2*n)
	for i := range x[n:] {
		x[n+i] *= 0.5 // the two items differ
	}
	got := make([]float32, 2*n)
	const tv = -0.7
	if err := j.denoise(context.Background(), x, tv, []sample.Branch{sample.Conditional, sample.Unconditional}, got); err != nil {
		t.Fatal(err)
	}
	s, err := NewSessionFromFile(p.Path(model.CompDenoiser), cpuConfig("svd"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	comp := model.CompDenoiser
	bx := bufAt(t, p, b, comp, false, model.RoleLatent, int64(2*T), int64(C), int64(h), int64(w))
	by := bufAt(t, p, b, comp, false, model.RoleImageLatent, 2, int64(C), int64(h), int64(w))
	bt := bufAt(t, p, b, comp, false, model.RoleTimestep, 2)
	bi := bufAt(t, p, b, comp, false, model.RoleAddedTimeIDs, 2, 3)
	bo := bufAt(t, p, b, comp, true, model.RolePrediction, int64(2*T), int64(C), int64(h), int64(w))
	for item := range 2 {
		for c := range C {
			for f := range T {
				for k := range hw {
					bx.Float32()[((item*T+f)*C+c)*hw+k] = x[item*n+at(c, f, k)]
				}
			}
			if item == 0 { // no text: the unconditional item has no image
				copy(by.Float32()[c*hw:(c+1)*hw], j.ylat[c*hw:(c+1)*hw])
			}
		}
		bt.Float32()[item] = tv
		copy(bi.Float32()[3*item:], []float32{float32(m.FPS - 1), motionBucketID, noiseAugment})
	}
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	for item := range 2 {
		for c := range C {
			for f := range T {
				for k := range hw {
					want := bo.Float32()[((item*T+f)*C+c)*hw+k]
					if g := got[item*n+at(c, f, k)]; g != want {
						t.Fatalf("prediction item %d c %d frame %d k %d: %v, reference %v", item, c, f, k, g, want)
					}
				}
			}
		}
	}

	// VAE decoder: the engine's frames against [T, C, h, w] in and
	// [F, 3, H, W] out by hand.
	z := sample.Noise(6, n)
	var sink memSink
	if err := j.decode(context.Background(), z, &sink); err != nil {
		t.Fatal(err)
	}
	ds, err := NewSessionFromFile(p.Path(model.CompVAEDecoder), cpuConfig("vae"))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	db, err := ds.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	H, W := pl.spec.Height, pl.spec.Width
	dl := bufAt(t, p, db, model.CompVAEDecoder, false, model.RoleLatent, int64(T), int64(C), int64(h), int64(w))
	dv := bufAt(t, p, db, model.CompVAEDecoder, true, model.RoleVideo, int64(T), 3, int64(H), int64(W))
	for c := range C {
		for f := range T {
			for k := range hw {
				dl.Float32()[(f*C+c)*hw+k] = float32(float64(z[at(c, f, k)])/m.Latent.Scale(c) + m.Latent.Shift(c))
			}
		}
	}
	if err := db.Run(); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, pl.spec.FrameSize())
	for f := range T {
		toYUV420(frame, dv.Float32()[f*3*H*W:(f+1)*3*H*W], W, H)
		if !bytes.Equal(frame, sink.frames[f]) {
			t.Fatalf("frame %d differs from the reference decode", f)
		}
	}

	// VAE encoder on F frames (image_latent "video"): the still and black
	// frames as [F, 3, H, W], the latent read back from [T, C, h, w].
	m2 := *e.m
	m2.ImageLatent = model.ImageLatentVideo
	e.m = &m2
	defer func() { e.m = &p.Manifest }()
	if err := j.encodeLatent(in.Image); err != nil {
		t.Fatal(err)
	}
	es, err := NewSessionFromFile(p.Path(model.CompVAEEncoder), cpuConfig("enc"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	eb, err := es.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	ev := bufAt(t, p, eb, model.CompVAEEncoder, false, model.RoleImage, int64(T), 3, int64(H), int64(W))
	el := bufAt(t, p, eb, model.CompVAEEncoder, true, model.RoleLatent, int64(T), int64(C), int64(h), int64(w))
	still := pixels(in.Image, W, H)
	for i := range ev.Float32() {
		ev.Float32()[i] = -1
	}
	copy(ev.Float32(), still) // frame 0 is the first 3·H·W values
	if err := eb.Run(); err != nil {
		t.Fatal(err)
	}
	for c := range C {
		for f := range T {
			for k := range hw {
				want := float32((float64(el.Float32()[(f*C+c)*hw+k]) - m.Latent.Shift(c)) * m.Latent.Scale(c))
				if g := j.ylat[at(c, f, k)]; g != want {
					t.Fatalf("image latent c %d frame %d k %d: %v, reference %v", c, f, k, g, want)
				}
			}
		}
	}
}

// A scalar timestep on the Wan layout gives the clip the [B] timestep
// gives: the rewritten graph computes what the original computes.
func TestLearnedScalarTimestep(t *testing.T) {
	_, pv := writeTiny(t, TinyOptions{Seed: 16})
	_, ps := writeTiny(t, TinyOptions{Seed: 16, ScalarTimestep: true})
	in := &paimeng.GenInput{Image: testStill(64, 64), Prompt: "a cat", Seconds: 1, Seed: 4}
	a := generate(t, newLearned(t, pv), in, nil)
	es := newLearned(t, ps)
	if b := generate(t, es, in, nil); !sameClip(a, b) {
		t.Error("the scalar timestep gives another clip than [B]")
	}
	// The rewritten graph's input is [1]; the manifest's tensor is scalar.
	var found bool
	for _, ti := range es.sessions[model.CompDenoiser].Inputs() {
		found = found || ti.Name == es.vecT[model.CompDenoiser] && len(ti.Shape) == 1 && ti.Shape[0] == 1
	}
	if !found {
		t.Errorf("inputs %v", es.sessions[model.CompDenoiser].Inputs())
	}
	// With its weights in an external data file the rewritten graph, loaded
	// from memory, finds them in the denoiser's folder.
	dir, _ := writeTiny(t, TinyOptions{Seed: 16, ScalarTimestep: true})
	if n := externalizeWeights(t, filepath.Join(dir, "denoiser.onnx"), "weights/denoiser.bin"); n < 10 {
		t.Fatalf("%d tensors moved out", n)
	}
	pe, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := pe.Signatures[model.CompDenoiser].ExternalData; !slices.Equal(got, []string{"weights/denoiser.bin"}) {
		t.Fatalf("external data %q", got)
	}
	if b := generate(t, newLearned(t, pe), in, nil); !sameClip(a, b) {
		t.Error("the scalar timestep with external data gives another clip")
	}

	// A manifest that says scalar for a [B] graph is refused, naming the field.
	_, p := writeTiny(t, TinyOptions{Seed: 16})
	ts := p.Component(model.CompDenoiser).Inputs[model.RoleTimestep]
	ts.Shape = []model.Dim{}
	p.Component(model.CompDenoiser).Inputs[model.RoleTimestep] = ts
	if _, err := NewLearnedEngine(p, learnedTestOptions); err == nil || !strings.Contains(err.Error(), "components.denoiser.inputs.timestep.shape") {
		t.Errorf("scalar manifest on a [B] graph: %v", err)
	}
}

// The denoiser adapters of a two-expert model and of the bt_chw layout
// allocate nothing per step.
func TestLearnedVariantsSteadyState(t *testing.T) {
	for _, o := range []TinyOptions{{Seed: 17, Boundary: 0.875, Float16: true}, {Seed: 17, SVD: true, ScalarTimestep: true}} {
		_, p := writeTiny(t, o)
		e := newLearned(t, p)
		in := &paimeng.GenInput{Image: testStill(64, 64), Prompt: "rain", Seconds: 1}
		pl, err := e.plan(in)
		if err != nil {
			t.Fatal(err)
		}
		j := &learnedJob{e: e, p: pl}
		if err := j.prepare(in); err != nil {
			t.Fatal(err)
		}
		x := sample.Noise(1, 2*j.n)
		copy(x[j.n:], x[:j.n])
		out := make([]float32, 2*j.n)
		br := []sample.Branch{sample.Conditional, sample.Unconditional}
		steps := []func(context.Context, []float32, float32, []sample.Branch, []float32) error{j.denoise}
		if j.low != nil {
			steps = append(steps, j.denoiseLow)
		}
		for k, step := range steps {
			run := func() {
				if err := step(context.Background(), x, 0.5, br, out); err != nil {
					t.Fatal(err)
				}
			}
			for range 5 {
				run()
			}
			if a := testing.AllocsPerRun(20, run); a != 0 {
				t.Errorf("%+v, denoiser %d: %v allocations per step", o, k, a)
			}
			for _, v := range out {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%+v: non-finite prediction", o)
				}
			}
		}
		j.close()
	}
}

// externalizeWeights moves the float32 initializers of the ONNX file at
// path into the external data file rel (relative to its folder), as
// exporters do for large models, and returns how many it moved.
func externalizeWeights(t *testing.T, path, rel string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var data []byte
	moved := 0
	for _, init := range m.Graph.Initializer {
		if init.DataType != int32(Float32) {
			continue
		}
		b := init.RawData
		if len(init.FloatData) > 0 {
			b = make([]byte, 0, 4*len(init.FloatData))
			for _, f := range init.FloatData {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
			}
		}
		if len(b) < 64 {
			continue
		}
		pb.SetExternalData(init, rel, len(data), len(b))
		init.RawData, init.FloatData = nil, nil
		data = append(data, b...)
		moved++
	}
	out, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(filepath.Dir(path), filepath.Dir(rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), rel), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return moved
}
