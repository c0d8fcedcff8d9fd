// Package command holds the chat grammar shared by every front end: the
// /gen command and its options, the Handler that answers every other
// command (balance, daily, link, queue, top, admin commands…), and all
// member-facing text in Chinese and English.
package command

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

// Command names understood by every front end.
const (
	Gen     = "gen"
	Balance = "balance"
	Price   = "price"
	Daily   = "daily"
	Redeem  = "redeem"
	Link    = "link"
	Unlink  = "unlink"
	Queue   = "queue"
	Cancel  = "cancel"
	Top     = "top"
	Private = "private"
	Public  = "public"
	Like    = "like"
	Ban     = "ban"   // admins only
	Unban   = "unban" // admins only
	Grant   = "grant" // admins only
	Help    = "help"
	Start   = "start"
)

// Command is one parsed chat command.
type Command struct {
	Name string // lower case, without the slash: "gen", "balance", …
	Bot  string // the name after '@' in "/gen@MyBot", "" when absent
	Args string // everything after the command word, trimmed

	// Set for /gen only.
	Prompt  string
	Seconds int          // 0 means the default
	Seed    int64        // 0 means pick one
	Mode    paimeng.Mode // "" means std
	Lane    paimeng.Lane // "" means fast
	Engine  string       // --engine NAME, lower case; "" means the community's default

	Camera     *paimeng.CameraControl // --camera zoom:5; nil when absent
	FPS        int                    // --fps 24|30; 0 means the default
	Resolution int                    // --res 540p|720p|1080p; 0 means the default
	Aspect     paimeng.Aspect         // --aspect 16:9|9:16|1:1; "" keeps the picture's
	Negative   string                 // --negative …; accepted and ignored by the camera engine
	Tail       bool                   // --tail: a second picture is the end frame
}

// FillRequest copies the /gen options into req: prompt, seconds, seed,
// mode, lane, engine, camera control, fps, resolution, aspect and negative
// prompt.
// The pictures (Tail says whether the front end should look for a second
// one), the member and the reply state are the front end's to set.
func (c Command) FillRequest(req *paimeng.Request) {
	req.Prompt = c.Prompt
	req.Seconds = c.Seconds
	req.Seed = c.Seed
	req.Mode = c.Mode
	req.Lane = c.Lane
	req.Engine = c.Engine
	req.Camera = c.Camera
	req.FPS = c.FPS
	req.Resolution = c.Resolution
	req.Aspect = c.Aspect
	req.NegativePrompt = c.Negative
}

// Known reports whether the command is one of the names above.
func (c Command) Known() bool {
	switch c.Name {
	case Gen, Balance, Price, Daily, Redeem, Link, Unlink, Queue, Cancel, Top,
		Private, Public, Like, Ban, Unban, Grant, Help, Start:
		return true
	}
	return false
}

// Parse parses a chat message such as "/gen 镜头缓慢推近 --seconds 10 --seed 42"
// or "/gen@MyBot prompt". Text that is not a command yields an EINVALID
// error. For /gen, the options are taken out of the prompt:
//
//	--seconds 5|10    also --seconds=10, seconds:10, 时长:10
//	--seed N          also seed:42, 种子:42
//	--mode std|pro    also --pro, --std, mode:pro, 模式:pro (标准, 专业)
//	--relax, --fast   the queue lane; also --lane relax, lane:relax, 通道:慢速
//	--engine NAME     the engine (the Submitter checks the name); also
//	                  --model NAME, engine:NAME, 模型:NAME, 引擎:NAME
//	--camera C        a camera control (paimeng.ParseCameraControl): zoom:5,
//	                  pan=-3, down_back; also --camera zoom 5, camera:zoom:5,
//	                  镜头:pan:2, 运镜:down_back
//	--fps 24|30       also fps:30, 帧率:30
//	--res R           540p, 720p or 1080p; also --resolution, res:720p,
//	                  分辨率:1080p, 清晰度:高清
//	--aspect A        16:9, 9:16 or 1:1; also aspect:9:16, 比例:16:9, 画幅:1:1
//	--tail            the platform's second picture is the end frame
//	--negative words  what to avoid (also --no): every field up to the next
//	                  option; the camera engine ignores it
//
// A leading "—" or "–", as phones type "--", also works. Lane and mode
// words in the prose itself ("慢速", "relax") stay in the prompt, and so
// does "镜头:缓慢推近": the colon form of the camera only counts when its
// value starts with an axis or camera type name. An unknown --option or a
// bad value yields EBadOption and an over-long prompt or negative prompt
// EPromptTooLong. On such errors the returned Command still carries Name,
// Bot and Args, so a front end can tell whom the command was for. The
// arguments of other commands are left in Args for Handler to read.
func Parse(text string) (Command, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return Command{}, paimeng.Errorf(paimeng.EINVALID, "not a command")
	}
	word, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		word, rest = text[:i], text[i:]
	}
	name, bot, _ := strings.Cut(word[1:], "@")
	if name == "" {
		return Command{}, paimeng.Errorf(paimeng.EINVALID, "empty command")
	}
	c := Command{Name: strings.ToLower(name), Bot: bot, Args: strings.TrimSpace(rest)}
	if c.Name != Gen {
		return c, nil
	}
	if err := c.parseGen(); err != nil {
		return c, err
	}
	return c, nil
}

// parseGen splits c.Args into prompt and options.
func (c *Command) parseGen() error {
	prompt, err := c.parseOptions(strings.Fields(c.Args))
	if err != nil {
		return err
	}
	c.Prompt = strings.Join(prompt, " ")
	if n := utf8.RuneCountInString(c.Prompt); n > paimeng.MaxPromptRunes {
		return paimeng.Errorf(paimeng.EPromptTooLong, "prompt has %d runes, limit %d", n, paimeng.MaxPromptRunes)
	}
	if n := utf8.RuneCountInString(c.Negative); n > paimeng.MaxPromptRunes {
		return paimeng.Errorf(paimeng.EPromptTooLong, "negative prompt has %d runes, limit %d", n, paimeng.MaxPromptRunes)
	}
	return nil
}

// parseOptions sets c's options from fields and returns the fields that are
// not options, in order.
func (c *Command) parseOptions(fields []string) ([]string, error) {
	rest := make([]string, 0, len(fields))
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if name, ok := dashOption(f); ok {
			key, val, hasVal := strings.Cut(name, "=")
			if flag := flagName(key); flag != "" {
				if hasVal {
					return nil, paimeng.Errorf(paimeng.EBadOption, "option --%s takes no value", key)
				}
				c.setFlag(flag)
				continue
			}
			if optionName(key) == "negative" {
				// Every field up to the next option.
				words := []string{}
				if hasVal && val != "" {
					words = append(words, val)
				}
				for i+1 < len(fields) && !isOption(fields[i+1]) {
					i++
					words = append(words, fields[i])
				}
				if len(words) == 0 {
					return nil, paimeng.Errorf(paimeng.EBadOption, "option --%s needs a value", key)
				}
				c.Negative = strings.TrimSpace(c.Negative + " " + strings.Join(words, " "))
				continue
			}
			if !hasVal {
				if i+1 >= len(fields) {
					return nil, paimeng.Errorf(paimeng.EBadOption, "option --%s needs a value", key)
				}
				i++
				val = fields[i]
				// "--camera zoom 5": an axis and its value in two fields.
				if optionName(key) == "camera" && isCameraAxis(val) && i+1 < len(fields) && isNumber(fields[i+1]) {
					i++
					val += ":" + fields[i]
				}
			}
			if err := c.setOption(key, val); err != nil {
				return nil, err
			}
			continue
		}
		if key, val, ok := colonOption(f); ok {
			if err := c.setOption(key, val); err != nil {
				return nil, err
			}
			continue
		}
		rest = append(rest, f)
	}
	return rest, nil
}

// isOption reports whether a field is an option of either form, known or
// not for the dash form.
func isOption(f string) bool {
	if _, ok := dashOption(f); ok {
		return true
	}
	_, _, ok := colonOption(f)
	return ok
}

// isCameraAxis reports whether s names one of the camera axes.
func isCameraAxis(s string) bool {
	s = strings.ToLower(s)
	for _, a := range paimeng.CameraAxes {
		if s == a {
			return true
		}
	}
	return false
}

// cameraWord reports whether s starts with a camera axis or camera type
// name ("zoom:5", "pan=-3", "down_back"), so that "镜头:缓慢推近" stays
// prose.
func cameraWord(s string) bool {
	s = strings.ToLower(strings.NewReplacer("：", ":", "＝", "=").Replace(s))
	if i := strings.IndexAny(s, ":="); i >= 0 {
		s = s[:i]
	}
	if isCameraAxis(s) {
		return true
	}
	switch paimeng.CameraType(strings.ReplaceAll(s, "-", "_")) {
	case paimeng.CameraDownBack, paimeng.CameraForwardUp, paimeng.CameraRightTurnForward, paimeng.CameraLeftTurnForward:
		return true
	}
	return false
}

// CameraOption reads a free-form camera field such as Discord's camera
// option: a camera control ("zoom:5", "pan -3", "down_back") is returned as
// c; camera words ("推近", "pan left") come back as words for the prompt;
// a value that is meant as a control but is not a valid one ("zoom:11",
// "spin=3", "down_up", "zoom") is an EBadOption error.
func CameraOption(s string) (c *paimeng.CameraControl, words string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "", nil
	}
	c, err = paimeng.ParseCameraControl(s)
	if err == nil {
		return c, "", nil
	}
	if cameraWord(s) || isASCIILetter(s[0]) && strings.ContainsAny(s, ":=_：＝") {
		return nil, "", err
	}
	return nil, s, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimPrefix(strings.NewReplacer("－", "-", "−", "-").Replace(s), "+"), 64)
	return err == nil
}

// dashOption recognises "--name", "--name=value" and the dash forms phones
// substitute for "--" ("—name", "–name"). Text such as "——推近" is prose.
func dashOption(f string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(f, "--"):
		rest = f[2:]
	case strings.HasPrefix(f, "—"):
		rest = f[len("—"):]
	case strings.HasPrefix(f, "–"):
		rest = f[len("–"):]
	default:
		return "", false
	}
	if rest == "" || !isASCIILetter(rest[0]) {
		return "", false
	}
	return rest, true
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// colonOption recognises "seconds:10", "seed:42", "mode:pro",
// "lane:relax", "engine:NAME", "camera:zoom:5", "fps:30", "res:720p" and "aspect:16:9"
// (ASCII or full-width colon) for known option names only, so ordinary
// prose with colons stays in the prompt. The negative prompt has no colon
// form.
func colonOption(f string) (key, val string, ok bool) {
	f = strings.Replace(f, "：", ":", 1)
	key, val, ok = strings.Cut(f, ":")
	if !ok || val == "" {
		return "", "", false
	}
	switch optionName(key) {
	case "", "negative":
		return "", "", false
	case "camera":
		if !cameraWord(val) {
			return "", "", false
		}
	}
	return key, val, true
}

// optionName maps the spellings of an option that takes a value to its
// canonical name.
func optionName(key string) string {
	switch strings.ToLower(key) {
	case "seconds", "second", "secs", "duration", "时长", "秒数":
		return "seconds"
	case "seed", "种子":
		return "seed"
	case "mode", "quality", "模式":
		return "mode"
	case "lane", "通道":
		return "lane"
	case "engine", "model", "模型", "引擎":
		return "engine"
	case "camera", "cam", "camera_control", "camera-control", "镜头", "运镜":
		return "camera"
	case "fps", "framerate", "frame-rate", "帧率":
		return "fps"
	case "res", "resolution", "分辨率", "清晰度":
		return "resolution"
	case "aspect", "aspect-ratio", "aspect_ratio", "ratio", "比例", "画幅":
		return "aspect"
	case "negative", "negative-prompt", "negative_prompt", "no":
		return "negative"
	}
	return ""
}

// flagName maps the spellings of an option without a value (--pro,
// --relax…) to its canonical name.
func flagName(key string) string {
	switch strings.ToLower(key) {
	case "pro":
		return "pro"
	case "std", "standard":
		return "std"
	case "relax", "relaxed", "slow":
		return "relax"
	case "fast":
		return "fast"
	case "tail", "end-frame", "endframe", "end_frame":
		return "tail"
	}
	return ""
}

func (c *Command) setFlag(flag string) {
	switch flag {
	case "pro":
		c.Mode = paimeng.ModePro
	case "std":
		c.Mode = paimeng.ModeStd
	case "relax":
		c.Lane = paimeng.LaneRelax
	case "fast":
		c.Lane = paimeng.LaneFast
	case "tail":
		c.Tail = true
	}
}

// modeValue maps a written mode to a Mode, or "".
func modeValue(s string) paimeng.Mode {
	switch strings.ToLower(s) {
	case "std", "standard", "标准":
		return paimeng.ModeStd
	case "pro", "专业":
		return paimeng.ModePro
	}
	return ""
}

// laneValue maps a written lane to a Lane, or "".
func laneValue(s string) paimeng.Lane {
	switch strings.ToLower(s) {
	case "fast", "快速":
		return paimeng.LaneFast
	case "relax", "relaxed", "slow", "慢速":
		return paimeng.LaneRelax
	}
	return ""
}

// secondsValue maps "10", "10s" or "10秒" to 10; ok is false for anything
// but 5 and 10.
func secondsValue(s string) (int, bool) {
	v := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(s), "s"), "秒")
	n, err := strconv.Atoi(v)
	if err != nil || (n != 5 && n != 10) {
		return 0, false
	}
	return n, true
}

func (c *Command) setOption(key, val string) error {
	switch optionName(key) {
	case "seconds":
		n, ok := secondsValue(val)
		if !ok {
			return paimeng.Errorf(paimeng.EBadOption, "seconds must be 5 or 10, got %q", val)
		}
		c.Seconds = n
	case "seed":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return paimeng.Errorf(paimeng.EBadOption, "seed must be a non-negative integer, got %q", val)
		}
		c.Seed = n
	case "mode":
		m := modeValue(val)
		if m == "" {
			return paimeng.Errorf(paimeng.EBadOption, "mode must be std or pro, got %q", val)
		}
		c.Mode = m
	case "lane":
		l := laneValue(val)
		if l == "" {
			return paimeng.Errorf(paimeng.EBadOption, "lane must be fast or relax, got %q", val)
		}
		c.Lane = l
	case "engine":
		e := strings.ToLower(strings.TrimSpace(val))
		if !validEngineName(e) {
			return paimeng.Errorf(paimeng.EBadOption, "engine must be a name of letters, digits, '-', '_' or '.', got %q", val)
		}
		c.Engine = e
	case "camera":
		cc, err := paimeng.ParseCameraControl(val)
		if err != nil {
			return err
		}
		c.Camera = cc
	case "fps":
		n, ok := fpsValue(val)
		if !ok {
			return paimeng.Errorf(paimeng.EBadOption, "fps must be 24 or 30, got %q", val)
		}
		c.FPS = n
	case "resolution":
		n, err := paimeng.ParseResolution(val)
		if err != nil {
			return err
		}
		c.Resolution = n
	case "aspect":
		a, err := paimeng.ParseAspect(val)
		if err != nil {
			return err
		}
		c.Aspect = a
	default:
		return paimeng.Errorf(paimeng.EBadOption, "unknown option %q", key)
	}
	return nil
}

// validEngineName reports whether s can be an engine name: 1 to 64 ASCII
// letters, digits, '-', '_' or '.'. Whether the engine exists is the
// Submitter's to say.
func validEngineName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isASCIILetter(b) && (b < '0' || b > '9') && b != '-' && b != '_' && b != '.' {
			return false
		}
	}
	return true
}

// fpsValue maps "30", "30fps" or "30帧" to 30; ok is false for anything
// but 24 and 30.
func fpsValue(s string) (int, bool) {
	v := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(s), "fps"), "帧")
	n, err := strconv.Atoi(v)
	if err != nil || n == 0 || !paimeng.ValidFPS(n) {
		return 0, false
	}
	return n, true
}
