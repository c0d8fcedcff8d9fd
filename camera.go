package paimeng

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// CameraType is Kling's camera_control.type.
type CameraType string

// Kling's camera control types. Simple takes exactly one axis in Config;
// the others are fixed combined moves and take no Config.
const (
	CameraSimple           CameraType = "simple"
	CameraDownBack         CameraType = "down_back"          // descends and moves back
	CameraForwardUp        CameraType = "forward_up"         // moves forward and tilts up
	CameraRightTurnForward CameraType = "right_turn_forward" // turns right and moves forward
	CameraLeftTurnForward  CameraType = "left_turn_forward"  // turns left and moves forward
)

// CameraControl is Kling's camera_control object, with the same JSON.
type CameraControl struct {
	Type   CameraType    `json:"type"`
	Config *CameraConfig `json:"config,omitempty"`
}

// CameraConfig holds Kling's six camera axes, each in [-10, 10], with
// Kling's meaning of sign:
//
//	horizontal  travel along x: − left, + right
//	vertical    travel along y: − down, + up
//	pan         rotation about x: − down, + up
//	tilt        rotation about y: − left, + right
//	roll        rotation about z: − counterclockwise, + clockwise
//	zoom        focal length: − narrower view (closer), + wider view
type CameraConfig struct {
	Horizontal float64 `json:"horizontal"`
	Vertical   float64 `json:"vertical"`
	Pan        float64 `json:"pan"`
	Tilt       float64 `json:"tilt"`
	Roll       float64 `json:"roll"`
	Zoom       float64 `json:"zoom"`
}

// CameraAxes lists the config axis names in Kling's order.
var CameraAxes = []string{"horizontal", "vertical", "pan", "tilt", "roll", "zoom"}

func (c *CameraConfig) axis(name string) *float64 {
	switch name {
	case "horizontal":
		return &c.Horizontal
	case "vertical":
		return &c.Vertical
	case "pan":
		return &c.Pan
	case "tilt":
		return &c.Tilt
	case "roll":
		return &c.Roll
	case "zoom":
		return &c.Zoom
	}
	return nil
}

// Validate checks the control as Kling does: a known type; for simple,
// exactly one non-zero axis within [-10, 10]; for the others, no config (an
// all-zero config is accepted).
func (c *CameraControl) Validate() error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case CameraSimple:
		if c.Config == nil {
			return Errorf(EBadOption, "camera_control simple needs a config with one axis")
		}
		n := 0
		for _, a := range CameraAxes {
			v := *c.Config.axis(a)
			if math.IsNaN(v) || v < -10 || v > 10 {
				return Errorf(EBadOption, "camera_control %s %v is outside [-10, 10]", a, v)
			}
			if v != 0 {
				n++
			}
		}
		if n != 1 {
			return Errorf(EBadOption, "camera_control simple takes exactly one non-zero axis, got %d", n)
		}
	case CameraDownBack, CameraForwardUp, CameraRightTurnForward, CameraLeftTurnForward:
		if c.Config != nil && *c.Config != (CameraConfig{}) {
			return Errorf(EBadOption, "camera_control %s takes no config", c.Type)
		}
	default:
		return Errorf(EBadOption, "camera_control type %q is not one of simple, down_back, forward_up, right_turn_forward, left_turn_forward", c.Type)
	}
	return nil
}

// String writes the control as ParseCameraControl reads it: "zoom:-5",
// "down_back".
func (c *CameraControl) String() string {
	if c == nil {
		return ""
	}
	if c.Type != CameraSimple || c.Config == nil {
		return string(c.Type)
	}
	for _, a := range CameraAxes {
		if v := *c.Config.axis(a); v != 0 {
			return a + ":" + strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return string(c.Type)
}

// ParseCameraControl reads the short form used by chat options: an axis and
// a value ("zoom:5", "pan=-3", "roll 2") or a combined type ("down_back",
// "forward-up"). The result is validated.
func ParseCameraControl(s string) (*CameraControl, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer("：", ":", "＝", "=", "－", "-", "−", "-").Replace(s)
	if s == "" {
		return nil, Errorf(EBadOption, "empty camera control")
	}
	if t := CameraType(strings.ReplaceAll(s, "-", "_")); t != CameraSimple {
		switch t {
		case CameraDownBack, CameraForwardUp, CameraRightTurnForward, CameraLeftTurnForward:
			return &CameraControl{Type: t}, nil
		}
	}
	name, val, ok := strings.Cut(s, ":")
	if !ok {
		if name, val, ok = strings.Cut(s, "="); !ok {
			name, val, ok = strings.Cut(s, " ")
		}
	}
	if !ok {
		return nil, Errorf(EBadOption, "camera control %q: write axis:value (zoom:5) or a type (down_back)", s)
	}
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	var cfg CameraConfig
	p := cfg.axis(name)
	if p == nil {
		return nil, Errorf(EBadOption, "camera axis %q is not one of horizontal, vertical, pan, tilt, roll, zoom", name)
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(val, "+"), 64)
	if err != nil {
		return nil, Errorf(EBadOption, "camera %s value %q is not a number", name, val)
	}
	*p = v
	c := &CameraControl{Type: CameraSimple, Config: &cfg}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Shot is a camera script: what the virtual camera does over the clip.
// Prompts (bots/command) and camera controls both become a Shot; the
// camera-motion engine renders it. Moves play one after another, each for
// its share of the clip.
type Shot struct {
	// Static locks the camera: no move, no shake. Fades still apply.
	Static bool `json:"static,omitempty"`
	// Shake is handheld shake over the whole clip: 0 none, about 0.35
	// slight, 0.7 handheld, 1.5 violent.
	Shake float64 `json:"shake,omitempty"`
	// Walk adds a first-person walking bob.
	Walk  bool   `json:"walk,omitempty"`
	Moves []Move `json:"moves,omitempty"`
}

// Ease is how a move speeds up and slows down.
type Ease string

// Easing curves. The default eases in and out.
const (
	EaseInOut  Ease = ""
	EaseLinear Ease = "linear" // constant speed
	EaseSudden Ease = "sudden" // most of the move happens early and fast, then settles
)

// Move is one part of a Shot. Amounts are relative to where the previous
// move left the camera and use Kling's scale and signs ([-10, 10], see
// CameraConfig), plus Dolly (+ forward, towards the picture) and Orbit
// (+ the camera circles to the right around the centre of the view).
type Move struct {
	Horizontal float64 `json:"horizontal,omitempty"`
	Vertical   float64 `json:"vertical,omitempty"`
	Pan        float64 `json:"pan,omitempty"`
	Tilt       float64 `json:"tilt,omitempty"`
	Roll       float64 `json:"roll,omitempty"`
	Zoom       float64 `json:"zoom,omitempty"`
	Dolly      float64 `json:"dolly,omitempty"`
	Orbit      float64 `json:"orbit,omitempty"`

	Shake   float64 `json:"shake,omitempty"`    // extra shake during this move
	FadeIn  bool    `json:"fade_in,omitempty"`  // from black at the start of the move
	FadeOut bool    `json:"fade_out,omitempty"` // to black at the end of the move
	Ease    Ease    `json:"ease,omitempty"`
	Length  float64 `json:"length,omitempty"` // relative duration; 0 means 1
}

// Moving reports whether the move changes the camera's position or view.
func (m Move) Moving() bool {
	return m.Horizontal != 0 || m.Vertical != 0 || m.Pan != 0 || m.Tilt != 0 ||
		m.Roll != 0 || m.Zoom != 0 || m.Dolly != 0 || m.Orbit != 0
}

// HasMotion reports whether the shot moves the camera at all (moves, shake
// or walking). A shot without motion that is not Static gets the engine's
// default gentle push-in.
func (s Shot) HasMotion() bool {
	if s.Static {
		return false
	}
	if s.Shake > 0 || s.Walk {
		return true
	}
	for _, m := range s.Moves {
		if m.Moving() || m.Shake > 0 {
			return true
		}
	}
	return false
}

// Moves of Kling's combined camera types, on the Kling scale.
var combinedMoves = map[CameraType]Move{
	CameraDownBack:         {Vertical: -5, Dolly: -5},
	CameraForwardUp:        {Dolly: 5, Pan: 5},
	CameraRightTurnForward: {Tilt: 5, Dolly: 5},
	CameraLeftTurnForward:  {Tilt: -5, Dolly: 5},
}

// WithControl returns the shot with its camera moves replaced by the
// control's move. Shake, walking and fades of the shot are kept, so a prompt
// such as "handheld, fade to black" still applies on top of zoom:-5.
func (s Shot) WithControl(c *CameraControl) Shot {
	if c == nil {
		return s
	}
	var m Move
	if c.Type == CameraSimple {
		if c.Config != nil {
			m = Move{Horizontal: c.Config.Horizontal, Vertical: c.Config.Vertical, Pan: c.Config.Pan,
				Tilt: c.Config.Tilt, Roll: c.Config.Roll, Zoom: c.Config.Zoom}
		}
	} else {
		m = combinedMoves[c.Type]
	}
	for i, old := range s.Moves {
		m.FadeIn = m.FadeIn || (i == 0 && old.FadeIn)
		m.FadeOut = m.FadeOut || (i == len(s.Moves)-1 && old.FadeOut)
		m.Shake = math.Max(m.Shake, old.Shake)
	}
	s.Static = false
	s.Moves = []Move{m}
	return s
}

// Aspect is an output frame shape the picture is letterboxed into.
type Aspect string

// Letterbox shapes. AspectKeep keeps the picture's own shape.
const (
	AspectKeep   Aspect = ""
	AspectWide   Aspect = "16:9"
	AspectTall   Aspect = "9:16"
	AspectSquare Aspect = "1:1"
)

// Ratio returns width/height, or 0 for AspectKeep.
func (a Aspect) Ratio() float64 {
	switch a {
	case AspectWide:
		return 16.0 / 9
	case AspectTall:
		return 9.0 / 16
	case AspectSquare:
		return 1
	}
	return 0
}

// ParseAspect reads "16:9", "9:16", "1:1" (also "16x9", "square", "横屏",
// "竖屏", "方形") and "" or "keep".
func ParseAspect(s string) (Aspect, error) {
	switch strings.ToLower(strings.NewReplacer("：", ":", "x", ":", "/", ":").Replace(strings.TrimSpace(s))) {
	case "", "keep", "original", "原始", "原图":
		return AspectKeep, nil
	case "16:9", "wide", "landscape", "横屏":
		return AspectWide, nil
	case "9:16", "tall", "portrait", "vertical", "竖屏":
		return AspectTall, nil
	case "1:1", "square", "方形", "方":
		return AspectSquare, nil
	}
	return "", Errorf(EBadOption, "aspect %q is not 16:9, 9:16 or 1:1", s)
}

// Output frame rates and resolution presets.
const (
	DefaultFPS = 24
)

// ValidFPS reports whether fps is a frame rate clips are made at (0 means
// the default, 24).
func ValidFPS(fps int) bool { return fps == 0 || fps == 24 || fps == 30 }

// ResolutionSide returns the longest output side of a resolution preset:
// 540 → 960, 720 → 1280, 1080 → 1920; 0 (the default: the picture's own
// size, at most 1280) gives 0. ok is false for anything else.
func ResolutionSide(res int) (side int, ok bool) {
	switch res {
	case 0:
		return 0, true
	case 540:
		return 960, true
	case 720:
		return 1280, true
	case 1080:
		return 1920, true
	}
	return 0, false
}

// ParseResolution reads "540p", "720", "1080P", "高清" (720) and "超清"
// (1080).
func ParseResolution(s string) (int, error) {
	v := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "p")
	switch v {
	case "标清":
		return 540, nil
	case "高清", "hd":
		return 720, nil
	case "超清", "全高清", "fhd", "fullhd":
		return 1080, nil
	}
	n, err := strconv.Atoi(v)
	if _, ok := ResolutionSide(n); err != nil || !ok || n == 0 {
		return 0, Errorf(EBadOption, "resolution %q is not 540p, 720p or 1080p", s)
	}
	return n, nil
}

// CheckVideoOptions validates the output options of a request.
func CheckVideoOptions(fps, res int, aspect Aspect) error {
	if !ValidFPS(fps) {
		return Errorf(EBadOption, "fps %d is not 24 or 30", fps)
	}
	if _, ok := ResolutionSide(res); !ok {
		return Errorf(EBadOption, "resolution %d is not 540, 720 or 1080", res)
	}
	if aspect != AspectKeep && aspect.Ratio() == 0 {
		return Errorf(EBadOption, "aspect %q is not 16:9, 9:16 or 1:1", aspect)
	}
	return nil
}

// String describes the control for logs.
func (s Shot) String() string {
	if s.Static {
		return "static"
	}
	return fmt.Sprintf("%d moves, shake %.2f, walk %v", len(s.Moves), s.Shake, s.Walk)
}
