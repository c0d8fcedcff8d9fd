package inference

import (
	"image"
	"image/draw"
	"math"
	"runtime"
	"sync"
)

// toPlanes converts a still to BT.709 limited-range Y'CbCr planes: Y of
// size ws×hs, U and V of ws/2×hs/2. Y is converted at the picture's
// resolution and chroma from 2×2 averages of RGB (conversion is linear, so
// averaging first is the same), then each plane is resampled to its working
// size with an antialiased triangle filter (half-pixel centres).
func toPlanes(img image.Image, ws, hs int) (y, u, v plane) {
	b := img.Bounds()
	rgba := packedRGBA(img)
	w, h := b.Dx(), b.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	m, off := rgbToYUV709()
	fy := plane{pix: make([]byte, w*h), w: w, h: h}
	fu := plane{pix: make([]byte, cw*ch), w: cw, h: ch}
	fv := plane{pix: make([]byte, cw*ch), w: cw, h: ch}
	parallelRows(h, func(r0, r1 int) {
		for yy := r0; yy < r1; yy++ {
			row := rgba.Pix[yy*rgba.Stride : yy*rgba.Stride+4*w]
			out := fy.pix[yy*w : yy*w+w]
			for x := range out {
				p := row[4*x : 4*x+3]
				out[x] = byte(m[0]*float32(p[0]) + m[1]*float32(p[1]) + m[2]*float32(p[2]) + off[0])
			}
		}
	})
	parallelRows(ch, func(r0, r1 int) {
		for cy := r0; cy < r1; cy++ {
			ya, yb := 2*cy, min(2*cy+1, h-1)
			ra := rgba.Pix[ya*rgba.Stride:]
			rb := rgba.Pix[yb*rgba.Stride:]
			for cx := range cw {
				xa, xb := 4*2*cx, 4*min(2*cx+1, w-1)
				var s [3]float32
				for c := range 3 {
					s[c] = (float32(ra[xa+c]) + float32(ra[xb+c]) + float32(rb[xa+c]) + float32(rb[xb+c])) / 4
				}
				fu.pix[cy*cw+cx] = byte(m[3]*s[0] + m[4]*s[1] + m[5]*s[2] + off[1])
				fv.pix[cy*cw+cx] = byte(m[6]*s[0] + m[7]*s[1] + m[8]*s[2] + off[2])
			}
		}
	})
	return resize(fy, ws, hs), resize(fu, ws/2, hs/2), resize(fv, ws/2, hs/2)
}

// packedRGBA returns img as RGBA with rows 4·width bytes apart, from the
// origin: img itself when it already is.
func packedRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Stride != 4*b.Dx() {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	}
	return rgba
}

// parallelRows runs f over [0, n) split into one band per core.
func parallelRows(n int, f func(r0, r1 int)) {
	parts := min(runtime.NumCPU(), max(1, n/16))
	var wg sync.WaitGroup
	for i := range parts {
		r0, r1 := n*i/parts, n*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(r0, r1)
		}()
	}
	wg.Wait()
}

// taps are one output sample's source indices and weights.
type taps struct {
	first int
	w     []float32
}

// triangle returns the filter taps mapping n source samples to m: a
// triangle of half-width max(1, n/m) source samples around each output
// centre (the antialiased linear filter), edges clamped.
func triangle(n, m int) []taps {
	scale := float64(n) / float64(m)
	support := math.Max(1, scale)
	out := make([]taps, m)
	for i := range out {
		c := (float64(i)+0.5)*scale - 0.5
		lo := int(math.Ceil(c - support))
		hi := int(math.Floor(c + support))
		ws := make([]float32, 0, hi-lo+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			wt := math.Max(0, 1-math.Abs(float64(j)-c)/support)
			ws = append(ws, float32(wt))
			sum += wt
		}
		for k := range ws {
			ws[k] /= float32(sum)
		}
		out[i] = taps{first: lo, w: ws}
	}
	return out
}

// resize resamples p to w×h with the triangle filter; the same size is
// returned as it is.
func resize(p plane, w, h int) plane {
	if p.w == w && p.h == h {
		return p
	}
	tx, ty := triangle(p.w, w), triangle(p.h, h)
	// Horizontal pass into float rows, then vertical.
	tmp := make([]float32, w*p.h)
	parallelRows(p.h, func(r0, r1 int) {
		for y := r0; y < r1; y++ {
			row := p.pix[y*p.w : y*p.w+p.w]
			out := tmp[y*w : y*w+w]
			for x, t := range tx {
				var s float32
				for k, wt := range t.w {
					s += wt * float32(row[min(max(t.first+k, 0), p.w-1)])
				}
				out[x] = s
			}
		}
	})
	q := plane{pix: make([]byte, w*h), w: w, h: h}
	parallelRows(h, func(r0, r1 int) {
		acc := make([]float32, w)
		for y := r0; y < r1; y++ {
			t := ty[y]
			clear(acc)
			for k, wt := range t.w {
				src := tmp[min(max(t.first+k, 0), p.h-1)*w:][:w]
				for x, v := range src {
					acc[x] += wt * v
				}
			}
			out := q.pix[y*w : y*w+w]
			for x, v := range acc {
				out[x] = byte(min(255, max(0, v+0.5)))
			}
		}
	})
	return q
}
