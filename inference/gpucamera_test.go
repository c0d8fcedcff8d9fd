package inference

import (
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/kernels"
	"github.com/paimeng/paimeng/kernels/kerneltest"
)

// These tests run the CUDA kernels on the CUDA driver emulator (compiled
// by the real NVRTC for sm_90 first), or on a real GPU when
// PAIMENG_TEST_CUDA_DRIVER names its driver (scripts/gpu-check.sh).

func noisePicture(seed uint64, w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			base := 128 + 90*math.Sin(float64(x)/5+float64(y)/9)
			img.SetRGBA(x, y, color.RGBA{
				byte(max(0, min(255, base+40*rng.Float64()))),
				byte(max(0, min(255, 255-base+30*rng.Float64()))),
				byte(rng.IntN(256)), 255,
			})
		}
	}
	return img
}

func download(t *testing.T, g *kernels.GPU, m kernels.Mem, off, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if err := g.Download(b, m, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// The pyramid built on the device is the CPU engine's, bit for bit: the
// RGB → Y'CbCr conversion, the triangle resize and every mip level.
func TestGPUPyramidMatchesCPU(t *testing.T) {
	g := kerneltest.Open(t)
	for _, c := range []struct {
		w, h, ws, hs, levels int
		tail                 bool
	}{
		{301, 173, 200, 114, 4, false}, // resized, odd source
		{64, 48, 64, 48, 3, true},      // working size = picture size
		{97, 131, 96, 130, 2, true},    // odd, slightly smaller
		{40, 30, 40, 30, 1, false},     // one level
	} {
		img := noisePicture(1, c.w, c.h)
		var tail image.Image
		if c.tail {
			tail = noisePicture(2, c.w, c.h)
		}
		j := &gpuJob{g: g}
		pyr, _, err := gpuPyramid(j, img, tail, c.ws, c.hs, c.levels)
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := pyramidLayout(c.ws, c.hs, c.levels)
		p := clipPlan{ws: c.ws, hs: c.hs, levels: c.levels}
		want := []*pyramid{buildPyramid(img, p)}
		if c.tail {
			want = append(want, buildPyramid(tail, p))
		}
		for wi, w := range want {
			for pl, planes := range [][]plane{w.y, w.u, w.v} {
				for k, pw := range planes {
					l := ls[(3*wi+pl)*c.levels+k]
					if int(l.W) != pw.w || int(l.H) != pw.h {
						t.Fatalf("%dx%d plane %d level %d: %dx%d on the device, %dx%d on the CPU", c.w, c.h, pl, k, l.W, l.H, pw.w, pw.h)
					}
					got := download(t, g, pyr, int(l.Off), pw.w*pw.h)
					for i := range got {
						if got[i] != pw.pix[i] {
							t.Fatalf("%dx%d picture %d plane %d level %d: pixel %d is %d on the device, %d on the CPU", c.w, c.h, wi, pl, k, i, got[i], pw.pix[i])
						}
					}
				}
			}
		}
		j.free()
	}
}

// uploadPyramid puts CPU pyramids a and b in the device layout.
func uploadPyramid(t *testing.T, j *gpuJob, a, b *pyramid) (kernels.Mem, kernels.Mem) {
	t.Helper()
	levels := len(a.y)
	ls, size := pyramidLayout(a.y[0].w, a.y[0].h, levels)
	buf := make([]byte, size)
	for wi, p := range []*pyramid{a, b} {
		for pl, planes := range [][]plane{p.y, p.u, p.v} {
			for k, pw := range planes {
				l := ls[(3*wi+pl)*levels+k]
				if int(l.W) != pw.w || int(l.H) != pw.h {
					t.Fatalf("level %d of plane %d: %dx%d, layout %dx%d", k, pl, pw.w, pw.h, l.W, l.H)
				}
				copy(buf[l.Off:], pw.pix)
			}
		}
	}
	pyr, err := j.upload(buf)
	if err != nil {
		t.Fatal(err)
	}
	table, err := j.upload(kernels.LevelBytes(ls))
	if err != nil {
		t.Fatal(err)
	}
	return pyr, table
}

// The camera kernel agrees with the ONNX reference graph within one level
// (1/255) on frames with perspective, roll, fractional levels of detail,
// fades, end-frame dissolves and letterbox bars, and with the CPU renderer
// within one level.
func TestGPUCameraMatchesReference(t *testing.T) {
	needORT(t)
	g := kerneltest.Open(t)
	ref, err := newReference()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.close()
	const ws, hs = 300, 170
	rngPlane := func(seed uint64, w, h int) plane {
		img := noisePicture(seed, w, h)
		p := plane{pix: make([]byte, w*h), w: w, h: h}
		for i := range p.pix {
			p.pix[i] = img.Pix[4*i+int(seed%3)]
		}
		return p
	}
	a := newPyramid(rngPlane(3, ws, hs), rngPlane(4, ws/2, hs/2), rngPlane(5, ws/2, hs/2), 4)
	b := newPyramid(rngPlane(6, ws, hs), rngPlane(7, ws/2, hs/2), rngPlane(8, ws/2, hs/2), 4)
	const W, H = 160, 120
	content := rect{0, 12, 160, 90}
	v := view{aspect: float64(ws) / hs, wo: content.w, ho: content.h}
	toWork := v.worldToPixels(ws, hs)
	var frames []frameParams
	for _, c := range []struct {
		p          pose
		k          float64
		gain, tail float64
	}{
		{pose{}, 1, 1, 0},
		{pose{yaw: 0.05, pitch: -0.04, roll: 0.06, logDist: 0.2}, 1.25, 1, 0},
		{pose{yaw: -0.03, roll: -0.1, logF: -0.3, x: 0.05}, 1.4, 0.6, 0.3},
		{pose{orbit: 0.08, logDist: -0.1}, 1.3, 0.2, 0.85},
		{pose{logF: -1.2}, 1, 1, 0.5}, // wide: levels 2 and 3
	} {
		hy := toWork.mul(v.toWorld(c.p, c.k))
		frames = append(frames, frameParams{
			hy:   hy,
			hc:   mat3{0.5, 0, 0, 0, 0.5, 0, 0, 0, 1}.mul(hy).mul(mat3{2, 0, 0, 0, 2, 0, 0, 0, 1}),
			lod:  lodFor(scaleAt(hy, 80, 45)),
			gain: c.gain, tail: c.tail, rect: content,
		})
	}
	j := &gpuJob{g: g}
	defer j.free()
	pyr, table := uploadPyramid(t, j, a, b)
	plan := clipPlan{frames: frames, ws: ws, hs: hs, levels: 4}
	fm, err := j.upload(kernels.CamFrameBytes(camFrames(plan, true)))
	if err != nil {
		t.Fatal(err)
	}
	fb := W * H * 3 / 2
	out, err := j.alloc(len(frames) * fb)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Camera(pyr, table, 4, fm, 0, len(frames), out, W, H, kernels.I420); err != nil {
		t.Fatal(err)
	}
	all := download(t, g, out, 0, len(frames)*fb)
	for i := range frames {
		got := all[i*fb : (i+1)*fb]
		want, err := ref.frame(W, H, a, b, &frames[i])
		if err != nil {
			t.Fatal(err)
		}
		cpu := make([]byte, fb)
		renderFrame(cpu, W, H, a, b, &frames[i], newScratch(W))
		worstRef, worstCPU := 0, 0
		for j := range got {
			worstRef = max(worstRef, absInt(int(got[j])-int(want[j])))
			worstCPU = max(worstCPU, absInt(int(got[j])-int(cpu[j])))
		}
		t.Logf("frame %d: lod %.2f, max difference %d from the reference, %d from the CPU renderer", i, frames[i].lod, worstRef, worstCPU)
		if worstRef > 1 || worstCPU > 1 {
			t.Errorf("frame %d: kernel differs from the reference by %d levels, from the CPU renderer by %d", i, worstRef, worstCPU)
		}
	}
}

// The GPU engine gives the CPU engine's clips within one level, for the
// default push-in, a rolling pan with an end frame, a fade and a
// letterboxed pull-back.
func TestGPUCameraEngineMatchesCPU(t *testing.T) {
	g := kerneltest.Open(t)
	free0, _, err := g.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	ge, err := NewGPUCameraEngine(g, CameraOptions{MaxSide: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer ge.Close()
	ce, err := NewCameraEngine(CameraOptions{MaxSide: 160, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close()
	if got := ge.Devices(); len(got) != 1 || got[0] != "cuda:0" {
		t.Errorf("Devices() = %v", got)
	}
	img := noisePicture(11, 230, 150)
	tail := noisePicture(12, 200, 160)
	for _, c := range []struct {
		name string
		in   paimeng.GenInput
	}{
		{"push-in", paimeng.GenInput{Image: img, Seconds: 1}},
		{"roll+pan+tail", paimeng.GenInput{Image: img, Seconds: 1, Tail: tail, Shot: shot(paimeng.Move{Roll: 6, Pan: -4})}},
		{"fade", paimeng.GenInput{Image: img, Seconds: 1, FPS: 30, Shot: shot(paimeng.Move{Zoom: 5, FadeOut: true})}},
		{"letterbox pull-back", paimeng.GenInput{Image: img, Seconds: 1, Aspect: paimeng.AspectTall, Shot: shot(paimeng.Move{Dolly: -10})}},
	} {
		gs, gf := gen2(t, ge, &c.in)
		cs, cf := gen2(t, ce, &c.in)
		if gs != cs {
			t.Fatalf("%s: GPU spec %+v, CPU %+v", c.name, gs, cs)
		}
		worst := 0
		for i := range gf {
			for j := range gf[i] {
				worst = max(worst, absInt(int(gf[i][j])-int(cf[i][j])))
			}
		}
		st := ge.Stats()
		t.Logf("%s: %d frames %dx%d, max difference %d; prepare %v, render %v, download %v", c.name, len(gf), gs.Width, gs.Height, worst, st.Prepare, st.Render, st.Download)
		if worst > 1 {
			t.Errorf("%s: GPU and CPU engines differ by up to %d levels", c.name, worst)
		}
		if st.Frames != gs.Frames {
			t.Errorf("%s: stats for %d frames", c.name, st.Frames)
		}
	}
	free1, _, err := g.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if free1 != free0 {
		t.Errorf("device memory free: %d before, %d after the clips", free0, free1)
	}
	// Cancelled mid-clip: an error, and nothing left allocated.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = ge.Generate(ctx, &paimeng.GenInput{Image: img, Seconds: 2}, sinkFunc(func([]byte) error {
		if n++; n == 5 {
			cancel()
		}
		return nil
	}), nil)
	if err == nil {
		t.Error("cancelled clip finished without an error")
	}
	if free2, _, _ := g.MemInfo(); free2 != free0 {
		t.Errorf("device memory free after a cancelled clip: %d, want %d", free2, free0)
	}
}

type sinkFunc func([]byte) error

func (f sinkFunc) WriteFrame(b []byte) error { return f(b) }

func gen2(t *testing.T, e paimeng.Engine, in *paimeng.GenInput) (paimeng.VideoSpec, [][]byte) {
	t.Helper()
	spec, err := e.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	var s memSink
	if err := e.Generate(context.Background(), in, &s, nil); err != nil {
		t.Fatal(err)
	}
	if len(s.frames) != spec.Frames {
		t.Fatalf("%d frames, want %d", len(s.frames), spec.Frames)
	}
	return spec, s.frames
}

// NV12 and RGB8 output carry the same samples as I420.
func TestGPUCameraFormats(t *testing.T) {
	g := kerneltest.Open(t)
	img := noisePicture(21, 120, 80)
	in := &paimeng.GenInput{Image: img, Seconds: 1, Shot: shot(paimeng.Move{Roll: 3})}
	l, err := (&CameraEngine{opt: CameraOptions{MaxSide: 96}}).layout(in)
	if err != nil {
		t.Fatal(err)
	}
	p := plan(in, l)
	j := &gpuJob{g: g}
	defer j.free()
	pyr, table, err := gpuPyramid(j, img, nil, p.ws, p.hs, p.levels)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := j.upload(kernels.CamFrameBytes(camFrames(p, false)))
	if err != nil {
		t.Fatal(err)
	}
	w, h := l.spec.Width, l.spec.Height
	const count = 3
	frames := map[kernels.Format][]byte{}
	for _, f := range []kernels.Format{kernels.I420, kernels.NV12, kernels.RGB8} {
		out, err := j.alloc(count * f.FrameBytes(w, h))
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Camera(pyr, table, p.levels, fm, 5, count, out, w, h, f); err != nil {
			t.Fatal(err)
		}
		frames[f] = download(t, g, out, 0, count*f.FrameBytes(w, h))
	}
	n, cw := w*h, w/2
	fb := kernels.I420.FrameBytes(w, h)
	worst := 0
	for i := range count {
		i420 := frames[kernels.I420][i*fb : (i+1)*fb]
		nv12 := frames[kernels.NV12][i*fb : (i+1)*fb]
		rgb := frames[kernels.RGB8][i*3*n : (i+1)*3*n]
		for k := range n {
			if nv12[k] != i420[k] {
				t.Fatalf("frame %d: NV12 luma %d differs", i, k)
			}
		}
		for c := range n / 4 {
			if nv12[n+2*c] != i420[n+c] || nv12[n+2*c+1] != i420[n+n/4+c] {
				t.Fatalf("frame %d: NV12 chroma %d differs", i, c)
			}
		}
		for y := range h {
			for x := range w {
				c := (y/2)*cw + x/2
				r, gg, b := yuvToRGB(i420[y*w+x], i420[n+c], i420[n+n/4+c])
				px := rgb[3*(y*w+x):]
				worst = max(worst, absInt(int(px[0])-int(r)), absInt(int(px[1])-int(gg)), absInt(int(px[2])-int(b)))
			}
		}
	}
	if worst > 1 {
		t.Errorf("RGB8 differs from I420 converted on the CPU by up to %d", worst)
	}
}

// yuvToRGB is BT.709 limited range to full-range RGB, rounded.
func yuvToRGB(y, u, v byte) (byte, byte, byte) {
	yf := (float64(y) - 16) * 255 / 219
	cb := (float64(u) - 128) * 255 / 224
	cr := (float64(v) - 128) * 255 / 224
	c := func(x float64) byte { return byte(max(0, min(255, math.Floor(x+0.5)))) }
	return c(yf + 1.5748*cr), c(yf - 0.18732427*cb - 0.46812427*cr), c(yf + 1.8556*cb)
}

// The learned engine's input kernel gives pixels()' tensor exactly, in
// float32 and in float16.
func TestGPUPreprocessMatchesCPU(t *testing.T) {
	g := kerneltest.Open(t)
	j := &gpuJob{g: g}
	defer j.free()
	img := noisePicture(31, 157, 93)
	src, err := j.upload(img.Pix)
	if err != nil {
		t.Fatal(err)
	}
	norm := kernels.Norm{Div: [3]float32{127.5, 127.5, 127.5}, Bias: [3]float32{-1, -1, -1}}
	for _, c := range []struct{ w, h int }{{64, 48}, {160, 96}, {93, 93}} {
		want := pixels(img, c.w, c.h)
		r := coverRect(img.Bounds(), image.Rect(0, 0, c.w, c.h))
		tx, err := deviceTaps(j, r.Dx(), c.w)
		if err != nil {
			t.Fatal(err)
		}
		ty, err := deviceTaps(j, r.Dy(), c.h)
		if err != nil {
			t.Fatal(err)
		}
		for _, half := range []bool{false, true} {
			el := 4
			if half {
				el = 2
			}
			dst, err := j.alloc(3 * c.w * c.h * el)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Preprocess(src, img.Stride, 4, r.Min.X, r.Min.Y, r.Dx(), r.Dy(), dst, c.w, c.h, half, norm, tx, ty); err != nil {
				t.Fatal(err)
			}
			b := download(t, g, dst, 0, len(want)*el)
			for i, w := range want {
				if half {
					if got := Half(binary.LittleEndian.Uint16(b[2*i:])); got != HalfFromFloat32(w) {
						t.Fatalf("%dx%d float16: element %d is %v, want %v", c.w, c.h, i, got.Float32(), w)
					}
				} else if got := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])); got != w {
					t.Fatalf("%dx%d float32: element %d is %v, want %v", c.w, c.h, i, got, w)
				}
			}
		}
	}
}

// The learned engine's output kernel gives toYUV420's frames exactly, from
// float32 and float16, out-of-range and NaN values included.
func TestGPUPostprocessMatchesCPU(t *testing.T) {
	g := kerneltest.Open(t)
	j := &gpuJob{g: g}
	defer j.free()
	const F, W, H = 3, 48, 34
	n := W * H
	rng := rand.New(rand.NewPCG(5, 6))
	vals := make([]float32, 3*F*n)
	halves := make([]byte, 2*len(vals))
	floats := make([]byte, 4*len(vals))
	for i := range vals {
		v := float32(rng.Float64()*2.4 - 1.2)
		if i%97 == 0 {
			v = float32(math.NaN())
		}
		vals[i] = v
		binary.LittleEndian.PutUint32(floats[4*i:], math.Float32bits(v))
		binary.LittleEndian.PutUint16(halves[2*i:], uint16(HalfFromFloat32(v)))
	}
	fb := kernels.I420.FrameBytes(W, H)
	for _, half := range []bool{false, true} {
		in := floats
		if half {
			in = halves
		}
		src, err := j.upload(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := j.alloc(2 * fb)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Postprocess(src, half, F, 1, 2, W, H, yuvMatrix(), out, kernels.I420); err != nil {
			t.Fatal(err)
		}
		got := download(t, g, out, 0, 2*fb)
		rgb := make([]float32, 3*n)
		want := make([]byte, fb)
		for f := 1; f < 3; f++ {
			for c := range 3 {
				for i := range n {
					v := vals[(c*F+f)*n+i]
					if half {
						v = HalfFromFloat32(v).Float32()
					}
					rgb[c*n+i] = v
				}
			}
			toYUV420(want, rgb, W, H)
			for i := range want {
				if got[(f-1)*fb+i] != want[i] {
					t.Fatalf("half=%v frame %d byte %d: %d on the device, %d on the CPU", half, f, i, got[(f-1)*fb+i], want[i])
				}
			}
		}
	}
}
