package inference

import (
	"bytes"
	"context"
	"fmt"
	pngenc "image/png"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/kernels"
	"github.com/paimeng/paimeng/kernels/kerneltest"
	"github.com/paimeng/paimeng/media"
)

// GPU benchmarks, for scripts/gpu-check.sh (run with
// PAIMENG_TEST_CUDA_DRIVER=libcuda.so.1 on a GPU; on the emulator they
// only show that the code runs). Bandwidth is bytes read and written per
// second of device time, beside the driver's device-to-device copy and
// the pm_copy kernel measured in the same run.

// timeLaunches runs f b.N times between two events and reports GB/s for
// bytes moved per run.
func timeLaunches(b *testing.B, g *kernels.GPU, bytes int, f func() error) {
	b.Helper()
	if err := f(); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ResetTimer()
	d, err := g.Time(func() error {
		for range b.N {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	per := d.Seconds() / float64(b.N)
	b.ReportMetric(float64(bytes)/per/1e9, "GB/s")
	b.ReportMetric(per*1e3, "ms/launch")
}

func BenchmarkGPUKernels(b *testing.B) {
	g := kerneltest.Open(b)
	j := &gpuJob{g: g}
	defer j.free()
	must := func(m kernels.Mem, err error) kernels.Mem {
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	const W, H, F = 1280, 720, 120 // a 5 s 720p clip
	fb := kernels.I420.FrameBytes(W, H)
	n := F * fb // 166 MB
	src, dst := must(j.alloc(n)), must(j.alloc(n))
	if err := g.Memset(src, 7, n); err != nil {
		b.Fatal(err)
	}
	b.Run("copy=driver", func(b *testing.B) {
		timeLaunches(b, g, 2*n, func() error { return g.CopyDevice(dst, src, n) })
	})
	b.Run("copy=pm_copy", func(b *testing.B) {
		timeLaunches(b, g, 2*n, func() error { return g.CopyKernel(dst, src, n) })
	})

	// Camera: every frame of the clip, a push-in from a 1280×720 picture.
	img := noisePicture(41, W, H)
	in := &paimeng.GenInput{Image: img, Seconds: 5}
	l, err := (&CameraEngine{opt: CameraOptions{}}).layout(in)
	if err != nil {
		b.Fatal(err)
	}
	p := plan(in, l)
	pyr, table, err := gpuPyramid(j, img, nil, p.ws, p.hs, p.levels)
	if err != nil {
		b.Fatal(err)
	}
	fm := must(j.upload(kernels.CamFrameBytes(camFrames(p, false))))
	b.Run("kernel=pm_camera", func(b *testing.B) {
		// Written frames; the pyramid is read from cache, counted once.
		timeLaunches(b, g, n+pyr.Size, func() error {
			return g.Camera(pyr, table, p.levels, fm, 0, F, dst, W, H, kernels.I420)
		})
	})
	b.Run("kernel=pm_postprocess/f16", func(b *testing.B) {
		in := 3 * F * W * H * 2
		dec := must(j.alloc(in))
		if err := g.Memset(dec, 0x3a, in); err != nil {
			b.Fatal(err)
		}
		timeLaunches(b, g, in+n, func() error {
			return g.Postprocess(dec, true, F, 0, F, W, H, yuvMatrix(), dst, kernels.I420)
		})
	})
	b.Run("kernel=pm_halve", func(b *testing.B) {
		timeLaunches(b, g, W*H*F+W*H*F/4, func() error {
			return g.Halve(sub(src, 0, W*H*F), W, H*F, dst)
		})
	})
	rgbBytes := 4 * W * H
	b.Run("kernel=pm_rgb_planes", func(b *testing.B) {
		out := W * H * 3 / 2
		timeLaunches(b, g, rgbBytes+out, func() error {
			return g.RGBPlanes(src, 4*W, 4, W, H, yuvMatrix(), sub(dst, 0, W*H), sub(dst, W*H, W*H/4), sub(dst, W*H*5/4, W*H/4))
		})
	})
	tx, err := deviceTaps(j, W, 832)
	if err != nil {
		b.Fatal(err)
	}
	ty, err := deviceTaps(j, H, 480)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("kernel=pm_preprocess/f16", func(b *testing.B) {
		norm := kernels.Norm{Div: [3]float32{127.5, 127.5, 127.5}, Bias: [3]float32{-1, -1, -1}}
		timeLaunches(b, g, rgbBytes+3*832*480*2, func() error {
			return g.Preprocess(src, 4*W, 4, 0, 0, W, H, dst, 832, 480, true, norm, tx, ty)
		})
	})
	b.Run("kernel=pm_resize_u8", func(b *testing.B) {
		timeLaunches(b, g, W*H+832*480, func() error {
			return g.Resize(src, W, H, dst, 832, 480, tx, ty)
		})
	})
}

// discardSink takes frames and drops them.
type discardSink struct{ n int }

func (s *discardSink) WriteFrame([]byte) error { s.n++; return nil }

// BenchmarkGPUClip720p is a 5 s 720p push-in (120 frames) on the GPU:
// render-ms is the one launch that draws every frame, prepare-ms the
// picture's planes and pyramid, total-ms the whole Generate with the
// frames copied to host memory.
func BenchmarkGPUClip720p(b *testing.B) {
	g := kerneltest.Open(b)
	e, err := NewGPUCameraEngine(g, CameraOptions{})
	if err != nil {
		b.Fatal(err)
	}
	in := &paimeng.GenInput{Image: noisePicture(42, 1280, 720), Seconds: 5}
	var render, prepare time.Duration
	b.ResetTimer()
	for range b.N {
		if err := e.Generate(context.Background(), in, &discardSink{}, nil); err != nil {
			b.Fatal(err)
		}
		st := e.Stats()
		render += st.Render
		prepare += st.Prepare
	}
	b.StopTimer()
	b.ReportMetric(render.Seconds()*1e3/float64(b.N), "render-ms")
	b.ReportMetric(prepare.Seconds()*1e3/float64(b.N), "prepare-ms")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "total-ms")
}

// BenchmarkCPUClip720p is the same clip on the CPU engine, frames dropped
// rather than encoded.
func BenchmarkCPUClip720p(b *testing.B) {
	e, err := NewCameraEngine(CameraOptions{})
	if err != nil {
		b.Fatal(err)
	}
	in := &paimeng.GenInput{Image: noisePicture(42, 1280, 720), Seconds: 5}
	b.ResetTimer()
	for range b.N {
		if err := e.Generate(context.Background(), in, &discardSink{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "total-ms")
}

// gpuTimedEngine keeps the GPU busy for about d per clip (pm_copy
// launches, timed by events), then writes small frames: an engine of
// fixed GPU duration for the worker backlog check.
type gpuTimedEngine struct {
	g        *kernels.GPU
	a, b     kernels.Mem
	launches int // pm_copy launches per clip

	mu   sync.Mutex
	busy time.Duration
	runs [][2]time.Time
}

func (e *gpuTimedEngine) Name() string { return "gputimed" }

func (e *gpuTimedEngine) Plan(*paimeng.GenInput) (paimeng.VideoSpec, error) {
	return paimeng.VideoSpec{Width: 320, Height: 180, FPS: 24, Frames: 24, PixFmt: paimeng.PixYUV420P}, nil
}

func (e *gpuTimedEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, _ func(int, int)) error {
	start := time.Now()
	d, err := e.g.Time(func() error {
		for range e.launches {
			if err := e.g.CopyKernel(e.b, e.a, e.a.Size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	spec, _ := e.Plan(in)
	frame := make([]byte, spec.FrameSize())
	for i := range spec.Frames {
		frame[i] = byte(i)
		if err := sink.WriteFrame(frame); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.busy += d
	e.runs = append(e.runs, [2]time.Time{start, time.Now()})
	e.mu.Unlock()
	return ctx.Err()
}

// BenchmarkGPUBacklog runs K clips through a Renderer (3 at once, one
// engine slot) with an engine of fixed GPU time T ≈ 300 ms on the device
// (about 30 ms on the emulator): gpu-busy-% is the GPU's busy time over
// the span from the first engine start to the last engine end.
func BenchmarkGPUBacklog(b *testing.B) {
	g := kerneltest.Open(b)
	const size = 64 << 20
	a, err := g.Alloc(size)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free(a)
	c, err := g.Alloc(size)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free(c)
	// Calibrate launches for T.
	one, err := g.Time(func() error { return g.CopyKernel(c, a, size) })
	if err != nil {
		b.Fatal(err)
	}
	target := 300 * time.Millisecond
	if g.Device.Name == "paimeng CUDA emulator (CPU)" {
		target = 30 * time.Millisecond
	}
	launches := max(1, int(target/max(one, time.Microsecond)))
	var png bytes.Buffer
	if err := pngenc.Encode(&png, noisePicture(43, 64, 64)); err != nil {
		b.Fatal(err)
	}
	src := png.Bytes()
	const K = 8
	for range b.N {
		eng := &gpuTimedEngine{g: g, a: a, b: c, launches: launches}
		r := media.NewRendererWith(map[string]paimeng.Engine{"gputimed": eng}, "gputimed",
			media.EncodeOptions{Preset: "ultrafast"}, media.RendererOptions{EngineSlots: 1})
		base := b.TempDir()
		var wg sync.WaitGroup
		jobs := make(chan int, K)
		for i := range K {
			jobs <- i
		}
		close(jobs)
		errs := make(chan error, K)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if _, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: filepath.Join(base, fmt.Sprint(i))}, nil); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		first, last := eng.runs[0][0], eng.runs[0][1]
		for _, r := range eng.runs {
			first, last = minTime(first, r[0]), maxTime(last, r[1])
		}
		span := last.Sub(first)
		b.ReportMetric(100*eng.busy.Seconds()/span.Seconds(), "gpu-busy-%")
		b.ReportMetric(eng.busy.Seconds()*1e3/K, "T-ms")
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
