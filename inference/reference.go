package inference

import (
	"errors"
	"fmt"
	"math"

	ort "github.com/yalue/onnxruntime_go"
)

// reference renders frames with refGraph through ONNX Runtime: slow, in
// float, and the yardstick for the fixed-point renderer and GPU kernels.
type reference struct {
	sess *ort.DynamicAdvancedSession
}

func newReference() (*reference, error) {
	if !ort.IsInitialized() {
		return nil, ErrORTNotInitialized
	}
	model, err := refGraph()
	if err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model,
		[]string{"a0", "a1", "b0", "b1", "xy", "ht", "n0", "n1", "size", "mix"}, []string{"out"}, nil)
	if err != nil {
		return nil, fmt.Errorf("inference: reference session: %w", err)
	}
	return &reference{sess: s}, nil
}

func (r *reference) close() error {
	if r.sess == nil {
		return nil
	}
	err := r.sess.Destroy()
	r.sess = nil
	return err
}

// frame renders one yuv420p frame of size w×h as renderFrame does.
func (r *reference) frame(w, h int, a, b *pyramid, p *frameParams) ([]byte, error) {
	dst := make([]byte, w*h+2*(w/2)*(h/2))
	ySize, cw, ch := w*h, w/2, h/2
	levels := len(a.y)
	k, t := lodSplit(p.lod, levels)
	k1 := min(k+1, levels-1)
	mix := float32(0)
	if b != nil {
		mix = float32(math.Round(p.tail*fracOne) / fracOne)
	} else {
		b = a
	}
	lodW := float32(t) / fracOne
	cr := rect{p.rect.x / 2, p.rect.y / 2, p.rect.w / 2, p.rect.h / 2}
	fillBars(dst[:ySize], w, h, p.rect, blackY)
	fillBars(dst[ySize:ySize+cw*ch], cw, ch, cr, blackC)
	fillBars(dst[ySize+cw*ch:], cw, ch, cr, blackC)
	type job struct {
		src, tail [2]plane
		hm        mat3
		r         rect
		stride    int
		out       []byte
		black     float32
	}
	jobs := []job{
		{[2]plane{a.y[k], a.y[k1]}, [2]plane{b.y[k], b.y[k1]}, p.hy, p.rect, w, dst[:ySize], blackY},
		{[2]plane{a.u[k], a.u[k1]}, [2]plane{b.u[k], b.u[k1]}, p.hc, cr, cw, dst[ySize : ySize+cw*ch], blackC},
		{[2]plane{a.v[k], a.v[k1]}, [2]plane{b.v[k], b.v[k1]}, p.hc, cr, cw, dst[ySize+cw*ch:], blackC},
	}
	for _, j := range jobs {
		vals, err := r.plane(j.src, j.tail, j.hm, j.r.w, j.r.h, k, k1, []float32{lodW, mix, float32(p.gain), j.black})
		if err != nil {
			return nil, err
		}
		for y := range j.r.h {
			for x := range j.r.w {
				v := math.Floor(float64(vals[y*j.r.w+x]) + 0.5)
				j.out[(j.r.y+y)*j.stride+j.r.x+x] = byte(max(0, min(255, v)))
			}
		}
	}
	return dst, nil
}

func (r *reference) plane(src, tail [2]plane, hm mat3, wo, ho, k, k1 int, mix []float32) ([]float32, error) {
	if r.sess == nil {
		return nil, errors.New("inference: reference closed")
	}
	var vals []ort.Value
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	add := func(v ort.Value, err error) error {
		if err != nil {
			return fmt.Errorf("inference: reference tensor: %w", err)
		}
		vals = append(vals, v)
		return nil
	}
	floats := func(p plane) []float32 {
		f := make([]float32, len(p.pix))
		for i, b := range p.pix {
			f[i] = float32(b)
		}
		return f
	}
	for _, p := range []plane{src[0], src[1], tail[0], tail[1]} {
		if err := add(ort.NewTensor(ort.NewShape(1, 1, int64(p.h), int64(p.w)), floats(p))); err != nil {
			return nil, err
		}
	}
	xy := make([]float32, 0, wo*ho*3)
	for y := range ho {
		for x := range wo {
			xy = append(xy, float32(x)+0.5, float32(y)+0.5, 1)
		}
	}
	if err := add(ort.NewTensor(ort.NewShape(int64(wo*ho), 3), xy)); err != nil {
		return nil, err
	}
	// Normalise so the divisor is about 1: float32 keeps the precision.
	n := hm
	for i := range n {
		n[i] /= hm[8]
	}
	ht := []float32{float32(n[0]), float32(n[3]), float32(n[6]), float32(n[1]), float32(n[4]), float32(n[7]), float32(n[2]), float32(n[5]), float32(n[8])}
	if err := add(ort.NewTensor(ort.NewShape(3, 3), ht)); err != nil {
		return nil, err
	}
	for i, l := range []int{k, k1} {
		s := math.Exp2(float64(l))
		p := src[i]
		if err := add(ort.NewTensor(ort.NewShape(2), []float32{float32(2 / (float64(p.w) * s)), float32(2 / (float64(p.h) * s))})); err != nil {
			return nil, err
		}
	}
	if err := add(ort.NewTensor(ort.NewShape(4), []int64{1, int64(ho), int64(wo), 2})); err != nil {
		return nil, err
	}
	if err := add(ort.NewTensor(ort.NewShape(4), mix)); err != nil {
		return nil, err
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 1, int64(ho), int64(wo)))
	if err != nil {
		return nil, fmt.Errorf("inference: reference output: %w", err)
	}
	defer out.Destroy()
	if err := r.sess.Run(vals, []ort.Value{out}); err != nil {
		return nil, fmt.Errorf("inference: reference run: %w", err)
	}
	return append([]float32(nil), out.GetData()...), nil
}
