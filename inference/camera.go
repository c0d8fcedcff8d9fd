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

	ort "github.com/yalue/onnxruntime_go"

	"github.com/paimeng/paimeng"
)

// Clip defaults.
const (
	CameraFPS      = 24
	DefaultSeconds = 5
	MaxSeconds     = 10
	DefaultMaxSide = 1280
)

// CameraOptions configures the camera-motion engine. Zero values pick defaults.
type CameraOptions struct {
	// Workers is how many frames are sampled at once, each by its own
	// single-threaded ONNX Runtime run. The default, one less than the
	// cores (at least one), leaves a core to the encoder that consumes them.
	Workers int
	MaxSide int // longest output side when GenInput.MaxSide is 0; default 1280
}

// CameraEngine animates a still with a camera move read from the prompt:
// push in, pull back, pan, tilt, handheld shake, fade to black. The warp is a
// bilinear crop-and-resize per frame run by ONNX Runtime on the Y'CbCr planes
// of the still, so frames come out as yuv420p bytes ready for the encoder.
type CameraEngine struct {
	opt  CameraOptions
	prep *ort.DynamicAdvancedSession
	warp *ort.DynamicAdvancedSession
	fade *ort.DynamicAdvancedSession
}

var _ paimeng.Engine = (*CameraEngine)(nil)

// NewCameraEngine builds the engine's graphs and sessions; InitORT must have
// succeeded first. Sessions are shared by all jobs; Close releases them.
func NewCameraEngine(opts CameraOptions) (*CameraEngine, error) {
	if !ort.IsInitialized() {
		return nil, ErrORTNotInitialized
	}
	if opts.Workers <= 0 {
		opts.Workers = max(1, runtime.NumCPU()-1)
	}
	if opts.MaxSide <= 0 {
		opts.MaxSide = DefaultMaxSide
	}
	e := &CameraEngine{opt: opts}
	var err error
	// The still is prepared once per job with every core; frames are
	// sampled by parallel single-threaded runs, which scale better than
	// splitting one small resize across threads.
	if e.prep, err = e.session(prepGraph, runtime.NumCPU(), []string{"rgba", "size_y", "size_c"}, []string{"y", "uv"}); err != nil {
		return nil, err
	}
	ins := []string{"y", "uv", "roi_y", "roi_c", "size_y", "size_c"}
	outs := []string{"y_out", "uv_out"}
	if e.warp, err = e.session(func() ([]byte, error) { return warpGraph(false) }, 1, ins, outs); err != nil {
		e.Close()
		return nil, err
	}
	if e.fade, err = e.session(func() ([]byte, error) { return warpGraph(true) }, 1, append(ins, "gain"), outs); err != nil {
		e.Close()
		return nil, err
	}
	// One tiny clip so the first job does not pay for kernel setup.
	warm := image.NewRGBA(image.Rect(0, 0, 64, 64))
	if err := e.Generate(context.Background(), &paimeng.GenInput{Image: warm, Prompt: "push in, fade out", Seconds: 1}, discard{}, nil); err != nil {
		e.Close()
		return nil, fmt.Errorf("inference: warm up: %w", err)
	}
	return e, nil
}

func (e *CameraEngine) session(build func() ([]byte, error), threads int, in, out []string) (*ort.DynamicAdvancedSession, error) {
	model, err := build()
	if err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("inference: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("inference: intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("inference: inter-op threads: %w", err)
	}
	// Idle workers must not spin: the encoder needs the same cores.
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, fmt.Errorf("inference: session config: %w", err)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, in, out, so)
	if err != nil {
		return nil, fmt.Errorf("inference: create session: %w", err)
	}
	return s, nil
}

type discard struct{}

func (discard) WriteFrame([]byte) error { return nil }

// Close releases the sessions.
func (e *CameraEngine) Close() error {
	var errs []error
	for _, s := range []*ort.DynamicAdvancedSession{e.prep, e.warp, e.fade} {
		if s != nil {
			errs = append(errs, s.Destroy())
		}
	}
	e.prep, e.warp, e.fade = nil, nil, nil
	return errors.Join(errs...)
}

// Name implements paimeng.Engine.
func (e *CameraEngine) Name() string { return "camera" }

// Plan implements paimeng.Engine: 24 fps yuv420p, aspect kept, longest side
// at most MaxSide (never upscaled), even dimensions.
func (e *CameraEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	if in == nil || in.Image == nil {
		return paimeng.VideoSpec{}, paimeng.Errorf(paimeng.ENoImage, "inference: no image")
	}
	secs := in.Seconds
	if secs == 0 {
		secs = DefaultSeconds
	}
	if secs < 1 || secs > MaxSeconds {
		return paimeng.VideoSpec{}, paimeng.Errorf(paimeng.EBadOption, "inference: seconds %d out of range 1..%d", in.Seconds, MaxSeconds)
	}
	maxSide := in.MaxSide
	if maxSide <= 0 {
		maxSide = e.opt.MaxSide
	}
	b := in.Image.Bounds()
	w, h := outputSize(b.Dx(), b.Dy(), maxSide)
	if w < 2 || h < 2 {
		return paimeng.VideoSpec{}, paimeng.Errorf(paimeng.EImageTooSmall, "inference: image %dx%d too small", b.Dx(), b.Dy())
	}
	return paimeng.VideoSpec{Width: w, Height: h, FPS: CameraFPS, Frames: secs * CameraFPS, PixFmt: paimeng.PixYUV420P}, nil
}

func outputSize(w, h, maxSide int) (int, int) {
	s := math.Min(1, float64(maxSide)/float64(max(w, h)))
	return even(float64(w) * s), even(float64(h) * s)
}

// even rounds down to an even integer after rounding to the nearest.
func even(v float64) int { return int(math.Round(v)) &^ 1 }

// frameJob is one frame's sampling boxes.
type frameJob struct {
	roiY, roiUV [8]float32
	gain        [3]float32
	faded       bool
}

// Generate implements paimeng.Engine.
func (e *CameraEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	spec, err := e.Plan(in)
	if err != nil {
		return err
	}
	if e.warp == nil {
		return errors.New("inference: camera engine closed")
	}
	m := ParseMotion(in.Prompt)
	path := m.path(spec.Frames, spec.FPS, in.Seed, spec.Width)

	// Working planes: the still at the resolution the tightest view needs.
	zmax := 1.0
	for _, s := range path {
		zmax = math.Max(zmax, s.zoom)
	}
	ws, hs := workingSize(in.Image.Bounds(), spec, zmax, m.moves())
	planes, err := e.prepare(in.Image, ws, hs)
	if err != nil {
		return err
	}
	defer destroyAll(planes)

	jobs := make([]frameJob, len(path))
	for i, s := range path {
		jobs[i] = frameBoxes(s, ws, hs, spec.Width, spec.Height)
	}
	return e.render(ctx, spec, jobs, planes, sink, progress)
}

// workingSize picks the resolution the still is resampled to once per job:
// enough pixels for the tightest view, never more than the source has. A
// moving camera needs planes strictly larger than the output on both axes
// (ONNX Runtime ignores the crop box on an axis whose scale is exactly 1).
func workingSize(b image.Rectangle, spec paimeng.VideoSpec, zmax float64, moving bool) (int, int) {
	if !moving {
		return spec.Width, spec.Height
	}
	ws := min(even(float64(b.Dx())), even(math.Ceil(float64(spec.Width)*zmax)))
	ws = max(ws, spec.Width+2)
	hs := max(even(float64(ws)*float64(b.Dy())/float64(b.Dx())), spec.Height+2)
	return ws, hs
}

// prepare converts the still to working Y and UV planes of size ws×hs.
func (e *CameraEngine) prepare(img image.Image, ws, hs int) ([]ort.Value, error) {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Stride != 4*b.Dx() {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	}
	src, err := ort.NewTensor(ort.NewShape(1, int64(b.Dy()), int64(b.Dx()), 4), rgba.Pix)
	if err != nil {
		return nil, fmt.Errorf("inference: input tensor: %w", err)
	}
	defer src.Destroy()
	sizeY, err := ort.NewTensor(ort.NewShape(4), []int64{1, int64(hs), int64(ws), 4})
	if err != nil {
		return nil, fmt.Errorf("inference: size tensor: %w", err)
	}
	defer sizeY.Destroy()
	sizeC, err := ort.NewTensor(ort.NewShape(4), []int64{1, int64(hs / 2), int64(ws / 2), 4})
	if err != nil {
		return nil, fmt.Errorf("inference: size tensor: %w", err)
	}
	defer sizeC.Destroy()
	var planes []ort.Value
	for _, shp := range []ort.Shape{ort.NewShape(1, 1, int64(hs), int64(ws)), ort.NewShape(1, 2, int64(hs/2), int64(ws/2))} {
		t, err := ort.NewEmptyTensor[uint8](shp)
		if err != nil {
			destroyAll(planes)
			return nil, fmt.Errorf("inference: plane tensor: %w", err)
		}
		planes = append(planes, t)
	}
	if err := e.prep.Run([]ort.Value{src, sizeY, sizeC}, planes); err != nil {
		destroyAll(planes)
		return nil, fmt.Errorf("inference: prepare still: %w", err)
	}
	return planes, nil
}

// frameBoxes maps a camera state to Resize boxes. Output pixel x samples
// source index u = a + b·x (pixel centres at integers); tf_crop_and_resize
// takes that as roi start a/(L-1) and end (a + b·(O-1))/(L-1).
func frameBoxes(s camState, ws, hs, wo, ho int) frameJob {
	b := math.Min(float64(ws-1)/float64(wo-1), float64(hs-1)/float64(ho-1)) / s.zoom
	spanX, spanY := b*float64(wo-1), b*float64(ho-1)
	freeX, freeY := (float64(ws-1)-spanX)/2, (float64(hs-1)-spanY)/2
	cx := float64(ws-1)/2 + s.panX*freeX*0.9 + s.shakeX*b
	cy := float64(hs-1)/2 + s.panY*freeY*0.9 + s.shakeY*b
	ax := clampF(cx-spanX/2, 0, float64(ws-1)-spanX)
	ay := clampF(cy-spanY/2, 0, float64(hs-1)-spanY)

	var j frameJob
	j.roiY = roi(ax, ay, b, ws, hs, wo, ho)
	// Chroma sample c sits at luma output x = 2c + 0.5, i.e. source luma
	// a + b(2c+0.5), i.e. source chroma index (a + b(2c+0.5) - 0.5)/2.
	wc, hc, woc, hoc := ws/2, hs/2, wo/2, ho/2
	acx := clampF((ax+0.5*b-0.5)/2, 0, float64(wc-1)-b*float64(woc-1))
	acy := clampF((ay+0.5*b-0.5)/2, 0, float64(hc-1)-b*float64(hoc-1))
	j.roiUV = roi(acx, acy, b, wc, hc, woc, hoc)
	j.gain = [3]float32{1, 0.5, 0.5}
	if s.gain < 1 {
		g := float32(s.gain)
		j.faded = true
		j.gain = [3]float32{g, 16*(1-g) + 0.5, 128*(1-g) + 0.5}
	}
	return j
}

func roi(ax, ay, b float64, ls, hs, lo, ho int) [8]float32 {
	sx := ax / float64(ls-1)
	ex := (ax + b*float64(lo-1)) / float64(ls-1)
	sy := ay / float64(hs-1)
	ey := (ay + b*float64(ho-1)) / float64(hs-1)
	return [8]float32{0, 0, float32(sy), float32(sx), 1, 1, float32(ey), float32(ex)}
}

func clampF(v, lo, hi float64) float64 {
	if hi < lo {
		return (lo + hi) / 2
	}
	return math.Max(lo, math.Min(hi, v))
}

// slot is one frame on its way to the sink.
type slot struct {
	i    int
	buf  []byte // nil when the frame repeats the previous one
	done chan error
}

// render samples frames on Workers goroutines while the caller's goroutine
// writes them to the sink in order, so sampling overlaps with the encoder
// draining its pipe. A frame whose boxes equal the previous frame's is not
// sampled again (static shots).
func (e *CameraEngine) render(ctx context.Context, spec paimeng.VideoSpec, jobs []frameJob, planes []ort.Value, sink paimeng.FrameSink, progress func(done, total int)) error {
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
		for i := range jobs {
			s := slot{i: i, done: make(chan error, 1)}
			if i > 0 && jobs[i] == jobs[i-1] {
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
			r, err := newRunner(spec, planes)
			for s := range work {
				if err == nil {
					s.done <- r.run(e, jobs[s.i], s.buf)
				} else {
					s.done <- err
				}
			}
			if r != nil {
				r.destroy()
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
		if progress != nil && (done%step == 0 || done == len(jobs)) {
			progress(done, len(jobs))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if done != len(jobs) {
		return fmt.Errorf("inference: rendered %d of %d frames", done, len(jobs))
	}
	return nil
}

// runner holds one worker's input tensors.
type runner struct {
	planes            []ort.Value
	roiY, roiUV, gain *ort.Tensor[float32]
	sizeY, sizeC      *ort.Tensor[int64]
	ySize             int
	shapeY, shapeC    ort.Shape
}

func newRunner(spec paimeng.VideoSpec, planes []ort.Value) (*runner, error) {
	r := &runner{planes: planes,
		ySize:  spec.Width * spec.Height,
		shapeY: ort.NewShape(1, 1, int64(spec.Height), int64(spec.Width)),
		shapeC: ort.NewShape(1, 2, int64(spec.Height/2), int64(spec.Width/2)),
	}
	var err error
	mk := func(n int) *ort.Tensor[float32] {
		if err != nil {
			return nil
		}
		var t *ort.Tensor[float32]
		t, err = ort.NewEmptyTensor[float32](ort.NewShape(int64(n)))
		return t
	}
	r.roiY, r.roiUV, r.gain = mk(8), mk(8), mk(3)
	if err == nil {
		r.sizeY, err = ort.NewTensor(ort.NewShape(4), []int64(r.shapeY))
	}
	if err == nil {
		r.sizeC, err = ort.NewTensor(ort.NewShape(4), []int64(r.shapeC))
	}
	if err != nil {
		r.destroy()
		return nil, fmt.Errorf("inference: run tensors: %w", err)
	}
	return r, nil
}

func (r *runner) destroy() {
	for _, t := range []*ort.Tensor[float32]{r.roiY, r.roiUV, r.gain} {
		if t != nil {
			t.Destroy()
		}
	}
	for _, t := range []*ort.Tensor[int64]{r.sizeY, r.sizeC} {
		if t != nil {
			t.Destroy()
		}
	}
}

// run samples one frame into buf.
func (r *runner) run(e *CameraEngine, j frameJob, buf []byte) error {
	copy(r.roiY.GetData(), j.roiY[:])
	copy(r.roiUV.GetData(), j.roiUV[:])
	copy(r.gain.GetData(), j.gain[:])
	ty, err := ort.NewTensor(r.shapeY, buf[:r.ySize])
	if err != nil {
		return fmt.Errorf("inference: output tensor: %w", err)
	}
	defer ty.Destroy()
	tc, err := ort.NewTensor(r.shapeC, buf[r.ySize:])
	if err != nil {
		return fmt.Errorf("inference: output tensor: %w", err)
	}
	defer tc.Destroy()
	ins := []ort.Value{r.planes[0], r.planes[1], r.roiY, r.roiUV, r.sizeY, r.sizeC}
	sess := e.warp
	if j.faded {
		ins = append(ins, r.gain)
		sess = e.fade
	}
	if err := sess.Run(ins, []ort.Value{ty, tc}); err != nil {
		return fmt.Errorf("inference: warp: %w", err)
	}
	return nil
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		v.Destroy()
	}
}
