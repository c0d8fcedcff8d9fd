package command

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

// This file reads camera language out of a prompt. A prompt is first cut
// into parts in time (先 … 再 …, "… then …", "→"); each part is then read
// for cues: camera moves, fades, shake, first person, a locked camera, and
// the speed and strength words that qualify them.
//
// Chinese cues are matched as substrings, longest and most specific first;
// a matched cue consumes its text so that the shorter words inside it are
// not read again (向左平移 is not also 平移). English cues are matched as
// whole words on a token stream, with verb forms (push, pushes, pushing,
// pushed) and a direction that may follow over filler words ("pans slowly
// to the left").
//
// Words that are common in scene descriptions as well as in camera language
// (上升, 靠近, 旋转, 晃动, "rise", "roll", "shake", "move"…) count only when
// the camera is their subject: the clause names the camera (镜头, 画面,
// "camera", "shot", "drone"…) before the word, or the word opens its clause
// after nothing but qualifiers ("缓缓上升，俯瞰城市", "slowly pull back"). So
// "太阳缓缓升起" and "she shakes her head" are scene text, while
// "镜头缓缓升起" and "camera shake" are camera language. A participle
// followed by its noun ("rolling hills", "rising sun") and a Chinese word
// followed by 的 ("旋转的舞者") are adjectives, not moves. Fixed phrases of
// scene text are excluded outright: 旋转木马 (a carousel in the scene is
// not a rolling camera), 旋转楼梯, 旋转门, 放大镜, 拉开窗帘, 手持长剑 (手持
// counts only before a camera word or alone), 升级 (never a cue: rises are
// 上升, 升起, 升高…), 再见 and 先生 (not time markers), and so on.
//
// Speed and strength words count only when they qualify a cue: placed
// before it, or, for adverbs, after it in the same clause ("pan left
// slowly"). "heavy rain" or "雪花缓缓飘落" does not slow or strengthen the
// camera.

// camEffKind is what a cue does.
type camEffKind uint8

const (
	camMove     camEffKind = iota + 1 // a camera move, amounts at normal speed
	camFadeIn                         // fade in from black
	camFadeOut                        // fade out to black
	camShake                          // handheld shake over the whole shot
	camNoShake                        // no shake at all
	camWalk                           // first person
	camStatic                         // locked camera
	camSpeed                          // scales the moves of the part, may set the ease
	camStrength                       // scales the moves of the part and sets the shake
)

// camEffect is one effect of a cue.
type camEffect struct {
	kind   camEffKind
	move   paimeng.Move
	factor float64      // camSpeed, camStrength: 0 for none
	rank   int          // camSpeed, camStrength: the most forceful word of a part wins
	ease   paimeng.Ease // camSpeed
	shake  float64      // camStrength: the shake it implies
}

func camMv(m paimeng.Move) camEffect { return camEffect{kind: camMove, move: m} }

var (
	camDollyIn  = camMv(paimeng.Move{Dolly: 4})
	camDollyOut = camMv(paimeng.Move{Dolly: -4})
	camZoomIn   = camMv(paimeng.Move{Zoom: -4})
	camZoomOut  = camMv(paimeng.Move{Zoom: 4})
	camLeft     = camMv(paimeng.Move{Horizontal: -5})
	camRight    = camMv(paimeng.Move{Horizontal: 5})
	camUp       = camMv(paimeng.Move{Vertical: 5})
	camDown     = camMv(paimeng.Move{Vertical: -5})
	camPanLeft  = camMv(paimeng.Move{Tilt: -5})
	camPanRight = camMv(paimeng.Move{Tilt: 5})
	camTiltUp   = camMv(paimeng.Move{Pan: 5})
	camTiltDown = camMv(paimeng.Move{Pan: -5})
	camRollCW   = camMv(paimeng.Move{Roll: 5})
	camRollCCW  = camMv(paimeng.Move{Roll: -5})
	camOrbitR   = camMv(paimeng.Move{Orbit: 5})
	camOrbitL   = camMv(paimeng.Move{Orbit: -5})
	camFadeInE  = camEffect{kind: camFadeIn}
	camFadeOutE = camEffect{kind: camFadeOut}
	camShakeE   = camEffect{kind: camShake}
	camNoShakeE = camEffect{kind: camNoShake}
	camWalkE    = camEffect{kind: camWalk}
	camStaticE  = camEffect{kind: camStatic}
	camSlowE    = camEffect{kind: camSpeed, factor: 0.6, rank: 1}
	camFastE    = camEffect{kind: camSpeed, factor: 1.7, rank: 2}
	camSuddenE  = camEffect{kind: camSpeed, factor: 1.8, rank: 3, ease: paimeng.EaseSudden}
	camSteadyE  = camEffect{kind: camSpeed, ease: paimeng.EaseLinear}
	camSlightE  = camEffect{kind: camStrength, factor: 0.5, rank: 1, shake: 0.35}
	camStrongE  = camEffect{kind: camStrength, factor: 1.6, rank: 2, shake: 1.5}
)

// Default amounts.
const (
	camShakeHandheld = 0.7
	camShakeSlight   = 0.35
	camWalkDolly     = 3.0 // the forward move of a first-person shot that names no other
)

// camHit is one cue found in a part. For Chinese cues start and end are
// byte offsets; for English cues they are token indexes.
type camHit struct {
	start, end int
	pos        int // byte offset in the part, for ordering
	eff        []camEffect
	mod        bool // a speed or strength word: kept only when it qualifies a cue
	adverb     bool // English: may also follow its cue in the clause
	tail       bool // English "a little": after its cue only at the end of a phrase
}

// ParseShot reads the camera language of a Chinese or English prompt
// ("镜头缓慢推近，然后暗转", "handheld, slowly pan left while pushing in")
// into a Shot. A prompt with no camera words gives the zero Shot, for which
// the engine uses its default gentle push-in. Unknown text is ignored.
//
// The prompt is cut into parts at time words (先, 然后, 接着, 之后, 随后, 再,
// 最后, 紧接着, 继而, "then", "after that", "followed by", "finally", "→",
// "->"); each part that names a move or a fade becomes one Move, in order,
// with equal length. Moves named in one part combine in one Move; when one
// axis is named twice in a part, the first mention counts. Speed and
// strength words scale the moves of their part (slow ×0.6, fast ×1.7,
// sudden ×1.8 with a sudden ease, slight ×0.5, violent ×1.6; when a part
// has several, the most forceful counts), amounts are rounded to two
// decimals and kept within [-10, 10]. Shake, first person and a locked
// camera apply to the whole shot wherever they are named. First person
// adds a walk, at least slight shake and, when the prompt names no other
// move, a forward move (Dolly 3) in the place of its part. A negated shake
// ("no shake", "不要晃", "稳定") removes all shake, even that of a first-person
// shot. A locked camera removes every move, shake and the first-person
// walk, and keeps the fades.
//
// Only the first paimeng.MaxPromptRunes runes are read.
func ParseShot(prompt string) paimeng.Shot {
	text := camNormalize(camTruncate(prompt, paimeng.MaxPromptRunes))
	var (
		moves           []paimeng.Move
		shake           float64
		noShake, static bool
		walk, moving    bool
		walkAt          = -1
		walkHasMove     bool
	)
	for _, part := range camSplit(text) {
		c := camReadPart(part)
		static = static || c.static
		noShake = noShake || c.noShake
		if c.shake {
			shake = math.Max(shake, c.shakeAmount())
		}
		m, ok := c.toMove()
		if c.walk && !walk {
			walk, walkAt, walkHasMove = true, len(moves), ok
		}
		if ok {
			moves = append(moves, m)
			moving = moving || m.Moving()
		}
	}
	if walk {
		shake = math.Max(shake, camShakeSlight)
		if !moving {
			if walkHasMove {
				moves[walkAt].Dolly = camWalkDolly
			} else {
				moves = slices.Insert(moves, walkAt, paimeng.Move{Dolly: camWalkDolly})
			}
		}
	}
	if noShake {
		shake = 0
	}
	if static {
		var fades []paimeng.Move
		for _, m := range moves {
			if m.FadeIn || m.FadeOut {
				fades = append(fades, paimeng.Move{FadeIn: m.FadeIn, FadeOut: m.FadeOut})
			}
		}
		return paimeng.Shot{Static: true, Moves: fades}
	}
	return paimeng.Shot{Shake: shake, Walk: walk, Moves: moves}
}

// camTruncate returns the first n runes of s.
func camTruncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// camNormalize lowers the case and unifies apostrophes.
func camNormalize(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("’", "'", "‘", "'", "＇", "'").Replace(s)
}

// camPart is what one part of a prompt says.
type camPart struct {
	move                    paimeng.Move
	moving                  bool
	fadeIn, fadeOut         bool
	shake, noShake          bool
	walk, static            bool
	speed                   float64
	speedRank               int
	ease                    paimeng.Ease
	linear                  bool
	strength, strengthShake float64
	strengthRank            int
}

func (c *camPart) add(e camEffect) {
	switch e.kind {
	case camMove:
		camMergeAxis(&c.move.Horizontal, e.move.Horizontal)
		camMergeAxis(&c.move.Vertical, e.move.Vertical)
		camMergeAxis(&c.move.Pan, e.move.Pan)
		camMergeAxis(&c.move.Tilt, e.move.Tilt)
		camMergeAxis(&c.move.Roll, e.move.Roll)
		camMergeAxis(&c.move.Zoom, e.move.Zoom)
		camMergeAxis(&c.move.Dolly, e.move.Dolly)
		camMergeAxis(&c.move.Orbit, e.move.Orbit)
		c.moving = true
	case camFadeIn:
		c.fadeIn = true
	case camFadeOut:
		c.fadeOut = true
	case camShake:
		c.shake = true
	case camNoShake:
		c.noShake = true
	case camWalk:
		c.walk = true
	case camStatic:
		c.static = true
	case camSpeed:
		if e.factor == 0 {
			c.linear = true
		} else if e.rank > c.speedRank {
			c.speed, c.speedRank, c.ease = e.factor, e.rank, e.ease
		}
	case camStrength:
		if e.rank > c.strengthRank {
			c.strength, c.strengthShake, c.strengthRank = e.factor, e.shake, e.rank
		}
	}
}

// camMergeAxis sets an axis that the part has not named yet.
func camMergeAxis(dst *float64, v float64) {
	if *dst == 0 {
		*dst = v
	}
}

func (c *camPart) shakeAmount() float64 {
	if c.strengthRank > 0 {
		return c.strengthShake
	}
	return camShakeHandheld
}

// toMove returns the part's Move, and false when the part names neither a
// move nor a fade.
func (c *camPart) toMove() (paimeng.Move, bool) {
	if !c.moving && !c.fadeIn && !c.fadeOut {
		return paimeng.Move{}, false
	}
	f := 1.0
	if c.speedRank > 0 {
		f *= c.speed
	}
	if c.strengthRank > 0 {
		f *= c.strength
	}
	m := c.move
	for _, p := range []*float64{&m.Horizontal, &m.Vertical, &m.Pan, &m.Tilt, &m.Roll, &m.Zoom, &m.Dolly, &m.Orbit} {
		*p = camAmount(*p * f)
	}
	m.FadeIn, m.FadeOut = c.fadeIn, c.fadeOut
	switch {
	case c.ease == paimeng.EaseSudden:
		m.Ease = paimeng.EaseSudden
	case c.linear:
		m.Ease = paimeng.EaseLinear
	}
	return m, true
}

// camAmount rounds v to two decimals within [-10, 10].
func camAmount(v float64) float64 {
	v = math.Round(v*100) / 100
	return math.Max(-10, math.Min(10, v))
}

// camReadPart reads the cues of one part.
func camReadPart(part string) camPart {
	hits := camZhHits(part)
	toks := camTokenize(part)
	hits = append(hits, camEnHits(toks)...)
	slices.SortStableFunc(hits, func(a, b camHit) int { return a.pos - b.pos })
	var c camPart
	for _, h := range hits {
		for _, e := range h.eff {
			c.add(e)
		}
	}
	return c
}

// Splitting in time.

// camZhChain lists the Chinese time words with the longer words, containing
// them, that are not time words.
var camZhChain = []camZhWord{
	{word: "紧接着"},
	{word: "接着"},
	{word: "然后"},
	{word: "之后"},
	{word: "随后"},
	{word: "继而"},
	{word: "最后", except: []string{"最后的"}},
	{word: "再", except: []string{"再见", "再也", "再会", "不再", "一再", "再现"}},
	{word: "先", except: []string{"先生", "祖先", "领先", "优先", "率先", "事先", "原先", "先前", "先进",
		"先锋", "先驱", "先知", "先辈", "先烈", "争先", "早先", "预先", "先天", "先例"}},
}

// camZhWord is a Chinese word with the longer words in which it means
// something else.
type camZhWord struct {
	word   string
	except []string
}

// camExcepted reports whether the occurrence of word at i lies inside one
// of except.
func camExcepted(text string, i int, word string, except []string) bool {
	for _, e := range except {
		k := strings.Index(e, word)
		if k < 0 {
			continue
		}
		if s := i - k; s >= 0 && strings.HasPrefix(text[s:], e) {
			return true
		}
	}
	return false
}

// camSplit cuts text into parts at time words and arrows.
func camSplit(text string) []string {
	type cut struct{ start, end int }
	var cuts []cut
	for _, w := range []string{"→", "->", "⟶", "=>"} {
		for off := 0; ; {
			k := strings.Index(text[off:], w)
			if k < 0 {
				break
			}
			cuts = append(cuts, cut{off + k, off + k + len(w)})
			off += k + len(w)
		}
	}
	for _, w := range camZhChain {
		for off := 0; ; {
			k := strings.Index(text[off:], w.word)
			if k < 0 {
				break
			}
			i := off + k
			off = i + len(w.word)
			if !camExcepted(text, i, w.word, w.except) {
				cuts = append(cuts, cut{i, i + len(w.word)})
			}
		}
	}
	toks := camTokenize(text)
	for i := range toks {
		for _, seq := range camEnChain {
			if j, ok := camMatchSeq(toks, nil, i, seq); ok {
				cuts = append(cuts, cut{toks[i].start, toks[j-1].end})
				break
			}
		}
	}
	slices.SortFunc(cuts, func(a, b cut) int { return a.start - b.start })
	var parts []string
	at := 0
	for _, c := range cuts {
		if c.start < at {
			at = max(at, c.end)
			continue
		}
		parts = append(parts, text[at:c.start])
		at = c.end
	}
	return append(parts, text[at:])
}

var camEnChain = [][]string{{"then"}, {"finally"}, {"afterwards"}, {"afterward"}, {"after", "that"}, {"followed", "by"}}

// Clauses.

func camClauseBreak(r rune) bool {
	return strings.ContainsRune(",.;:!?，。；：！？、…\n\r()（）[]【】「」《》“”\"|~～/", r)
}

// camClauses holds where the clause breaks of a part are.
type camClauses struct {
	starts, ends []int // byte offsets of each break character and of its end
	size         int
}

func camClausesOf(s string) *camClauses {
	cl := &camClauses{size: len(s)}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if camClauseBreak(r) {
			cl.starts = append(cl.starts, i)
			cl.ends = append(cl.ends, i+n)
		}
		i += n
	}
	return cl
}

// start returns the start of the clause that holds byte i.
func (cl *camClauses) start(i int) int {
	k, _ := slices.BinarySearch(cl.ends, i+1)
	if k == 0 {
		return 0
	}
	return cl.ends[k-1]
}

// end returns the end of the clause that holds byte j.
func (cl *camClauses) end(j int) int {
	k, _ := slices.BinarySearch(cl.starts, j)
	if k == len(cl.starts) {
		return cl.size
	}
	return cl.starts[k]
}

// Chinese cues.

// camDir says how a cue takes a direction written near it.
type camDir uint8

const (
	camDirNone  camDir = iota
	camDirLR           // 左 flips the move, which points right
	camDirClock        // as camDirLR, and 逆时针/顺时针
	camDirSwing        // 左/右 pan, 上/下 tilt; no direction, no cue (unless eff gives one)
	camDirMove         // 左/右/上/下/前/后 travel; no direction, no cue
)

// camZhCue is a Chinese cue.
type camZhCue struct {
	word     string
	eff      []camEffect
	dir      camDir
	guard    bool     // counts only with the camera as subject
	except   []string // longer words in which word is no cue
	mod      bool     // speed or strength word
	hand     bool     // 手持: needs a camera word after it
	around   bool     // 绕: needs 转 or 圈 after it
	optional bool     // with around: 转 or 圈 is taken when present
	noNeg    bool     // not undone by a negation before it
}

func zc(word string, eff ...camEffect) camZhCue { return camZhCue{word: word, eff: eff} }

// zg is a cue that counts only with the camera as subject.
func zg(word string, eff ...camEffect) camZhCue { return camZhCue{word: word, eff: eff, guard: true} }

func (c camZhCue) excepting(words ...string) camZhCue { c.except = words; return c }
func (c camZhCue) directed(d camDir) camZhCue         { c.dir = d; return c }

// turning makes the cue take a 转 or 旋转 after it in its clause, as 绕 does,
// but without needing one: 围绕着古树缓缓旋转 is one orbit, not an orbit and a
// roll.
func (c camZhCue) turning() camZhCue { c.around, c.optional = true, true; return c }

func camZhMods(eff camEffect, words ...string) []camZhCue {
	var cs []camZhCue
	for _, w := range words {
		cs = append(cs, camZhCue{word: w, eff: []camEffect{eff}, mod: true, noNeg: true})
	}
	return cs
}

func camZhAll(eff camEffect, noNeg bool, words ...string) []camZhCue {
	var cs []camZhCue
	for _, w := range words {
		cs = append(cs, camZhCue{word: w, eff: []camEffect{eff}, noNeg: noNeg})
	}
	return cs
}

// camZhCues are matched in this order; a match consumes its text.
var camZhCues = slices.Concat(
	// Shake and its negations first, so that 晃 inside 不晃 is not shake.
	camZhAll(camShakeE, true, "不稳定", "不稳"),
	camZhAll(camNoShakeE, true, "防抖", "稳定器", "稳定", "平稳", "稳稳", "不要晃", "不晃", "别晃", "不要抖",
		"不抖", "别抖", "不要摇晃", "不摇晃", "无晃动", "没有晃动", "无抖动", "没有抖动"),
	// A locked camera.
	camZhAll(camStaticE, true, "镜头保持不动", "镜头保持静止", "镜头不动", "镜头静止", "静止镜头", "固定镜头",
		"固定机位", "机位固定", "机位不动", "镜头固定", "定镜", "三脚架"),
	[]camZhCue{
		{word: "不动", eff: []camEffect{camStaticE}, guard: true, noNeg: true},
		{word: "静止", eff: []camEffect{camStaticE}, guard: true, noNeg: true},
		{word: "定格", eff: []camEffect{camStaticE}, guard: true, noNeg: true},
		{word: "不要动", eff: []camEffect{camStaticE}, guard: true, noNeg: true},
		{word: "别动", eff: []camEffect{camStaticE}, guard: true, noNeg: true},
	},
	// First person.
	camZhAll(camWalkE, false, "第一人称", "第一视角", "主观视角", "主观镜头", "主观视点"),
	// Fades.
	camZhAll(camFadeInE, false, "从黑暗中浮现", "从黑暗中出现", "从黑暗中显现", "从黑场", "从黑屏", "黑场渐显",
		"渐显", "淡入"),
	camZhAll(camFadeOutE, false, "隐入黑暗", "隐入阴影", "画面变暗", "画面变黑", "画面渐暗", "暗转", "渐黑",
		"黑场", "淡出", "黑屏"),
	[]camZhCue{
		zg("渐亮", camFadeInE),
		zg("渐暗", camFadeOutE),
		zg("变暗", camFadeOutE),
		zg("变黑", camFadeOutE),
	},
	// Moves named with their direction.
	[]camZhCue{
		zc("变焦推近", camZoomIn), zc("变焦拉近", camZoomIn), zc("变焦放大", camZoomIn),
		zc("变焦拉远", camZoomOut), zc("变焦缩小", camZoomOut),
		zc("急推", camDollyIn, camSuddenE),
		zc("航拍上升", camUp), zc("升镜头", camUp), zc("降镜头", camDown), zc("拉升", camUp),
		zc("向前推进", camDollyIn), zc("向前推", camDollyIn), zc("往前推", camDollyIn), zc("镜头前推", camDollyIn),
		zc("前推", camDollyIn), zc("推镜头", camDollyIn), zc("推近", camDollyIn),
		zc("推进", camDollyIn).excepting("推进器"),
		zc("推向", camDollyIn), zc("推入", camDollyIn), zc("推至", camDollyIn),
		zc("向后拉", camDollyOut), zc("往后拉", camDollyOut), zc("后拉", camDollyOut), zc("拉远", camDollyOut),
		zg("前移", camDollyIn), zg("后移", camDollyOut),
		zc("拉近", camZoomIn),
		zc("放大", camZoomIn).excepting("放大镜", "放大器"),
		zg("缩小", camZoomOut),
		zg("拉开", camZoomOut).excepting("拉开窗帘", "拉开帷幕", "拉开序幕", "拉开门", "拉开抽屉", "拉开拉链"),
		zc("向左平移", camLeft), zc("向右平移", camRight), zc("往左平移", camLeft), zc("往右平移", camRight),
		zc("左平移", camLeft), zc("右平移", camRight), zg("左移", camLeft), zg("右移", camRight),
		zg("上移", camUp), zg("下移", camDown),
		zc("横移", camRight).directed(camDirLR),
		zc("平移", camRight).directed(camDirLR),
		zc("向左摇", camPanLeft), zc("向右摇", camPanRight), zc("往左摇", camPanLeft), zc("往右摇", camPanRight),
		zc("向上摇", camTiltUp), zc("向下摇", camTiltDown), zc("往上摇", camTiltUp), zc("往下摇", camTiltDown),
		zc("左摇", camPanLeft).excepting("左摇右摆", "左摇右晃"),
		zc("右摇", camPanRight).excepting("左右摇摆", "左右摇晃", "左右摇动"),
		zc("上摇", camTiltUp), zc("下摇", camTiltDown),
		zc("横摇", camPanRight).directed(camDirLR),
		zc("摇镜头", camPanRight).directed(camDirSwing),
		zg("向左转", camPanLeft).excepting("向左转身", "向左转头"),
		zg("向右转", camPanRight).excepting("向右转身", "向右转头"),
		zg("往左转", camPanLeft).excepting("往左转身", "往左转头"),
		zg("往右转", camPanRight).excepting("往右转身", "往右转头"),
		zg("转向左", camPanLeft), zg("转向右", camPanRight),
		zg("左转", camPanLeft).excepting("左转身", "左转头"),
		zg("右转", camPanRight).excepting("右转身", "右转头"),
		zc("仰拍", camTiltUp), zc("俯拍", camTiltDown),
		zc("镜头抬起", camTiltUp), zc("镜头上抬", camTiltUp), zc("镜头上仰", camTiltUp), zc("镜头下压", camTiltDown),
		zg("抬起", camTiltUp), zg("抬头", camTiltUp), zg("低头", camTiltDown), zg("下压", camTiltDown),
		zc("顺时针旋转", camRollCW), zc("逆时针旋转", camRollCCW),
		zc("倾斜画面", camRollCW), zc("画面倾斜", camRollCW), zc("镜头倾斜", camRollCW), zc("荷兰角", camRollCW),
		zc("左环绕", camOrbitL), zc("右环绕", camOrbitR),
		{word: "绕", eff: []camEffect{camOrbitR}, guard: true, around: true, dir: camDirClock,
			except: []string{"缠绕", "萦绕", "绕过", "绕开", "绕道", "绕行", "绕口令", "环绕", "围绕"}},
		zg("环绕", camOrbitR).directed(camDirClock).excepting("环绕声", "环绕音").turning(),
		zg("围绕", camOrbitR).directed(camDirClock).turning(),
		zc("环拍", camOrbitR).directed(camDirClock),
		zg("旋转", camRollCW).directed(camDirClock).excepting("旋转木马", "旋转楼梯", "旋转门", "旋转餐厅", "旋转椅"),
		zc("顺时针", camRollCW), zc("逆时针", camRollCCW),
		zg("靠近", camDollyIn), zg("逼近", camDollyIn), zg("前进", camDollyIn),
		zg("远离", camDollyOut), zg("后退", camDollyOut),
		zg("上升", camUp), zg("升起", camUp), zg("升高", camUp), zg("爬升", camUp),
		zg("下降", camDown), zg("降落", camDown), zg("下沉", camDown), zg("俯冲", camDown),
		zg("移动").directed(camDirMove),
		zg("摇").directed(camDirSwing).excepting("摇晃", "摇摆", "摇曳", "摇头", "摇滚", "摇篮", "动摇", "摇摇",
			"摇椅", "摇尾", "扶摇", "招摇", "摇铃", "摇手", "摇橹", "摇钱树", "摇身"),
	},
	// Shake.
	[]camZhCue{
		zc("镜头晃", camShakeE), zc("画面晃", camShakeE), zc("镜头抖", camShakeE), zc("画面抖", camShakeE),
		{word: "手持", eff: []camEffect{camShakeE}, hand: true},
		zg("晃动", camShakeE), zg("抖动", camShakeE), zg("摇晃", camShakeE), zg("震动", camShakeE),
		zg("颤动", camShakeE), zg("颤抖", camShakeE), zg("晃荡", camShakeE),
	},
	// Speed and strength.
	camZhMods(camSlowE, "缓慢", "缓缓", "慢慢", "徐徐", "轻轻"),
	camZhMods(camFastE, "快速", "迅速", "急速", "飞速", "飞快"),
	camZhMods(camSuddenE, "猛然", "突然", "猛地", "骤然", "忽然"),
	camZhMods(camSteadyE, "匀速"),
	[]camZhCue{{word: "微微", eff: []camEffect{camSlightE}, mod: true, noNeg: true,
		except: []string{"微微一笑", "微微笑", "微微点头", "微微颔首"}}},
	camZhMods(camSlightE, "轻微", "稍微", "略微", "稍稍"),
	camZhMods(camStrongE, "剧烈", "强烈", "猛烈", "大幅"),
)

// camZhCameraNouns name the camera or the picture as a subject.
var camZhCameraNouns = []string{"镜头", "机位", "摄像机", "摄影机", "相机", "画面", "视角", "运镜", "航拍", "无人机", "视野"}

// camZhQualifiers may stand before a cue in its clause without making
// something else its subject, and between a speed word and its cue.
var camZhQualifiers = func() []string {
	ws := []string{"地，", "地,", "地", "得", "很", "非常", "十分", "极其", "极为", "更加", "一点", "一些",
		"一点点", "整体", "开始", "逐渐", "渐渐", "向", "往", "朝", "从", "到", "至", "左", "右", "上", "下", "前",
		"后", "侧", "并", "且", "又", "再", "也", "着", "同时", "不要", "不", "别", "无", "没有", "顺时针", "逆时针",
		"度", "一圈", "镜头", "画面"}
	for _, c := range camZhCues {
		if c.mod {
			ws = append(ws, c.word)
		}
	}
	// Longest first, so that a prefix match takes the whole word.
	slices.SortStableFunc(ws, func(a, b string) int { return len(b) - len(a) })
	return ws
}()

// camZhNegations undo the cue right after them.
var camZhNegations = []string{"不需要", "不要", "不用", "无需", "避免", "禁止", "没有", "不", "别", "无", "没", "勿"}

// camZhHits finds the Chinese cues of a part.
func camZhHits(text string) []camHit {
	used := make([]bool, len(text))
	cl := camClausesOf(text)
	var hits []camHit
	for _, c := range camZhCues {
		for off := 0; off < len(text); {
			k := strings.Index(text[off:], c.word)
			if k < 0 {
				break
			}
			i := off + k
			_, n := utf8.DecodeRuneInString(text[i:])
			off = i + n
			j := i + len(c.word)
			if camAnyUsed(used, i, j) || camExcepted(text, i, c.word, c.except) {
				continue
			}
			hs, ok := camZhApply(c, text, cl, i, j, used)
			if !ok {
				continue
			}
			for _, h := range hs {
				for p := h.start; p < h.end; p++ {
					used[p] = true
				}
			}
			hits = append(hits, hs...)
		}
	}
	slices.SortFunc(hits, func(a, b camHit) int { return a.start - b.start })
	var kept []camHit
	at := camHitIndex(hits)
	for _, h := range hits {
		if !h.mod || camZhAttached(text, hits, at, h) {
			kept = append(kept, h)
		}
	}
	return kept
}

func camAnyUsed(used []bool, i, j int) bool {
	return slices.Contains(used[i:j], true)
}

// camZhApply checks the conditions of cue c at text[i:j] and returns its
// hits: one, or for 绕…转 a second one without effects that holds the 转 so
// that a speed word before it qualifies the cue.
func camZhApply(c camZhCue, text string, cl *camClauses, i, j int, used []bool) ([]camHit, bool) {
	h := camHit{start: i, end: j, pos: i, eff: c.eff, mod: c.mod}
	var tail []camHit
	if c.hand && !camZhHandheld(text, cl, j) {
		return nil, false
	}
	end := j
	if c.around {
		ce := cl.end(j)
		p, n := j, 0
		for ; p < ce && n < 10; n++ {
			if (strings.HasPrefix(text[p:], "转") || strings.HasPrefix(text[p:], "圈")) && !used[p] {
				break
			}
			_, size := utf8.DecodeRuneInString(text[p:])
			p += size
		}
		switch {
		case p < ce && n < 10:
			end = p + len("转")
			start := p
			if strings.HasSuffix(text[:p], "旋") {
				start -= len("旋")
			}
			tail = append(tail, camHit{start: start, end: end, pos: start})
		case !c.optional:
			return nil, false
		}
	}
	if c.guard && !camZhSubject(text, cl, i, end, used) {
		return nil, false
	}
	if c.dir != camDirNone {
		d, ok := camZhDirection(text, cl, i, end, c.dir, used)
		if ok {
			h.eff = camDirected(c, d)
		}
		if h.eff == nil {
			return nil, false
		}
	}
	if !c.noNeg && camZhNegated(text, i) {
		h.eff = camNegate(h.eff)
	}
	return append([]camHit{h}, tail...), true
}

// camNegate turns the effects of a negated cue into what the negation
// means: no shake for shake, nothing for the rest.
func camNegate(eff []camEffect) []camEffect {
	for _, e := range eff {
		if e.kind == camShake {
			return []camEffect{camNoShakeE}
		}
	}
	return nil
}

// camZhHandheld reports whether 手持 ending at j speaks of the camera:
// 手持镜头, 手持拍摄, 手持感…, or 手持 alone in its clause; not 手持长剑.
func camZhHandheld(text string, cl *camClauses, j int) bool {
	if j >= len(text) || j == cl.end(j) {
		return true
	}
	rest := strings.TrimLeft(text[j:], " ")
	if rest == "" {
		return true
	}
	for _, w := range []string{"镜头", "摄影", "拍摄", "跟拍", "摄像", "感", "风格", "运镜", "晃", "抖", "效果", "相机"} {
		if strings.HasPrefix(rest, w) {
			return true
		}
	}
	return false
}

// camZhSubject reports whether the camera is the subject of the cue at
// text[i:j]: the clause names the camera before it, or nothing but
// qualifiers and other cues stand before it. A cue followed by 的 is an
// adjective and counts only for the camera or the picture ("晃动的画面", not
// "旋转的舞者").
func camZhSubject(text string, cl *camClauses, i, j int, used []bool) bool {
	if rest, ok := strings.CutPrefix(text[j:], "的"); ok && camPrefixLen(rest, camZhCameraNouns) == 0 {
		return false
	}
	cs := cl.start(i)
	pre := text[cs:i]
	for _, n := range camZhCameraNouns {
		if strings.Contains(pre, n) {
			return true
		}
	}
	for p := cs; p < i; {
		if used[p] || text[p] == ' ' || text[p] >= '0' && text[p] <= '9' {
			p++
			continue
		}
		n := camPrefixLen(text[p:i], camZhQualifiers)
		if n == 0 {
			return false
		}
		p += n
	}
	return true
}

// camPrefixLen returns the length of the first of words that s starts
// with, or 0.
func camPrefixLen(s string, words []string) int {
	for _, w := range words {
		if strings.HasPrefix(s, w) {
			return len(w)
		}
	}
	return 0
}

// camZhNegated reports whether a negation stands right before byte i.
func camZhNegated(text string, i int) bool {
	pre := text[:i]
	for _, n := range camZhNegations {
		if strings.HasSuffix(pre, n) {
			return true
		}
	}
	return false
}

// Directions read near a Chinese cue.
const (
	camDLeft = iota + 1
	camDRight
	camDUp
	camDDown
	camDFore
	camDBack
	camDCW
	camDCCW
)

var camZhDirRunes = map[rune]int{'左': camDLeft, '右': camDRight, '上': camDUp, '下': camDDown, '前': camDFore, '后': camDBack}

func camDirAllowed(kind camDir, d int) bool {
	switch kind {
	case camDirLR:
		return d == camDLeft || d == camDRight
	case camDirClock:
		return d == camDLeft || d == camDRight || d == camDCW || d == camDCCW
	case camDirSwing:
		return d >= camDLeft && d <= camDDown
	case camDirMove:
		return d >= camDLeft && d <= camDBack
	}
	return false
}

func camOpposite(d int) int {
	switch d {
	case camDLeft:
		return camDRight
	case camDRight:
		return camDLeft
	case camDUp:
		return camDDown
	case camDDown:
		return camDUp
	case camDFore:
		return camDBack
	case camDBack:
		return camDFore
	case camDCW:
		return camDCCW
	case camDCCW:
		return camDCW
	}
	return d
}

// camZhDirection finds the direction written for the cue at text[i:j]:
// the nearest one up to six characters before it in its clause ("向左缓缓平移",
// "从左到右平移"), else up to five after it ("环绕人物向左"). A direction
// character counts next to the cue, after 向/往/朝/到/至/从 or before 侧/边/方;
// after 从 ("from the right") it means the opposite way. 顺时针 and 逆时针
// are consumed with the cue.
func camZhDirection(text string, cl *camClauses, i, j int, kind camDir, used []bool) (int, bool) {
	cs := cl.start(i)
	p := i
	for n := 0; n < 6 && p > cs; n++ {
		for _, w := range []string{"顺时针", "逆时针"} {
			if strings.HasSuffix(text[cs:p], w) && camDirAllowed(kind, camClockDir(w)) {
				for q := p - len(w); q < p; q++ {
					used[q] = true
				}
				return camClockDir(w), true
			}
		}
		r, size := utf8.DecodeLastRuneInString(text[cs:p])
		p -= size
		d, ok := camZhDirRunes[r]
		if !ok || !camDirAllowed(kind, d) {
			continue
		}
		before := text[cs:p]
		after := text[p+size:]
		if p+size == i || camHasSuffixAny(before, "向", "往", "朝", "到", "至", "从") ||
			camHasPrefixAny(after, "侧", "边", "方") {
			if strings.HasSuffix(before, "从") {
				d = camOpposite(d)
			}
			return d, true
		}
	}
	ce := cl.end(j)
	p = j
	for n := 0; n < 5 && p < ce; n++ {
		for _, w := range []string{"顺时针", "逆时针"} {
			if strings.HasPrefix(text[p:], w) && camDirAllowed(kind, camClockDir(w)) {
				for q := p; q < p+len(w); q++ {
					used[q] = true
				}
				return camClockDir(w), true
			}
		}
		r, size := utf8.DecodeRuneInString(text[p:])
		if d, ok := camZhDirRunes[r]; ok && camDirAllowed(kind, d) &&
			camHasSuffixAny(text[j:p], "向", "往", "朝", "到", "至") {
			return d, true
		}
		p += size
	}
	return 0, false
}

func camClockDir(w string) int {
	if w == "顺时针" {
		return camDCW
	}
	return camDCCW
}

func camHasSuffixAny(s string, ws ...string) bool {
	for _, w := range ws {
		if strings.HasSuffix(s, w) {
			return true
		}
	}
	return false
}

func camHasPrefixAny(s string, ws ...string) bool {
	for _, w := range ws {
		if strings.HasPrefix(s, w) {
			return true
		}
	}
	return false
}

// camDirected returns the effects of a directed Chinese cue.
func camDirected(c camZhCue, d int) []camEffect {
	switch c.dir {
	case camDirLR, camDirClock:
		if d == camDLeft || d == camDCCW {
			return camFlip(c.eff)
		}
		return c.eff
	case camDirSwing:
		return []camEffect{[...]camEffect{camDLeft: camPanLeft, camDRight: camPanRight, camDUp: camTiltUp, camDDown: camTiltDown}[d]}
	case camDirMove:
		return []camEffect{[...]camEffect{camDLeft: camLeft, camDRight: camRight, camDUp: camUp, camDDown: camDown,
			camDFore: camDollyIn, camDBack: camDollyOut}[d]}
	}
	return c.eff
}

// camFlip reverses the moves of eff.
func camFlip(eff []camEffect) []camEffect {
	out := slices.Clone(eff)
	for k, e := range out {
		if e.kind == camMove {
			m := &out[k].move
			m.Horizontal, m.Vertical, m.Pan, m.Tilt = -m.Horizontal, -m.Vertical, -m.Pan, -m.Tilt
			m.Roll, m.Zoom, m.Dolly, m.Orbit = -m.Roll, -m.Zoom, -m.Dolly, -m.Orbit
		}
	}
	return out
}

// camZhAttached reports whether the speed or strength word h qualifies a
// cue: one follows it over qualifiers ("缓缓地向左平移"), or one ends right
// before it ("晃动剧烈").
func camZhAttached(text string, hits []camHit, at map[int]int, h camHit) bool {
	p := h.end
	for steps := 0; p < len(text) && steps < 12; steps++ {
		if k, ok := at[p]; ok {
			if !hits[k].mod {
				return true
			}
			p = hits[k].end
			continue
		}
		if text[p] == ' ' {
			p++
			continue
		}
		n := camPrefixLen(text[p:], camZhQualifiers)
		if n == 0 {
			break
		}
		p += n
	}
	ends := map[int]bool{}
	for _, o := range hits {
		if !o.mod {
			ends[o.end] = true
		}
	}
	q := h.start
	for steps := 0; q > 0 && steps < 4; steps++ {
		if ends[q] {
			return true
		}
		pre := text[:q]
		switch {
		case strings.HasSuffix(pre, " "):
			q--
		case camHasSuffixAny(pre, "得", "很", "地", "都"):
			q -= len("得")
		case strings.HasSuffix(pre, "非常"), strings.HasSuffix(pre, "十分"):
			q -= len("非常")
		default:
			return false
		}
	}
	return false
}

// camHitIndex maps the start of each hit to its index; a content cue wins
// over a speed word starting at the same place.
func camHitIndex(hits []camHit) map[int]int {
	at := make(map[int]int, len(hits))
	for k, h := range hits {
		if o, ok := at[h.start]; !ok || hits[o].mod && !h.mod {
			at[h.start] = k
		}
	}
	return at
}

// English cues.

// camToken is a word (ASCII letters, digits, apostrophes) or a single other
// character of a part; hyphens and underscores separate words like spaces.
type camToken struct {
	s          string
	start, end int
	word       bool
}

func camTokenize(s string) []camToken {
	var toks []camToken
	ws := -1
	flush := func(end int) {
		if ws < 0 {
			return
		}
		a, b := ws, end
		for a < b && s[a] == '\'' {
			a++
		}
		for b > a && s[b-1] == '\'' {
			b--
		}
		if a < b {
			toks = append(toks, camToken{s: s[a:b], start: a, end: b, word: true})
		}
		ws = -1
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r < utf8.RuneSelf && (isASCIILetter(byte(r)) || r >= '0' && r <= '9' || r == '\''):
			if ws < 0 {
				ws = i
			}
		case r == '-' || r == '_' || unicode.IsSpace(r):
			flush(i)
		default:
			flush(i)
			toks = append(toks, camToken{s: s[i : i+n], start: i, end: i + n})
		}
		i += n
	}
	flush(len(s))
	return toks
}

// camMatchSeq matches the words seq at token i; used tokens never match.
// It returns the index after the match.
func camMatchSeq(toks []camToken, used []bool, i int, seq []string) (int, bool) {
	for k, w := range seq {
		p := i + k
		if p >= len(toks) || !toks[p].word || toks[p].s != w || used != nil && used[p] {
			return 0, false
		}
	}
	return i + len(seq), true
}

// camEnDir is a direction word or phrase after an English cue.
type camEnDir struct {
	toks []string
	eff  []camEffect
}

// camEnCue is an English cue.
type camEnCue struct {
	heads [][]string
	dirs  []camEnDir
	def   []camEffect // without a direction; nil: the cue needs one
	guard bool        // counts only with the camera as subject
	test  func(toks []camToken, i, j int) bool
}

// camForms lists the forms of the verbs that cues are written with.
var camForms = map[string][]string{
	"push":     {"push", "pushes", "pushing", "pushed"},
	"dolly":    {"dolly", "dollies", "dollying", "dollied"},
	"move":     {"move", "moves", "moving", "moved"},
	"pull":     {"pull", "pulls", "pulling", "pulled"},
	"zoom":     {"zoom", "zooms", "zooming", "zoomed"},
	"truck":    {"truck", "trucks", "trucking", "trucked"},
	"track":    {"track", "tracks", "tracking", "tracked"},
	"slide":    {"slide", "slides", "sliding", "slid"},
	"crane":    {"crane", "cranes", "craning", "craned"},
	"boom":     {"boom", "booms", "booming", "boomed"},
	"pedestal": {"pedestal", "pedestals", "pedestaling", "pedestalling"},
	"rise":     {"rise", "rises", "rising"},
	"ascend":   {"ascend", "ascends", "ascending", "ascended"},
	"descend":  {"descend", "descends", "descending", "descended"},
	"pan":      {"pan", "pans", "panning", "panned"},
	"tilt":     {"tilt", "tilts", "tilting", "tilted"},
	"roll":     {"roll", "rolls", "rolling", "rolled"},
	"rotate":   {"rotate", "rotates", "rotating", "rotated"},
	"spin":     {"spin", "spins", "spinning", "spun"},
	"turn":     {"turn", "turns", "turning", "turned"},
	"orbit":    {"orbit", "orbits", "orbiting", "orbited"},
	"circle":   {"circle", "circles", "circling", "circled"},
	"arc":      {"arc", "arcs", "arcing", "arced"},
	"shake":    {"shake", "shakes", "shaking", "shook"},
	"fade":     {"fade", "fades", "fading", "faded"},
}

// camHeads expands "push~|circle~ around|tracking shot": phrases separated
// by |, and ~ after the first word for its verb forms.
func camHeads(spec string) [][]string {
	var out [][]string
	for _, ph := range strings.Split(spec, "|") {
		ws := strings.Fields(ph)
		if base, ok := strings.CutSuffix(ws[0], "~"); ok {
			for _, f := range camForms[base] {
				out = append(out, append([]string{f}, ws[1:]...))
			}
			continue
		}
		out = append(out, ws)
	}
	return out
}

// camDirs gives each of the |-separated phrases the effect e.
func camDirs(e camEffect, spec string) []camEnDir {
	var out []camEnDir
	for _, ph := range strings.Split(spec, "|") {
		out = append(out, camEnDir{toks: strings.Fields(ph), eff: []camEffect{e}})
	}
	return out
}

func camEff(e ...camEffect) []camEffect { return e }

const (
	camInWords    = "in|into|forward|forwards|closer"
	camOutWords   = "out|back|backward|backwards|away"
	camUpWords    = "up|upward|upwards"
	camDownWords  = "down|downward|downwards"
	camCWWords    = "clockwise"
	camCCWWords   = "counterclockwise|anticlockwise|counter clockwise|anti clockwise"
	camBlackWords = "out|black|dark|darkness|into darkness|into black|into dark|into shadow|into shadows"
	camFromBlack  = "in|up|from black|from darkness|from dark"
)

// camEnCues are matched in this order; a match consumes its words.
var camEnCues = []camEnCue{
	{heads: camHeads("first person|pov|point of view"), def: camEff(camWalkE)},
	{heads: camHeads("fade~"), dirs: slices.Concat(camDirs(camFadeOutE, camBlackWords), camDirs(camFadeInE, camFromBlack))},
	{heads: camHeads("tracking shot|trucking shot"), def: camEff(camRight)},
	{heads: camHeads("crane shot"), def: camEff(camUp)},
	{heads: camHeads("arc shot|orbit shot|orbital shot"), def: camEff(camOrbitR)},
	{heads: camHeads("dutch angle|dutch tilt|canted angle|barrel roll"), def: camEff(camRollCW)},
	{heads: camHeads("dolly zoom|vertigo shot|vertigo effect"), def: camEff(camMv(paimeng.Move{Dolly: 4, Zoom: 4}))},
	{heads: camHeads("push~"), dirs: slices.Concat(camDirs(camDollyIn, camInWords+"|toward|towards"))},
	{heads: camHeads("dolly~"), dirs: slices.Concat(camDirs(camDollyIn, camInWords), camDirs(camDollyOut, camOutWords),
		camDirs(camLeft, "left"), camDirs(camRight, "right"))},
	{heads: camHeads("move~"), guard: true, dirs: slices.Concat(camDirs(camDollyIn, camInWords+"|toward|towards"),
		camDirs(camDollyOut, camOutWords), camDirs(camLeft, "left"), camDirs(camRight, "right"),
		camDirs(camUp, camUpWords), camDirs(camDown, camDownWords))},
	{heads: camHeads("pull~"), guard: true, dirs: camDirs(camDollyOut, camOutWords)},
	{heads: camHeads("zoom~"), def: camEff(camZoomIn),
		dirs: slices.Concat(camDirs(camZoomIn, "in|into|closer"), camDirs(camZoomOut, "out|back"))},
	{heads: camHeads("truck~|track~|slide~"), guard: true,
		dirs: slices.Concat(camDirs(camLeft, "left"), camDirs(camRight, "right"))},
	{heads: camHeads("crane~|boom~|pedestal~"),
		dirs: slices.Concat(camDirs(camUp, camUpWords), camDirs(camDown, camDownWords))},
	{heads: camHeads("rise~|ascend~"), guard: true, def: camEff(camUp), dirs: camDirs(camUp, camUpWords)},
	{heads: camHeads("descend~"), guard: true, def: camEff(camDown), dirs: camDirs(camDown, camDownWords)},
	{heads: camHeads("pan~"), guard: true, def: camEff(camPanRight),
		dirs: slices.Concat(camDirs(camPanLeft, "left"), camDirs(camPanRight, "right"),
			camDirs(camTiltUp, camUpWords), camDirs(camTiltDown, camDownWords))},
	{heads: camHeads("tilt~"), guard: true,
		dirs: slices.Concat(camDirs(camTiltUp, camUpWords), camDirs(camTiltDown, camDownWords))},
	{heads: camHeads("roll~|rotate~|spin~"), guard: true, def: camEff(camRollCW),
		dirs: slices.Concat(camDirs(camRollCW, camCWWords+"|right"), camDirs(camRollCCW, camCCWWords+"|left"))},
	{heads: camHeads("turn~"), guard: true,
		dirs: slices.Concat(camDirs(camPanLeft, "left"), camDirs(camPanRight, "right"))},
	{heads: camHeads("orbit~|circle~ around|arc~ around"), guard: true, def: camEff(camOrbitR),
		dirs: slices.Concat(camDirs(camOrbitL, "left|"+camCCWWords), camDirs(camOrbitR, "right|"+camCWWords))},
	{heads: camHeads("circle~|arc~"), guard: true,
		dirs: slices.Concat(camDirs(camOrbitL, "left|"+camCCWWords), camDirs(camOrbitR, "right|"+camCWWords))},
	{heads: camHeads("handheld|hand held"), def: camEff(camShakeE), test: camEnHandheld},
	{heads: camHeads("shaky|jittery|wobbly|shaky cam"), def: camEff(camShakeE)},
	{heads: camHeads("stabilized|stabilised|stable camera|stable shot"), def: camEff(camNoShakeE)},
	{heads: camHeads("shake~|jitter|wobble|wobbles|wobbling"), guard: true, def: camEff(camShakeE)},
}

// camEnMod is an English speed or strength word.
type camEnMod struct {
	toks   []string
	eff    camEffect
	adverb bool // may follow its cue
	tail   bool // follows its cue only at the end of a phrase ("pan left a little")
}

var camEnMods = func() []camEnMod {
	var ms []camEnMod
	add := func(e camEffect, adverb, tail bool, spec string) {
		for _, ph := range strings.Split(spec, "|") {
			ms = append(ms, camEnMod{toks: strings.Fields(ph), eff: e, adverb: adverb, tail: tail})
		}
	}
	add(camSlowE, true, false, "slowly|gently|gradually")
	add(camSlowE, false, false, "slow|gentle|gradual")
	add(camFastE, true, false, "quickly|rapidly|swiftly|fast")
	add(camFastE, false, false, "quick|rapid|swift")
	add(camSuddenE, true, false, "suddenly|abruptly")
	add(camSuddenE, false, false, "sudden|abrupt|snap|crash|whip")
	add(camSteadyE, true, false, "steadily|constant speed|constant pace|steady pace|even pace")
	add(camSteadyE, false, false, "steady|constant")
	add(camSlightE, true, false, "slightly|subtly")
	add(camSlightE, true, true, "a little|a bit|a touch")
	add(camSlightE, false, false, "slight|subtle")
	add(camStrongE, true, false, "violently|strongly|intensely|heavily")
	add(camStrongE, false, false, "violent|strong|intense|heavy")
	// Longest first.
	slices.SortStableFunc(ms, func(a, b camEnMod) int { return len(b.toks) - len(a.toks) })
	return ms
}()

func camSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// camEnModWords holds every single word of camEnMods.
var camEnModWords = func() map[string]bool {
	m := map[string]bool{}
	for _, md := range camEnMods {
		for _, w := range md.toks {
			m[w] = true
		}
	}
	return m
}()

var (
	// camEnFillers may stand between a cue and its direction.
	camEnFillers = camSet("the", "a", "an", "to", "camera", "cam", "very", "further", "farther", "more", "around",
		"toward", "towards", "all", "way", "its", "it", "just", "straight", "itself", "smoothly", "little", "bit",
		"slowly", "gently", "gradually", "quickly", "rapidly", "swiftly", "suddenly", "abruptly", "slightly",
		"subtly", "violently", "strongly", "intensely", "heavily", "steadily", "slow", "fast")
	// camEnCameraNouns name the camera.
	camEnCameraNouns = camSet("camera", "cam", "shot", "drone", "lens", "view", "pov", "we", "crane", "gimbal",
		"steadicam", "footage", "frame")
	// camEnSubjects may stand right before a guarded cue.
	camEnSubjects = camSet("camera", "cam", "shot", "drone", "lens", "view", "pov", "we", "crane", "gimbal",
		"steadicam", "footage", "and", "then", "while", "with", "handheld", "held", "of", "shaky")
	// camEnLeadIns may stand between a guarded cue and its subject.
	camEnLeadIns = camSet("a", "an", "very", "also", "just", "smooth", "smoothly", "continuous", "continuously",
		"360", "degree", "degrees", "full", "is", "are", "keeps", "continues", "starts", "begins", "to", "will",
		"then", "now")
	// camEnAfterIng may follow a guarded cue in -ing: otherwise the
	// participle qualifies a noun ("rolling hills").
	camEnAfterIng = camSet("over", "across", "through", "around", "above", "into", "past", "from", "on", "along",
		"toward", "towards", "to", "and", "while", "as", "with", "in", "out", "up", "down", "back", "at", "behind",
		"under", "beneath", "below", "away", "forward", "forwards", "closer", "left", "right", "clockwise",
		"counterclockwise", "anticlockwise", "counter", "anti", "overhead", "high", "higher", "shot", "camera",
		"view", "cam", "movement", "motion", "drone", "aerial", "pov", "footage", "crane", "upward", "upwards", "downward", "downwards", "the", "a", "an",
		"slowly", "gently", "quickly", "rapidly", "slightly", "violently", "steadily", "smoothly", "then", "until",
		"by", "for", "between", "among", "amid")
	// camEnNegations undo the cue after them.
	camEnNegations = camSet("no", "without", "not", "never", "don't", "dont", "doesn't", "doesnt", "isn't",
		"avoid", "avoiding", "zero", "nor", "shouldn't", "mustn't", "won't")
	// camEnHandheldNext may follow "handheld" when it speaks of the camera.
	camEnHandheldNext = camSet("camera", "cam", "shot", "shots", "footage", "style", "look", "feel", "feeling",
		"movement", "motion", "shake", "shaking", "shaky", "wobble", "jitter", "tracking", "pov", "documentary",
		"filming", "video", "and", "with", "while", "as", "aesthetic", "vibe", "follow", "following", "push",
		"pan", "close", "closeup", "wide")
	// camEnAttachSkip may stand between an adjective and its cue.
	camEnAttachSkip = camSet("a", "an", "the", "very", "and", "camera", "cam", "more", "rather", "quite")
)

// camEnHandheld reports whether "handheld" at toks[i:j] speaks of the
// camera: alone, or before a camera word; not "a handheld lantern".
func camEnHandheld(toks []camToken, i, j int) bool {
	return j >= len(toks) || !toks[j].word || camEnHandheldNext[toks[j].s]
}

// camEnSubject reports whether the camera is the subject of the guarded cue
// at toks[i:j] (see the notes at the top of this file).
func camEnSubject(toks []camToken, i, j int, c *camEnCue) bool {
	if strings.HasSuffix(toks[i].s, "ing") && j < len(toks) && toks[j].word && !camEnAfterIng[toks[j].s] {
		dir := false
		for _, d := range c.dirs {
			dir = dir || d.toks[0] == toks[j].s
		}
		if !dir {
			return false
		}
	}
	k := i - 1
	for k >= 0 && toks[k].word && (camEnModWords[toks[k].s] || camEnLeadIns[toks[k].s] || camAllDigits(toks[k].s)) {
		k--
	}
	return k < 0 || !toks[k].word || camEnSubjects[toks[k].s] || camEnNegations[toks[k].s]
}

func camAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// camEnNegated reports whether a negation stands before token i, over
// articles, "camera" and qualifiers ("no camera shake").
func camEnNegated(toks []camToken, i int) bool {
	k := i - 1
	for k >= 0 && toks[k].word && (camEnModWords[toks[k].s] || camEnAttachSkip[toks[k].s] || toks[k].s == "any") {
		k--
	}
	return k >= 0 && toks[k].word && camEnNegations[toks[k].s]
}

// camEnDirection finds the direction of cue c after token j, over at most
// three filler words; it returns the effects and the direction's tokens.
func camEnDirection(toks []camToken, used []bool, j int, c *camEnCue) ([]camEffect, []int) {
	for p, skips := j, 0; p < len(toks) && toks[p].word && !used[p]; p++ {
		for _, d := range c.dirs {
			if idx, ok := camMatchDir(toks, used, p, d.toks); ok {
				return d.eff, idx
			}
		}
		if !camEnFillers[toks[p].s] || skips >= 3 {
			break
		}
		skips++
	}
	return nil, nil
}

// camMatchDir matches a direction phrase at p; "the" may stand inside it
// ("into the darkness").
func camMatchDir(toks []camToken, used []bool, p int, seq []string) ([]int, bool) {
	var idx []int
	for k, w := range seq {
		if k > 0 && p < len(toks) && toks[p].s == "the" {
			p++
		}
		if p >= len(toks) || !toks[p].word || used[p] || toks[p].s != w {
			return nil, false
		}
		idx = append(idx, p)
		p++
	}
	return idx, true
}

// camEnHits finds the English cues of a part.
func camEnHits(toks []camToken) []camHit {
	used := make([]bool, len(toks))
	hits := camEnStatic(toks, used)
	for ci := range camEnCues {
		c := &camEnCues[ci]
		for i := range toks {
			if used[i] || !toks[i].word {
				continue
			}
			for _, head := range c.heads {
				j, ok := camMatchSeq(toks, used, i, head)
				if !ok {
					continue
				}
				if c.test != nil && !c.test(toks, i, j) || c.guard && !camEnSubject(toks, i, j, c) {
					continue
				}
				eff, idx := camEnDirection(toks, used, j, c)
				if eff == nil {
					eff = c.def
				}
				if eff == nil {
					continue
				}
				if camEnNegated(toks, i) {
					eff = camNegate(eff)
				}
				end := j
				for q := i; q < j; q++ {
					used[q] = true
				}
				for _, q := range idx {
					used[q] = true
					end = max(end, q+1)
				}
				hits = append(hits, camHit{start: i, end: end, pos: toks[i].start, eff: eff})
				break
			}
		}
	}
	for i := range toks {
		if used[i] || !toks[i].word {
			continue
		}
		for _, m := range camEnMods {
			j, ok := camMatchSeq(toks, used, i, m.toks)
			if !ok {
				continue
			}
			if m.toks[0] == "slow" && j < len(toks) && (toks[j].s == "motion" || toks[j].s == "mo") {
				break
			}
			for q := i; q < j; q++ {
				used[q] = true
			}
			hits = append(hits, camHit{start: i, end: j, pos: toks[i].start, eff: []camEffect{m.eff},
				mod: true, adverb: m.adverb, tail: m.tail})
			break
		}
	}
	var kept []camHit
	at := camHitIndex(hits)
	for _, h := range hits {
		if !h.mod || camEnAttached(toks, hits, at, h) {
			kept = append(kept, h)
		}
	}
	return kept
}

// camEnAttached reports whether the speed or strength word h qualifies a
// cue: it stands inside the cue ("pans slowly to the left"), before it over
// articles and other qualifiers ("slow push in", "slowly, the camera pushes
// in"), or, for adverbs, after it in the same clause ("pushes in on her face
// slowly").
func camEnAttached(toks []camToken, hits []camHit, at map[int]int, h camHit) bool {
	for _, o := range hits {
		if !o.mod && o.start <= h.start && h.end <= o.end {
			return true
		}
	}
	for p := h.end; p < len(toks); {
		k, ok := at[p]
		if ok && !hits[k].mod {
			return true
		}
		switch {
		case ok:
			p = hits[k].end
		case toks[p].word && camEnAttachSkip[toks[p].s], h.adverb && toks[p].s == ",":
			p++
		default:
			p = len(toks)
		}
	}
	if !h.adverb {
		return false
	}
	if h.tail && h.end < len(toks) && toks[h.end].word && !camEnAfterIng[toks[h.end].s] {
		return false
	}
	for _, o := range hits {
		if o.mod || o.end > h.start {
			continue
		}
		clause := true
		for q := o.end; q < h.start; q++ {
			if !toks[q].word {
				clause = false
				break
			}
		}
		if clause {
			return true
		}
	}
	return false
}

var (
	// camEnStill are the words of a camera that does not move.
	camEnStill = camSet("still", "fixed", "stationary", "motionless", "unmoving", "static", "locked")
	// camEnStillNouns may follow them: "still camera", "locked shot".
	camEnStillNouns = camSet("camera", "cam", "shot", "frame", "view", "angle", "lens", "composition")
	// camEnStillVerbs may stand between the camera and them: "the camera
	// stays completely still".
	camEnStillVerbs = camSet("is", "stays", "remains", "holds", "stands", "keeps", "kept", "stay", "remain", "hold",
		"completely", "perfectly", "totally", "entirely", "absolutely", "very", "being", "'s", "does", "doesn't",
		"not", "never", "will", "won't", "should", "must", "the", "be", "stay", "fully")
	// camEnMotionWords, negated, lock the camera: "no camera movement".
	camEnMotionWords = camSet("move", "moves", "moving", "movement", "movements", "motion")
	// camEnStillEnd may follow "still" of a camera that does not move ("the
	// camera stays still and …"), unlike "the camera still pushes in".
	camEnStillEnd = camSet("and", "while", "as", "with", "throughout")
	// camEnMotionLead may stand between a negation and camEnMotionWords.
	camEnMotionLead = camSet("camera", "cam", "does", "is", "will", "any", "the", "should", "must")
	// camEnNone negate camEnMotionWords without naming the camera: "no
	// movement".
	camEnNone = camSet("no", "without", "zero")
	// camEnStaticNot follow "static" when it is no camera word: "static noise".
	camEnStaticNot = camSet("noise", "electricity", "electric", "charge", "shock", "hair", "cling", "discharge")
)

// camEnStatic finds the English words of a locked camera: "static",
// "locked-off", "tripod", "still camera", "the camera stays still", "no
// camera movement", "the camera doesn't move".
func camEnStatic(toks []camToken, used []bool) []camHit {
	var hits []camHit
	mark := func(i, j int) {
		for q := i; q < j; q++ {
			used[q] = true
		}
		hits = append(hits, camHit{start: i, end: j, pos: toks[i].start, eff: []camEffect{camStaticE}})
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.word || used[i] {
			continue
		}
		next := ""
		if i+1 < len(toks) && toks[i+1].word {
			next = toks[i+1].s
		}
		switch {
		case t.s == "tripod":
			mark(i, i+1)
		case t.s == "static" && !camEnStaticNot[next] && (i == 0 || toks[i-1].s != "tv"):
			mark(i, i+1)
		case (t.s == "locked" || t.s == "lock") && (next == "off" || next == "down"):
			mark(i, i+2)
		case t.s == "locked" && (i == 0 || !toks[i-1].word) && (i+1 == len(toks) || !toks[i+1].word):
			mark(i, i+1) // "locked" alone in its clause
		case camEnStill[t.s] && t.s != "static" && (camEnStillNouns[next] || camEnCameraBefore(toks, i)):
			if t.s == "still" && !camEnStillNouns[next] && next != "" && !camEnStillEnd[next] {
				continue
			}
			mark(i, i+1)
		case camEnMotionWords[t.s]:
			k := i - 1
			for k >= 0 && toks[k].word && camEnMotionLead[toks[k].s] {
				k--
			}
			if k < 0 || !toks[k].word || !camEnNegations[toks[k].s] {
				continue
			}
			if camEnNone[toks[k].s] || camEnCameraBefore(toks, k) {
				mark(k, i+1)
			}
		}
	}
	return hits
}

// camEnCameraBefore reports whether the camera is named right before token
// i, over linking words: "camera is completely still", "camera does not".
func camEnCameraBefore(toks []camToken, i int) bool {
	k := i - 1
	for k >= 0 && toks[k].word && camEnStillVerbs[toks[k].s] {
		k--
	}
	return k >= 0 && toks[k].word && (camEnCameraNouns[toks[k].s] && toks[k].s != "we")
}

// DescribeShot describes a shot in lang for confirmation messages:
// "缓慢推近 → 暗转" / "slow push in → fade to black". Moves are joined by
// arrows in order; first person and shake are added after a comma. A shot
// without motion that is not static reads "默认镜头：轻推" / "default: gentle
// push in", a static one "固定镜头" / "locked-off", each followed by its
// fades.
func DescribeShot(lang paimeng.Lang, s paimeng.Shot) string {
	en := lang == paimeng.LangEN
	sep := "，"
	if en {
		sep = ", "
	}
	pick := func(zh, e string) string { return camPick(en, zh, e) }
	if s.Static || !s.HasMotion() {
		items := []string{pick("默认镜头：轻推", "default: gentle push in")}
		if s.Static {
			items[0] = pick("固定镜头", "locked-off")
		}
		for _, m := range s.Moves {
			if m.FadeIn {
				items = append(items, pick("渐显", "fade in"))
			}
			if m.FadeOut {
				items = append(items, pick("暗转", "fade to black"))
			}
		}
		return strings.Join(items, sep)
	}
	var items []string
	if s.Walk {
		items = append(items, pick("第一人称", "first person"))
	}
	var steps []string
	for _, m := range s.Moves {
		if d := camDescribeMove(en, m); d != "" {
			steps = append(steps, d)
		}
	}
	if len(steps) > 0 {
		items = append(items, strings.Join(steps, " → "))
	}
	switch {
	case s.Shake >= 1.5:
		items = append(items, pick("剧烈晃动", "violent shake"))
	case s.Shake > 0 && s.Shake <= camShakeSlight:
		items = append(items, pick("轻微晃动", "slight shake"))
	case s.Shake > 0:
		items = append(items, pick("手持晃动", "handheld shake"))
	}
	return strings.Join(items, sep)
}

// camAxisWords names the moves of each axis: default amount, zh and en
// words for positive and negative amounts.
var camAxisWords = []struct {
	get          func(paimeng.Move) float64
	base         float64
	zhPos, zhNeg string
	enPos, enNeg string
}{
	{func(m paimeng.Move) float64 { return m.Dolly }, 4, "推近", "拉远", "push in", "pull back"},
	{func(m paimeng.Move) float64 { return m.Zoom }, 4, "变焦拉远", "变焦推近", "zoom out", "zoom in"},
	{func(m paimeng.Move) float64 { return m.Horizontal }, 5, "右移", "左移", "truck right", "truck left"},
	{func(m paimeng.Move) float64 { return m.Vertical }, 5, "上升", "下降", "crane up", "crane down"},
	{func(m paimeng.Move) float64 { return m.Tilt }, 5, "右摇", "左摇", "pan right", "pan left"},
	{func(m paimeng.Move) float64 { return m.Pan }, 5, "上摇", "下摇", "tilt up", "tilt down"},
	{func(m paimeng.Move) float64 { return m.Roll }, 5, "顺时针旋转", "逆时针旋转", "roll clockwise", "roll counterclockwise"},
	{func(m paimeng.Move) float64 { return m.Orbit }, 5, "向右环绕", "向左环绕", "orbit right", "orbit left"},
}

// camDescribeMove describes one move: "缓慢推近并暗转", "slow pan left and
// push in".
func camDescribeMove(en bool, m paimeng.Move) string {
	var words []string
	ratio := 0.0
	for _, a := range camAxisWords {
		v := a.get(m)
		if v == 0 {
			continue
		}
		ratio = math.Max(ratio, math.Abs(v)/a.base)
		switch {
		case v > 0 && en:
			words = append(words, a.enPos)
		case v > 0:
			words = append(words, a.zhPos)
		case en:
			words = append(words, a.enNeg)
		default:
			words = append(words, a.zhNeg)
		}
	}
	join := "并"
	if en {
		join = " and "
	}
	var items []string
	if m.FadeIn {
		items = append(items, camPick(en, "渐显", "fade in"))
	}
	if len(words) > 0 {
		prefix := ""
		switch {
		case m.Ease == paimeng.EaseSudden:
			prefix = camPick(en, "猛然", "sudden ")
		case m.Ease == paimeng.EaseLinear:
			prefix = camPick(en, "匀速", "steady ")
		case ratio < 0.55:
			prefix = camPick(en, "轻微", "slight ")
		case ratio < 0.9:
			prefix = camPick(en, "缓慢", "slow ")
		case ratio > 1.3:
			prefix = camPick(en, "快速", "fast ")
		}
		items = append(items, prefix+strings.Join(words, join))
	}
	if m.FadeOut {
		items = append(items, camPick(en, "暗转", "fade to black"))
	}
	return strings.Join(items, join)
}

func camPick(en bool, zh, e string) string {
	if en {
		return e
	}
	return zh
}
