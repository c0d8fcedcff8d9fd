package inference

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"testing"

	"github.com/paimeng/paimeng"
)

func render(t *testing.T, e *CameraEngine, img image.Image, prompt string, secs int, seed int64) (paimeng.VideoSpec, [][]byte) {
	t.Helper()
	in := &paimeng.GenInput{Image: img, Prompt: prompt, Seconds: secs, Seed: seed}
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

// centroid finds the brightness-weighted centre of the marker near p in the
// Y plane of a frame.
func centroid(t *testing.T, f []byte, spec paimeng.VideoSpec, p [2]float64, r int) [2]float64 {
	t.Helper()
	var sx, sy, sw float64
	for y := int(p[1]) - r; y <= int(p[1])+r; y++ {
		for x := int(p[0]) - r; x <= int(p[0])+r; x++ {
			if x < 0 || y < 0 || x >= spec.Width || y >= spec.Height {
				continue
			}
			w := float64(f[y*spec.Width+x]) - 85
			if w > 0 {
				sx += w * float64(x)
				sy += w * float64(y)
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

var fourMarkers = []image.Point{{110, 60}, {210, 60}, {110, 120}, {210, 120}}

func TestCameraPushIn(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := markerImage(320, 180, 6, fourMarkers...)
	spec, frames := render(t, e, img, "推近", 1, 1)
	if spec.Width != 320 || spec.Height != 180 || spec.Frames != 24 || spec.PixFmt != paimeng.PixYUV420P {
		t.Fatalf("spec %+v", spec)
	}
	// Pixel centres map through the (L-1)/(O-1) grid, so a marker at source
	// index p starts at output p·(319/321…) — close enough to locate it.
	var first, last [4][2]float64
	for i, p := range fourMarkers {
		first[i] = centroid(t, frames[0], spec, [2]float64{float64(p.X) - 0.5, float64(p.Y) - 0.5}, 8)
	}
	c := [2]float64{159.5, 89.5}
	for i := range fourMarkers {
		guess := [2]float64{c[0] + (first[i][0]-c[0])*pushZoom, c[1] + (first[i][1]-c[1])*pushZoom}
		last[i] = centroid(t, frames[len(frames)-1], spec, guess, 8)
	}
	for _, pair := range [][2]int{{0, 3}, {1, 2}, {0, 1}} {
		ratio := dist(last[pair[0]], last[pair[1]]) / dist(first[pair[0]], first[pair[1]])
		if math.Abs(ratio-pushZoom) > 0.02 {
			t.Errorf("markers %v: scale %.3f, want %.2f", pair, ratio, pushZoom)
		}
	}
	// The centre stays put: the mean of the four markers does not move.
	var m0, m1 [2]float64
	for i := range 4 {
		for k := range 2 {
			m0[k] += first[i][k] / 4
			m1[k] += last[i][k] / 4
		}
	}
	if dist(m0, m1) > 0.5 {
		t.Errorf("centre moved from %v to %v", m0, m1)
	}
}

func TestCameraPullBack(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := markerImage(320, 180, 6, fourMarkers...)
	spec, frames := render(t, e, img, "pull back", 1, 1)
	a := centroid(t, frames[len(frames)-1], spec, [2]float64{109.5, 59.5}, 8)
	b := centroid(t, frames[len(frames)-1], spec, [2]float64{209.5, 119.5}, 8)
	a0 := centroid(t, frames[0], spec, [2]float64{159.5 - 50*pushZoom, 89.5 - 30*pushZoom}, 8)
	b0 := centroid(t, frames[0], spec, [2]float64{159.5 + 50*pushZoom, 89.5 + 30*pushZoom}, 8)
	if r := dist(a0, b0) / dist(a, b); math.Abs(r-pushZoom) > 0.02 {
		t.Errorf("pull back scale %.3f, want %.2f", r, pushZoom)
	}
}

// "Pan right" moves the camera right, so content slides left; "tilt up"
// moves the camera up, so content slides down.
func TestCameraPanTiltDirection(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := markerImage(320, 180, 6, image.Pt(160, 90))
	for _, tt := range []struct {
		prompt string
		dx, dy int // expected sign of content motion
	}{
		{"pan right", -1, 0},
		{"向左平移", 1, 0},
		{"tilt up", 0, 1},
		{"镜头下移", 0, -1},
	} {
		spec, frames := render(t, e, img, tt.prompt, 1, 1)
		a := centroid(t, frames[0], spec, [2]float64{159.5, 89.5}, 400)
		b := centroid(t, frames[len(frames)-1], spec, a, 400)
		dx, dy := b[0]-a[0], b[1]-a[1]
		if sgn(dx) != tt.dx || sgn(dy) != tt.dy {
			t.Errorf("%q: content moved (%.1f, %.1f), want signs (%d, %d)", tt.prompt, dx, dy, tt.dx, tt.dy)
		}
	}
}

func sgn(v float64) int {
	switch {
	case v > 2:
		return 1
	case v < -2:
		return -1
	}
	return 0
}

func TestCameraStaticAndFade(t *testing.T) {
	e := newEngine(t, CameraOptions{Workers: 3})
	img := markerImage(320, 180, 6, fourMarkers...)
	_, frames := render(t, e, img, "静止", 1, 1)
	for i, f := range frames {
		if !bytes.Equal(f, frames[0]) {
			t.Fatalf("static: frame %d differs from frame 0", i)
		}
	}
	spec, frames := render(t, e, img, "static, fade to black", 1, 1)
	if !bytes.Equal(frames[0], frames[1]) {
		t.Error("fade: opening frames should match before the fade starts")
	}
	ys := spec.Width * spec.Height
	lastF := frames[len(frames)-1]
	var ysum, csum float64
	for _, v := range lastF[:ys] {
		ysum += float64(v)
	}
	for _, v := range lastF[ys:] {
		csum += math.Abs(float64(v) - 128)
	}
	if my := ysum / float64(ys); my > 17 {
		t.Errorf("fade: last frame mean luma %.1f, want black (16)", my)
	}
	if mc := csum / float64(len(lastF)-ys); mc > 1 {
		t.Errorf("fade: last frame chroma deviates %.1f from neutral", mc)
	}
}

func TestCameraDeterministic(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := markerImage(320, 180, 6, fourMarkers...)
	_, a := render(t, e, img, "push in, handheld shake", 1, 42)
	_, b := render(t, e, img, "push in, handheld shake", 1, 42)
	_, c := render(t, e, img, "push in, handheld shake", 1, 43)
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

// A slow move must glide: a marker's per-frame displacement changes
// smoothly instead of stepping by whole pixels.
func TestCameraSubPixel(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	img := blobImage(320, 180, [2]float64{60, 90}, 3)
	spec, frames := render(t, e, img, "a quiet harbour", 2, 1) // gentle push-in
	p := centroid(t, frames[0], spec, [2]float64{59.5, 89.5}, 12)
	xs := []float64{p[0]}
	for _, f := range frames[1:] {
		p = centroid(t, f, spec, p, 12)
		xs = append(xs, p[0])
	}
	var maxStep float64
	for i := 1; i < len(xs); i++ {
		d := xs[i-1] - xs[i] // moves outward (left) as the camera pushes in
		if d < -0.02 {
			t.Fatalf("frame %d: marker moved back %.3f px", i, d)
		}
		maxStep = math.Max(maxStep, d)
		if i > 1 {
			if dd := math.Abs(d - (xs[i-2] - xs[i-1])); dd > 0.08 {
				t.Fatalf("frame %d: displacement jumps by %.3f px (%v)", i, dd, xs)
			}
		}
	}
	if maxStep >= 0.9 || xs[0]-xs[len(xs)-1] < 5 {
		t.Fatalf("expected a slow sub-pixel glide, got steps up to %.2f px over %.1f px", maxStep, xs[0]-xs[len(xs)-1])
	}
}

func TestCameraPlanAndCancel(t *testing.T) {
	e := newEngine(t, CameraOptions{})
	big := image.NewRGBA(image.Rect(0, 0, 4001, 3000))
	spec, err := e.Plan(&paimeng.GenInput{Image: big})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Width != 1280 || spec.Height != 960 || spec.Frames != 120 || spec.FPS != 24 {
		t.Errorf("plan %+v", spec)
	}
	spec, _ = e.Plan(&paimeng.GenInput{Image: big, Seconds: 10, MaxSide: 720})
	if spec.Width != 720 || spec.Height != 540 || spec.Frames != 240 {
		t.Errorf("plan %+v", spec)
	}
	if _, err := e.Plan(&paimeng.GenInput{Image: big, Seconds: 11}); paimeng.ErrorCode(err) != paimeng.EBadOption {
		t.Errorf("11 s: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	img := markerImage(320, 180, 6, fourMarkers...)
	n := 0
	err = e.Generate(ctx, &paimeng.GenInput{Image: img, Seconds: 2}, &countSink{f: func() {
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
