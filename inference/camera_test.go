package inference

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/paimeng/paimeng"
)

func gen(t *testing.T, e *CameraEngine, in *paimeng.GenInput) (paimeng.VideoSpec, [][]byte) {
	t.Helper()
	spec, err := e.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	var s memSink
	var calls, last int
	err = e.Generate(context.Background(), in, &s, func(done, total int) {
		calls++
		if total != spec.Frames || done < last {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.frames) != spec.Frames || last != spec.Frames || calls == 0 {
		t.Fatalf("got %d frames, progress %d in %d calls; want %d", len(s.frames), last, calls, spec.Frames)
	}
	for i, f := range s.frames {
		if len(f) != spec.FrameSize() {
			t.Fatalf("frame %d is %d bytes", i, len(f))
		}
	}
	return spec, s.frames
}

func shot(moves ...paimeng.Move) *paimeng.Shot { return &paimeng.Shot{Moves: moves} }

// centroid finds the brightness-weighted centre (continuous coordinates,
// pixel centres at +0.5) of the marker near p in the Y plane of a frame.
func centroid(t *testing.T, f []byte, spec paimeng.VideoSpec, p [2]float64, r int, bg float64) [2]float64 {
	t.Helper()
	var sx, sy, sw float64
	for y := int(p[1]) - r; y <= int(p[1])+r; y++ {
		for x := int(p[0]) - r; x <= int(p[0])+r; x++ {
			if x < 0 || y < 0 || x >= spec.Width || y >= spec.Height {
				continue
			}
			w := float64(f[y*spec.Width+x]) - bg
			if w > 0 {
				sx += w * (float64(x) + 0.5)
				sy += w * (float64(y) + 0.5)
				sw += w
			}
		}
	}
	if sw == 0 {
		t.Fatalf("no marker near %v", p)
	}
	return [2]float64{sx / sw, sy / sw}
}

func dist(a, b [2]float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

// blobsImage is a flat dark picture with Gaussian blobs (sigma s) centred at
// the given continuous positions; bilinear sampling reproduces them without
// edge artefacts, so their centroids are exact markers.
func blobsImage(w, h int, s float64, cs ...[2]float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := 0.0
			for _, c := range cs {
				dx, dy := float64(x)+0.5-c[0], float64(y)+0.5-c[1]
				v += math.Exp(-(dx*dx + dy*dy) / (2 * s * s))
			}
			g := uint8(20 + 225*math.Min(1, v))
			img.SetRGBA(x, y, color.RGBA{g, g, g, 255})
		}
	}
	return img
}

// Background luma of blobsImage: BT.709 limited range of grey 20.
const blobBG = 16 + 20*219.0/255 + 3

// TestCameraGolden renders each basic move on a 640×360 picture of
// Gaussian markers and checks every frame's marker positions against the
// camera geometry written out by hand for that move, within 0.25 px.
func TestCameraGolden(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	const W, H = 640, 360
	markers := [][2]float64{{200, 110}, {440, 110}, {200, 250}, {440, 250}, {320, 180}}
	img := blobsImage(W, H, 2.5, markers...)
	A := float64(W) / H
	// World coordinates of the markers: the picture is 1 unit high, centred.
	world := func(m [2]float64) (float64, float64) { return (m[0]/W - 0.5) * A, m[1]/H - 0.5 }
	const n = 24
	e01 := func(i int) float64 { return 0.5 - 0.5*math.Cos(math.Pi*float64(i)/(n-1)) }
	// Output pixel of a world point seen by a camera at distance D (in view
	// heights of 1 unit), rotated by yaw/pitch (pure rotation about the
	// camera), rolled by roll, translated by (cx, cy), magnified by s.
	project := func(X, Y, cx, cy, s, yaw, pitch, roll float64) [2]float64 {
		D := 1.5 // focal length 1.5 view heights; distance keeps the view 1 unit high
		x, y, z := X-cx, Y-cy, D
		// yaw: turn right about the vertical axis
		x, z = x*math.Cos(yaw)-z*math.Sin(yaw), x*math.Sin(yaw)+z*math.Cos(yaw)
		// pitch: look up (y is down)
		y, z = y*math.Cos(pitch)+z*math.Sin(pitch), -y*math.Sin(pitch)+z*math.Cos(pitch)
		// roll: the camera turns clockwise, the picture turns the other way
		x, y = x*math.Cos(roll)+y*math.Sin(roll), -x*math.Sin(roll)+y*math.Cos(roll)
		return [2]float64{W/2 + s*D*x/z*H, H/2 + s*D*y/z*H}
	}
	deg := math.Pi / 180
	for _, tc := range []struct {
		name string
		move paimeng.Move
		// pose at frame i given the coverage zoom k
		at func(i int, k float64) (cx, cy, s, yaw, pitch, roll float64)
		k  float64 // expected coverage zoom; 0: any (perspective moves)
	}{
		{"push in", paimeng.Move{Dolly: 4}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, 0, k * math.Exp2(0.4*e01(i)), 0, 0, 0
		}, 1},
		{"zoom out", paimeng.Move{Zoom: 5}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, 0, k * math.Exp2(-0.5*e01(i)), 0, 0, 0
		}, math.Exp2(0.5)},
		{"truck right", paimeng.Move{Horizontal: 5}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0.15 * A * (e01(i) - 0.5), 0, k, 0, 0, 0
		}, 1 / 0.85},
		{"pedestal up", paimeng.Move{Vertical: 4}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, -0.12 * (e01(i) - 0.5), k, 0, 0, 0
		}, 1 / 0.88},
		{"roll clockwise", paimeng.Move{Roll: 4}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, 0, k, 0, 0, 6 * deg * (e01(i) - 0.5)
		}, math.Cos(3*deg) + A*math.Sin(3*deg)},
		{"pan right (yaw)", paimeng.Move{Tilt: 4}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, 0, k, 6 * deg * (e01(i) - 0.5), 0, 0
		}, 0},
		{"tilt up (pitch)", paimeng.Move{Pan: 4}, func(i int, k float64) (float64, float64, float64, float64, float64, float64) {
			return 0, 0, k, 0, 6 * deg * (e01(i) - 0.5), 0
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &paimeng.GenInput{Image: img, Seconds: 1, Shot: shot(tc.move), MaxSide: W}
			l, err := e.layout(in)
			if err != nil {
				t.Fatal(err)
			}
			v := view{aspect: A, wo: l.content.w, ho: l.content.h}
			vw, vh := v.viewSize()
			k := v.coverZoom(shotPath(*in.Shot, n, 24, 0, vw, vh, false))
			if tc.k != 0 && math.Abs(k-tc.k) > 1e-6 {
				t.Errorf("coverage zoom %.6f, want %.6f", k, tc.k)
			}
			spec, frames := gen(t, e, in)
			if spec.Width != W || spec.Height != H || spec.Frames != n {
				t.Fatalf("spec %+v", spec)
			}
			var worst float64
			for i, f := range frames {
				cx, cy, s, yaw, pitch, roll := tc.at(i, k)
				for _, m := range markers {
					X, Y := world(m)
					want := project(X, Y, cx, cy, s, yaw, pitch, roll)
					if want[0] < 12 || want[1] < 12 || want[0] > W-12 || want[1] > H-12 {
						continue
					}
					got := centroid(t, f, spec, want, 9, blobBG)
					worst = math.Max(worst, dist(got, want))
					if d := dist(got, want); d > 0.25 {
						t.Fatalf("frame %d marker %v: at %.3f, want %.3f (off %.3f px)", i, m, got, want, d)
					}
				}
			}
			t.Logf("%s: worst marker error %.3f px", tc.name, worst)
		})
	}
}

// Directions of the moves that have no closed form above: orbiting right
// sweeps the content left, the combined Kling types do what they say.
func TestCameraDirections(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{160, 90})
	for _, tt := range []struct {
		name   string
		shot   *paimeng.Shot
		dx, dy int // expected sign of the content's motion
		grows  bool
	}{
		{"forward_up", ptr(paimeng.Shot{}.WithControl(&paimeng.CameraControl{Type: paimeng.CameraForwardUp})), 0, 1, true},
		{"right_turn_forward", ptr(paimeng.Shot{}.WithControl(&paimeng.CameraControl{Type: paimeng.CameraRightTurnForward})), -1, 0, true},
		{"down_back", ptr(paimeng.Shot{}.WithControl(&paimeng.CameraControl{Type: paimeng.CameraDownBack})), 0, -1, false},
	} {
		spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Shot: tt.shot})
		a := centroid(t, frames[0], spec, [2]float64{160, 90}, 40, blobBG)
		b := centroid(t, frames[len(frames)-1], spec, a, 40, blobBG)
		dx, dy := b[0]-a[0], b[1]-a[1]
		if sgn(dx) != tt.dx || sgn(dy) != tt.dy {
			t.Errorf("%s: content moved (%.1f, %.1f), want signs (%d, %d)", tt.name, dx, dy, tt.dx, tt.dy)
		}
	}
}

// Orbiting right around the centre of the view: the centre stays put while
// the camera swings round, so the right half of the picture comes closer
// (grows) and the left half recedes.
func TestCameraOrbit(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{90, 90}, [2]float64{160, 90}, [2]float64{230, 90})
	spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Shot: shot(paimeng.Move{Orbit: 8})})
	ratio := func(f []byte) (float64, [2]float64) {
		c := centroid(t, f, spec, [2]float64{160, 90}, 12, blobBG)
		l := centroid(t, f, spec, [2]float64{c[0] - 75, 90}, 14, blobBG)
		r := centroid(t, f, spec, [2]float64{c[0] + 75, 90}, 14, blobBG)
		return dist(c, r) / dist(c, l), c
	}
	r0, c0 := ratio(frames[0])
	r1, c1 := ratio(frames[len(frames)-1])
	if !(r0 < 0.99 && r1 > 1.01) || dist(c0, c1) > 0.5 {
		t.Errorf("orbit: right/left spread %.3f → %.3f, centre %.2f → %.2f", r0, r1, c0, c1)
	}
}

func ptr[T any](v T) *T { return &v }

func sgn(v float64) int {
	switch {
	case v > 2:
		return 1
	case v < -2:
		return -1
	}
	return 0
}

// TestCameraRendererMatchesReference compares the fixed-point renderer with
// the ONNX reference graph on frames that use everything at once:
// perspective, roll, a fractional level of detail, a fade, a dissolve to an
// end frame and a letterbox.
func TestCameraRendererMatchesReference(t *testing.T) {
	needORT(t)
	ref, err := newReference()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.close()
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(w, h int) plane {
		p := plane{pix: make([]byte, w*h), w: w, h: h}
		for y := range h {
			for x := range w {
				v := 128 + 70*math.Sin(float64(x)/7+float64(y)/11) + 40*rng.Float64()
				if (x/16+y/16)%2 == 0 {
					v -= 50
				}
				p.pix[y*w+x] = byte(max(0, min(255, v)))
			}
		}
		return p
	}
	const ws, hs = 300, 170
	a := newPyramid(noise(ws, hs), noise(ws/2, hs/2), noise(ws/2, hs/2), 4)
	b := newPyramid(noise(ws, hs), noise(ws/2, hs/2), noise(ws/2, hs/2), 4)
	const W, H = 160, 120
	content := rect{0, 12, 160, 90}
	v := view{aspect: float64(ws) / hs, wo: content.w, ho: content.h}
	toWork := v.worldToPixels(ws, hs)
	for i, c := range []struct {
		p          pose
		k          float64
		gain, tail float64
		withTail   bool
	}{
		{pose{}, 1, 1, 0, false},
		{pose{yaw: 0.05, pitch: -0.04, roll: 0.06, logDist: 0.2}, 1.25, 1, 0, false},
		{pose{yaw: -0.03, roll: -0.1, logF: -0.3, x: 0.05}, 1.4, 0.6, 0.3, true},
		{pose{orbit: 0.08, logDist: -0.1}, 1.3, 0.2, 0.85, true},
	} {
		hy := toWork.mul(v.toWorld(c.p, c.k))
		p := frameParams{
			hy:   hy,
			hc:   mat3{0.5, 0, 0, 0, 0.5, 0, 0, 0, 1}.mul(hy).mul(mat3{2, 0, 0, 0, 2, 0, 0, 0, 1}),
			lod:  lodFor(scaleAt(hy, 80, 45)),
			gain: c.gain, tail: c.tail, rect: content,
		}
		var tb *pyramid
		if c.withTail {
			tb = b
		}
		got := make([]byte, W*H*3/2)
		renderFrame(got, W, H, a, tb, &p, newScratch(W))
		want, err := ref.frame(W, H, a, tb, &p)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0
		for j := range got {
			worst = max(worst, absInt(int(got[j])-int(want[j])))
		}
		t.Logf("frame %d: lod %.2f, max difference %d", i, p.lod, worst)
		if worst > 1 {
			t.Errorf("frame %d: renderer and reference differ by up to %d levels", i, worst)
		}
	}
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestCameraPullBackAntialiased pulls back over a grating finer than the
// wider frames can show. Once the grating is above the output's Nyquist
// frequency the ideal frame is flat grey: whatever pattern remains is
// aliasing (moiré that shimmers as the camera moves). The rendered frames
// must stay within a measured bound of flat, far below plain bilinear
// sampling of the full-size picture.
func TestCameraPullBackAntialiased(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	const W, H, P = 1280, 720, 2.5 // source, grating period in source pixels
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for x := range W {
		g := uint8(math.Round(128 + 100*math.Sin(2*math.Pi*(float64(x)+0.5)/P)))
		for y := range H {
			img.SetRGBA(x, y, color.RGBA{g, g, g, 255})
		}
	}
	in := &paimeng.GenInput{Image: img, Seconds: 1, Shot: shot(paimeng.Move{Dolly: -10}), MaxSide: 640}
	l, err := e.layout(in)
	if err != nil {
		t.Fatal(err)
	}
	p := plan(in, l)
	if p.ws != W || p.levels < 2 {
		t.Fatalf("plan: working %dx%d, %d levels", p.ws, p.hs, p.levels)
	}
	pyr := buildPyramid(img, p)
	// Worst standard deviation of the luma over the frames whose grating
	// frequency is above 0.6 cycles per output pixel.
	shimmer := func(noMip bool) (worst float64, frames int) {
		buf := make([]byte, l.spec.FrameSize())
		rows := newScratch(l.spec.Width)
		for i := range p.frames {
			f := p.frames[i]
			if scaleAt(f.hy, 320, 180)/P < 0.6 {
				continue
			}
			frames++
			if noMip {
				f.lod = 0
			}
			renderFrame(buf, l.spec.Width, l.spec.Height, pyr, nil, &f, rows)
			var s, s2, n float64
			for y := 40; y < l.spec.Height-40; y += 5 {
				for x := 40; x < l.spec.Width-40; x++ {
					v := float64(buf[y*l.spec.Width+x])
					s, s2, n = s+v, s2+v*v, n+1
				}
			}
			worst = math.Max(worst, math.Sqrt(s2/n-(s/n)*(s/n)))
		}
		return worst, frames
	}
	ours, n := shimmer(false)
	plain, _ := shimmer(true)
	t.Logf("pull-back over a %.1f px grating, %d frames above Nyquist: worst luma std dev %.2f levels (plain bilinear %.2f; the grating itself %.1f)", P, n, ours, plain, 100*219/255/math.Sqrt2)
	if n < 5 || ours > 3 || ours > plain/10 {
		t.Errorf("aliasing: std dev %.2f levels over %d frames (bound 3, and under a tenth of plain bilinear's %.2f)", ours, n, plain)
	}
}

func TestCameraStaticAndFade(t *testing.T) {
	e := newEngine(t, CameraOptions{Workers: 3})
	img := blobsImage(320, 180, 2.5, [2]float64{100, 60}, [2]float64{220, 120})
	_, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Shot: &paimeng.Shot{Static: true}})
	for i, f := range frames {
		if !bytes.Equal(f, frames[0]) {
			t.Fatalf("static: frame %d differs from frame 0", i)
		}
	}
	spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1,
		Shot: &paimeng.Shot{Static: true, Moves: []paimeng.Move{{FadeIn: true}, {}, {FadeOut: true}}}})
	ys := spec.Width * spec.Height
	mean := func(f []byte) float64 {
		var s float64
		for _, v := range f[:ys] {
			s += float64(v)
		}
		return s / float64(ys)
	}
	mid := mean(frames[len(frames)/2])
	if m := mean(frames[0]); m > 16.5 {
		t.Errorf("fade in: first frame mean luma %.1f, want black", m)
	}
	if m := mean(frames[len(frames)-1]); m > 16.5 {
		t.Errorf("fade out: last frame mean luma %.1f, want black", m)
	}
	if mid < 30 {
		t.Errorf("middle frame mean luma %.1f, want the picture", mid)
	}
	var csum float64
	for _, v := range frames[len(frames)-1][ys:] {
		csum += math.Abs(float64(v) - 128)
	}
	if mc := csum / float64(len(frames[0])-ys); mc > 1 {
		t.Errorf("fade: last frame chroma deviates %.1f from neutral", mc)
	}
}

// Chained moves: push in over the first half, pull back over the second,
// ending where it started.
func TestCameraChained(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{100, 60}, [2]float64{220, 120})
	spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 2, Shot: shot(paimeng.Move{Dolly: 5}, paimeng.Move{Dolly: -5})})
	span := func(f []byte) float64 {
		a := centroid(t, f, spec, [2]float64{160 - 60*spanGuess(f, spec), 90 - 30*spanGuess(f, spec)}, 14, blobBG)
		b := centroid(t, f, spec, [2]float64{160 + 60*spanGuess(f, spec), 90 + 30*spanGuess(f, spec)}, 14, blobBG)
		return dist(a, b)
	}
	s0, sMid, sEnd := span(frames[0]), span(frames[len(frames)/2]), span(frames[len(frames)-1])
	if math.Abs(sMid/s0-math.Sqrt2) > 0.03 || math.Abs(sEnd/s0-1) > 0.005 {
		t.Errorf("spans %.2f → %.2f → %.2f: want ×√2 at the middle and back", s0, sMid, sEnd)
	}
}

// spanGuess is the magnification of a frame, from the spread of its bright
// pixels, good enough to place the centroid windows.
func spanGuess(f []byte, spec paimeng.VideoSpec) float64 {
	lo, hi := spec.Width, 0
	for y := range spec.Height {
		for x := range spec.Width {
			if f[y*spec.Width+x] > 150 {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	return float64(hi-lo) / 120
}

func TestCameraDeterministic(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{100, 60}, [2]float64{220, 120})
	s := &paimeng.Shot{Shake: 0.7, Moves: []paimeng.Move{{Dolly: 4}}}
	_, a := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Seed: 42, Shot: s})
	_, b := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Seed: 42, Shot: s})
	_, c := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Seed: 43, Shot: s})
	same, diff := true, false
	for i := range a {
		same = same && bytes.Equal(a[i], b[i])
		diff = diff || !bytes.Equal(a[i], c[i])
	}
	if !same {
		t.Error("same seed gave different frames")
	}
	if !diff {
		t.Error("different seeds gave the same shake")
	}
}

// Shake strength follows the shot: violent shakes more than slight.
func TestCameraShakeStrength(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{160, 90})
	wander := func(amp float64) float64 {
		spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 2, Seed: 7, Shot: &paimeng.Shot{Shake: amp}})
		p := centroid(t, frames[0], spec, [2]float64{160, 90}, 30, blobBG)
		var m float64
		for _, f := range frames[1:] {
			q := centroid(t, f, spec, p, 30, blobBG)
			m = math.Max(m, dist(p, q))
		}
		return m
	}
	slight, violent := wander(0.35), wander(1.5)
	if !(violent > 3*slight && slight > 0.3) {
		t.Errorf("shake: slight wanders %.2f px, violent %.2f px", slight, violent)
	}
}

// The end frame: the first frame is the picture, the last the end frame.
func TestCameraTail(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 180, 2.5, [2]float64{80, 90})
	tail := blobsImage(640, 360, 5, [2]float64{480, 180}) // same shape, twice the size
	spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, Tail: tail, Shot: &paimeng.Shot{Static: true}})
	first := centroid(t, frames[0], spec, [2]float64{80, 90}, 12, blobBG)
	last := centroid(t, frames[len(frames)-1], spec, [2]float64{240, 90}, 12, blobBG)
	if dist(first, [2]float64{80, 90}) > 0.3 || dist(last, [2]float64{240, 90}) > 0.3 {
		t.Errorf("dissolve: first frame marker %.2f, last %.2f", first, last)
	}
	if frames[0][240+90*spec.Width] > 60 || frames[len(frames)-1][80+90*spec.Width] > 60 {
		t.Error("dissolve: the other picture still shows at the ends")
	}
}

func TestCameraPlan(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	big := image.NewRGBA(image.Rect(0, 0, 4001, 3000))
	small := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for _, c := range []struct {
		in         paimeng.GenInput
		w, h, n, f int
		content    rect
	}{
		{paimeng.GenInput{Image: big}, 1280, 960, 120, 24, rect{0, 0, 1280, 960}},
		{paimeng.GenInput{Image: small}, 400, 300, 120, 24, rect{0, 0, 400, 300}},
		{paimeng.GenInput{Image: small, MaxSide: 1920, FPS: 30, Seconds: 10}, 1920, 1440, 300, 30, rect{0, 0, 1920, 1440}},
		{paimeng.GenInput{Image: big, MaxSide: 1280, Aspect: paimeng.AspectWide}, 1280, 720, 120, 24, rect{160, 0, 960, 720}},
		{paimeng.GenInput{Image: big, MaxSide: 960, Aspect: paimeng.AspectTall}, 540, 960, 120, 24, rect{0, 278, 540, 404}},
		{paimeng.GenInput{Image: big, MaxSide: 960, Aspect: paimeng.AspectSquare}, 960, 960, 120, 24, rect{0, 120, 960, 720}},
	} {
		l, err := e.layout(&c.in)
		if err != nil {
			t.Fatal(err)
		}
		s := l.spec
		if s.Width != c.w || s.Height != c.h || s.Frames != c.n || s.FPS != c.f || l.content != c.content {
			t.Errorf("%dx%d side %d %q: got %+v content %+v", c.in.Image.Bounds().Dx(), c.in.Image.Bounds().Dy(), c.in.MaxSide, c.in.Aspect, s, l.content)
		}
	}
	for _, in := range []paimeng.GenInput{{Image: big, Seconds: 11}, {Image: big, FPS: 25}, {Image: big, Aspect: "4:3"}} {
		if _, err := e.Plan(&in); paimeng.ErrorCode(err) != paimeng.EBadOption {
			t.Errorf("%+v: %v", in, err)
		}
	}
}

// Letterboxed frames keep their bars black while the picture moves.
func TestCameraLetterbox(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobsImage(320, 240, 2.5, [2]float64{160, 120})
	spec, frames := gen(t, e, &paimeng.GenInput{Image: img, Seconds: 1, MaxSide: 320, Aspect: paimeng.AspectWide, Shot: &paimeng.Shot{Shake: 1.5}})
	if spec.Width != 320 || spec.Height != 180 {
		t.Fatalf("spec %+v", spec)
	}
	for i, f := range frames {
		for y := range 180 {
			for _, x := range []int{0, 19, 300, 319} {
				if f[y*320+x] != blackY {
					t.Fatalf("frame %d: bar pixel (%d,%d) = %d", i, x, y, f[y*320+x])
				}
			}
		}
	}
}

func TestCameraCancel(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	img := blobsImage(320, 180, 2.5, [2]float64{160, 90})
	n := 0
	err := e.Generate(ctx, &paimeng.GenInput{Image: img, Seconds: 2}, &countSink{f: func() {
		if n++; n == 5 {
			cancel()
		}
	}}, nil)
	if !errors.Is(err, context.Canceled) || n >= 48 {
		t.Fatalf("cancel: err %v after %d frames", err, n)
	}
}

type countSink struct{ f func() }

func (s *countSink) WriteFrame([]byte) error { s.f(); return nil }

// BenchmarkRenderFrame720p times the fixed-point renderer alone on one core:
// a push-in frame (level 0 and 1 blended) and a perspective frame.
func BenchmarkRenderFrame720p(b *testing.B) {
	for _, c := range []struct {
		name string
		p    pose
		k    float64
	}{{"zoom", pose{logDist: -0.2}, 1.0}, {"roll", pose{roll: 0.04, logDist: -0.2}, 1.3}, {"perspective", pose{yaw: 0.05, pitch: 0.03, roll: 0.04}, 1.3}} {
		b.Run(c.name, func(b *testing.B) {
			const ws, hs, W, H = 1700, 956, 1280, 720
			mk := func(w, h int) plane {
				p := plane{pix: make([]byte, w*h), w: w, h: h}
				for i := range p.pix {
					p.pix[i] = byte(i * 7)
				}
				return p
			}
			a := newPyramid(mk(ws, hs), mk(ws/2, hs/2), mk(ws/2, hs/2), 3)
			v := view{aspect: float64(ws) / hs, wo: W, ho: H}
			hy := v.worldToPixels(ws, hs).mul(v.toWorld(c.p, c.k))
			p := frameParams{hy: hy, hc: mat3{0.5, 0, 0, 0, 0.5, 0, 0, 0, 1}.mul(hy).mul(mat3{2, 0, 0, 0, 2, 0, 0, 0, 1}),
				lod: lodFor(scaleAt(hy, W/2, H/2)), gain: 1, rect: rect{0, 0, W, H}}
			buf := make([]byte, W*H*3/2)
			rows := newScratch(W)
			b.ResetTimer()
			for range b.N {
				renderFrame(buf, W, H, a, nil, &p, rows)
			}
		})
	}
}

// BenchmarkReferenceFrame720p times the ONNX reference graph (fp32
// GridSample of two levels, ONNX Runtime on CPU) on the luma plane of the
// same push-in frame as BenchmarkRenderFrame720p/zoom, inputs prepared
// once: the path the fixed-point renderer replaces.
func BenchmarkReferenceFrame720p(b *testing.B) {
	needORT(b)
	ref, err := newReference()
	if err != nil {
		b.Fatal(err)
	}
	defer ref.close()
	const ws, hs, W, H = 1700, 956, 1280, 720
	v := view{aspect: float64(ws) / hs, wo: W, ho: H}
	hy := v.worldToPixels(ws, hs).mul(v.toWorld(pose{logDist: -0.2}, 1))
	for i := range hy {
		hy[i] /= hy[8]
	}
	tensor := func(shape ort.Shape, data []float32) ort.Value {
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	l0 := tensor(ort.NewShape(1, 1, hs, ws), make([]float32, ws*hs))
	l1 := tensor(ort.NewShape(1, 1, hs/2, ws/2), make([]float32, (ws/2)*(hs/2)))
	xy := make([]float32, 0, W*H*3)
	for y := range H {
		for x := range W {
			xy = append(xy, float32(x)+0.5, float32(y)+0.5, 1)
		}
	}
	ins := []ort.Value{l0, l1, l0, l1,
		tensor(ort.NewShape(W*H, 3), xy),
		tensor(ort.NewShape(3, 3), []float32{float32(hy[0]), float32(hy[3]), float32(hy[6]), float32(hy[1]), float32(hy[4]), float32(hy[7]), float32(hy[2]), float32(hy[5]), float32(hy[8])}),
		tensor(ort.NewShape(2), []float32{2.0 / ws, 2.0 / hs}),
		tensor(ort.NewShape(2), []float32{2.0 / ws, 2.0 / hs}),
	}
	size, err := ort.NewTensor(ort.NewShape(4), []int64{1, H, W, 2})
	if err != nil {
		b.Fatal(err)
	}
	ins = append(ins, size, tensor(ort.NewShape(4), []float32{0.4, 0, 1, 16}))
	out := tensor(ort.NewShape(1, 1, H, W), make([]float32, W*H))
	b.ResetTimer()
	for range b.N {
		if err := ref.sess.Run(ins, []ort.Value{out}); err != nil {
			b.Fatal(err)
		}
	}
}

// Any shot within the Kling range renders on any picture shape: random
// combinations of every axis at full strength, several parts, shake,
// walking, an end frame and letterboxes, on small and odd-sized pictures.
func TestCameraExtremeShots(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	rng := rand.New(rand.NewPCG(7, 7))
	amt := func() float64 { return math.Round((rng.Float64()*20-10)*100) / 100 }
	for i := range 40 {
		var s paimeng.Shot
		for range 1 + rng.IntN(3) {
			s.Moves = append(s.Moves, paimeng.Move{Horizontal: amt(), Vertical: amt(), Pan: amt(), Tilt: amt(), Roll: amt(),
				Zoom: amt(), Dolly: amt(), Orbit: amt(), FadeIn: rng.IntN(4) == 0, FadeOut: rng.IntN(4) == 0,
				Ease: []paimeng.Ease{paimeng.EaseInOut, paimeng.EaseLinear, paimeng.EaseSudden}[rng.IntN(3)], Length: rng.Float64() * 2})
		}
		s.Shake, s.Walk = 1.5*rng.Float64(), rng.IntN(2) == 0
		w, h := 64+rng.IntN(300), 64+rng.IntN(300)
		img := blobsImage(w, h, 2, [2]float64{float64(w) / 2, float64(h) / 2})
		in := &paimeng.GenInput{Image: img, Seconds: 1, Seed: int64(i), Shot: &s,
			Aspect: []paimeng.Aspect{paimeng.AspectKeep, paimeng.AspectWide, paimeng.AspectTall, paimeng.AspectSquare}[rng.IntN(4)]}
		if rng.IntN(3) == 0 {
			in.Tail = blobsImage(h, w, 3, [2]float64{10, 10})
		}
		_, frames := gen(t, e, in)
		for j, f := range frames {
			if len(f) == 0 {
				t.Fatalf("shot %d frame %d empty", i, j)
			}
		}
	}
}
