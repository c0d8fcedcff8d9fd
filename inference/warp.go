package inference

import (
	"math"
)

// plane is one 8-bit image plane, stride = w.
type plane struct {
	pix  []byte
	w, h int
}

// halve filters p with the binomial kernel [1 3 3 1]/8 on each axis and
// keeps every second sample: pixel j of the result is centred between
// pixels 2j and 2j+1 of p, so continuous coordinates simply halve, and
// detail the half-size level cannot hold is attenuated far more than by a
// 2×2 box (3% left at a period of 2.5 pixels, against 31%). Edges repeat.
func halve(p plane) plane {
	w, h := (p.w+1)/2, (p.h+1)/2
	// Horizontal pass into rows of 16-bit sums (×8), then vertical (×64).
	tmp := make([]uint16, w*p.h)
	last := p.w - 1
	for y := range p.h {
		row := p.pix[y*p.w : y*p.w+p.w]
		out := tmp[y*w : y*w+w]
		for j := range w {
			x := 2 * j
			a, b, c, d := max(x-1, 0), x, min(x+1, last), min(x+2, last)
			out[j] = uint16(row[a]) + 3*uint16(row[b]) + 3*uint16(row[c]) + uint16(row[d])
		}
	}
	q := plane{pix: make([]byte, w*h), w: w, h: h}
	lastY := p.h - 1
	for i := range h {
		y := 2 * i
		r0 := tmp[max(y-1, 0)*w:]
		r1 := tmp[y*w:]
		r2 := tmp[min(y+1, lastY)*w:]
		r3 := tmp[min(y+2, lastY)*w:]
		out := q.pix[i*w : i*w+w]
		for j := range w {
			out[j] = byte((uint32(r0[j]) + 3*uint32(r1[j]) + 3*uint32(r2[j]) + uint32(r3[j]) + 32) >> 6)
		}
	}
	return q
}

// pyramid is a picture as Y, U and V planes (U and V at half size) with
// successively halved levels for sampling views that shrink the picture.
type pyramid struct {
	y, u, v []plane
}

// newPyramid builds levels 0..levels-1 from the level-0 planes.
func newPyramid(y, u, v plane, levels int) *pyramid {
	p := &pyramid{y: []plane{y}, u: []plane{u}, v: []plane{v}}
	for len(p.y) < levels {
		k := len(p.y) - 1
		p.y = append(p.y, halve(p.y[k]))
		p.u = append(p.u, halve(p.u[k]))
		p.v = append(p.v, halve(p.v[k]))
	}
	return p
}

// Fixed-point precision of the renderer: coordinates and weights in
// 1/1024 pixel, sample values in 1/2^20 of a level.
const (
	fracBits = 10
	fracOne  = 1 << fracBits
	valBits  = 2 * fracBits
)

// frameParams is everything that varies per frame.
type frameParams struct {
	hy, hc mat3    // output pixel (continuous) → level-0 continuous coordinates, luma and chroma
	lod    float64 // level of detail: 0 samples level 0; 1.5 blends levels 1 and 2
	gain   float64 // brightness, 1 normal, 0 black
	tail   float64 // weight of the end frame
	rect   rect    // content area of the output in luma pixels (even); outside is black
}

type rect struct{ x, y, w, h int }

// Limited-range black.
const (
	blackY = 16
	blackC = 128
)

// lodSplit turns a level of detail into the lower level and the weight of
// the next one, in 1/1024.
func lodSplit(lod float64, levels int) (int, int) {
	if lod <= 0 || levels < 2 {
		return 0, 0
	}
	k := int(lod)
	if k >= levels-1 {
		return levels - 1, 0
	}
	return k, int(math.Round((lod - float64(k)) * fracOne))
}

// scratch is one renderer's reusable memory.
type scratch struct {
	rows [5][]int32     // output-row accumulators and a vertically blended source row
	cols [2][2]colTable // separable frames: [luma, chroma][level k, k+1]
}

func newScratch(w int) *scratch {
	sc := &scratch{}
	for i := range sc.rows {
		sc.rows[i] = make([]int32, w+2)
	}
	return sc
}

// colTable holds, for a frame without rotation or perspective, where every
// output column samples one level of a plane: source columns do not depend
// on the row, so they are worked out once per frame.
type colTable struct {
	xw    []int32 // per output column: source column relative to lo << 10 | weight in 1/1024
	lo, n int     // the source columns the row needs: lo .. lo+n-1
}

// build fills the table for n output columns of h on level k of pl.
func (c *colTable) build(h mat3, k int, pl *plane, n int) {
	c.xw = grow(c.xw, n)
	s := 1 / (math.Exp2(float64(k)) * h[8])
	maxU := float64(pl.w - 1)
	lo, hi := math.MaxInt, 0
	for i := range n {
		u := (h[0]*(float64(i)+0.5)+h[2])*s - 0.5
		u = math.Max(0, math.Min(maxU, u))
		fu := int(u * fracOne)
		c.xw[i] = int32(fu)
		lo, hi = min(lo, fu>>fracBits), max(hi, fu>>fracBits)
	}
	for i := range n {
		c.xw[i] -= int32(lo << fracBits)
	}
	c.lo, c.n = lo, min(hi+1, pl.w-1)-lo+1
}

func grow(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// separable reports whether h maps rows to rows and columns to columns.
func separable(h mat3) bool { return h[1] == 0 && h[3] == 0 && h[6] == 0 && h[7] == 0 }

// renderFrame writes one yuv420p frame of size w×h into dst: the content
// rect sampled from a (and b, the end frame, by p.tail), the rest black.
func renderFrame(dst []byte, w, h int, a, b *pyramid, p *frameParams, sc *scratch) {
	ySize, cw, ch := w*h, w/2, h/2
	yPlane, uPlane, vPlane := dst[:ySize], dst[ySize:ySize+cw*ch], dst[ySize+cw*ch:ySize+2*cw*ch]
	levels := len(a.y)
	k, t := lodSplit(p.lod, levels)
	mix := int(math.Round(p.tail * fracOne))
	if b == nil {
		mix = 0
	}
	g := int(math.Round(p.gain * (1 << 16)))
	r := p.rect
	fillBars(yPlane, w, h, r, blackY)
	cr := rect{r.x / 2, r.y / 2, r.w / 2, r.h / 2}
	fillBars(uPlane, cw, ch, cr, blackC)
	fillBars(vPlane, cw, ch, cr, blackC)

	var colsY, colsC *[2]colTable
	if separable(p.hy) {
		colsY, colsC = &sc.cols[0], &sc.cols[1]
		for j, l := range []int{k, min(k+1, levels-1)} {
			colsY[j].build(p.hy, l, &a.y[l], r.w)
			colsC[j].build(p.hc, l, &a.u[l], cr.w)
			need := max(colsY[j].n, colsC[j].n) + 1
			for _, i := range []int{3, 4} {
				if cap(sc.rows[i]) < need {
					sc.rows[i] = make([]int32, need)
				}
			}
		}
	}
	var tailY, tailU, tailV []plane
	if mix > 0 {
		tailY, tailU, tailV = b.y, b.u, b.v
	}
	for y := range r.h {
		out := yPlane[(r.y+y)*w+r.x : (r.y+y)*w+r.x+r.w]
		if colsY != nil && mix == 0 {
			fusedRow(out, sc, p.hy, colsY, y, a.y, k, t, g, blackY)
			continue
		}
		sampleRow(sc, r.w, p.hy, colsY, y, a.y, tailY, k, t, mix)
		finishRow(out, sc.rows[0][:r.w], g, blackY)
	}
	for y := range cr.h {
		for _, c := range [2]struct {
			pl        []byte
			src, tail []plane
		}{{uPlane, a.u, tailU}, {vPlane, a.v, tailV}} {
			out := c.pl[(cr.y+y)*cw+cr.x : (cr.y+y)*cw+cr.x+cr.w]
			if colsC != nil && mix == 0 {
				fusedRow(out, sc, p.hc, colsC, y, c.src, k, t, g, blackC)
				continue
			}
			sampleRow(sc, cr.w, p.hc, colsC, y, c.src, c.tail, k, t, mix)
			finishRow(out, sc.rows[0][:cr.w], g, blackC)
		}
	}
}

// fusedRow is the common case of a separable frame without an end frame in
// one pass: both levels' source rows are blended vertically, then each
// output pixel samples both, blends them by t/1024, applies the gain and
// rounds. The arithmetic is exactly sampleRow's and finishRow's.
func fusedRow(out []byte, sc *scratch, h mat3, cols *[2]colTable, y int, src []plane, k, t, g, black int) {
	const half = 1 << (valBits - 1)
	const mask = fracOne - 1
	va := verticalRow(sc.rows[4], h, y, &src[k], k, &cols[0])
	xa := cols[0].xw[:len(out)]
	if t == 0 && g == 1<<16 {
		for i, xw := range xa {
			x := xw >> fracBits
			p := int(va[x])
			out[i] = byte((p<<fracBits + (int(va[x+1])-p)*int(xw&mask) + half) >> valBits)
		}
		return
	}
	var vb []int32
	xb := xa
	if t > 0 {
		vb = verticalRow(sc.rows[3], h, y, &src[k+1], k+1, &cols[1])
		xb = cols[1].xw[:len(xa)]
	}
	if g == 1<<16 {
		// Blends of in-range values stay in range: no clamp.
		for i, xw := range xa {
			x := xw >> fracBits
			p := int(va[x])
			v := p<<fracBits + (int(va[x+1])-p)*int(xw&mask)
			xw = xb[i]
			x = xw >> fracBits
			q := int(vb[x])
			u := q<<fracBits + (int(vb[x+1])-q)*int(xw&mask)
			out[i] = byte((v + ((u-v)*t)>>fracBits + half) >> valBits)
		}
		return
	}
	bl := black << valBits
	for i, xw := range xa {
		x := xw >> fracBits
		p := int(va[x])
		v := p<<fracBits + (int(va[x+1])-p)*int(xw&mask)
		if t > 0 {
			xw = xb[i]
			x = xw >> fracBits
			q := int(vb[x])
			u := q<<fracBits + (int(vb[x+1])-q)*int(xw&mask)
			v += ((u - v) * t) >> fracBits
		}
		v = ((v-bl)*g)>>16 + bl
		out[i] = byte(max(0, min(255, (v+half)>>valBits)))
	}
}

// verticalRow blends the two source rows of output row y over the columns
// the row needs, in 1/1024 of a level, into buf (grown as needed).
func verticalRow(buf []int32, h mat3, y int, pl *plane, k int, c *colTable) []int32 {
	s := 1 / (math.Exp2(float64(k)) * h[8])
	v := (h[4]*(float64(y)+0.5)+h[5])*s - 0.5
	v = math.Max(0, math.Min(float64(pl.h-1), v))
	fv := int(v * fracOne)
	y0, wy := fv>>fracBits, int32(fv&(fracOne-1))
	y1 := min(y0+1, pl.h-1)
	r0 := pl.pix[y0*pl.w+c.lo : y0*pl.w+c.lo+c.n]
	r1 := pl.pix[y1*pl.w+c.lo : y1*pl.w+c.lo+c.n]
	vr := buf[:cap(buf)][:c.n+1]
	r1 = r1[:len(r0)]
	for j, p := range r0 {
		a := int32(p)
		vr[j] = a<<fracBits + (int32(r1[j])-a)*wy
	}
	vr[c.n] = vr[c.n-1]
	return vr
}

// sampleRow samples n pixels of output row y of one plane into
// sc.rows[0] (values << 20): the trilinear blend of levels k and k+1
// (weight t/1024) of src, blended with the end frame's plane tail by
// mix/1024. cols is set for separable frames.
func sampleRow(sc *scratch, n int, h mat3, cols *[2]colTable, y int, src, tail []plane, k, t, mix int) {
	acc := sc.rows[0][:n]
	sampleLevels(acc, sc.rows[1][:n], sc.rows[4], h, cols, y, src, k, t)
	if mix == 0 {
		return
	}
	ob := sc.rows[2][:n]
	sampleLevels(ob, sc.rows[3][:n], sc.rows[4], h, cols, y, tail, k, t)
	for i := range acc {
		acc[i] += int32((int64(ob[i]-acc[i]) * int64(mix)) >> fracBits)
	}
}

// sampleLevels samples levels k and k+1 of src and blends them by t/1024.
func sampleLevels(acc, tmp, vr []int32, h mat3, cols *[2]colTable, y int, src []plane, k, t int) {
	if cols != nil {
		separableRow(acc, vr, h, y, &src[k], k, &cols[0])
	} else {
		bilinearRow(acc, h, y, &src[k], k)
	}
	if t == 0 {
		return
	}
	if cols != nil {
		separableRow(tmp, vr, h, y, &src[k+1], k+1, &cols[1])
	} else {
		bilinearRow(tmp, h, y, &src[k+1], k+1)
	}
	for i := range acc {
		acc[i] += int32((int64(tmp[i]-acc[i]) * int64(t)) >> fracBits)
	}
}

// separableRow samples output row y of a separable frame from level k of
// pl: the two source rows are blended once over the columns the row needs
// (into vr), then every output pixel blends two neighbours of that row.
// The arithmetic is exactly bilinearRow's, in the other order.
func separableRow(out, vr []int32, h mat3, y int, pl *plane, k int, c *colTable) {
	vr = verticalRow(vr, h, y, pl, k, c)
	for i, xw := range c.xw[:len(out)] {
		x := xw >> fracBits
		a := vr[x]
		out[i] = a<<fracBits + (vr[x+1]-a)*(xw&(fracOne-1))
	}
}

// bilinearRow samples output pixels 0..len(out)-1 of row y through h from
// level k of a plane (level-0 coordinates halve per level), clamping to the
// edge. Values are scaled by 2^20.
func bilinearRow(out []int32, h mat3, y int, pl *plane, k int) {
	s := 1 / math.Exp2(float64(k))
	yc := float64(y) + 0.5
	// Numerators and divisor at x = 0.5, stepping by one pixel.
	nu := h[0]*0.5 + h[1]*yc + h[2]
	nv := h[3]*0.5 + h[4]*yc + h[5]
	nw := h[6]*0.5 + h[7]*yc + h[8]
	const one = 1 << 24 // bilinearAffine's fixed point
	if h[6] == 0 && h[7] == 0 {
		// Affine: coordinates step linearly; walk them in fixed point.
		iw := s / nw
		u0, v0 := nu*iw-0.5, nv*iw-0.5
		bilinearAffine(out, pl, clampFix(u0*one), clampFix(v0*one), clampFix(h[0]*iw*one), clampFix(h[3]*iw*one))
		return
	}
	// Perspective: exact coordinates every span pixels, linear steps in
	// between (off by under 0.002 px for the camera's angles).
	const span = 8
	for i := 0; i < len(out); i += span {
		n := min(span, len(out)-i)
		iw := s / nw
		u0, v0 := nu*iw-0.5, nv*iw-0.5
		nu += float64(n) * h[0]
		nv += float64(n) * h[3]
		nw += float64(n) * h[6]
		iw1 := s / nw
		u1, v1 := nu*iw1-0.5, nv*iw1-0.5
		if !(iw > 0 && iw1 > 0) || math.IsNaN(u0+v0+u1+v1) {
			u0, v0, u1, v1 = 0, 0, 0, 0 // behind the camera: never inside a planned frame
		}
		bilinearAffine(out[i:i+n], pl, clampFix(u0*one), clampFix(v0*one),
			clampFix((u1-u0)/float64(n)*one), clampFix((v1-v0)/float64(n)*one))
	}
}

// clampFix converts to fixed point, keeping far-off values in range.
func clampFix(v float64) int64 {
	if v > 1<<50 {
		return 1 << 50
	}
	if v > -1<<50 {
		return int64(v)
	}
	return -1 << 50 // and NaN
}

// bilinearAffine samples len(out) pixels starting at (u, v) and stepping
// (du, dv), all in 1/2^24 pixel, clamped to the plane.
func bilinearAffine(out []int32, pl *plane, u, v, du, dv int64) {
	const shift = 24 - fracBits
	maxU, maxV := int64(pl.w-1)<<24, int64(pl.h-1)<<24
	if dv == 0 {
		// A row of constant v (no roll): one pair of source rows.
		fv := int(min(max(v, 0), maxV) >> shift)
		y0, wy := fv>>fracBits, fv&(fracOne-1)
		y1 := min(y0+1, pl.h-1)
		r0, r1 := pl.pix[y0*pl.w:y0*pl.w+pl.w], pl.pix[y1*pl.w:y1*pl.w+pl.w]
		last := pl.w - 1
		for i := range out {
			fu := int(min(max(u, 0), maxU) >> shift)
			u += du
			x0, wx := fu>>fracBits, fu&(fracOne-1)
			x1 := min(x0+1, last)
			a, c := int(r0[x0]), int(r1[x0])
			top := a<<fracBits + (int(r0[x1])-a)*wx
			bot := c<<fracBits + (int(r1[x1])-c)*wx
			out[i] = int32(top<<fracBits + (bot-top)*wy)
		}
		return
	}
	pix, w := pl.pix, pl.w
	lastX, lastY := pl.w-1, pl.h-1
	for i := range out {
		fu := int(min(max(u, 0), maxU) >> shift)
		fv := int(min(max(v, 0), maxV) >> shift)
		u += du
		v += dv
		x0, y0 := fu>>fracBits, fv>>fracBits
		wx, wy := fu&(fracOne-1), fv&(fracOne-1)
		x1, y1 := min(x0+1, lastX), min(y0+1, lastY)
		i0, i1 := y0*w, y1*w
		a, c := int(pix[i0+x0]), int(pix[i1+x0])
		top := a<<fracBits + (int(pix[i0+x1])-a)*wx
		bot := c<<fracBits + (int(pix[i1+x1])-c)*wx
		out[i] = int32(top<<fracBits + (bot-top)*wy)
	}
}

// finishRow applies the gain (1/65536) towards black and rounds to 8 bits.
func finishRow(out []byte, acc []int32, g, black int) {
	const half = 1 << (valBits - 1)
	if g == 1<<16 {
		for i, v := range acc {
			out[i] = byte((int(v) + half) >> valBits)
		}
		return
	}
	b := black << valBits
	for i, v := range acc {
		x := ((int64(int(v)-b)*int64(g))>>16 + int64(b) + half) >> valBits
		out[i] = byte(max(0, min(255, x)))
	}
}

// fillBars paints the part of a plane outside r.
func fillBars(pl []byte, w, h int, r rect, v byte) {
	if r.x == 0 && r.y == 0 && r.w == w && r.h == h {
		return
	}
	for y := range h {
		row := pl[y*w : y*w+w]
		if y < r.y || y >= r.y+r.h {
			fill(row, v)
			continue
		}
		fill(row[:r.x], v)
		fill(row[r.x+r.w:], v)
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}
