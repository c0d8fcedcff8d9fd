package bench

import (
	"math"
	"testing"
)

// synthClip draws Gaussian markers of standard deviation sigma at the given
// sub-pixel positions (pos[m][k]) on a dark background with a faint texture,
// sampling each pixel at its centre and rounding to 8 bits.
func synthClip(w, h int, sigma float64, pos [][]pt) grayClip {
	n := len(pos[0])
	c := grayClip{W: w, H: h, Frames: make([][]byte, n)}
	for k := range n {
		f := make([]byte, w*h)
		for y := range h {
			for x := range w {
				v := 24 + float64((x*31+y*17)%7) - 3
				for _, p := range pos {
					dx, dy := float64(x)+0.5-p[k].X, float64(y)+0.5-p[k].Y
					v += 200 * math.Exp(-(dx*dx+dy*dy)/(2*sigma*sigma))
				}
				f[y*w+x] = uint8(math.Round(math.Min(255, v)))
			}
		}
		c.Frames[k] = f
	}
	return c
}

// TestTrackSubPixel moves two markers along curved sub-pixel paths and
// checks every tracked position against the truth, starting from either end
// of the clip and from a guess a few pixels off.
func TestTrackSubPixel(t *testing.T) {
	const n = 48
	for _, sigma := range []float64{2, 2.7, 4} {
		pos := make([][]pt, 2)
		for k := range n {
			f := float64(k)
			pos[0] = append(pos[0], pt{80.3 + 40*math.Sin(0.07*f) + 0.37*f, 70.8 + 25*math.Cos(0.05*f)})
			pos[1] = append(pos[1], pt{230.1 - 1.13*f, 150.45 + 0.2*f*f/n})
		}
		clip := synthClip(320, 220, sigma, pos)
		for _, k0 := range []int{0, n - 1} {
			start := []pt{{pos[0][k0].X + 3.2, pos[0][k0].Y - 2.6}, {pos[1][k0].X - 4, pos[1][k0].Y + 1.5}}
			got, err := track(clip, k0, start, sigma, 8*sigma)
			if err != nil {
				t.Fatalf("sigma %v from frame %d: %v", sigma, k0, err)
			}
			var worst float64
			for m := range pos {
				for k := range n {
					worst = math.Max(worst, math.Hypot(got[m][k].X-pos[m][k].X, got[m][k].Y-pos[m][k].Y))
				}
			}
			t.Logf("sigma %v from frame %d: worst error %.4f px", sigma, k0, worst)
			if worst >= 0.05 {
				t.Errorf("sigma %v from frame %d: worst error %.4f px, want < 0.05", sigma, k0, worst)
			}
			if j := jitter(got, pos); j >= 0.05 {
				t.Errorf("sigma %v from frame %d: jitter against the true path %.4f px/frame², want < 0.05", sigma, k0, j)
			}
		}
	}
}

// TestJitterWholePixelSteps draws a marker that glides smoothly in truth but
// is rendered at whole-pixel positions, as a crop at integer offsets does:
// the jitter measured against the smooth path matches the jitter of the
// rounded positions themselves, and the path error matches theirs too.
func TestJitterWholePixelSteps(t *testing.T) {
	const n = 60
	ideal := make([]pt, n)
	drawn := make([]pt, n)
	for k := range n {
		e := 0.5 - 0.5*math.Cos(math.Pi*float64(k)/(n-1))
		ideal[k] = pt{60.2 + 150*e, 50.7 + 70*e}
		drawn[k] = pt{math.Floor(ideal[k].X) + 0.5, math.Floor(ideal[k].Y) + 0.5}
	}
	clip := synthClip(260, 160, 2.7, [][]pt{drawn})
	got, err := track(clip, 0, []pt{ideal[0]}, 2.7, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]pt{ideal}
	jm, jt := jitter(got, want), jitter([][]pt{drawn}, want)
	em, et := pathErr(got, want), pathErr([][]pt{drawn}, want)
	t.Logf("jitter %.3f px/frame² (rounded path %.3f), path error %.3f px (rounded path %.3f)", jm, jt, em, et)
	if jt < 0.3 || math.Abs(jm-jt) > 0.05 || math.Abs(em-et) > 0.05 {
		t.Errorf("jitter %.3f vs %.3f, path error %.3f vs %.3f", jm, jt, em, et)
	}
	if j := jitter(want, want); j != 0 {
		t.Errorf("jitter of the ideal path against itself %v", j)
	}
}

// TestZoomPath checks the centre-zoom geometry: the picture's centre stays
// put, and at zoom 1 a source point lands at its scaled position.
func TestZoomPath(t *testing.T) {
	z := []float64{1, 1.5, 2}
	c := zoomPath(pt{960, 540}, 1920, 1080, 1280, 720, z)
	for _, p := range c {
		if p != (pt{640, 360}) {
			t.Errorf("centre moved to %+v", p)
		}
	}
	p := zoomPath(pt{480, 270}, 1920, 1080, 1280, 720, z)
	want := []pt{{320, 180}, {160, 90}, {0, 0}}
	for k := range z {
		if math.Hypot(p[k].X-want[k].X, p[k].Y-want[k].Y) > 1e-9 {
			t.Errorf("zoom %v: %+v, want %+v", z[k], p[k], want[k])
		}
	}
}
