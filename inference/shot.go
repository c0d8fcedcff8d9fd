package inference

import (
	"math"
	"math/rand/v2"

	"github.com/paimeng/paimeng"
)

// The virtual camera. The picture is the plane Z = 0 of a world with X to
// the right, Y down and Z into the picture; the picture is one unit high
// and centred on the origin. The camera starts on the Z axis at the
// distance where its view just fits the picture, looking straight at it, and
// each Move changes its position, direction and focal length. Each frame
// is then a perspective projection of the plane: a homography from output
// pixels to picture pixels.
//
// Scale of a Move's amounts (Kling units, [-10, 10] per move):
const (
	focal0        = 1.5  // focal length in view heights: a vertical field of view of about 37°
	travelPerUnit = 0.03 // horizontal and vertical travel, in view widths and heights
	degPerUnit    = 1.5  // pan, tilt and roll, in degrees
	orbitPerUnit  = 2.0  // orbit, in degrees around the centre of the view
	log2PerUnit   = 0.1  // zoom and dolly: 10 units double or halve the picture's size
	gentleDolly   = 1.7  // the default push-in of a shot that names no move (×1.125)
	fadeShare     = 0.45 // share of a moving part a fade takes; a part that only fades is all fade
	maxCover      = 8.0  // the largest extra zoom that keeps the picture filling the frame
)

// Shake and walk amplitudes at strength 1.
const (
	shakeTravel = 0.008 // of the view size
	shakeRoll   = 0.4   // degrees
	walkBob     = 0.006 // of the view height
	walkSway    = 0.004 // of the view width
	walkRoll    = 0.25  // degrees
	walkHz      = 1.8   // steps per second
)

// pose is the camera at one instant, before the coverage zoom.
type pose struct {
	x, y             float64 // position on the picture's axes, world units
	logDist          float64 // log2 of the distance to the picture, relative to the start
	pitch, yaw, roll float64 // radians: + looks up, + looks right, + clockwise
	logF             float64 // log2 of the focal length, relative to focal0
	orbit            float64 // radians around the point in front of the camera, + to the right
}

func (p pose) plus(q pose, s float64) pose {
	return pose{
		x: p.x + s*q.x, y: p.y + s*q.y, logDist: p.logDist + s*q.logDist,
		pitch: p.pitch + s*q.pitch, yaw: p.yaw + s*q.yaw, roll: p.roll + s*q.roll,
		logF: p.logF + s*q.logF, orbit: p.orbit + s*q.orbit,
	}
}

func rad(deg float64) float64 { return deg * math.Pi / 180 }

func clampUnit(v float64) float64 { return math.Max(-10, math.Min(10, v)) }

// delta converts a move's amounts to a pose change for a view viewW × viewH
// world units.
func delta(m paimeng.Move, viewW, viewH float64) pose {
	return pose{
		x:       clampUnit(m.Horizontal) * travelPerUnit * viewW,
		y:       -clampUnit(m.Vertical) * travelPerUnit * viewH,
		pitch:   rad(clampUnit(m.Pan) * degPerUnit),
		yaw:     rad(clampUnit(m.Tilt) * degPerUnit),
		roll:    rad(clampUnit(m.Roll) * degPerUnit),
		logF:    -clampUnit(m.Zoom) * log2PerUnit,
		logDist: -clampUnit(m.Dolly) * log2PerUnit,
		orbit:   rad(clampUnit(m.Orbit) * orbitPerUnit),
	}
}

// easeCurve maps a part's local time in [0, 1] to its progress in [0, 1].
func easeCurve(e paimeng.Ease, t float64) float64 {
	t = clamp01(t)
	switch e {
	case paimeng.EaseLinear:
		return t
	case paimeng.EaseSudden:
		// Done within the first 30% of the part, fast then settling.
		u := math.Min(1, t/0.3)
		return 1 - (1-u)*(1-u)*(1-u)
	default:
		return ease(t)
	}
}

func ease(t float64) float64 { return 0.5 - 0.5*math.Cos(math.Pi*clamp01(t)) }

func clamp01(t float64) float64 { return math.Max(0, math.Min(1, t)) }

// effectiveShot returns the shot the engine renders: nil or a shot without
// motion gets the gentle default push-in (its fades kept); a static shot
// keeps only its fades.
func effectiveShot(s *paimeng.Shot) paimeng.Shot {
	var shot paimeng.Shot
	if s != nil {
		shot = *s
		shot.Moves = append([]paimeng.Move(nil), s.Moves...)
	}
	if shot.Static {
		moves := shot.Moves[:0]
		for _, m := range shot.Moves {
			if m.FadeIn || m.FadeOut {
				moves = append(moves, paimeng.Move{FadeIn: m.FadeIn, FadeOut: m.FadeOut, Length: m.Length})
			}
		}
		return paimeng.Shot{Static: true, Moves: moves}
	}
	if !shot.HasMotion() {
		if len(shot.Moves) == 0 {
			shot.Moves = []paimeng.Move{{}}
		}
		for i := range shot.Moves {
			shot.Moves[i].Dolly = gentleDolly / float64(len(shot.Moves))
		}
	}
	return shot
}

// shaker is band-limited noise: a few low-frequency sinusoids per axis with
// seeded frequencies and phases, normalised to [-1, 1].
type shaker struct{ f, p [3][3]float64 }

func newShaker(seed int64) shaker {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	var s shaker
	base := [3]float64{0.8, 1.7, 3.1} // Hz
	for axis := range 3 {
		for i := range 3 {
			s.f[axis][i] = base[i] * (0.85 + 0.3*r.Float64())
			s.p[axis][i] = 2 * math.Pi * r.Float64()
		}
	}
	return s
}

func (s shaker) at(axis int, sec float64) float64 {
	amps := [3]float64{1, 0.5, 0.25}
	var v float64
	for i := range 3 {
		v += amps[i] * math.Sin(2*math.Pi*s.f[axis][i]*sec+s.p[axis][i])
	}
	return v / 1.75
}

// camFrame is one frame of a planned clip.
type camFrame struct {
	pose pose
	gain float64 // brightness: 1 normal, 0 black
	tail float64 // weight of the end frame: 0 first picture only, 1 end frame only
}

// shotPath plans n frames at fps: each move's pose change eased over its
// share of the clip, centred so the camera's travel and turns are
// symmetric around the picture, plus shake and walking, fades and the
// end-frame dissolve. viewW × viewH is the view at the start, world units.
func shotPath(s paimeng.Shot, n, fps int, seed int64, viewW, viewH float64, withTail bool) []camFrame {
	frames := make([]camFrame, n)
	var total float64
	for _, m := range s.Moves {
		total += partLength(m)
	}
	deltas := make([]pose, len(s.Moves))
	for i, m := range s.Moves {
		deltas[i] = delta(m, viewW, viewH)
	}
	for i := range frames {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		var p pose
		gain := 1.0
		if len(s.Moves) > 0 && s.Moves[0].FadeIn {
			gain = 0
		}
		start := 0.0
		for j, m := range s.Moves {
			length := partLength(m) / total
			end := start + length
			if j == len(s.Moves)-1 {
				end = 1
			}
			if t >= end && j < len(s.Moves)-1 {
				p = p.plus(deltas[j], 1)
				if m.FadeOut {
					gain = 0
				} else if m.FadeIn {
					gain = 1
				}
				start = end
				continue
			}
			local := clamp01((t - start) / math.Max(end-start, 1e-9))
			if !s.Static {
				p = p.plus(deltas[j], easeCurve(m.Ease, local))
			}
			share := 1.0
			if m.Moving() && !s.Static {
				share = fadeShare
			}
			if m.FadeIn {
				gain = ease(local / share)
			}
			if m.FadeOut {
				gain *= 1 - ease((local-(1-share))/share)
			}
			break
		}
		frames[i] = camFrame{pose: p, gain: gain}
		if withTail {
			frames[i].tail = ease((t - 0.2) / 0.6)
		}
	}
	centre(frames)
	if s.Static {
		return frames
	}
	sh := newShaker(seed)
	for i := range frames {
		sec := float64(i) / float64(fps)
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		amp := math.Min(1.5, math.Max(s.Shake, partShake(s.Moves, t)))
		p := &frames[i].pose
		if amp > 0 {
			p.x += amp * shakeTravel * viewW * sh.at(0, sec)
			p.y += amp * shakeTravel * viewH * sh.at(1, sec)
			p.roll += amp * rad(shakeRoll) * sh.at(2, sec)
		}
		if s.Walk {
			phase := math.Pi * walkHz * sec
			p.y -= walkBob * viewH * math.Abs(math.Sin(phase))
			p.x += walkSway * viewW * math.Sin(phase)
			p.roll += rad(walkRoll) * math.Sin(phase)
		}
	}
	return frames
}

func partLength(m paimeng.Move) float64 {
	if m.Length > 0 {
		return m.Length
	}
	return 1
}

// partShake is the extra shake of the move playing at clip time t.
func partShake(moves []paimeng.Move, t float64) float64 {
	var total float64
	for _, m := range moves {
		total += partLength(m)
	}
	start := 0.0
	for _, m := range moves {
		end := start + partLength(m)/total
		if t <= end {
			return m.Shake
		}
		start = end
	}
	return 0
}

// centre shifts travel and turns so their range is symmetric around zero:
// a pan sweeps across the picture's centre instead of starting there, which
// needs the least extra zoom to keep the frame filled.
func centre(frames []camFrame) {
	if len(frames) == 0 {
		return
	}
	get := []func(*pose) *float64{
		func(p *pose) *float64 { return &p.x }, func(p *pose) *float64 { return &p.y },
		func(p *pose) *float64 { return &p.pitch }, func(p *pose) *float64 { return &p.yaw },
		func(p *pose) *float64 { return &p.roll }, func(p *pose) *float64 { return &p.orbit },
	}
	for _, g := range get {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range frames {
			v := *g(&frames[i].pose)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		mid := (lo + hi) / 2
		for i := range frames {
			*g(&frames[i].pose) -= mid
		}
	}
}

// mat3 is a row-major 3×3 matrix.
type mat3 [9]float64

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for r := range 3 {
		for k := range 3 {
			c[r*3+k] = a[r*3]*b[k] + a[r*3+1]*b[3+k] + a[r*3+2]*b[6+k]
		}
	}
	return c
}

func (a mat3) inv() mat3 {
	det := a[0]*(a[4]*a[8]-a[5]*a[7]) - a[1]*(a[3]*a[8]-a[5]*a[6]) + a[2]*(a[3]*a[7]-a[4]*a[6])
	d := 1 / det
	return mat3{
		(a[4]*a[8] - a[5]*a[7]) * d, (a[2]*a[7] - a[1]*a[8]) * d, (a[1]*a[5] - a[2]*a[4]) * d,
		(a[5]*a[6] - a[3]*a[8]) * d, (a[0]*a[8] - a[2]*a[6]) * d, (a[2]*a[3] - a[0]*a[5]) * d,
		(a[3]*a[7] - a[4]*a[6]) * d, (a[1]*a[6] - a[0]*a[7]) * d, (a[0]*a[4] - a[1]*a[3]) * d,
	}
}

// apply maps (x, y) through the homography; w is the homogeneous divisor.
func (a mat3) apply(x, y float64) (u, v, w float64) {
	w = a[6]*x + a[7]*y + a[8]
	return (a[0]*x + a[1]*y + a[2]) / w, (a[3]*x + a[4]*y + a[5]) / w, w
}

// view is the geometry shared by every frame of a clip: the picture's
// aspect (width/height) and the output's size in pixels.
type view struct {
	aspect float64 // picture width / height
	wo, ho int     // output (content) size in pixels
}

// viewSize is the world size of the starting view: the largest centred
// rectangle of the output's shape inside the picture.
func (v view) viewSize() (w, h float64) {
	ao := float64(v.wo) / float64(v.ho)
	h = math.Min(1, v.aspect/ao)
	return h * ao, h
}

// toWorld maps output pixels (continuous, origin at the top-left corner) to
// world units on the picture plane for pose p and extra zoom k.
func (v view) toWorld(p pose, k float64) mat3 {
	_, viewH := v.viewSize()
	dist := focal0 * viewH * math.Exp2(p.logDist)
	f := focal0 * math.Exp2(p.logF) * k
	yaw := p.yaw - p.orbit
	cx := p.x + dist*math.Sin(p.orbit)
	cz := -dist * math.Cos(p.orbit)
	// Camera-to-world rotation M = Ry(yaw)·Rx(pitch)·Rz(roll); world to
	// camera is its transpose.
	cy, sy := math.Cos(yaw), math.Sin(yaw)
	cp, sp := math.Cos(p.pitch), math.Sin(p.pitch)
	cr, sr := math.Cos(p.roll), math.Sin(p.roll)
	ry := mat3{cy, 0, sy, 0, 1, 0, -sy, 0, cy}
	rx := mat3{1, 0, 0, 0, cp, -sp, 0, sp, cp}
	rz := mat3{cr, -sr, 0, sr, cr, 0, 0, 0, 1}
	m := ry.mul(rx).mul(rz)
	r := mat3{m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]}
	c := [3]float64{cx, p.y, cz}
	rc := [3]float64{
		r[0]*c[0] + r[1]*c[1] + r[2]*c[2],
		r[3]*c[0] + r[4]*c[1] + r[5]*c[2],
		r[6]*c[0] + r[7]*c[1] + r[8]*c[2],
	}
	// Plane point (X, Y, 1) → camera coordinates: X·r1 + Y·r2 − R·C.
	a := mat3{r[0], r[1], -rc[0], r[3], r[4], -rc[1], r[6], r[7], -rc[2]}
	ho := float64(v.ho)
	kout := mat3{f * ho, 0, float64(v.wo) / 2, 0, f * ho, ho / 2, 0, 0, 1}
	return kout.mul(a).inv()
}

// covered reports whether the output's corners all land on the picture, in
// front of the camera.
func (v view) covered(h mat3) bool {
	const eps = 1e-9
	for _, c := range [4][2]float64{{0, 0}, {float64(v.wo), 0}, {0, float64(v.ho)}, {float64(v.wo), float64(v.ho)}} {
		x, y, w := h.apply(c[0], c[1])
		if w <= 0 || math.IsNaN(x) || math.Abs(x) > v.aspect/2+eps || math.Abs(y) > 0.5+eps {
			return false
		}
	}
	return true
}

// coverZoom is the smallest extra zoom k ≥ 1 that keeps the picture filling
// every frame, at most maxCover.
func (v view) coverZoom(frames []camFrame) float64 {
	k := 1.0
	for _, f := range frames {
		if v.covered(v.toWorld(f.pose, k)) {
			continue
		}
		lo, hi := k, maxCover
		if !v.covered(v.toWorld(f.pose, hi)) {
			return maxCover
		}
		for range 50 {
			mid := (lo + hi) / 2
			if v.covered(v.toWorld(f.pose, mid)) {
				hi = mid
			} else {
				lo = mid
			}
		}
		k = hi
	}
	return k
}

// worldToPixels maps world units to continuous pixel coordinates of a
// ws × hs plane holding the whole picture.
func (v view) worldToPixels(ws, hs int) mat3 {
	return mat3{float64(ws) / v.aspect, 0, float64(ws) / 2, 0, float64(hs), float64(hs) / 2, 0, 0, 1}
}

// scaleAt is the local sampling step of h at output pixel (x, y): source
// pixels per output pixel, the square root of the Jacobian's determinant.
func scaleAt(h mat3, x, y float64) float64 {
	const d = 0.5
	u0, v0, _ := h.apply(x-d, y)
	u1, v1, _ := h.apply(x+d, y)
	u2, v2, _ := h.apply(x, y-d)
	u3, v3, _ := h.apply(x, y+d)
	jx, jy := [2]float64{(u1 - u0) / (2 * d), (v1 - v0) / (2 * d)}, [2]float64{(u3 - u2) / (2 * d), (v3 - v2) / (2 * d)}
	return math.Sqrt(math.Abs(jx[0]*jy[1] - jx[1]*jy[0]))
}
