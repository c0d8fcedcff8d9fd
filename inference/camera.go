package inference

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/paimeng/paimeng"
)

// Clip defaults.
const (
	DefaultSeconds = 5
	MaxSeconds     = 10
	DefaultMaxSide = 1280
	// Level of detail for a view that shrinks the picture by σ: log2 σ,
	// plus up to lodBias more (reached at log2 σ = lodRamp) so that
	// detail just above the output's Nyquist frequency is filtered rather
	// than aliased, while views at 1:1 stay sharp.
	lodBias = 0.5
	lodRamp = 0.5
)

// CameraOptions configures the camera-motion engine. Zero values pick defaults.
type CameraOptions struct {
	// Workers is how many frames are rendered at once; default one per
	// core. Workers wait while the encoder catches up, so they never take
	// time from it.
	Workers int
	MaxSide int // longest output side when GenInput.MaxSide is 0, never upscaling; default 1280
}

// CameraEngine animates a still with a virtual camera: a perspective
// camera over the picture plane that travels, turns, rolls, zooms, orbits
// and shakes as the shot says (see shot.go), with fades and an optional
// dissolve to an end frame. The still is converted once per job to BT.709
// Y'CbCr planes at the resolution the tightest view needs; a mip pyramid
// of those planes is then sampled per frame through the frame's homography
// by a fixed-point trilinear renderer that writes yuv420p straight into the
// encoder's buffers, several frames at once. refGraph is the same renderer
// as an ONNX graph, the reference it is tested against. The engine itself
// needs no ONNX Runtime.
type CameraEngine struct {
	opt    CameraOptions
	closed atomic.Bool
}

var _ paimeng.Engine = (*CameraEngine)(nil)

// NewCameraEngine returns the engine, warmed up on a tiny clip.
func NewCameraEngine(opts CameraOptions) (*CameraEngine, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.MaxSide <= 0 {
		opts.MaxSide = DefaultMaxSide
	}
	e := &CameraEngine{opt: opts}
	warm := image.NewRGBA(image.Rect(0, 0, 64, 64))
	if err := e.Generate(context.Background(), &paimeng.GenInput{Image: warm, Seconds: 1}, discard{}, nil); err != nil {
		return nil, fmt.Errorf("inference: warm up: %w", err)
	}
	return e, nil
}

type discard struct{}

func (discard) WriteFrame([]byte) error { return nil }

// Close stops the engine from taking more clips.
func (e *CameraEngine) Close() error {
	e.closed.Store(true)
	return nil
}

// Name implements paimeng.Engine.
func (e *CameraEngine) Name() string { return "camera" }

// layout is a clip's output geometry: the frame and the content rect the
// picture fills (the rest is letterbox).
type layout struct {
	spec    paimeng.VideoSpec
	content rect
}

// Plan implements paimeng.Engine: yuv420p at 24 fps (or 30), even
// dimensions, the picture's aspect kept. The longest side is GenInput.MaxSide
// exactly when set (a resolution preset), else the picture's own size up to
// the engine's MaxSide. With an Aspect the frame takes that shape at the same
// longest side and the picture is letterboxed into it.
func (e *CameraEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	l, err := e.layout(in)
	return l.spec, err
}

func (e *CameraEngine) layout(in *paimeng.GenInput) (layout, error) {
	if in == nil || in.Image == nil {
		return layout{}, paimeng.Errorf(paimeng.ENoImage, "inference: no image")
	}
	secs := in.Seconds
	if secs == 0 {
		secs = DefaultSeconds
	}
	if secs < 1 || secs > MaxSeconds {
		return layout{}, paimeng.Errorf(paimeng.EBadOption, "inference: seconds %d out of range 1..%d", in.Seconds, MaxSeconds)
	}
	fps := in.FPS
	if fps == 0 {
		fps = paimeng.DefaultFPS
	}
	if !paimeng.ValidFPS(fps) {
		return layout{}, paimeng.Errorf(paimeng.EBadOption, "inference: fps %d is not 24 or 30", in.FPS)
	}
	ratio := in.Aspect.Ratio()
	if in.Aspect != paimeng.AspectKeep && ratio == 0 {
		return layout{}, paimeng.Errorf(paimeng.EBadOption, "inference: aspect %q is not 16:9, 9:16 or 1:1", in.Aspect)
	}
	b := in.Image.Bounds()
	side := in.MaxSide
	if side <= 0 {
		side = min(e.opt.MaxSide, max(b.Dx(), b.Dy()))
	}
	w, h := outputSize(b.Dx(), b.Dy(), side)
	content := rect{0, 0, w, h}
	if ratio > 0 {
		if ratio >= 1 {
			w, h = even(float64(side)), even(float64(side)/ratio)
		} else {
			w, h = even(float64(side)*ratio), even(float64(side))
		}
		content.w, content.h = outputSize(b.Dx(), b.Dy(), side)
		if content.w > w {
			content.w, content.h = w, even(float64(w)*float64(b.Dy())/float64(b.Dx()))
		}
		if content.h > h {
			content.w, content.h = even(float64(h)*float64(b.Dx())/float64(b.Dy())), h
		}
		content.x, content.y = ((w-content.w)/2)&^1, ((h-content.h)/2)&^1
	}
	if content.w < 2 || content.h < 2 {
		return layout{}, paimeng.Errorf(paimeng.EImageTooSmall, "inference: image %dx%d too small", b.Dx(), b.Dy())
	}
	spec := paimeng.VideoSpec{Width: w, Height: h, FPS: fps, Frames: secs * fps, PixFmt: paimeng.PixYUV420P}
	return layout{spec: spec, content: content}, nil
}

// outputSize scales w×h so the longest side is maxSide, with even sides.
func outputSize(w, h, maxSide int) (int, int) {
	s := float64(maxSide) / float64(max(w, h))
	return max(2, even(float64(w)*s)), max(2, even(float64(h)*s))
}

// even rounds down to an even integer after rounding to the nearest.
func even(v float64) int { return int(math.Round(v)) &^ 1 }

// clipPlan is a planned clip: per-frame parameters and the working size.
type clipPlan struct {
	frames []frameParams
	ws, hs int // level-0 plane size
	levels int
}

// plan works out every frame's homography, level of detail, fade and
// dissolve, and the working resolution of the picture.
func plan(in *paimeng.GenInput, l layout) clipPlan {
	b := in.Image.Bounds()
	v := view{aspect: float64(b.Dx()) / float64(b.Dy()), wo: l.content.w, ho: l.content.h}
	vw, vh := v.viewSize()
	cams := shotPath(effectiveShot(in.Shot), l.spec.Frames, l.spec.FPS, in.Seed, vw, vh, in.Tail != nil)
	k := v.coverZoom(cams)
	worlds := make([]mat3, len(cams))
	// The working size: enough pixels for the tightest view anywhere in the
	// clip, never more than the picture has.
	toSrc := v.worldToPixels(b.Dx(), b.Dy())
	minStep := math.Inf(1)
	for i, c := range cams {
		worlds[i] = v.toWorld(c.pose, k)
		hs := toSrc.mul(worlds[i])
		for _, pt := range [5][2]float64{{0.5, 0.5}, {0, 0}, {1, 0}, {0, 1}, {1, 1}} {
			minStep = math.Min(minStep, scaleAt(hs, pt[0]*float64(v.wo), pt[1]*float64(v.ho)))
		}
	}
	r := 1.0
	if minStep > 1 {
		r = 1 / minStep
	}
	p := clipPlan{frames: make([]frameParams, len(cams))}
	p.ws = max(2, even(float64(b.Dx())*r))
	p.hs = max(2, even(float64(b.Dy())*r))
	toWork := v.worldToPixels(p.ws, p.hs)
	maxLod := 0.0
	for i, c := range cams {
		hy := toWork.mul(worlds[i])
		lod := lodFor(scaleAt(hy, float64(v.wo)/2, float64(v.ho)/2))
		maxLod = math.Max(maxLod, lod)
		p.frames[i] = frameParams{
			hy:   hy,
			hc:   mat3{0.5, 0, 0, 0, 0.5, 0, 0, 0, 1}.mul(hy).mul(mat3{2, 0, 0, 0, 2, 0, 0, 0, 1}),
			lod:  lod,
			gain: c.gain,
			tail: c.tail,
			rect: l.content,
		}
	}
	// Levels down to the one the widest view needs, while the chroma
	// planes keep at least two pixels.
	p.levels = 1
	for float64(p.levels-1) < math.Floor(maxLod)+1 && min(p.ws, p.hs)>>(p.levels+1) >= 2 {
		p.levels++
	}
	return p
}

// lodFor is the level of detail for a sampling step of sigma source pixels
// per output pixel.
func lodFor(sigma float64) float64 {
	l := math.Log2(sigma)
	if !(l > 0) {
		return 0
	}
	return l + lodBias*math.Min(1, l/lodRamp)
}

// Generate implements paimeng.Engine.
func (e *CameraEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	l, err := e.layout(in)
	if err != nil {
		return err
	}
	if e.closed.Load() {
		return errors.New("inference: camera engine closed")
	}
	p := plan(in, l)
	a := buildPyramid(in.Image, p)
	var b *pyramid
	if in.Tail != nil {
		b = buildPyramid(coverCrop(in.Tail, in.Image.Bounds()), p)
	}
	return e.render(ctx, l.spec, p.frames, a, b, sink, progress)
}

// coverCrop returns the centred part of img with the shape of ref.
func coverCrop(img image.Image, ref image.Rectangle) image.Image {
	r := coverRect(img.Bounds(), ref)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

// coverRect is the centred part of b with the shape of ref.
func coverRect(b, ref image.Rectangle) image.Rectangle {
	want := float64(ref.Dx()) / float64(ref.Dy())
	w, h := b.Dx(), b.Dy()
	if float64(w)/float64(h) > want {
		w = max(1, int(math.Round(float64(h)*want)))
	} else {
		h = max(1, int(math.Round(float64(w)/want)))
	}
	return image.Rect(0, 0, w, h).Add(b.Min).Add(image.Pt((b.Dx()-w)/2, (b.Dy()-h)/2))
}

// pyramid converts img to BT.709 planes of the plan's working size and
// builds the levels the plan needs.
func buildPyramid(img image.Image, p clipPlan) *pyramid {
	y, u, v := toPlanes(img, p.ws, p.hs)
	return newPyramid(y, u, v, p.levels)
}

// slot is one frame on its way to the sink.
type slot struct {
	i    int
	buf  []byte // nil when the frame repeats the previous one
	done chan error
}

// render draws frames on Workers goroutines while the caller's goroutine
// writes them to the sink in order, so rendering overlaps with the encoder
// draining its pipe. A frame whose parameters equal the previous frame's is
// not drawn again (static shots).
func (e *CameraEngine) render(ctx context.Context, spec paimeng.VideoSpec, frames []frameParams, a, b *pyramid, sink paimeng.FrameSink, progress func(done, total int)) error {
	workers := e.opt.Workers
	depth := 2*workers + 2
	free := make(chan []byte, depth+1)
	for range depth + 1 {
		free <- make([]byte, spec.FrameSize())
	}
	work := make(chan slot, depth)
	order := make(chan slot, depth)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	wg.Add(1)
	go func() { // dispatcher
		defer wg.Done()
		defer close(work)
		defer close(order)
		for i := range frames {
			s := slot{i: i, done: make(chan error, 1)}
			if i > 0 && frames[i] == frames[i-1] {
				s.done <- nil
			} else {
				select {
				case s.buf = <-free:
				case <-ctx.Done():
					return
				}
				select {
				case work <- s:
				case <-ctx.Done():
					return
				}
			}
			select {
			case order <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newScratch(spec.Width)
			for s := range work {
				renderFrame(s.buf, spec.Width, spec.Height, a, b, &frames[s.i], sc)
				s.done <- nil
			}
		}()
	}

	step := max(1, spec.FPS/4)
	var prev []byte
	done := 0
	for s := range order {
		var err error
		select {
		case err = <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if s.buf != nil {
			if prev != nil {
				free <- prev
			}
			prev = s.buf
		}
		if err := sink.WriteFrame(prev); err != nil {
			return fmt.Errorf("inference: write frame %d: %w", s.i, err)
		}
		done++
		if progress != nil && (done%step == 0 || done == len(frames)) {
			progress(done, len(frames))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if done != len(frames) {
		return fmt.Errorf("inference: rendered %d of %d frames", done, len(frames))
	}
	return nil
}
