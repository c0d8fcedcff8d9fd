package inference

import (
	"image"
	"image/color"
	"math"
	"os"
	"sync"
	"testing"
)

var ortOnce sync.Once

// needORT initialises the runtime from PAIMENG_ORT_LIBRARY.
func needORT(t testing.TB) {
	t.Helper()
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		t.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
	}
	var err error
	ortOnce.Do(func() { err = InitORT(lib) })
	if err != nil {
		t.Fatal(err)
	}
}

func newEngine(t testing.TB, opt CameraOptions) *CameraEngine {
	t.Helper()
	needORT(t)
	e, err := NewCameraEngine(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// memSink keeps copies of every frame.
type memSink struct{ frames [][]byte }

func (s *memSink) WriteFrame(f []byte) error {
	s.frames = append(s.frames, append([]byte(nil), f...))
	return nil
}

// markerImage is a mid-grey picture with a gentle gradient and bright square
// markers of side sq centred at the given points.
func markerImage(w, h, sq int, pts ...image.Point) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(40 + 30*x/w)
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	for _, p := range pts {
		for y := p.Y - sq/2; y < p.Y+sq/2; y++ {
			for x := p.X - sq/2; x < p.X+sq/2; x++ {
				img.SetRGBA(x, y, color.RGBA{250, 250, 250, 255})
			}
		}
	}
	return img
}

// blobImage is a flat dark picture with one Gaussian blob (sigma s) at c,
// which bilinear sampling reproduces without edge artefacts.
func blobImage(w, h int, c [2]float64, s float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dx, dy := float64(x)+0.5-c[0], float64(y)+0.5-c[1]
			v := uint8(30 + 220*math.Exp(-(dx*dx+dy*dy)/(2*s*s)))
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return img
}
