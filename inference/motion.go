package inference

import (
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
)

// Motion is the camera move read from a prompt. Moves combine: a push-in can
// shake and fade out at the same time.
//
// Directions are camera directions: PanX > 0 ("pan right") moves the camera
// right, so the picture content slides left; TiltY > 0 ("tilt up") moves the
// camera up, so the content slides down.
type Motion struct {
	Zoom    int  // +1 push in, -1 pull back, 0 none
	PanX    int  // +1 right, -1 left, 0 none
	TiltY   int  // +1 up, -1 down, 0 none
	Shake   bool // handheld, band-limited shake
	Static  bool // locked camera: no zoom, pan, tilt or shake
	FadeOut bool // fade to black over the last part of the clip
	Gentle  bool // no move was named: a slow default push-in
}

type cue struct {
	zh  []string // matched as substrings
	en  []string // matched as whole words, case-insensitive
	set func(*Motion)
}

var cues = []cue{
	{zh: []string{"推近", "拉近", "放大", "推进", "靠近"},
		en:  []string{"push in", "push-in", "zoom in", "zoom-in", "dolly in", "dolly-in", "move in", "close in"},
		set: func(m *Motion) { m.Zoom = 1 }},
	{zh: []string{"后拉", "拉远", "缩小", "远离", "拉开"},
		en:  []string{"pull back", "pull-back", "pull out", "zoom out", "zoom-out", "dolly out", "dolly-out"},
		set: func(m *Motion) { m.Zoom = -1 }},
	{zh: []string{"左移", "向左", "往左", "左摇", "左平移"},
		en:  []string{"pan left", "truck left", "move left", "track left"},
		set: func(m *Motion) { m.PanX = -1 }},
	{zh: []string{"右移", "向右", "往右", "右摇", "右平移"},
		en:  []string{"pan right", "truck right", "move right", "track right"},
		set: func(m *Motion) { m.PanX = 1 }},
	{zh: []string{"上移", "向上", "往上", "上摇", "升", "仰"},
		en:  []string{"tilt up", "pan up", "crane up", "pedestal up", "move up"},
		set: func(m *Motion) { m.TiltY = 1 }},
	{zh: []string{"下移", "向下", "往下", "下摇", "降", "俯"},
		en:  []string{"tilt down", "pan down", "crane down", "pedestal down", "move down"},
		set: func(m *Motion) { m.TiltY = -1 }},
	{zh: []string{"晃动", "抖动", "摇晃", "手持", "震动", "晃"},
		en:  []string{"shake", "shaky", "shaking", "handheld", "hand-held", "jitter", "wobble"},
		set: func(m *Motion) { m.Shake = true }},
	{zh: []string{"不动", "固定", "静止", "定格", "静态"},
		en:  []string{"static", "locked", "locked-off", "still camera", "tripod", "no camera movement"},
		set: func(m *Motion) { m.Static = true }},
	{zh: []string{"暗转", "隐入黑暗", "淡出", "渐黑", "黑场", "变黑", "渐暗"},
		en:  []string{"fade to black", "fade out", "fade-out", "fades out", "fades to black", "fade to dark"},
		set: func(m *Motion) { m.FadeOut = true }},
}

// Undirected lateral moves default to the right.
var lateral = cue{zh: []string{"横移", "平移"}, en: []string{"pan", "truck", "tracking shot"},
	set: func(m *Motion) { m.PanX = 1 }}

var cueRE = func() map[string]*regexp.Regexp {
	res := map[string]*regexp.Regexp{}
	for _, c := range append(cues, lateral) {
		for _, w := range c.en {
			res[w] = regexp.MustCompile(`(^|[^a-z])` + regexp.QuoteMeta(w) + `($|[^a-z])`)
		}
	}
	return res
}()

func (c cue) match(lower string) bool {
	for _, w := range c.zh {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, w := range c.en {
		if strings.Contains(lower, w) && cueRE[w].MatchString(lower) {
			return true
		}
	}
	return false
}

// ParseMotion reads camera moves from a Chinese or English prompt. Unknown
// text is ignored; a prompt naming no move gets a gentle push-in.
func ParseMotion(prompt string) Motion {
	lower := strings.ToLower(prompt)
	var m Motion
	for _, c := range cues {
		if c.match(lower) {
			c.set(&m)
		}
	}
	if m.PanX == 0 && lateral.match(lower) {
		lateral.set(&m)
	}
	if m.Static {
		return Motion{Static: true, FadeOut: m.FadeOut}
	}
	if m.Zoom == 0 && m.PanX == 0 && m.TiltY == 0 && !m.Shake {
		m.Zoom, m.Gentle = 1, true
	}
	return m
}

// moves reports whether the camera moves at all.
func (m Motion) moves() bool {
	return !m.Static && (m.Zoom != 0 || m.PanX != 0 || m.TiltY != 0 || m.Shake)
}

// String describes the move in English, for logs.
func (m Motion) String() string {
	var parts []string
	switch {
	case m.Static:
		parts = append(parts, "static")
	case m.Gentle:
		parts = append(parts, "gentle push in")
	case m.Zoom > 0:
		parts = append(parts, "push in")
	case m.Zoom < 0:
		parts = append(parts, "pull back")
	}
	if m.PanX > 0 {
		parts = append(parts, "pan right")
	} else if m.PanX < 0 {
		parts = append(parts, "pan left")
	}
	if m.TiltY > 0 {
		parts = append(parts, "tilt up")
	} else if m.TiltY < 0 {
		parts = append(parts, "tilt down")
	}
	if m.Shake {
		parts = append(parts, "shake")
	}
	if m.FadeOut {
		parts = append(parts, "fade out")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Camera state for one frame: zoom (1 = whole picture), centre offsets in
// [-1, 1] of the travel the zoom leaves free (+x right, +y down, in picture
// coordinates), shake offsets in output pixels, and brightness gain.
type camState struct {
	zoom           float64
	panX, panY     float64
	shakeX, shakeY float64
	gain           float64
}

// Motion amounts.
const (
	pushZoom   = 1.30 // push in / pull back range
	gentleZoom = 1.12 // default push-in
	travelZoom = 1.20 // base zoom that leaves room to pan or tilt
	shakeZoom  = 1.05 // base zoom that hides the shake borders
	shakeAmp   = 0.010
	fadeStart  = 0.55 // fraction of the clip after which the fade runs
)

func ease(t float64) float64 { return 0.5 - 0.5*math.Cos(math.Pi*clamp01(t)) }

func clamp01(t float64) float64 { return math.Max(0, math.Min(1, t)) }

// shaker is band-limited noise: a few low-frequency sinusoids per axis with
// seeded frequencies and phases.
type shaker struct{ fx, px, fy, py [3]float64 }

func newShaker(seed int64) shaker {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	var s shaker
	base := [3]float64{0.8, 1.7, 3.1} // Hz
	for i := range 3 {
		s.fx[i] = base[i] * (0.85 + 0.3*r.Float64())
		s.px[i] = 2 * math.Pi * r.Float64()
		s.fy[i] = base[i] * (0.85 + 0.3*r.Float64())
		s.py[i] = 2 * math.Pi * r.Float64()
	}
	return s
}

func (s shaker) at(sec float64) (x, y float64) {
	shakeAmps := [3]float64{1, 0.5, 0.25}
	var norm float64
	for i := range 3 {
		x += shakeAmps[i] * math.Sin(2*math.Pi*s.fx[i]*sec+s.px[i])
		y += shakeAmps[i] * math.Sin(2*math.Pi*s.fy[i]*sec+s.py[i])
		norm += shakeAmps[i]
	}
	return x / norm, y / norm
}

// path returns the camera state of each of n frames at fps.
func (m Motion) path(n, fps int, seed int64, outW int) []camState {
	states := make([]camState, n)
	base := 1.0
	if m.PanX != 0 || m.TiltY != 0 {
		base *= travelZoom
	}
	if m.Shake {
		base *= shakeZoom
	}
	sh := newShaker(seed)
	for i := range states {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		e := ease(t)
		s := camState{zoom: base, gain: 1}
		if !m.Static {
			top := pushZoom
			if m.Gentle {
				top = gentleZoom
			}
			switch {
			case m.Zoom > 0:
				s.zoom = base * (1 + (top-1)*e)
			case m.Zoom < 0:
				s.zoom = base * (1 + (top-1)*(1-e))
			}
			s.panX = float64(m.PanX) * (2*e - 1)
			s.panY = -float64(m.TiltY) * (2*e - 1)
			if m.Shake {
				x, y := sh.at(float64(i) / float64(fps))
				s.shakeX = x * shakeAmp * float64(outW)
				s.shakeY = y * shakeAmp * float64(outW)
			}
		}
		if m.FadeOut {
			s.gain = 1 - ease((t-fadeStart)/(1-fadeStart))
		}
		states[i] = s
	}
	return states
}
