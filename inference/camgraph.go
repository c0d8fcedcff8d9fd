package inference

// BT.709 limited-range RGB → Y'CbCr, rows Y, Cb, Cr; inputs 0..255.
func rgbToYUV709() (w [9]float32, b [3]float32) {
	const kr, kb = 0.2126, 0.0722
	const kg = 1 - kr - kb
	ys, cs := 219.0/255.0, 224.0/255.0
	m := [9]float64{
		kr * ys, kg * ys, kb * ys,
		-kr / (2 * (1 - kb)) * cs, -kg / (2 * (1 - kb)) * cs, (1 - kb) / (2 * (1 - kb)) * cs,
		(1 - kr) / (2 * (1 - kr)) * cs, -kg / (2 * (1 - kr)) * cs, -kb / (2 * (1 - kr)) * cs,
	}
	for i, v := range m {
		w[i] = float32(v)
	}
	// +0.5 so the final truncating cast rounds.
	return w, [3]float32{16.5, 128.5, 128.5}
}

// refGraph is the reference implementation of one plane of one frame,
// which the fixed-point renderer (and any GPU kernel) is tested against:
// output pixel centres through a homography, a bilinear GridSample of two
// pyramid levels blended by the level-of-detail weight, the same for the
// end frame blended by its weight, then the fade towards black.
//
//	in   a0, a1   float [1, C, H0, W0], [1, C, H1, W1]   picture, levels k and k+1
//	in   b0, b1   float                                 end frame, same shapes
//	in   xy       float [N, 3]      output pixel centres (x+0.5, y+0.5, 1), row-major
//	in   ht       float [3, 3]      the homography, transposed (xy · ht = level-0 coordinates)
//	in   n0, n1   float [2]         level-0 coordinates → GridSample's [-1, 1]: 2/(W0·2^k), 2/(H0·2^k) …
//	in   size     int64 [4]         1, ho, wo, 2
//	in   mix      float [4]         lod weight, end-frame weight, gain, black
//	out  out      float [1, C, ho, wo]   before rounding
func refGraph() ([]byte, error) {
	g := newGraph("paimeng_camera_reference")
	a0 := g.input("a0", tFloat, 1, "c", "h0", "w0")
	a1 := g.input("a1", tFloat, 1, "c", "h1", "w1")
	b0 := g.input("b0", tFloat, 1, "c", "h0", "w0")
	b1 := g.input("b1", tFloat, 1, "c", "h1", "w1")
	xy := g.input("xy", tFloat, "n", 3)
	ht := g.input("ht", tFloat, 3, 3)
	n0 := g.input("n0", tFloat, 2)
	n1 := g.input("n1", tFloat, 2)
	size := g.input("size", tInt64, 4)
	mix := g.input("mix", tFloat, 4)

	p := g.node("MatMul", []string{xy, ht}, nil)
	slice := func(in string, from, to int64) string {
		return g.node("Slice", []string{in, g.constI([]int64{1}, from), g.constI([]int64{1}, to), g.constI([]int64{1}, 1)}, nil)
	}
	uv := g.node("Div", []string{slice(p, 0, 2), slice(p, 2, 3)}, nil)
	one := g.constF([]int64{1}, 1)
	grid := func(n string) string {
		gr := g.node("Sub", []string{g.node("Mul", []string{uv, n}, nil), one}, nil)
		return g.node("Reshape", []string{gr, size}, nil)
	}
	g0, g1 := grid(n0), grid(n1)
	gs := attrs{"mode": "bilinear", "padding_mode": "border", "align_corners": 0}
	lerp := func(x, y, w string) string {
		return g.node("Add", []string{x, g.node("Mul", []string{g.node("Sub", []string{y, x}, nil), w}, nil)}, nil)
	}
	m := func(i int64) string { return slice0(g, mix, i) }
	a := lerp(g.node("GridSample", []string{a0, g0}, gs), g.node("GridSample", []string{a1, g1}, gs), m(0))
	b := lerp(g.node("GridSample", []string{b0, g0}, gs), g.node("GridSample", []string{b1, g1}, gs), m(0))
	v := lerp(a, b, m(1))
	// black + (v − black)·gain
	black := m(3)
	g.node("Add", []string{black, g.node("Mul", []string{g.node("Sub", []string{v, black}, nil), m(2)}, nil)}, nil, "out")
	g.output("out", tFloat, 1, "c", "ho", "wo")
	return g.model(19)
}

// slice0 takes element i of a 1-D tensor as a [1] tensor.
func slice0(g *graph, in string, i int64) string {
	return g.node("Slice", []string{in, g.constI([]int64{1}, i), g.constI([]int64{1}, i+1)}, nil)
}
