package inference

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/kernels"
)

// GPUCameraEngine is the camera-motion engine on an NVIDIA GPU: the same
// shot planning as CameraEngine, then the picture's planes, their resize
// and mip pyramid, and every frame of the clip rendered by the kernels in
// kernels/paimeng.cu, which mirror the CPU code. The pyramid is
// bit-identical to the CPU engine's; frames agree with refGraph (and the
// CPU renderer) within one level.
type GPUCameraEngine struct {
	cpu    *CameraEngine // layout only
	g      *kernels.GPU
	closed atomic.Bool
	mu     sync.Mutex
	stats  GPUStats
}

// GPUStats is where the last clip's time went.
type GPUStats struct {
	Frames   int
	Prepare  time.Duration // upload, planes, resize and pyramid, on the device
	Render   time.Duration // the one launch that draws every frame, on the device
	Download time.Duration // frames to host memory
}

var _ paimeng.Engine = (*GPUCameraEngine)(nil)

// NewGPUCameraEngine returns the engine on g, warmed up on a tiny clip.
func NewGPUCameraEngine(g *kernels.GPU, opts CameraOptions) (*GPUCameraEngine, error) {
	if opts.MaxSide <= 0 {
		opts.MaxSide = DefaultMaxSide
	}
	e := &GPUCameraEngine{cpu: &CameraEngine{opt: opts}, g: g}
	warm := image.NewRGBA(image.Rect(0, 0, 64, 64))
	if err := e.Generate(context.Background(), &paimeng.GenInput{Image: warm, Seconds: 1}, discard{}, nil); err != nil {
		return nil, fmt.Errorf("inference: GPU camera engine warm-up: %w", err)
	}
	return e, nil
}

// Name implements paimeng.Engine: the same engine as the CPU one.
func (e *GPUCameraEngine) Name() string { return "camera" }

// Devices names the GPU the engine renders on.
func (e *GPUCameraEngine) Devices() []string {
	return []string{"cuda:" + strconv.Itoa(e.g.Device.Index)}
}

// Close stops the engine from taking more clips; the GPU stays open.
func (e *GPUCameraEngine) Close() error {
	e.closed.Store(true)
	return nil
}

// Plan implements paimeng.Engine exactly as CameraEngine does.
func (e *GPUCameraEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	return e.cpu.Plan(in)
}

// Stats returns the last clip's timings.
func (e *GPUCameraEngine) Stats() GPUStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// gpuJob holds one clip's device memory.
type gpuJob struct {
	g    *kernels.GPU
	mems []kernels.Mem
}

func (j *gpuJob) alloc(n int) (kernels.Mem, error) {
	m, err := j.g.Alloc(n)
	if err == nil {
		j.mems = append(j.mems, m)
	}
	return m, err
}

func (j *gpuJob) upload(b []byte) (kernels.Mem, error) {
	m, err := j.alloc(len(b))
	if err != nil {
		return m, err
	}
	return m, j.g.Upload(m, 0, b)
}

func (j *gpuJob) free() {
	for _, m := range j.mems {
		j.g.Free(m)
	}
	j.mems = nil
}

// Generate implements paimeng.Engine.
func (e *GPUCameraEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	l, err := e.cpu.layout(in)
	if err != nil {
		return err
	}
	if e.closed.Load() {
		return errors.New("inference: camera engine closed")
	}
	p := plan(in, l)
	j := &gpuJob{g: e.g}
	defer j.free()
	var st GPUStats
	st.Frames = len(p.frames)

	// The pyramid: picture planes, then the end frame's (or the picture's
	// again, unused, when there is none).
	var pyr, table kernels.Mem
	st.Prepare, err = e.g.Time(func() error {
		var tail image.Image
		if in.Tail != nil {
			tail = coverCrop(in.Tail, in.Image.Bounds())
		}
		pyr, table, err = gpuPyramid(j, in.Image, tail, p.ws, p.hs, p.levels)
		return err
	})
	if err != nil {
		return fmt.Errorf("inference: GPU pyramid: %w", err)
	}
	frames, err := j.upload(kernels.CamFrameBytes(camFrames(p, in.Tail != nil)))
	if err != nil {
		return fmt.Errorf("inference: GPU frames: %w", err)
	}
	spec := l.spec
	fb := spec.FrameSize()
	out, err := j.alloc(len(p.frames) * fb)
	if err != nil {
		return fmt.Errorf("inference: GPU output for %d frames: %w", len(p.frames), err)
	}
	st.Render, err = e.g.Time(func() error {
		return e.g.Camera(pyr, table, p.levels, frames, 0, len(p.frames), out, spec.Width, spec.Height, kernels.I420)
	})
	if err != nil {
		return fmt.Errorf("inference: GPU render: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st.Download, err = e.deliver(ctx, out, spec, sink, progress)
	e.mu.Lock()
	e.stats = st
	e.mu.Unlock()
	return err
}

// deliver copies the rendered frames to page-locked host buffers a chunk at
// a time, the next chunk's copy overlapping the sink's writes of this one.
func (e *GPUCameraEngine) deliver(ctx context.Context, out kernels.Mem, spec paimeng.VideoSpec, sink paimeng.FrameSink, progress func(done, total int)) (time.Duration, error) {
	fb := spec.FrameSize()
	chunk := max(1, min(spec.Frames, (8<<20)/fb))
	var bufs [2]*kernels.HostBuffer
	for i := range bufs {
		h, err := e.g.AllocHost(chunk * fb)
		if err != nil {
			for _, b := range bufs {
				e.g.FreeHost(b)
			}
			return 0, err
		}
		bufs[i] = h
	}
	defer func() {
		for _, b := range bufs {
			e.g.FreeHost(b)
		}
	}()
	type filled struct {
		buf   *kernels.HostBuffer
		first int
		n     int
		err   error
	}
	ready := make(chan filled, 1)
	free := make(chan *kernels.HostBuffer, 2)
	free <- bufs[0]
	free <- bufs[1]
	stop := make(chan struct{})
	var copying time.Duration
	go func() {
		defer close(ready)
		for first := 0; first < spec.Frames; first += chunk {
			var b *kernels.HostBuffer
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n := min(chunk, spec.Frames-first)
			t := time.Now()
			err := e.g.Download(b.B[:n*fb], out, first*fb)
			copying += time.Since(t)
			select {
			case ready <- filled{b, first, n, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range ready { // wait for the copier
		}
	}()
	step := max(1, spec.FPS/4)
	done := 0
	for f := range ready {
		if f.err != nil {
			return 0, fmt.Errorf("inference: GPU frames %d…: %w", f.first, f.err)
		}
		for i := range f.n {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if err := sink.WriteFrame(f.buf.B[i*fb : (i+1)*fb]); err != nil {
				return 0, fmt.Errorf("inference: write frame %d: %w", f.first+i, err)
			}
			done++
			if progress != nil && (done%step == 0 || done == spec.Frames) {
				progress(done, spec.Frames)
			}
		}
		free <- f.buf
	}
	if done != spec.Frames {
		return 0, fmt.Errorf("inference: delivered %d of %d frames", done, spec.Frames)
	}
	return copying, nil
}

// camFrames converts the plan's frames to the kernel's parameters, with
// the renderer's quantised level and end-frame weights.
func camFrames(p clipPlan, withTail bool) []kernels.CamFrame {
	out := make([]kernels.CamFrame, len(p.frames))
	for i, f := range p.frames {
		k, t := lodSplit(f.lod, p.levels)
		c := kernels.CamFrame{
			K:    int32(k),
			T:    float32(t) / fracOne,
			Gain: float32(f.gain),
			RX:   int32(f.rect.x), RY: int32(f.rect.y), RW: int32(f.rect.w), RH: int32(f.rect.h),
		}
		if withTail {
			c.Mix = float32(math.Round(f.tail*fracOne) / fracOne)
		}
		for j := range 9 {
			c.HY[j], c.HC[j] = float32(f.hy[j]), float32(f.hc[j])
		}
		out[i] = c
	}
	return out
}

// yuvMatrix is rgbToYUV709 for the kernels.
func yuvMatrix() kernels.YUVMatrix {
	m, off := rgbToYUV709()
	return kernels.YUVMatrix{M: m, Off: off}
}

// pyramidLayout places levels 0…levels-1 of the Y, U and V planes (U and V
// at half the working size) of the picture and the end frame in one
// buffer: 6·levels entries, picture first.
func pyramidLayout(ws, hs, levels int) ([]kernels.Level, int) {
	var ls []kernels.Level
	off := 0
	for range 2 {
		for pl := range 3 {
			w, h := ws, hs
			if pl > 0 {
				w, h = ws/2, hs/2
			}
			for range levels {
				ls = append(ls, kernels.Level{Off: int32(off), W: int32(w), H: int32(h)})
				off += w * h
				w, h = (w+1)/2, (h+1)/2
			}
		}
	}
	return ls, off
}

// gpuPyramid builds the pyramid of img (and of tail when not nil) on the
// device, as buildPyramid does on the CPU, and uploads its level table.
func gpuPyramid(j *gpuJob, img, tail image.Image, ws, hs, levels int) (pyr, table kernels.Mem, err error) {
	ls, size := pyramidLayout(ws, hs, levels)
	if pyr, err = j.alloc(size); err != nil {
		return
	}
	if err = gpuPlanes(j, img, pyr, ls[:3*levels], ws, hs, levels); err != nil {
		return
	}
	if tail != nil {
		if err = gpuPlanes(j, tail, pyr, ls[3*levels:], ws, hs, levels); err != nil {
			return
		}
	} else {
		copy(ls[3*levels:], ls[:3*levels])
	}
	table, err = j.upload(kernels.LevelBytes(ls))
	return
}

// gpuPlanes writes img's Y, U and V levels at ls (3·levels entries).
func gpuPlanes(j *gpuJob, img image.Image, pyr kernels.Mem, ls []kernels.Level, ws, hs, levels int) error {
	g := j.g
	b := img.Bounds()
	rgba := packedRGBA(img)
	w, h := b.Dx(), b.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	src, err := j.upload(rgba.Pix[:4*w*h])
	if err != nil {
		return err
	}
	full, err := j.alloc(w*h + 2*cw*ch)
	if err != nil {
		return err
	}
	fy, fu, fv := sub(full, 0, w*h), sub(full, w*h, cw*ch), sub(full, w*h+cw*ch, cw*ch)
	if err := g.RGBPlanes(src, 4*w, 4, w, h, yuvMatrix(), fy, fu, fv); err != nil {
		return err
	}
	for pl, f := range []struct {
		m    kernels.Mem
		w, h int
	}{{fy, w, h}, {fu, cw, ch}, {fv, cw, ch}} {
		l0 := ls[pl*levels]
		dst := sub(pyr, int(l0.Off), int(l0.W*l0.H))
		if f.w == int(l0.W) && f.h == int(l0.H) {
			if err := g.CopyDevice(dst, f.m, f.w*f.h); err != nil {
				return err
			}
		} else {
			tx, err := deviceTaps(j, f.w, int(l0.W))
			if err != nil {
				return err
			}
			ty, err := deviceTaps(j, f.h, int(l0.H))
			if err != nil {
				return err
			}
			if err := g.Resize(f.m, f.w, f.h, dst, int(l0.W), int(l0.H), tx, ty); err != nil {
				return err
			}
		}
		for k := 1; k < levels; k++ {
			a, b := ls[pl*levels+k-1], ls[pl*levels+k]
			if err := g.Halve(sub(pyr, int(a.Off), int(a.W*a.H)), int(a.W), int(a.H), sub(pyr, int(b.Off), int(b.W*b.H))); err != nil {
				return err
			}
		}
	}
	return nil
}

// sub is bytes off … off+n-1 of m.
func sub(m kernels.Mem, off, n int) kernels.Mem {
	if off < 0 || n < 0 || off+n > m.Size {
		panic(fmt.Sprintf("inference: %d bytes at %d of a %d-byte device buffer", n, off, m.Size))
	}
	return kernels.Mem{Ptr: m.At(off), Size: n}
}

// deviceTaps uploads the triangle filter's taps for n → m samples, padded
// with zero weights to the longest.
func deviceTaps(j *gpuJob, n, m int) (kernels.Taps, error) {
	ts := triangle(n, m)
	width := 0
	for _, t := range ts {
		width = max(width, len(t.w))
	}
	first := make([]byte, 0, 4*m)
	ws := make([]byte, 4*m*width)
	for i, t := range ts {
		first = binary.LittleEndian.AppendUint32(first, uint32(int32(t.first)))
		for k, w := range t.w {
			binary.LittleEndian.PutUint32(ws[4*(i*width+k):], math.Float32bits(w))
		}
	}
	f, err := j.upload(first)
	if err != nil {
		return kernels.Taps{}, err
	}
	w, err := j.upload(ws)
	if err != nil {
		return kernels.Taps{}, err
	}
	return kernels.Taps{First: f, W: w, N: width}, nil
}
