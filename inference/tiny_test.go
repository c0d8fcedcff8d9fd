package inference

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

var tinyFiles = []string{"model.json", "tokenizer/tokenizer.json", "text_encoder.onnx",
	"vae_encoder.onnx", "denoiser.onnx", "vae_decoder.onnx"}

func writeTiny(t *testing.T, opt TinyOptions) (string, *model.Package) {
	t.Helper()
	dir := t.TempDir()
	if err := WriteTinyModel(dir, opt); err != nil {
		t.Fatal(err)
	}
	p, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, p
}

func TestTinyModelLoads(t *testing.T) {
	for _, half := range []bool{false, true} {
		dir, p := writeTiny(t, TinyOptions{Seed: 7, Float16: half})
		needORT(t)
		if err := p.CheckRuntime(); err != nil {
			t.Fatal(err)
		}
		m := p.Manifest
		if m.Kind != model.KindFlow || m.Scheduler.Type != model.SchedulerFlowEuler || !m.BatchedGuidance ||
			m.ImageLatent != model.ImageLatentVideo || m.Latent.Channels != 4 || m.Text.MaxLength != 16 {
			t.Errorf("manifest %+v", m)
		}
		if !m.Supports(model.Resolution{Width: 96, Height: 64}, 9) || !m.Supports(model.Resolution{Width: 64, Height: 64}, 5) {
			t.Errorf("resolutions %v frames %v", m.Resolutions, m.Frames)
		}
		want := model.Float32
		if half {
			want = model.Float16
		}
		if got := p.Component(model.CompDenoiser).Inputs[model.RoleLatent].DType; got != want {
			t.Errorf("denoiser latent dtype %s, want %s", got, want)
		}
		var total int64
		for _, f := range tinyFiles {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
		}
		t.Logf("float16 %v: %d bytes", half, total)
		if total > 2<<20 {
			t.Errorf("package is %d bytes", total)
		}
	}
}

func TestTinyModelTokenizer(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{})
	ids, mask := p.Tokenizer.EncodePadded("The camera slowly pans over a river at night", 16)
	n := 0
	for i, id := range ids {
		if id < 0 || int(id) >= len(tinyVocab()) {
			t.Fatalf("id %d out of the vocabulary", id)
		}
		n += int(mask[i])
	}
	// ▁the ▁camera ▁slowly ▁pan s ▁o v e r ▁a ▁river ▁at ▁night </s>: whole
	// words where the vocabulary has them, characters elsewhere.
	want := []int32{mustID(t, p, "▁the"), mustID(t, p, "▁camera"), mustID(t, p, "▁slowly"), mustID(t, p, "▁pan"),
		mustID(t, p, "s"), mustID(t, p, "▁o"), mustID(t, p, "v"), mustID(t, p, "e"), mustID(t, p, "r"),
		mustID(t, p, "▁a"), mustID(t, p, "▁river"), mustID(t, p, "▁at"), mustID(t, p, "▁night"), 1}
	if n != len(want) || !slices.Equal(ids[:n], want) || p.Tokenizer.PadID() != 0 || ids[n] != 0 {
		t.Errorf("ids %v mask %v, want %v then padding 0", ids, mask, want)
	}
	// The text encoder's embedding table has one row per id.
	vocab := tinyVocab()
	seen := map[string]bool{}
	for _, e := range vocab {
		if seen[e[0].(string)] {
			t.Errorf("%q twice in the vocabulary", e[0])
		}
		seen[e[0].(string)] = true
	}
	if p.Tokenizer.VocabSize() != len(vocab) {
		t.Errorf("tokenizer has %d ids, the embedding table %d rows", p.Tokenizer.VocabSize(), len(vocab))
	}
}

func mustID(t *testing.T, p *model.Package, tok string) int32 {
	t.Helper()
	id, ok := p.Tokenizer.TokenID(tok)
	if !ok {
		t.Fatalf("no token %q", tok)
	}
	return id
}

func TestTinyModelDeterministic(t *testing.T) {
	a, _ := writeTiny(t, TinyOptions{Seed: 3})
	b, _ := writeTiny(t, TinyOptions{Seed: 3})
	c, _ := writeTiny(t, TinyOptions{Seed: 4})
	for _, f := range tinyFiles {
		fa, _ := os.ReadFile(filepath.Join(a, f))
		fb, _ := os.ReadFile(filepath.Join(b, f))
		fc, _ := os.ReadFile(filepath.Join(c, f))
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs between two writes with the same options", f)
		}
		differ := !bytes.Equal(fa, fc)
		switch f {
		case "tokenizer/tokenizer.json":
			if differ {
				t.Errorf("%s depends on the seed", f)
			}
		default:
			if !differ {
				t.Errorf("%s is the same for seeds 3 and 4", f)
			}
			if len(fa) != len(fc) && f != "model.json" {
				t.Errorf("%s: %d bytes for seed 3, %d for seed 4", f, len(fa), len(fc))
			}
		}
	}
}

func TestTinyModelOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []TinyOptions{
		{SpatialFactor: 6},
		{Resolutions: []model.Resolution{{Width: 72, Height: 64}}},
		{Frames: []int{6}},
		{Width: 30, Heads: 4},
		{Blocks: -1},
	} {
		if err := WriteTinyModel(dir, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	// Other sizes still give a valid, runnable package.
	o := TinyOptions{Seed: 1, SpatialFactor: 4, TemporalFactor: 2, LatentChannels: 3, Width: 24, Heads: 3,
		Blocks: 1, TextLength: 8, Resolutions: []model.Resolution{{Width: 16, Height: 24}}, Frames: []int{1, 3}}
	_, p := writeTiny(t, o)
	runTiny(t, p, 2, model.Resolution{Width: 16, Height: 24}, 3)
}

func TestTinyModelRuns(t *testing.T) {
	for _, half := range []bool{false, true} {
		_, p := writeTiny(t, TinyOptions{Seed: 11, Float16: half})
		for _, c := range []struct {
			batch  int64
			res    model.Resolution
			frames int
		}{{1, model.Resolution{Width: 64, Height: 64}, 5}, {2, model.Resolution{Width: 96, Height: 64}, 9}} {
			runTiny(t, p, c.batch, c.res, c.frames)
		}
	}
}

// runTiny runs every component of p on batch × frames × res and checks the
// output shapes and that the outputs are finite and not constant.
func runTiny(t *testing.T, p *model.Package, batch int64, res model.Resolution, frames int) {
	t.Helper()
	needORT(t)
	m := p.Manifest
	l := int64(m.Text.MaxLength)
	c := int64(m.Latent.Channels)
	F, H, W := int64(frames), int64(res.Height), int64(res.Width)
	T, h, w := int64(m.Latent.Frames(frames)), H/int64(m.Latent.SpatialFactor), W/int64(m.Latent.SpatialFactor)
	open := func(comp string) (*Session, *Binding) {
		s, err := NewSessionFromFile(p.Path(comp), cpuConfig(comp))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		b, err := s.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		return s, b
	}
	alloc := func(b *Binding, comp, dir, role string, shape ...int64) *Buffer {
		t.Helper()
		cc := p.Component(comp)
		tt := cc.Inputs[role]
		if dir == "out" {
			tt = cc.Outputs[role]
		}
		buf, err := b.Alloc(tt.Name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		return buf
	}
	run := func(b *Binding, what string) {
		t.Helper()
		if err := b.Run(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	seed := uint64(0)
	fill := func(buf *Buffer, scale float32) {
		seed++
		v := sample.Noise(seed, buf.Len())
		for i := range v {
			v[i] *= scale
		}
		setFloats(buf, v)
	}
	check := func(what string, buf *Buffer, lo, hi float32) []float32 {
		t.Helper()
		v := floats(buf)
		mn, mx := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s: non-finite output", what)
			}
			mn, mx = min(mn, x), max(mx, x)
		}
		t.Logf("%s: [%g, %g]", what, mn, mx)
		if mn == mx || mn < lo || mx > hi {
			t.Errorf("%s: output range [%g, %g], want a spread within [%g, %g]", what, mn, mx, lo, hi)
		}
		return v
	}
	what := func(comp string) string { return comp + " " + res.String() + "×" + string(rune('0'+frames%10)) }

	// Text encoder on a prompt (row 0) and the empty prompt (row 1).
	_, tb := open(model.CompTextEncoder)
	ids := alloc(tb, model.CompTextEncoder, "in", model.RoleInputIDs, batch, l)
	mask := alloc(tb, model.CompTextEncoder, "in", model.RoleAttentionMask, batch, l)
	hidden := alloc(tb, model.CompTextEncoder, "out", model.RoleHiddenStates, batch, l, int64(m.Components.TextEncoder.Outputs[model.RoleHiddenStates].Shape[2].Size))
	for r := range batch {
		prompt := "a dog walks on the street"
		if r == 1 {
			prompt = ""
		}
		pi, pm := p.Tokenizer.EncodePadded(prompt, int(l))
		for i := range pi {
			ids.Int64()[r*l+int64(i)] = int64(pi[i])
			mask.Int64()[r*l+int64(i)] = int64(pm[i])
		}
	}
	run(tb, what("text encoder"))
	hv := check(what("text encoder"), hidden, -100, 100)
	d := int64(len(hv)) / batch / l
	for r := range batch {
		for i := range l {
			if mask.Int64()[r*l+i] != 0 {
				continue
			}
			for k := range d {
				if hv[(r*l+i)*d+k] != 0 {
					t.Fatalf("text encoder: padding position %d of row %d is not zero", i, r)
				}
			}
		}
	}

	// VAE encoder.
	_, eb := open(model.CompVAEEncoder)
	video := alloc(eb, model.CompVAEEncoder, "in", model.RoleImage, batch, 3, F, H, W)
	lat := alloc(eb, model.CompVAEEncoder, "out", model.RoleLatent, batch, c, T, h, w)
	fill(video, 0.5)
	run(eb, what("vae encoder"))
	check(what("vae encoder"), lat, -100, 100)

	// Denoiser.
	_, db := open(model.CompDenoiser)
	x := alloc(db, model.CompDenoiser, "in", model.RoleLatent, batch, c, T, h, w)
	ts := alloc(db, model.CompDenoiser, "in", model.RoleTimestep, batch)
	ctx := alloc(db, model.CompDenoiser, "in", model.RoleEncoderHiddenStates, batch, l, d)
	y := alloc(db, model.CompDenoiser, "in", model.RoleImageLatent, batch, c, T, h, w)
	v := alloc(db, model.CompDenoiser, "out", model.RolePrediction, batch, c, T, h, w)
	fill(x, 1)
	setFloats(ctx, hv)
	setFloats(y, floats(lat))
	for i := range ts.Float32() {
		ts.Float32()[i] = 1000 * float32(i+1) / float32(batch+1)
	}
	run(db, what("denoiser"))
	check(what("denoiser"), v, -1000, 1000)

	// VAE decoder.
	_, vb := open(model.CompVAEDecoder)
	dl := alloc(vb, model.CompVAEDecoder, "in", model.RoleLatent, batch, c, T, h, w)
	out := alloc(vb, model.CompVAEDecoder, "out", model.RoleVideo, batch, 3, F, H, W)
	fill(dl, 1)
	run(vb, what("vae decoder"))
	check(what("vae decoder"), out, -1, 1)
}

func floats(b *Buffer) []float32 {
	if b.DType() == Float16 {
		out := make([]float32, b.Len())
		for i, h := range b.Float16() {
			out[i] = h.Float32()
		}
		return out
	}
	return append([]float32(nil), b.Float32()...)
}

func setFloats(b *Buffer, v []float32) {
	if b.DType() == Float16 {
		for i, x := range v {
			b.Float16()[i] = HalfFromFloat32(x)
		}
		return
	}
	copy(b.Float32(), v)
}

// TestTinyModelPipeline runs the image-to-video pipeline on the tiny model:
// prompt and empty prompt through the text encoder, the still plus black
// frames through the VAE encoder, normalisation, the manifest's flow sampler
// with batched guidance over the denoiser, and the VAE decoder.
func TestTinyModelPipeline(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 5})
	needORT(t)
	m := p.Manifest
	res, frames := model.Resolution{Width: 96, Height: 64}, 9
	L, C := int64(m.Text.MaxLength), int64(m.Latent.Channels)
	F, H, W := int64(frames), int64(res.Height), int64(res.Width)
	T, h, w := int64(m.Latent.Frames(frames)), H/int64(m.Latent.SpatialFactor), W/int64(m.Latent.SpatialFactor)
	bind := func(comp string) (*Binding, func(role string, out bool, shape ...int64) *Buffer) {
		s, err := NewSessionFromFile(p.Path(comp), cpuConfig(comp))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		b, err := s.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		return b, func(role string, out bool, shape ...int64) *Buffer {
			return bufAt(t, p, b, comp, out, role, shape...)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Text: conditional prompt first, then the empty prompt.
	tb, ta := bind(model.CompTextEncoder)
	ids, mask := ta(model.RoleInputIDs, false, 2, L), ta(model.RoleAttentionMask, false, 2, L)
	D := int64(m.Components.TextEncoder.Outputs[model.RoleHiddenStates].Shape[2].Size)
	hidden := ta(model.RoleHiddenStates, true, 2, L, D)
	for r, prompt := range []string{"a cat walks by the river", ""} {
		pi, pm := p.Tokenizer.EncodePadded(prompt, int(L))
		for i := range pi {
			ids.Int64()[int64(r)*L+int64(i)] = int64(pi[i])
			mask.Int64()[int64(r)*L+int64(i)] = int64(pm[i])
		}
	}
	must(tb.Run())

	// Image latent: the still (a gradient) followed by black frames.
	eb, ea := bind(model.CompVAEEncoder)
	video := ea(model.RoleImage, false, 1, 3, F, H, W)
	raw := ea(model.RoleLatent, true, 1, C, T, h, w)
	px := video.Float32()
	for i := range px {
		px[i] = -1
	}
	for ch := range int64(3) {
		for y := range H {
			for x := range W {
				px[((ch*F)*H+y)*W+x] = float32(x+y+ch*8)/float32(W+H+16)*2 - 1
			}
		}
	}
	must(eb.Run())
	n := int(C * T * h * w)
	norm := func(v []float32, enc bool) {
		per := n / int(C)
		for i := range v {
			c := i / per % int(C)
			if enc {
				v[i] = float32((float64(v[i]) - m.Latent.Shift(c)) * m.Latent.Scale(c))
			} else {
				v[i] = float32(float64(v[i])/m.Latent.Scale(c) + m.Latent.Shift(c))
			}
		}
	}
	cond := append([]float32(nil), raw.Float32()...)
	norm(cond, true)

	// Denoiser with batched guidance.
	db, da := bind(model.CompDenoiser)
	x := da(model.RoleLatent, false, 2, C, T, h, w)
	ts := da(model.RoleTimestep, false, 2)
	ctx := da(model.RoleEncoderHiddenStates, false, 2, L, D)
	y := da(model.RoleImageLatent, false, 2, C, T, h, w)
	v := da(model.RolePrediction, true, 2, C, T, h, w)
	copy(ctx.Float32(), hidden.Float32())
	copy(y.Float32()[:n], cond)
	copy(y.Float32()[n:], cond)
	calls := 0
	den := func(_ context.Context, in []float32, tt float32, br []sample.Branch, out []float32) error {
		if len(br) != 2 {
			t.Fatalf("%d branches, want a batch of 2", len(br))
		}
		calls++
		copy(x.Float32(), in)
		ts.Float32()[0], ts.Float32()[1] = tt, tt
		if err := db.Run(); err != nil {
			return err
		}
		copy(out, v.Float32())
		return nil
	}
	s, err := sample.NewFlowEuler(m.FlowConfig(0, 0), n, den)
	must(err)
	s.Reset(42)
	must(sample.Run(context.Background(), s, nil))
	if calls != m.Defaults.Steps {
		t.Errorf("%d denoiser calls, want %d", calls, m.Defaults.Steps)
	}

	// Decode.
	vb, va := bind(model.CompVAEDecoder)
	lat := va(model.RoleLatent, false, 1, C, T, h, w)
	out := va(model.RoleVideo, true, 1, 3, F, H, W)
	copy(lat.Float32(), s.Latent())
	norm(lat.Float32(), false)
	must(vb.Run())
	lo, hi := float32(1), float32(-1)
	for _, f := range out.Float32() {
		if !(f >= -1 && f <= 1) {
			t.Fatalf("video value %g outside [-1, 1]", f)
		}
		lo, hi = min(lo, f), max(hi, f)
	}
	if lo == hi {
		t.Error("video is constant")
	}
}

// The variants of the tiny model load, pass ONNX Runtime's check and run:
// two experts (Wan 2.2 A14B), Stable Video Diffusion's layout, and scalar
// timesteps.
func TestTinyModelVariants(t *testing.T) {
	needORT(t)
	for _, o := range []TinyOptions{
		{Seed: 3, Boundary: 0.875},
		{Seed: 3, Boundary: 0.875, Float16: true, ScalarTimestep: true},
		{Seed: 3, SVD: true},
		{Seed: 3, SVD: true, Float16: true, ScalarTimestep: true},
		{Seed: 3, ScalarTimestep: true},
	} {
		dir, p := writeTiny(t, o)
		if err := p.CheckRuntime(); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		m := p.Manifest
		if got := p.Component(model.CompDenoiser).Inputs[model.RoleTimestep].Rank(); got != map[bool]int{true: 0, false: 1}[o.ScalarTimestep] {
			t.Errorf("%+v: timestep rank %d", o, got)
		}
		low := p.Component(model.CompDenoiserLowNoise)
		switch {
		case o.Boundary != 0:
			if low == nil || m.Scheduler.Boundary != o.Boundary || m.Defaults.GuidanceLowNoise != 2 || m.Name != "paimeng-tiny-experts" {
				t.Errorf("%+v: low-noise expert %+v, boundary %v, guidance %v", o, low, m.Scheduler.Boundary, m.Defaults.GuidanceLowNoise)
			}
			a, _ := os.ReadFile(filepath.Join(dir, "denoiser.onnx"))
			b, _ := os.ReadFile(filepath.Join(dir, "denoiser_low_noise.onnx"))
			if len(b)-len(a) != len("_low_noise") || bytes.Equal(a, b) { // the graph names differ
				t.Errorf("%+v: the experts' files are %d and %d bytes, equal %v: want the same structure, other weights", o, len(a), len(b), bytes.Equal(a, b))
			}
		case low != nil:
			t.Errorf("%+v: a low-noise expert", o)
		}
		if o.SVD {
			if m.Kind != model.KindEDM || m.Text != nil || m.DenoiserLayout() != model.LayoutBTCHW || m.Latent.TemporalFactor != 1 ||
				m.Scheduler.Timestep != model.TimestepCNoise || m.ImageLatent != model.ImageLatentImage ||
				p.Component(model.CompVAEDecoder).Outputs[model.RoleVideo].Rank() != 4 {
				t.Errorf("%+v: manifest %+v", o, m)
			}
			for _, f := range []string{"tokenizer/tokenizer.json", "text_encoder.onnx"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%+v: %s written", o, f)
				}
			}
		}
	}
	for _, o := range []TinyOptions{
		{Boundary: 1.5},
		{Boundary: -0.2},
		{SVD: true, Boundary: 0.5},
		{SVD: true, TemporalFactor: 4},
	} {
		if err := WriteTinyModel(t.TempDir(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	// The default package is unchanged by the variants' options being zero.
	a, _ := writeTiny(t, TinyOptions{Seed: 3})
	b, _ := writeTiny(t, TinyOptions{Seed: 3, Boundary: 0.5})
	for _, f := range []string{"denoiser.onnx", "vae_encoder.onnx", "vae_decoder.onnx", "text_encoder.onnx"} {
		fa, _ := os.ReadFile(filepath.Join(a, f))
		fb, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs with a low-noise expert added", f)
		}
	}
}
