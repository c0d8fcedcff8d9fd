package inference

// The learned engine: an image-to-video latent diffusion model exported as a
// model package (docs/models.md, package inference/model), run with ONNX
// Runtime.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

// LearnedOptions configures a learned engine. Zero values take defaults.
type LearnedOptions struct {
	// Providers are the execution providers of every session, in order of
	// preference (see ParseProviders); nil means CPU only.
	Providers []Provider
	// IntraOpThreads and InterOpThreads size ONNX Runtime's thread pools;
	// 0 keeps its defaults.
	IntraOpThreads int
	InterOpThreads int
	// Steps and Guidance override the manifest's defaults.steps and
	// defaults.guidance when not 0; Guidance also overrides
	// defaults.guidance_low_noise (it sets both experts' scale).
	Steps    int
	Guidance float64
	// Logger receives the sessions' log lines (default slog.Default()).
	Logger *slog.Logger
}

// addedTimeIDs are the values fed to a denoiser's added_time_ids input per
// batch item: fps − 1 is filled in per job, then the motion bucket id and
// the noise augmentation strength of Stable Video Diffusion's defaults.
const (
	motionBucketID = 127
	noiseAugment   = 0.02
)

// LearnedEngine runs one model package. Its ONNX Runtime sessions are
// created once, checked against the manifest, and shared by every job; each
// job binds its own buffers, so jobs may run concurrently.
//
// Plan: the output size is the supported resolution whose aspect is closest
// to the still's (or to GenInput.Aspect when set): among the resolutions
// within 5% of the best aspect match, the largest whose longest side is at
// most GenInput.MaxSide (any when MaxSide is 0), else the smallest of them.
// The frame count is the supported count closest to Seconds·fps (ties take
// the longer), so a length the model cannot make becomes the nearest it can.
// The clip is always written at the manifest's fps rounded to an integer:
// GenInput.FPS is not applied (a model is trained for one frame rate).
// Frames are yuv420p. An end frame (GenInput.Tail) is refused.
//
// Generate: the still is scaled and centre-cropped to cover the output size;
// the prompt and the empty prompt go through the text encoder (one batch of
// 2 when guidance is on and the manifest asks for batched guidance, else
// separately); the still goes through the image encoder when there is one,
// and through the VAE encoder as the manifest's image_latent says ("video":
// the still followed by F−1 black frames; "image": the still alone); the
// latent is normalised as the manifest says, sampled with the manifest's
// sampler from the seed's noise, de-normalised, decoded, and each frame is
// converted to BT.709 limited-range yuv420p. With guidance, the
// unconditional branch takes the empty prompt and the same image
// conditioning; a model without text takes zeroed image conditioning
// instead. Progress is reported after each sampler step and once more when
// every frame is written: total = steps + 1.
//
// Variants of the contract: a package with a low-noise expert
// (components.denoiser_low_noise) has both denoisers loaded once; steps at
// noise levels from scheduler.boundary up run the denoiser, the others the
// low-noise expert, each at its guidance scale (LearnedOptions.Guidance
// sets both). A dynamic shift is computed from the planned clip's token
// count. Latents are kept as [C, T, h, w] per batch item and transposed at
// the buffer edges for a denoiser in layout bt_chw ([B·T, C, h, w]) and
// for per-frame (rank 4) VAEs. A scalar timestep is fed as [1] to the
// denoiser graph rewritten by model.VectorizeScalarInput, since
// onnxruntime_go binds no rank-0 tensors; its external data files, if any,
// are read from the denoiser's folder.
type LearnedEngine struct {
	pkg         *model.Package
	m           *model.Manifest
	opt         LearnedOptions
	steps       int
	guidance    float64
	guidanceLow float64 // the low-noise expert's scale, when there is one

	sessions map[string]*Session      // by component
	vecT     map[string]string        // denoiser component → name of its [1] input for a scalar timestep
	runs     map[string]*atomic.Int64 // denoiser component → runs, for tests
	hiddenD  int64                    // text encoder width D
	embed    []int64                  // image embedding shape after the batch
	imageHW  [2]int64                 // image encoder input size
	closed   atomic.Bool
}

var _ paimeng.Engine = (*LearnedEngine)(nil)

// NewLearnedEngine creates the sessions of pkg's components and checks them
// against the manifest with pkg.CheckIO.
func NewLearnedEngine(pkg *model.Package, opt LearnedOptions) (*LearnedEngine, error) {
	if pkg == nil {
		return nil, errors.New("inference: nil model package")
	}
	e := &LearnedEngine{pkg: pkg, m: &pkg.Manifest, opt: opt, sessions: map[string]*Session{},
		vecT: map[string]string{}, runs: map[string]*atomic.Int64{}}
	// The manifest again, as Load checked it: the engine's buffer shapes
	// rely on its layout rules.
	if err := e.m.Validate(filepath.Join(pkg.Dir, model.ManifestFile)); err != nil {
		return nil, err
	}
	e.steps, e.guidance = opt.Steps, opt.Guidance
	if e.steps == 0 {
		e.steps = e.m.Defaults.Steps
	}
	if e.guidance == 0 {
		e.guidance = e.m.Defaults.Guidance
	}
	e.guidanceLow = e.guidance
	if pkg.Component(model.CompDenoiserLowNoise) != nil {
		e.guidanceLow = e.m.GuidanceLowNoise(opt.Guidance)
	}
	if e.steps < 1 || !(e.guidance >= 1) || !(e.guidanceLow >= 1) {
		return nil, fmt.Errorf("inference: %s: %d steps and guidance %v (low-noise expert %v), want ≥ 1 each", e.m.Name, e.steps, e.guidance, e.guidanceLow)
	}
	if len(e.resolutions()) == 0 {
		return nil, fmt.Errorf("inference: %s: no resolution with even width and height", e.m.Name)
	}
	for _, c := range []string{model.CompTextEncoder, model.CompImageEncoder, model.CompVAEEncoder, model.CompDenoiser, model.CompDenoiserLowNoise, model.CompVAEDecoder} {
		if pkg.Component(c) == nil {
			continue
		}
		s, err := e.newSession(c)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.sessions[c] = s
		ins := ortInfos(s.Inputs())
		if vec := e.vecT[c]; vec != "" {
			// The session's [1] input is the manifest's scalar timestep.
			for i := range ins {
				if ins[i].Name == vec {
					ins[i].Name, ins[i].Dimensions = pkg.Component(c).Inputs[model.RoleTimestep].Name, ort.NewShape()
				}
			}
		}
		if err := pkg.CheckIO(c, ins, ortInfos(s.Outputs())); err != nil {
			e.Close()
			return nil, err
		}
		if c == model.CompDenoiser || c == model.CompDenoiserLowNoise {
			e.runs[c] = new(atomic.Int64)
		}
	}
	var err error
	if t := e.sessions[model.CompTextEncoder]; t != nil {
		var d []int64
		d, err = fixedTail(t, pkg.Component(model.CompTextEncoder).Outputs[model.RoleHiddenStates], 2)
		if err == nil {
			e.hiddenD = d[0]
		}
	}
	if s := e.sessions[model.CompImageEncoder]; s != nil && err == nil {
		c := pkg.Component(model.CompImageEncoder)
		var in []int64
		if in, err = fixedTail(s, c.Inputs[model.RoleImage], 1); err == nil {
			e.imageHW = [2]int64{in[1], in[2]}
			e.embed, err = fixedTail(s, c.Outputs[model.RoleImageEmbeds], 1)
		}
	}
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("inference: %s: %w", e.m.Name, err)
	}
	return e, nil
}

// newSession creates the session of a component. A denoiser whose
// manifest declares a scalar timestep gets its graph rewritten so that the
// timestep is a [1] input (model.VectorizeScalarInput), loaded from memory;
// e.vecT records the new input's name.
func (e *LearnedEngine) newSession(comp string) (*Session, error) {
	cfg := SessionConfig{
		Name:           e.m.Name + "/" + comp,
		Providers:      e.opt.Providers,
		IntraOpThreads: e.opt.IntraOpThreads,
		InterOpThreads: e.opt.InterOpThreads,
		Logger:         e.opt.Logger,
	}
	path := e.pkg.Path(comp)
	if comp == model.CompDenoiser || comp == model.CompDenoiserLowNoise {
		if t := e.pkg.Component(comp).Inputs[model.RoleTimestep]; t.Rank() == 0 {
			data, vec, ok, err := model.VectorizeScalarInput(path, t.Name)
			if err != nil {
				return nil, fmt.Errorf("inference: %s: components.%s.inputs.%s: a scalar timestep is fed through a rewritten graph: %w (export the timestep as [B] instead)",
					e.m.Name, comp, model.RoleTimestep, err)
			}
			if ok { // else the graph's input is not a scalar: CheckIO says so
				if len(e.pkg.Signatures[comp].ExternalData) > 0 {
					cfg.ExternalDataDir = filepath.Dir(path)
				}
				s, err := NewSession(data, cfg)
				if err == nil {
					e.vecT[comp] = vec
				}
				return s, err
			}
		}
	}
	return NewSessionFromFile(path, cfg)
}

// denoiserRuns returns how many times the denoiser component has run.
func (e *LearnedEngine) denoiserRuns(comp string) int64 {
	if r := e.runs[comp]; r != nil {
		return r.Load()
	}
	return 0
}

// fixedTail returns the dimensions of t from index from on, from the
// session's graph or, where the graph leaves them symbolic, the manifest.
func fixedTail(s *Session, t model.Tensor, from int) ([]int64, error) {
	ti, _, ok := s.info(t.Name)
	if !ok {
		return nil, fmt.Errorf("%s has no tensor %q", s.Name(), t.Name)
	}
	var out []int64
	for i := from; i < len(ti.Shape); i++ {
		d := ti.Shape[i]
		if d < 1 && i < len(t.Shape) && t.Shape[i].Fixed() {
			d = t.Shape[i].Size
		}
		if d < 1 {
			return nil, fmt.Errorf("%s: dimension %d of %q must be fixed", s.Name(), i, t.Name)
		}
		out = append(out, d)
	}
	return out, nil
}

// Name implements paimeng.Engine: the manifest's name.
func (e *LearnedEngine) Name() string { return e.m.Name }

// Package returns the engine's model package.
func (e *LearnedEngine) Package() *model.Package { return e.pkg }

// Close releases the sessions; running jobs fail with ErrClosed at their
// next network call. It is idempotent.
func (e *LearnedEngine) Close() error {
	e.closed.Store(true)
	var errs []error
	for _, s := range e.sessions {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// learnedPlan is a planned clip in the model's terms.
type learnedPlan struct {
	spec    paimeng.VideoSpec
	T, h, w int // latent frames and size
}

// resolutions lists the supported sizes a yuv420p frame can have.
func (e *LearnedEngine) resolutions() []model.Resolution {
	var rs []model.Resolution
	for _, r := range e.m.Resolutions {
		if r.Width%2 == 0 && r.Height%2 == 0 {
			rs = append(rs, r)
		}
	}
	return rs
}

// Plan implements paimeng.Engine; see LearnedEngine for the rules.
func (e *LearnedEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	p, err := e.plan(in)
	return p.spec, err
}

func (e *LearnedEngine) plan(in *paimeng.GenInput) (learnedPlan, error) {
	if in == nil || in.Image == nil {
		return learnedPlan{}, paimeng.Errorf(paimeng.ENoImage, "inference: no image")
	}
	if in.Tail != nil {
		return learnedPlan{}, paimeng.Errorf(paimeng.EBadOption, "inference: %s: this engine has no end frame", e.m.Name)
	}
	secs := in.Seconds
	if secs == 0 {
		secs = DefaultSeconds
	}
	if secs < 1 || secs > MaxSeconds {
		return learnedPlan{}, paimeng.Errorf(paimeng.EBadOption, "inference: seconds %d out of range 1..%d", in.Seconds, MaxSeconds)
	}
	if in.MaxSide < 0 {
		return learnedPlan{}, paimeng.Errorf(paimeng.EBadOption, "inference: longest side %d is negative", in.MaxSide)
	}
	b := in.Image.Bounds()
	if b.Dx() < 2 || b.Dy() < 2 {
		return learnedPlan{}, paimeng.Errorf(paimeng.EImageTooSmall, "inference: image %dx%d too small", b.Dx(), b.Dy())
	}
	aspect := float64(b.Dx()) / float64(b.Dy())
	if in.Aspect != paimeng.AspectKeep {
		aspect = in.Aspect.Ratio()
		if aspect == 0 {
			return learnedPlan{}, paimeng.Errorf(paimeng.EBadOption, "inference: aspect %q is not 16:9, 9:16 or 1:1", in.Aspect)
		}
	}
	res := pickResolution(e.resolutions(), aspect, in.MaxSide)
	fps := max(1, int(math.Round(e.m.FPS)))
	frames := pickFrames(e.m.Frames, float64(secs)*e.m.FPS)
	s := e.m.Latent.SpatialFactor
	return learnedPlan{
		spec: paimeng.VideoSpec{Width: res.Width, Height: res.Height, FPS: fps, Frames: frames, PixFmt: paimeng.PixYUV420P},
		T:    e.m.Latent.Frames(frames), h: res.Height / s, w: res.Width / s,
	}, nil
}

// pickResolution chooses among rs (not empty) for a picture of the given
// aspect and a longest side limit (0: none).
func pickResolution(rs []model.Resolution, aspect float64, maxSide int) model.Resolution {
	dist := func(r model.Resolution) float64 {
		return math.Abs(math.Log(float64(r.Width) / float64(r.Height) / aspect))
	}
	best := math.Inf(1)
	for _, r := range rs {
		best = math.Min(best, dist(r))
	}
	var near []model.Resolution
	for _, r := range rs {
		if dist(r) <= best+0.05 {
			near = append(near, r)
		}
	}
	area := func(r model.Resolution) int { return r.Width * r.Height }
	sort.SliceStable(near, func(i, j int) bool {
		if area(near[i]) != area(near[j]) {
			return area(near[i]) < area(near[j])
		}
		return dist(near[i]) < dist(near[j])
	})
	pick := near[0]
	for _, r := range near {
		if maxSide == 0 || max(r.Width, r.Height) <= maxSide {
			pick = r
		}
	}
	return pick
}

// pickFrames chooses the supported frame count closest to want; ties take
// the longer clip.
func pickFrames(fs []int, want float64) int {
	best := fs[0]
	for _, f := range fs[1:] {
		d, bd := math.Abs(float64(f)-want), math.Abs(float64(best)-want)
		if d < bd || d == bd && f > best {
			best = f
		}
	}
	return best
}

// Generate implements paimeng.Engine.
func (e *LearnedEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	p, err := e.plan(in)
	if err != nil {
		return err
	}
	if e.closed.Load() {
		return fmt.Errorf("inference: %s: %w", e.m.Name, ErrClosed)
	}
	j := &learnedJob{e: e, p: p}
	defer j.close()
	if err := j.prepare(in); err != nil {
		return err
	}
	s, err := j.sampler()
	if err != nil {
		return err
	}
	s.Reset(uint64(in.Seed))
	total := s.Steps() + 1
	var report func(done, _ int)
	if progress != nil {
		report = func(done, _ int) { progress(done, total) }
	}
	if err := sample.Run(ctx, s, report); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return fmt.Errorf("inference: %s: %w", e.m.Name, err)
	}
	if err := j.decode(ctx, s.Latent(), sink); err != nil {
		return err
	}
	if progress != nil {
		progress(total, total)
	}
	return nil
}

// learnedJob is one clip's buffers and conditioning. Latents are
// [C, T, h, w] per batch item in Go; the buffers of tensors in another
// layout are transposed when filled and read.
type learnedJob struct {
	e        *LearnedEngine
	p        learnedPlan
	n        int // latent values per batch item, C·T·h·w
	bindings []*Binding

	hidden [2][]float32 // text encoder output by branch
	mask   [2][]int32   // attention mask by branch
	ylat   []float32    // normalised image latent, [C, T or 1, h, w]
	embeds []float32    // image embedding

	denoiseSet             // the denoiser (the high-noise expert)
	low        *denoiseSet // the low-noise expert, if any
}

// denoiseSet is the bound calls of one denoiser.
type denoiseSet struct {
	pair   *denoiseCall    // batch of 2, conditional first
	single [2]*denoiseCall // batch of 1 by branch
}

// denoiseCall is a denoiser binding and its per-step buffers.
type denoiseCall struct {
	b         *Binding
	x, t, out *Buffer
	// frames says the latent buffers are [B·T, C, h, w] (layout bt_chw).
	frames    bool
	c, tn, hw int // C, T and h·w of an item
	runs      *atomic.Int64
	// inRun, when set, accumulates the time spent inside ONNX Runtime's
	// Run (DenoiserStep, for benchmarks).
	inRun *time.Duration
}

func (j *learnedJob) close() {
	for _, b := range j.bindings {
		b.Close()
	}
	j.bindings = nil
}

// bind makes a binding on a component's session that the job closes.
func (j *learnedJob) bind(comp string) (*Binding, error) {
	b, err := j.e.sessions[comp].NewBinding()
	if err != nil {
		return nil, err
	}
	j.bindings = append(j.bindings, b)
	return b, nil
}

// alloc binds a new buffer for a role of a component.
func (j *learnedJob) alloc(b *Binding, comp string, out bool, role string, shape ...int64) (*Buffer, error) {
	c := j.e.pkg.Component(comp)
	t := c.Inputs[role]
	if out {
		t = c.Outputs[role]
	}
	name := t.Name
	if vec := j.e.vecT[comp]; vec != "" && !out && role == model.RoleTimestep {
		name = vec
	}
	return b.Alloc(name, shape...)
}

// guided reports whether the denoiser (the high-noise expert) runs the
// unconditional branch.
func (j *learnedJob) guided() bool { return j.e.guidance != 1 }

// unconditional reports whether any denoiser runs the unconditional branch.
func (j *learnedJob) unconditional() bool {
	return j.guided() || j.e.sessions[model.CompDenoiserLowNoise] != nil && j.e.guidanceLow != 1
}

// latentShape is the buffer shape of a latent tensor in the denoiser's
// layout, for B items of T frames, or of a VAE's rank 4 or 5 tensor.
func latentShape(rank4 bool, B, C, T, h, w int64) []int64 {
	if rank4 {
		return []int64{B * T, C, h, w}
	}
	return []int64{B, C, T, h, w}
}

// putLatent writes one item src, [C, T, hw] in Go's layout, into buffer b
// from element off: as it is, or with frames first ([T, C, hw]) when
// frames is set. It allocates nothing.
func putLatent(b *Buffer, off int, src []float32, C, T, hw int, frames bool) {
	if !frames {
		putFloats(b, off, src)
		return
	}
	for c := range C {
		for t := range T {
			putFloats(b, off+(t*C+c)*hw, src[(c*T+t)*hw:(c*T+t+1)*hw])
		}
	}
}

// getLatent reads one item into dst, [C, T, hw], from buffer b at element
// off, transposing from [T, C, hw] when frames is set.
func getLatent(b *Buffer, off int, dst []float32, C, T, hw int, frames bool) {
	if !frames {
		getFloats(b, off, dst)
		return
	}
	for c := range C {
		for t := range T {
			getFloats(b, off+(t*C+c)*hw, dst[(c*T+t)*hw:(c*T+t+1)*hw])
		}
	}
}

// prepare computes the conditioning and binds the denoiser.
func (j *learnedJob) prepare(in *paimeng.GenInput) error {
	e, p := j.e, j.p
	m := e.m
	j.n = m.Latent.Channels * p.T * p.h * p.w
	if e.sessions[model.CompTextEncoder] != nil {
		if err := j.encodeText(in.Prompt); err != nil {
			return err
		}
	}
	if e.sessions[model.CompImageEncoder] != nil {
		if err := j.encodeImage(in.Image); err != nil {
			return err
		}
	}
	if _, ok := e.pkg.Component(model.CompDenoiser).Inputs[model.RoleImageLatent]; ok {
		if err := j.encodeLatent(in.Image); err != nil {
			return err
		}
	}
	if err := j.bindDenoiser(&j.denoiseSet, model.CompDenoiser, e.guidance); err != nil {
		return fmt.Errorf("inference: %s: denoiser: %w", m.Name, err)
	}
	if e.sessions[model.CompDenoiserLowNoise] != nil {
		j.low = &denoiseSet{}
		if err := j.bindDenoiser(j.low, model.CompDenoiserLowNoise, e.guidanceLow); err != nil {
			return fmt.Errorf("inference: %s: low-noise denoiser: %w", m.Name, err)
		}
	}
	return nil
}

// bindDenoiser binds the calls a denoiser needs at a guidance scale.
func (j *learnedJob) bindDenoiser(set *denoiseSet, comp string, guidance float64) error {
	var err error
	switch {
	case guidance == 1:
		set.single[sample.Conditional], err = j.newDenoiseCall(comp, sample.Conditional)
	case j.e.m.BatchedGuidance:
		set.pair, err = j.newDenoiseCall(comp, sample.Conditional, sample.Unconditional)
	default:
		set.single[sample.Conditional], err = j.newDenoiseCall(comp, sample.Conditional)
		if err == nil {
			set.single[sample.Unconditional], err = j.newDenoiseCall(comp, sample.Unconditional)
		}
	}
	return err
}

// encodeText runs the text encoder on the prompt and, with guidance, on the
// empty prompt.
func (j *learnedJob) encodeText(prompt string) error {
	e := j.e
	L := int64(e.m.Text.MaxLength)
	prompts := []string{prompt}
	if j.unconditional() {
		prompts = append(prompts, "")
	}
	for r, s := range prompts {
		_, j.mask[r] = e.pkg.Tokenizer.EncodePadded(s, int(L))
		j.hidden[r] = make([]float32, L*e.hiddenD)
	}
	batch := 1
	if j.unconditional() && e.m.BatchedGuidance {
		batch = 2
	}
	fail := func(err error) error { return fmt.Errorf("inference: %s: text encoder: %w", e.m.Name, err) }
	comp := model.CompTextEncoder
	b, err := j.bind(comp)
	if err != nil {
		return fail(err)
	}
	ids, err := j.alloc(b, comp, false, model.RoleInputIDs, int64(batch), L)
	if err != nil {
		return fail(err)
	}
	var mask *Buffer
	if _, ok := e.pkg.Component(comp).Inputs[model.RoleAttentionMask]; ok {
		if mask, err = j.alloc(b, comp, false, model.RoleAttentionMask, int64(batch), L); err != nil {
			return fail(err)
		}
	}
	hidden, err := j.alloc(b, comp, true, model.RoleHiddenStates, int64(batch), L, e.hiddenD)
	if err != nil {
		return fail(err)
	}
	per := int(L * e.hiddenD)
	for first := 0; first < len(prompts); first += batch {
		for r := range batch {
			tok, _ := e.pkg.Tokenizer.EncodePadded(prompts[first+r], int(L))
			for i := range tok {
				putNumber(ids, r*int(L)+i, float64(tok[i]))
				if mask != nil {
					putNumber(mask, r*int(L)+i, float64(j.mask[first+r][i]))
				}
			}
		}
		if err := b.Run(); err != nil {
			return fail(err)
		}
		for r := range batch {
			getFloats(hidden, r*per, j.hidden[first+r])
		}
	}
	return nil
}

// pixels returns the still covering w×h as [3, h, w] values in [-1, 1].
func pixels(img image.Image, w, h int) []float32 {
	crop := coverCrop(img, image.Rect(0, 0, w, h))
	b := crop.Bounds()
	rgba, ok := crop.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), crop, b.Min, draw.Src)
	}
	cw, ch := rgba.Rect.Dx(), rgba.Rect.Dy()
	out := make([]float32, 3*w*h)
	for c := range 3 {
		pl := plane{pix: make([]byte, cw*ch), w: cw, h: ch}
		for y := range ch {
			row := rgba.Pix[y*rgba.Stride:]
			for x := range cw {
				pl.pix[y*cw+x] = row[4*x+c]
			}
		}
		r := resize(pl, w, h)
		dst := out[c*w*h : (c+1)*w*h]
		for i, v := range r.pix {
			dst[i] = float32(v)/127.5 - 1
		}
	}
	return out
}

// encodeImage runs the image encoder on the still at the encoder's size.
func (j *learnedJob) encodeImage(img image.Image) error {
	e := j.e
	comp := model.CompImageEncoder
	fail := func(err error) error { return fmt.Errorf("inference: %s: image encoder: %w", e.m.Name, err) }
	b, err := j.bind(comp)
	if err != nil {
		return fail(err)
	}
	H, W := e.imageHW[0], e.imageHW[1]
	px, err := j.alloc(b, comp, false, model.RoleImage, 1, 3, H, W)
	if err != nil {
		return fail(err)
	}
	out, err := j.alloc(b, comp, true, model.RoleImageEmbeds, append([]int64{1}, e.embed...)...)
	if err != nil {
		return fail(err)
	}
	putFloats(px, 0, pixels(img, int(W), int(H)))
	if err := b.Run(); err != nil {
		return fail(err)
	}
	j.embeds = make([]float32, out.Len())
	getFloats(out, 0, j.embeds)
	return nil
}

// encodeLatent VAE-encodes the still as the manifest's image_latent says
// and normalises the latent.
func (j *learnedJob) encodeLatent(img image.Image) error {
	e, p := j.e, j.p
	m := e.m
	comp := model.CompVAEEncoder
	fail := func(err error) error { return fmt.Errorf("inference: %s: VAE encoder: %w", m.Name, err) }
	F, T := int64(p.spec.Frames), int64(p.T)
	if m.ImageLatent == model.ImageLatentImage {
		F, T = 1, 1
	}
	H, W := int64(p.spec.Height), int64(p.spec.Width)
	C, h, w := int64(m.Latent.Channels), int64(p.h), int64(p.w)
	b, err := j.bind(comp)
	if err != nil {
		return fail(err)
	}
	// A per-frame VAE takes [F, 3, H, W] and gives [T, C, h, w].
	rank4 := e.pkg.Component(comp).Inputs[model.RoleImage].Rank() == 4
	video, err := j.alloc(b, comp, false, model.RoleImage, latentShape(rank4, 1, 3, F, H, W)...)
	if err != nil {
		return fail(err)
	}
	lat, err := j.alloc(b, comp, true, model.RoleLatent, latentShape(rank4, 1, C, T, h, w)...)
	if err != nil {
		return fail(err)
	}
	still := pixels(img, int(W), int(H))
	frame := int(H * W)
	for c := range 3 {
		for f := range int(F) {
			off := (c*int(F) + f) * frame
			if rank4 {
				off = (f*3 + c) * frame
			}
			if f == 0 {
				putFloats(video, off, still[c*frame:(c+1)*frame])
			} else {
				fillFloats(video, off, frame, -1) // black
			}
		}
	}
	if err := b.Run(); err != nil {
		return fail(err)
	}
	j.ylat = make([]float32, lat.Len())
	getLatent(lat, 0, j.ylat, int(C), int(T), int(h*w), rank4)
	normalise(m.Latent, j.ylat, int(C), true)
	return nil
}

// normalise maps a raw latent [C, …] to the denoiser's space (enc) or back.
func normalise(l model.Latent, v []float32, channels int, enc bool) {
	per := len(v) / channels
	for c := range channels {
		shift, scale := l.Shift(c), l.Scale(c)
		s := v[c*per : (c+1)*per]
		for i, x := range s {
			if enc {
				s[i] = float32((float64(x) - shift) * scale)
			} else {
				s[i] = float32(float64(x)/scale + shift)
			}
		}
	}
}

// newDenoiseCall binds a batch of a denoiser component whose items take
// the given branches' conditioning.
func (j *learnedJob) newDenoiseCall(comp string, branches ...sample.Branch) (*denoiseCall, error) {
	e, p := j.e, j.p
	m := e.m
	ins := e.pkg.Component(comp).Inputs
	B := int64(len(branches))
	C, T, h, w := int64(m.Latent.Channels), int64(p.T), int64(p.h), int64(p.w)
	b, err := j.bind(comp)
	if err != nil {
		return nil, err
	}
	frames := m.DenoiserLayout() == model.LayoutBTCHW
	dc := &denoiseCall{b: b, frames: frames, c: int(C), tn: int(T), hw: int(h * w), runs: e.runs[comp]}
	if dc.x, err = j.alloc(b, comp, false, model.RoleLatent, latentShape(frames, B, C, T, h, w)...); err != nil {
		return nil, err
	}
	tb := B // one time per batch item; a scalar goes as [1]
	if e.vecT[comp] != "" {
		tb = 1
	}
	if dc.t, err = j.alloc(b, comp, false, model.RoleTimestep, tb); err != nil {
		return nil, err
	}
	if dc.out, err = j.alloc(b, comp, true, model.RolePrediction, latentShape(frames, B, C, T, h, w)...); err != nil {
		return nil, err
	}
	// Without text, the unconditional branch is the unconditioned image.
	zeroImage := func(br sample.Branch) bool { return br == sample.Unconditional && m.Text == nil }
	if _, ok := ins[model.RoleEncoderHiddenStates]; ok {
		L := int64(m.Text.MaxLength)
		buf, err := j.alloc(b, comp, false, model.RoleEncoderHiddenStates, B, L, e.hiddenD)
		if err != nil {
			return nil, err
		}
		for r, br := range branches {
			putFloats(buf, r*int(L*e.hiddenD), j.hidden[br])
		}
	}
	if _, ok := ins[model.RoleEncoderAttentionMask]; ok {
		L := int64(m.Text.MaxLength)
		buf, err := j.alloc(b, comp, false, model.RoleEncoderAttentionMask, B, L)
		if err != nil {
			return nil, err
		}
		for r, br := range branches {
			for i, v := range j.mask[br] {
				putNumber(buf, r*int(L)+i, float64(v))
			}
		}
	}
	if _, ok := ins[model.RoleImageLatent]; ok {
		Ty := T
		if m.ImageLatent == model.ImageLatentImage {
			Ty = 1
		}
		buf, err := j.alloc(b, comp, false, model.RoleImageLatent, latentShape(frames, B, C, Ty, h, w)...)
		if err != nil {
			return nil, err
		}
		for r, br := range branches {
			if !zeroImage(br) {
				putLatent(buf, r*len(j.ylat), j.ylat, int(C), int(Ty), int(h*w), frames)
			}
		}
	}
	if _, ok := ins[model.RoleImageEmbeds]; ok {
		if j.embeds == nil {
			return nil, errors.New("image_embeds needs an image encoder")
		}
		buf, err := j.alloc(b, comp, false, model.RoleImageEmbeds, append([]int64{B}, e.embed...)...)
		if err != nil {
			return nil, err
		}
		for r, br := range branches {
			if !zeroImage(br) {
				putFloats(buf, r*len(j.embeds), j.embeds)
			}
		}
	}
	if _, ok := ins[model.RoleAddedTimeIDs]; ok {
		buf, err := j.alloc(b, comp, false, model.RoleAddedTimeIDs, B, 3)
		if err != nil {
			return nil, err
		}
		for r := range branches {
			putFloats(buf, 3*r, []float32{float32(m.FPS - 1), motionBucketID, noiseAugment})
		}
	}
	return dc, nil
}

// sampler builds the manifest's sampler over the job's denoiser.
func (j *learnedJob) sampler() (sample.Sampler, error) {
	e := j.e
	var s sample.Sampler
	var err error
	switch e.m.Kind {
	case model.KindEDM:
		s, err = sample.NewEDMEuler(e.m.EDMConfig(e.steps, e.guidance), j.n, j.denoise)
	default:
		cfg := e.m.FlowConfig(e.steps, e.guidance)
		cfg.Tokens = e.m.Tokens(model.Resolution{Width: j.p.spec.Width, Height: j.p.spec.Height}, j.p.spec.Frames)
		if cfg.LowNoise != nil {
			if j.low == nil {
				return nil, fmt.Errorf("inference: %s: the low-noise denoiser is not bound", e.m.Name)
			}
			cfg.LowNoise.Model, cfg.LowNoise.Guidance = j.denoiseLow, e.guidanceLow
		}
		s, err = sample.NewFlowEuler(cfg, j.n, j.denoise)
	}
	if err != nil {
		return nil, fmt.Errorf("inference: %s: %w", e.m.Name, err)
	}
	return s, nil
}

// denoise is the job's sample.Denoiser for the denoiser (the high-noise
// expert): it copies the latents and the time into the bound buffers (one
// batch of 2 for a guided pair when the model takes it, else one call per
// item), runs the denoiser and copies the predictions out. It allocates
// nothing.
func (j *learnedJob) denoise(_ context.Context, x []float32, t float32, branches []sample.Branch, out []float32) error {
	return j.denoiseSet.run(j, x, t, branches, out)
}

// denoiseLow is denoise for the low-noise expert.
func (j *learnedJob) denoiseLow(_ context.Context, x []float32, t float32, branches []sample.Branch, out []float32) error {
	return j.low.run(j, x, t, branches, out)
}

func (s *denoiseSet) run(j *learnedJob, x []float32, t float32, branches []sample.Branch, out []float32) error {
	if len(branches) == 2 && s.pair != nil && branches[0] == sample.Conditional && branches[1] == sample.Unconditional {
		return s.pair.run(x, t, out)
	}
	n := j.n
	for i, br := range branches {
		var c *denoiseCall
		if int(br) < len(s.single) {
			c = s.single[br]
		}
		if c == nil {
			return fmt.Errorf("inference: %s: no denoiser binding for the %v branch", j.e.m.Name, br)
		}
		if err := c.run(x[i*n:(i+1)*n], t, out[i*n:(i+1)*n]); err != nil {
			return err
		}
	}
	return nil
}

// run runs the call on the len(x)/n items of x, each [C, T, h, w].
func (c *denoiseCall) run(x []float32, t float32, out []float32) error {
	n := c.c * c.tn * c.hw
	for i := 0; i < len(x); i += n {
		putLatent(c.x, i, x[i:i+n], c.c, c.tn, c.hw, c.frames)
	}
	for i := range c.t.Len() {
		putNumber(c.t, i, float64(t))
	}
	var start time.Time
	if c.inRun != nil {
		start = time.Now()
	}
	if err := c.b.Run(); err != nil {
		return err
	}
	if c.inRun != nil {
		*c.inRun += time.Since(start)
	}
	if c.runs != nil {
		c.runs.Add(1)
	}
	for i := 0; i < len(out); i += n {
		getLatent(c.out, i, out[i:i+n], c.c, c.tn, c.hw, c.frames)
	}
	return nil
}

// decode de-normalises the latent z, runs the VAE decoder and writes the
// frames to sink as yuv420p.
func (j *learnedJob) decode(ctx context.Context, z []float32, sink paimeng.FrameSink) error {
	e, p := j.e, j.p
	m := e.m
	comp := model.CompVAEDecoder
	fail := func(err error) error { return fmt.Errorf("inference: %s: VAE decoder: %w", m.Name, err) }
	C, T, h, w := int64(m.Latent.Channels), int64(p.T), int64(p.h), int64(p.w)
	F, H, W := p.spec.Frames, p.spec.Height, p.spec.Width
	b, err := j.bind(comp)
	if err != nil {
		return fail(err)
	}
	// A per-frame VAE takes [T, C, h, w] and gives [F, 3, H, W].
	rank4 := e.pkg.Component(comp).Inputs[model.RoleLatent].Rank() == 4
	lat, err := j.alloc(b, comp, false, model.RoleLatent, latentShape(rank4, 1, C, T, h, w)...)
	if err != nil {
		return fail(err)
	}
	video, err := j.alloc(b, comp, true, model.RoleVideo, latentShape(rank4, 1, 3, int64(F), int64(H), int64(W))...)
	if err != nil {
		return fail(err)
	}
	raw := append([]float32(nil), z...)
	normalise(m.Latent, raw, int(C), false)
	putLatent(lat, 0, raw, int(C), int(T), int(h*w), rank4)
	if err := b.Run(); err != nil {
		return fail(err)
	}
	n := W * H
	rgb := make([]float32, 3*n)
	frame := make([]byte, p.spec.FrameSize())
	for f := range F {
		if err := ctx.Err(); err != nil {
			return err
		}
		for c := range 3 {
			off := (c*F + f) * n
			if rank4 {
				off = (f*3 + c) * n
			}
			getFloats(video, off, rgb[c*n:(c+1)*n])
		}
		toYUV420(frame, rgb, W, H)
		if err := sink.WriteFrame(frame); err != nil {
			return fmt.Errorf("inference: write frame %d: %w", f, err)
		}
	}
	return nil
}

// toYUV420 converts planar RGB in [-1, 1] (w×h each, w and h even) to
// BT.709 limited-range yuv420p in dst, chroma from 2×2 averages: the
// camera engine's conversion.
func toYUV420(dst []byte, rgb []float32, w, h int) {
	mat, off := rgbToYUV709()
	n := w * h
	r, g, b := rgb[:n], rgb[n:2*n], rgb[2*n:3*n]
	to := func(v float32) float32 {
		v = (v + 1) * 127.5
		if !(v >= 0) { // also NaN
			return 0
		}
		return min(v, 255)
	}
	y := dst[:n]
	for i := range y {
		y[i] = byte(mat[0]*to(r[i]) + mat[1]*to(g[i]) + mat[2]*to(b[i]) + off[0])
	}
	cw := w / 2
	u, v := dst[n:n+n/4], dst[n+n/4:n+n/2]
	for cy := range h / 2 {
		for cx := range cw {
			i0 := 2*cy*w + 2*cx
			i1 := i0 + w
			var s [3]float32
			for c, pl := range [3][]float32{r, g, b} {
				s[c] = (to(pl[i0]) + to(pl[i0+1]) + to(pl[i1]) + to(pl[i1+1])) / 4
			}
			u[cy*cw+cx] = byte(mat[3]*s[0] + mat[4]*s[1] + mat[5]*s[2] + off[1])
			v[cy*cw+cx] = byte(mat[6]*s[0] + mat[7]*s[1] + mat[8]*s[2] + off[2])
		}
	}
}

// putFloats writes src into a float buffer from element off, converting to
// its element type.
func putFloats(b *Buffer, off int, src []float32) {
	switch b.DType() {
	case Float16:
		dst := b.Float16()[off : off+len(src)]
		for i, v := range src {
			dst[i] = HalfFromFloat32(v)
		}
	default:
		copy(b.Float32()[off:off+len(src)], src)
	}
}

// fillFloats sets n elements of a float buffer from element off to v.
func fillFloats(b *Buffer, off, n int, v float32) {
	switch b.DType() {
	case Float16:
		h := HalfFromFloat32(v)
		dst := b.Float16()[off : off+n]
		for i := range dst {
			dst[i] = h
		}
	default:
		dst := b.Float32()[off : off+n]
		for i := range dst {
			dst[i] = v
		}
	}
}

// getFloats reads len(dst) elements of a float buffer from element off.
func getFloats(b *Buffer, off int, dst []float32) {
	switch b.DType() {
	case Float16:
		for i, h := range b.Float16()[off : off+len(dst)] {
			dst[i] = h.Float32()
		}
	default:
		copy(dst, b.Float32()[off:off+len(dst)])
	}
}

// putNumber writes one value into element i of a buffer of any numeric
// type the contract allows (integers are rounded).
func putNumber(b *Buffer, i int, v float64) {
	switch b.DType() {
	case Float32:
		b.Float32()[i] = float32(v)
	case Float16:
		b.Float16()[i] = HalfFromFloat32(float32(v))
	case Float64:
		b.Float64()[i] = v
	case Int64:
		b.Int64()[i] = int64(math.Round(v))
	case Int32:
		b.Int32()[i] = int32(math.Round(v))
	case Bool:
		b.Bool()[i] = v != 0
	case Uint8:
		b.Uint8()[i] = uint8(math.Round(v))
	case Int8:
		b.Int8()[i] = int8(math.Round(v))
	case BFloat16:
		b.BFloat16()[i] = BHalfFromFloat32(float32(v))
	}
}

// LoadModels loads every package under dir, one per subfolder holding a
// model.json, as learned engines keyed by manifest name. A folder whose
// package does not load, whose sessions fail, or whose name repeats an
// earlier folder's is reported in the errors (naming the folder) and
// skipped; the others still load. Folders without a model.json are ignored.
func LoadModels(dir string, opt LearnedOptions) (map[string]*LearnedEngine, []error) {
	engines := map[string]*LearnedEngine{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return engines, []error{fmt.Errorf("inference: models folder: %w", err)}
	}
	var errs []error
	for _, ent := range ents { // ReadDir sorts by name
		sub := filepath.Join(dir, ent.Name())
		if st, err := os.Stat(sub); err != nil || !st.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, model.ManifestFile)); err != nil {
			continue
		}
		pkg, err := model.Load(sub)
		if err != nil {
			errs = append(errs, fmt.Errorf("inference: model package %s: %w", sub, err))
			continue
		}
		if old := engines[pkg.Manifest.Name]; old != nil {
			errs = append(errs, fmt.Errorf("inference: model package %s: name %q is taken by %s", sub, pkg.Manifest.Name, old.pkg.Dir))
			continue
		}
		e, err := NewLearnedEngine(pkg, opt)
		if err != nil {
			errs = append(errs, fmt.Errorf("inference: model package %s: %w", sub, err))
			continue
		}
		engines[pkg.Manifest.Name] = e
	}
	return engines, errs
}
