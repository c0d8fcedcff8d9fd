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

// prepGraph turns a packed RGBA still into the working planes with
// antialiased resizes on the 8-bit pixels: Y from a (hs, ws) resize, U and V
// from a (hs/2, ws/2) one (the 2×2 chroma average, folded into the filter),
// each converted to BT.709 limited range by one small MatMul. The results
// of a BT.709 conversion of 0..255 RGB are always in range, so no clip.
//
//	in   rgba    uint8 [1, h, w, 4]
//	in   size_y  int64 [4] = 1, hs, ws, 4
//	in   size_c  int64 [4] = 1, hs/2, ws/2, 4
//	out  y       uint8 [1, 1, hs, ws]
//	out  uv      uint8 [1, 2, hs/2, ws/2]
func prepGraph() ([]byte, error) {
	g := newGraph("paimeng_prep")
	rgba := g.input("rgba", tUint8, 1, "h", "w", 4)
	sizeY := g.input("size_y", tInt64, 4)
	sizeC := g.input("size_c", tInt64, 4)
	w, b := rgbToYUV709()
	// Weights as [4, n] with a zero alpha row.
	mat := func(rows ...int) string {
		m := make([]float32, 4*len(rows))
		for j, r := range rows {
			for c := range 3 {
				m[c*len(rows)+j] = w[r*3+c]
			}
		}
		return g.constF([]int64{4, int64(len(rows))}, m...)
	}
	ra := attrs{"mode": "linear", "antialias": 1, "coordinate_transformation_mode": "half_pixel"}

	y := g.node("Resize", []string{rgba, "", "", sizeY}, ra)
	y = g.node("Cast", []string{y}, attrs{"to": int(tFloat)})
	y = g.node("Add", []string{g.node("MatMul", []string{y, mat(0)}, nil), g.constF([]int64{1}, b[0])}, nil)
	y = g.node("Cast", []string{y}, attrs{"to": int(tUint8)})
	g.node("Transpose", []string{y}, attrs{"perm": []int64{0, 3, 1, 2}}, "y") // C=1: a relabel

	c := g.node("Resize", []string{rgba, "", "", sizeC}, ra)
	c = g.node("Cast", []string{c}, attrs{"to": int(tFloat)})
	c = g.node("Add", []string{g.node("MatMul", []string{c, mat(1, 2)}, nil), g.constF([]int64{2}, b[1], b[2])}, nil)
	c = g.node("Cast", []string{c}, attrs{"to": int(tUint8)})
	g.node("Transpose", []string{c}, attrs{"perm": []int64{0, 3, 1, 2}}, "uv")

	g.output("y", tUint8, 1, 1, "hs", "ws")
	g.output("uv", tUint8, 1, 2, "hc", "wc")
	return g.model(19)
}

// warpGraph samples one frame from the working planes: a bilinear
// crop-and-resize (sub-pixel, any scale) of the Y plane and of the U and V
// planes, whose boxes come from the camera path, written as uint8 straight
// into the planes of a yuv420p frame buffer (U and V are the two channels of
// one NCHW tensor, which is exactly their planar layout). With fade set, the
// frame also takes a gain: y·g + by and uv·g + bc, where the biases pull
// towards limited-range black and add the 0.5 that makes the cast round.
//
//	in   y       uint8 [1, 1, hs, ws]
//	in   uv      uint8 [1, 2, hc, wc]
//	in   roi_y   float [8]   Resize roi (tf_crop_and_resize)
//	in   roi_c   float [8]
//	in   size_y  int64 [4] = 1, 1, ho, wo
//	in   size_c  int64 [4] = 1, 2, ho/2, wo/2
//	in   gain    float [3] = g, by, bc   (fade only)
//	out  y_out   uint8 [1, 1, ho, wo]
//	out  uv_out  uint8 [1, 2, ho/2, wo/2]
func warpGraph(fade bool) ([]byte, error) {
	g := newGraph("paimeng_warp")
	y := g.input("y", tUint8, 1, 1, "hs", "ws")
	uv := g.input("uv", tUint8, 1, 2, "hc", "wc")
	roiY := g.input("roi_y", tFloat, 8)
	roiC := g.input("roi_c", tFloat, 8)
	sizeY := g.input("size_y", tInt64, 4)
	sizeC := g.input("size_c", tInt64, 4)
	ra := func(black float32) attrs {
		return attrs{"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": black}
	}
	if !fade {
		g.node("Resize", []string{y, roiY, "", sizeY}, ra(16), "y_out")
		g.node("Resize", []string{uv, roiC, "", sizeC}, ra(128), "uv_out")
	} else {
		gain := g.input("gain", tFloat, 3)
		gg := g.node("Slice", []string{gain, g.constI([]int64{1}, 0), g.constI([]int64{1}, 1)}, nil)
		by := g.node("Slice", []string{gain, g.constI([]int64{1}, 1), g.constI([]int64{1}, 2)}, nil)
		bc := g.node("Slice", []string{gain, g.constI([]int64{1}, 2), g.constI([]int64{1}, 3)}, nil)
		for _, p := range []struct {
			in, roi, size, bias, out string
			black                    float32
		}{
			{y, roiY, sizeY, by, "y_out", 16}, {uv, roiC, sizeC, bc, "uv_out", 128},
		} {
			a := g.node("Resize", []string{p.in, p.roi, "", p.size}, ra(p.black))
			a = g.node("Cast", []string{a}, attrs{"to": int(tFloat)})
			a = g.node("Add", []string{g.node("Mul", []string{a, gg}, nil), p.bias}, nil)
			g.node("Cast", []string{a}, attrs{"to": int(tUint8)}, p.out)
		}
	}
	g.output("y_out", tUint8, 1, 1, "ho", "wo")
	g.output("uv_out", tUint8, 1, 2, "hoc", "woc")
	return g.model(19)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
