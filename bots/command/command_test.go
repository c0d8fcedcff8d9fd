package command

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{"/gen 镜头缓慢推近 --seconds 10 --seed 42", Command{Name: Gen, Args: "镜头缓慢推近 --seconds 10 --seed 42", Prompt: "镜头缓慢推近", Seconds: 10, Seed: 42}},
		{"/gen@MyBot prompt", Command{Name: Gen, Bot: "MyBot", Args: "prompt", Prompt: "prompt"}},
		{"/GEN push in", Command{Name: Gen, Args: "push in", Prompt: "push in"}},
		{"/gen", Command{Name: Gen}},
		{"  /gen\n推近", Command{Name: Gen, Args: "推近", Prompt: "推近"}},
		{"/gen push in --seconds=5 seed:7", Command{Name: Gen, Args: "push in --seconds=5 seed:7", Prompt: "push in", Seconds: 5, Seed: 7}},
		{"/gen seconds:10 后拉 seed：9", Command{Name: Gen, Args: "seconds:10 后拉 seed：9", Prompt: "后拉", Seconds: 10, Seed: 9}},
		{"/gen 推近 时长:10 种子:3", Command{Name: Gen, Args: "推近 时长:10 种子:3", Prompt: "推近", Seconds: 10, Seed: 3}},
		{"/gen pan left —seconds 10", Command{Name: Gen, Args: "pan left —seconds 10", Prompt: "pan left", Seconds: 10}},
		{"/gen 10s: --seconds 10s", Command{Name: Gen, Args: "10s: --seconds 10s", Prompt: "10s:", Seconds: 10}},
		{"/gen 镜头——推近 note:slow", Command{Name: Gen, Args: "镜头——推近 note:slow", Prompt: "镜头——推近 note:slow"}},
		{"/gen -- x", Command{Name: Gen, Args: "-- x", Prompt: "-- x"}},
		// Mode and lane.
		{"/gen push in --mode pro", Command{Name: Gen, Args: "push in --mode pro", Prompt: "push in", Mode: paimeng.ModePro}},
		{"/gen push in --mode=std", Command{Name: Gen, Args: "push in --mode=std", Prompt: "push in", Mode: paimeng.ModeStd}},
		{"/gen --pro push in", Command{Name: Gen, Args: "--pro push in", Prompt: "push in", Mode: paimeng.ModePro}},
		{"/gen 推近 模式:pro", Command{Name: Gen, Args: "推近 模式:pro", Prompt: "推近", Mode: paimeng.ModePro}},
		{"/gen 推近 模式：专业", Command{Name: Gen, Args: "推近 模式：专业", Prompt: "推近", Mode: paimeng.ModePro}},
		{"/gen 推近 mode:PRO", Command{Name: Gen, Args: "推近 mode:PRO", Prompt: "推近", Mode: paimeng.ModePro}},
		{"/gen push in --relax", Command{Name: Gen, Args: "push in --relax", Prompt: "push in", Lane: paimeng.LaneRelax}},
		{"/gen --fast push in", Command{Name: Gen, Args: "--fast push in", Prompt: "push in", Lane: paimeng.LaneFast}},
		{"/gen x —relax —pro", Command{Name: Gen, Args: "x —relax —pro", Prompt: "x", Mode: paimeng.ModePro, Lane: paimeng.LaneRelax}},
		{"/gen x --RELAX", Command{Name: Gen, Args: "x --RELAX", Prompt: "x", Lane: paimeng.LaneRelax}},
		{"/gen x lane:relax", Command{Name: Gen, Args: "x lane:relax", Prompt: "x", Lane: paimeng.LaneRelax}},
		{"/gen x --lane 慢速", Command{Name: Gen, Args: "x --lane 慢速", Prompt: "x", Lane: paimeng.LaneRelax}},
		{"/gen x 通道:快速", Command{Name: Gen, Args: "x 通道:快速", Prompt: "x", Lane: paimeng.LaneFast}},
		{"/gen x --relax --fast --pro --std", Command{Name: Gen, Args: "x --relax --fast --pro --std", Prompt: "x", Mode: paimeng.ModeStd, Lane: paimeng.LaneFast}},
		{"/gen 慢速 推近 relax pro", Command{Name: Gen, Args: "慢速 推近 relax pro", Prompt: "慢速 推近 relax pro"}},
		{"/gen --pro --seconds 10 --relax --seed 3 推近", Command{Name: Gen, Args: "--pro --seconds 10 --relax --seed 3 推近", Prompt: "推近", Seconds: 10, Seed: 3, Mode: paimeng.ModePro, Lane: paimeng.LaneRelax}},
		{"/gen 推近 --seconds 10 --pro", Command{Name: Gen, Args: "推近 --seconds 10 --pro", Prompt: "推近", Seconds: 10, Mode: paimeng.ModePro}},
		// Other commands keep their arguments for the handler.
		{"/price --seconds 10 --mode pro --relax", Command{Name: Price, Args: "--seconds 10 --mode pro --relax"}},
		{"/cancel abc", Command{Name: Cancel, Args: "abc"}},
		{"/TOP@MyBot likes month", Command{Name: Top, Bot: "MyBot", Args: "likes month"}},
		{"/grant telegram:1 50 thanks", Command{Name: Grant, Args: "telegram:1 50 thanks"}},
		{"/balance", Command{Name: Balance}},
		{"/help", Command{Name: Help}},
		{"/start@MyBot payload", Command{Name: Start, Bot: "MyBot", Args: "payload"}},
		{"/other x", Command{Name: "other", Args: "x"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := "/gen " + strings.Repeat("推", paimeng.MaxPromptRunes+1)
	tests := []struct {
		in   string
		code string
	}{
		{"hello", paimeng.EINVALID},
		{"", paimeng.EINVALID},
		{"/", paimeng.EINVALID},
		{"/@bot", paimeng.EINVALID},
		{"/gen x --seconds 7", paimeng.EBadOption},
		{"/gen x --seconds", paimeng.EBadOption},
		{"/gen x --seed -1", paimeng.EBadOption},
		{"/gen x --seed abc", paimeng.EBadOption},
		{"/gen x seconds:3", paimeng.EBadOption},
		{"/gen x --x 1", paimeng.EBadOption},
		{"/gen x --turbo", paimeng.EBadOption},
		{"/gen x --mode", paimeng.EBadOption},
		{"/gen x --mode ultra", paimeng.EBadOption},
		{"/gen x mode:ultra", paimeng.EBadOption},
		{"/gen x 模式:超级", paimeng.EBadOption},
		{"/gen x --lane slowest", paimeng.EBadOption},
		{"/gen x --pro=yes", paimeng.EBadOption},
		{"/gen x --relax=1", paimeng.EBadOption},
		{long, paimeng.EPromptTooLong},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if got := paimeng.ErrorCode(err); got != tt.code {
			t.Errorf("Parse(%.40q) code = %q, want %q (err %v)", tt.in, got, tt.code, err)
		}
	}
	// The addressee survives an error.
	c, err := Parse("/gen@OtherBot x --bogus 1")
	if err == nil || c.Name != Gen || c.Bot != "OtherBot" {
		t.Errorf("Parse with bad option = %+v, %v", c, err)
	}
	// Exactly the limit is fine.
	if _, err := Parse("/gen " + strings.Repeat("推", paimeng.MaxPromptRunes)); err != nil {
		t.Errorf("prompt at limit: %v", err)
	}
}

func TestKnown(t *testing.T) {
	for _, n := range []string{Gen, Balance, Price, Daily, Redeem, Link, Unlink, Queue, Cancel, Top,
		Private, Public, Like, Ban, Unban, Grant, Help, Start} {
		if !(Command{Name: n}).Known() {
			t.Errorf("%s not known", n)
		}
	}
	for _, n := range []string{"foo", "", "GEN", "/gen", "gallery"} {
		if (Command{Name: n}).Known() {
			t.Errorf("%q known", n)
		}
	}
}

func TestErrorTextEveryCode(t *testing.T) {
	codes := []string{
		paimeng.ECONFLICT, paimeng.EINTERNAL, paimeng.EINVALID, paimeng.ENOTFOUND, paimeng.EUNAUTH,
		paimeng.ENoImage, paimeng.EImageTooLarge, paimeng.EImageTooSmall, paimeng.EImageFormat,
		paimeng.EPromptTooLong, paimeng.EBadOption, paimeng.EInsufficient, paimeng.ETooManyJobs,
		paimeng.EEngineFailed, paimeng.EJobTimeout, paimeng.EUnknownEngine, "something_new",
		paimeng.EBanned, paimeng.EPromptBlocked, paimeng.ERateLimited,
	}
	for _, code := range codes {
		err := fmt.Errorf("wrapped: %w", paimeng.Errorf(code, "secret operator detail"))
		zh, en := ErrorText(paimeng.LangZH, err), ErrorText(paimeng.LangEN, err)
		if zh == "" || en == "" || zh == en {
			t.Errorf("%s: zh %q en %q", code, zh, en)
		}
		if strings.Contains(zh+en, "secret") || strings.Contains(zh+en, "paimeng error") {
			t.Errorf("%s: raw error leaked: %q / %q", code, zh, en)
		}
		if !strings.Contains(zh, "未扣除积分") || !strings.Contains(en, "Nothing was charged") {
			t.Errorf("%s: missing no-charge wording: %q / %q", code, zh, en)
		}
		if !hasHan(zh) || hasHan(en) {
			t.Errorf("%s: wrong language: %q / %q", code, zh, en)
		}
		if CodeText(paimeng.LangEN, code) != en {
			t.Errorf("%s: CodeText differs from ErrorText", code)
		}
	}
	// Member-fixable codes each have their own text.
	seen := map[string]string{}
	for _, code := range codes[5:16] {
		en := CodeText(paimeng.LangEN, code)
		if prev, ok := seen[en]; ok {
			t.Errorf("%s and %s share text %q", code, prev, en)
		}
		seen[en] = code
	}
	for _, code := range []string{paimeng.EBanned, paimeng.EPromptBlocked, paimeng.ERateLimited} {
		if CodeText(paimeng.LangEN, code) == CodeText(paimeng.LangEN, paimeng.EINTERNAL) {
			t.Errorf("%s has only the generic text", code)
		}
	}
	if got := ErrorText(paimeng.LangEN, errors.New("dial tcp: refused")); got != CodeText(paimeng.LangEN, paimeng.EINTERNAL) {
		t.Errorf("plain error text = %q", got)
	}
	if !strings.Contains(CodeText(paimeng.LangEN, paimeng.EImageTooLarge), "20 MB") {
		t.Errorf("too large text lacks limit: %q", CodeText(paimeng.LangEN, paimeng.EImageTooLarge))
	}
}

// TestCommunityCodeText covers the codes of the community commands: each has
// text of its own in both languages, and those a member can act on say
// what to do.
func TestCommunityCodeText(t *testing.T) {
	tests := []struct {
		code   string
		zh, en []string // words the text must contain
	}{
		{paimeng.EAlreadyClaimed, []string{"签到", "明天"}, []string{"checked in", "tomorrow"}},
		{paimeng.ECodeInvalid, []string{"码", "检查"}, []string{"code", "check"}},
		{paimeng.ECodeUsed, []string{"用过", "/link"}, []string{"already been used", "/link"}},
		{paimeng.ECodeExpired, []string{"过期", "/link"}, []string{"expired", "/link"}},
		{paimeng.EAlreadyLinked, []string{"已经关联"}, []string{"already linked"}},
		{paimeng.ENotLinked, []string{"没有"}, []string{"not linked"}},
		{paimeng.ENotCancelable, []string{"不能再取消", "/queue"}, []string{"can no longer be canceled", "/queue"}},
		{paimeng.EBanned, []string{"封禁", "管理员", "未扣除积分"}, []string{"banned", "admin", "Nothing was charged"}},
		{paimeng.EPromptBlocked, []string{"描述", "修改", "未扣除积分"}, []string{"description", "change it", "Nothing was charged"}},
		{paimeng.ERateLimited, []string{"稍等", "未扣除积分"}, []string{"wait", "Nothing was charged"}},
		{paimeng.EForbidden, []string{"管理员"}, []string{"admin"}},
		{paimeng.ETooManyJobs, []string{"/queue", "/cancel", "未扣除积分"}, []string{"/queue", "/cancel", "Nothing was charged"}},
	}
	seen := map[string]string{}
	generic := CodeText(paimeng.LangEN, paimeng.EINTERNAL)
	for _, tt := range tests {
		zh, en := CodeText(paimeng.LangZH, tt.code), CodeText(paimeng.LangEN, tt.code)
		if en == generic || !hasHan(zh) || hasHan(en) {
			t.Errorf("%s: %q / %q", tt.code, zh, en)
		}
		for _, w := range tt.zh {
			if !strings.Contains(zh, w) {
				t.Errorf("%s: zh %q lacks %q", tt.code, zh, w)
			}
		}
		for _, w := range tt.en {
			if !strings.Contains(en, w) {
				t.Errorf("%s: en %q lacks %q", tt.code, en, w)
			}
		}
		if prev, ok := seen[en]; ok {
			t.Errorf("%s and %s share text", tt.code, prev)
		}
		seen[en] = tt.code
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

func TestHelp(t *testing.T) {
	zh, en := Message(paimeng.LangZH, KeyHelp), Message(paimeng.LangEN, KeyHelp)
	commands := []string{"/gen", "/balance", "/price", "/daily", "/redeem", "/link", "/unlink", "/queue", "/cancel",
		"/top", "/private", "/public", "/like", "/ban", "/unban", "/grant", "/help", "--seconds", "--seed", "--pro", "--relax",
		"--camera", "zoom:-5", "--fps", "--res", "--aspect", "--tail", "--negative", "540p", "1080p", "16:9", "9:16", "1:1",
		"horizontal", "vertical", "pan", "tilt", "roll", "zoom", "-10", "10",
		"down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
	for _, w := range append([]string{"图片", "推近", "后拉", "左移", "右移", "晃动", "不动", "暗转"}, commands...) {
		if !strings.Contains(zh, w) {
			t.Errorf("zh help lacks %q", w)
		}
	}
	for _, w := range append([]string{"image", "push in", "pull back", "pan left", "pan right", "shake", "static", "fade"}, commands...) {
		if !strings.Contains(en, w) {
			t.Errorf("en help lacks %q", w)
		}
	}
	// Discord shows at most 2000 characters in a message.
	for _, h := range []string{zh, en} {
		if n := utf8.RuneCountInString(h); n > 2000 {
			t.Errorf("help has %d characters, over Discord's 2000", n)
		}
	}
	for _, lang := range []paimeng.Lang{paimeng.LangZH, paimeng.LangEN} {
		bad := CodeText(lang, paimeng.EBadOption)
		for _, w := range []string{"--seconds", "--camera", "--fps", "--res", "--aspect", "--tail", "--negative", "zoom"} {
			if !strings.Contains(bad, w) {
				t.Errorf("%s bad option text lacks %q", lang, w)
			}
		}
	}
	if Message("", KeyHelp) != zh || Message("fr", KeyHelp) != zh {
		t.Error("unknown language should fall back to Chinese")
	}
}

func TestMessages(t *testing.T) {
	if got := Message(paimeng.LangEN, KeyBalance, int64(120)); got != "Your credit balance: 120" {
		t.Errorf("balance = %q", got)
	}
	if got := Message(paimeng.LangZH, KeyBalance, int64(120)); !strings.Contains(got, "120") || !hasHan(got) {
		t.Errorf("balance zh = %q", got)
	}
	if got := Message(paimeng.LangEN, "no_such_key"); got != "no_such_key" {
		t.Errorf("unknown key = %q", got)
	}
	for _, k := range []string{KeyHint, KeyCanceled, KeyDefaultPrompt, KeyStageRender, KeyStageEncode, KeyStageUpload} {
		zh, en := Message(paimeng.LangZH, k), Message(paimeng.LangEN, k)
		if zh == k || en == k || zh == en {
			t.Errorf("%s: %q / %q", k, zh, en)
		}
	}
	for _, k := range []string{KeyDone, KeyFailed} {
		if got := Message(paimeng.LangEN, k, "ab12"); !strings.Contains(got, "#ab12") || strings.Contains(got, "%!") {
			t.Errorf("%s = %q", k, got)
		}
	}
	if got := Message(paimeng.LangEN, KeyFailed, "x"); !strings.Contains(got, "nothing was charged") {
		t.Errorf("failed = %q", got)
	}
}

func TestQueuedText(t *testing.T) {
	if got := QueuedText(paimeng.LangEN, "j1", 3); !strings.Contains(got, "#j1") || !strings.Contains(got, "position 3") {
		t.Errorf("queued = %q", got)
	}
	if got := QueuedText(paimeng.LangZH, "j1", 3); !strings.Contains(got, "#j1") || !strings.Contains(got, "3 个") {
		t.Errorf("queued zh = %q", got)
	}
	if got := QueuedText(paimeng.LangEN, "j1", 0); !strings.Contains(got, "started") {
		t.Errorf("started = %q", got)
	}
	if got := QueuedText(paimeng.LangEN, "j1", -1); !strings.Contains(got, "#j1") || strings.Contains(got, "position") {
		t.Errorf("no position = %q", got)
	}
}

func TestQueuedPriceText(t *testing.T) {
	tests := []struct {
		lang  paimeng.Lang
		pos   int
		price int64
		want  []string
		not   []string
	}{
		{paimeng.LangZH, 2, 20, []string{"✅ 已收到，任务 #abc 正在排队（第 2 位），本次 20 积分", "/cancel abc"}, nil},
		{paimeng.LangEN, 2, 20, []string{"#abc", "position 2", "20 credits", "/cancel abc"}, nil},
		{paimeng.LangZH, 0, 35, []string{"#abc", "已开始", "本次 35 积分"}, []string{"/cancel"}},
		{paimeng.LangEN, 0, 35, []string{"#abc", "started", "35 credits"}, []string{"/cancel"}},
		{paimeng.LangZH, -1, 10, []string{"#abc", "排队", "本次 10 积分"}, []string{"第"}},
		{paimeng.LangEN, -1, 10, []string{"#abc", "queued", "10 credits"}, []string{"position"}},
		{paimeng.LangZH, 1, 0, []string{"第 1 位", "本次免费"}, []string{"0 积分"}},
		{paimeng.LangEN, 1, 0, []string{"position 1", "free"}, []string{"0 credits"}},
	}
	for _, tt := range tests {
		got := QueuedPriceText(tt.lang, "abc", tt.pos, tt.price)
		if strings.Contains(got, "%!") {
			t.Errorf("bad format: %q", got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("QueuedPriceText(%s, %d, %d) = %q lacks %q", tt.lang, tt.pos, tt.price, got, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(got, w) {
				t.Errorf("QueuedPriceText(%s, %d, %d) = %q has %q", tt.lang, tt.pos, tt.price, got, w)
			}
		}
	}
}

func TestLikeData(t *testing.T) {
	if got := LikeData("ab12cd34ef"); got != "like:ab12cd34ef" {
		t.Errorf("LikeData = %q", got)
	}
	tests := []struct {
		in string
		id string
		ok bool
	}{
		{"like:ab12cd34ef", "ab12cd34ef", true},
		{LikeData("j001"), "j001", true},
		{"like:", "", false},
		{"like:a b", "", false},
		{"like:a:b", "", false},
		{"unlike:abc", "", false},
		{"abc", "", false},
		{"like:" + strings.Repeat("a", 65), "", false},
	}
	for _, tt := range tests {
		id, ok := ParseLikeData(tt.in)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ParseLikeData(%q) = %q, %v; want %q, %v", tt.in, id, ok, tt.id, tt.ok)
		}
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.4, "▓▓▓▓░░░░░░ 40%"},
		{0, "░░░░░░░░░░ 0%"},
		{1, "▓▓▓▓▓▓▓▓▓▓ 100%"},
		{0.999, "▓▓▓▓▓▓▓▓▓░ 99%"},
		{-3, "░░░░░░░░░░ 0%"},
		{7, "▓▓▓▓▓▓▓▓▓▓ 100%"},
	}
	for _, tt := range tests {
		if got := ProgressBar(tt.f, 10); got != tt.want {
			t.Errorf("ProgressBar(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	if got := ProgressBar(0.5, 0); got != "▓▓▓▓▓░░░░░ 50%" {
		t.Errorf("default width = %q", got)
	}
}

func TestProgressText(t *testing.T) {
	got := ProgressText(paimeng.LangEN, "j9", paimeng.Progress{JobID: "j9", Stage: "render", Done: 48, Total: 120})
	if got != "⏳ Job #j9 rendering\n▓▓▓▓░░░░░░ 40%" {
		t.Errorf("progress en = %q", got)
	}
	got = ProgressText(paimeng.LangZH, "j9", paimeng.Progress{Stage: "encode", Done: 1, Total: 2})
	if got != "⏳ 任务 #j9 编码中\n▓▓▓▓▓░░░░░ 50%" {
		t.Errorf("progress zh = %q", got)
	}
}

func TestDoneCaption(t *testing.T) {
	got := DoneCaption(paimeng.LangEN, "slow push in", 42, 80)
	if got != "🎬 slow push in\nSeed: 42 · Credits left: 80" {
		t.Errorf("caption = %q", got)
	}
	got = DoneCaption(paimeng.LangZH, "镜头缓慢推近", 42, 80)
	for _, w := range []string{"镜头缓慢推近", "42", "80", "剩余积分"} {
		if !strings.Contains(got, w) {
			t.Errorf("zh caption %q lacks %q", got, w)
		}
	}
	if got := DoneCaption(paimeng.LangEN, "", 1, -1); got != "🎬 (default camera move)\nSeed: 1" {
		t.Errorf("no balance caption = %q", got)
	}
	long := DoneCaption(paimeng.LangZH, strings.Repeat("推", paimeng.MaxPromptRunes), 1, 1)
	if n := len([]rune(long)); n > CaptionPromptRunes+40 || !strings.Contains(long, "…") {
		t.Errorf("long caption has %d runes", n)
	}
}

func TestParseCameraAndOutput(t *testing.T) {
	zoom := func(v float64) *paimeng.CameraControl {
		return &paimeng.CameraControl{Type: paimeng.CameraSimple, Config: &paimeng.CameraConfig{Zoom: v}}
	}
	pan := func(v float64) *paimeng.CameraControl {
		return &paimeng.CameraControl{Type: paimeng.CameraSimple, Config: &paimeng.CameraConfig{Pan: v}}
	}
	downBack := &paimeng.CameraControl{Type: paimeng.CameraDownBack}
	tests := []struct {
		in   string
		want Command // Name and Args are checked by TestParse
	}{
		{"/gen 推近 --camera zoom:5", Command{Prompt: "推近", Camera: zoom(5)}},
		{"/gen --camera down_back 樱花", Command{Prompt: "樱花", Camera: downBack}},
		{"/gen x --camera=forward-up", Command{Prompt: "x", Camera: &paimeng.CameraControl{Type: paimeng.CameraForwardUp}}},
		{"/gen x camera:zoom:-3", Command{Prompt: "x", Camera: zoom(-3)}},
		{"/gen x 镜头:pan:2", Command{Prompt: "x", Camera: pan(2)}},
		{"/gen x 镜头：pan：2", Command{Prompt: "x", Camera: pan(2)}},
		{"/gen x 运镜:down_back", Command{Prompt: "x", Camera: downBack}},
		{"/gen x --camera zoom -5 y", Command{Prompt: "x y", Camera: zoom(-5)}},
		{"/gen x —camera pan=-2.5", Command{Prompt: "x", Camera: pan(-2.5)}},
		{"/gen x --camera zoom:1 --camera pan:2", Command{Prompt: "x", Camera: pan(2)}},
		// Prose with a colon stays prose.
		{"/gen 镜头:缓慢推近", Command{Prompt: "镜头:缓慢推近"}},
		{"/gen camera:slowly pushes in", Command{Prompt: "camera:slowly pushes in"}},
		{"/gen 镜头： 推近", Command{Prompt: "镜头： 推近"}},
		// Output options.
		{"/gen x --fps 30", Command{Prompt: "x", FPS: 30}},
		{"/gen x fps:24 帧率:30", Command{Prompt: "x", FPS: 30}},
		{"/gen x --fps=30fps", Command{Prompt: "x", FPS: 30}},
		{"/gen x --res 720p", Command{Prompt: "x", Resolution: 720}},
		{"/gen x --resolution 1080P", Command{Prompt: "x", Resolution: 1080}},
		{"/gen x 分辨率:540p", Command{Prompt: "x", Resolution: 540}},
		{"/gen x 清晰度:高清", Command{Prompt: "x", Resolution: 720}},
		{"/gen x --aspect 16:9", Command{Prompt: "x", Aspect: paimeng.AspectWide}},
		{"/gen x aspect:9:16", Command{Prompt: "x", Aspect: paimeng.AspectTall}},
		{"/gen x 比例：1：1", Command{Prompt: "x", Aspect: paimeng.AspectSquare}},
		{"/gen x 画幅:竖屏", Command{Prompt: "x", Aspect: paimeng.AspectTall}},
		{"/gen 16:9 的画面", Command{Prompt: "16:9 的画面"}},
		// Tail and negative prompt.
		{"/gen x --tail", Command{Prompt: "x", Tail: true}},
		{"/gen —tail 推近", Command{Prompt: "推近", Tail: true}},
		{"/gen 推近 --negative 模糊 变形 --seed 3", Command{Prompt: "推近", Negative: "模糊 变形", Seed: 3}},
		{"/gen 推近 --no blur, text", Command{Prompt: "推近", Negative: "blur, text"}},
		{"/gen --negative=blur text --pro x", Command{Prompt: "x", Negative: "blur text", Mode: paimeng.ModePro}},
		{"/gen x --negative a 种子:4", Command{Prompt: "x", Negative: "a", Seed: 4}},
		{"/gen x --no a --no b", Command{Prompt: "x", Negative: "a b"}},
		// Everything at once.
		{"/gen 樱花 --camera zoom:-5 --fps 30 --res 1080p --aspect 9:16 --tail --negative 模糊 --seconds 10",
			Command{Prompt: "樱花", Camera: zoom(-5), FPS: 30, Resolution: 1080, Aspect: paimeng.AspectTall, Tail: true, Negative: "模糊", Seconds: 10}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.Camera.String() != tt.want.Camera.String() {
			t.Errorf("Parse(%q) camera %q, want %q", tt.in, got.Camera.String(), tt.want.Camera.String())
		}
		got.Name, got.Args, got.Camera, tt.want.Camera = "", "", nil, nil
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseCameraAndOutputErrors(t *testing.T) {
	for _, in := range []string{
		"/gen x --camera zoom:11",
		"/gen x --camera zoom",
		"/gen x --camera spin:3",
		"/gen x --camera sideways",
		"/gen x --camera",
		"/gen x camera:zoom:99",
		"/gen x 镜头:zoom",
		"/gen x 镜头:pan:abc",
		"/gen x --fps 25",
		"/gen x --fps 0",
		"/gen x 帧率:60",
		"/gen x --res 4k",
		"/gen x --res 0",
		"/gen x 分辨率:480p",
		"/gen x --aspect 4:3",
		"/gen x 比例:2:1",
		"/gen x --tail=yes",
		"/gen x --negative",
		"/gen x --no --pro",
		"/gen x --end 1",
	} {
		c, err := Parse(in)
		if code := paimeng.ErrorCode(err); code != paimeng.EBadOption {
			t.Errorf("Parse(%q) = %+v, code %q (err %v), want %s", in, c, code, err, paimeng.EBadOption)
		}
	}
	long := "/gen x --negative " + strings.Repeat("糊", paimeng.MaxPromptRunes+1)
	if _, err := Parse(long); paimeng.ErrorCode(err) != paimeng.EPromptTooLong {
		t.Errorf("long negative prompt: %v", err)
	}
}

func TestFillRequest(t *testing.T) {
	c, err := Parse("/gen 樱花 --camera zoom:-5 --fps 30 --res 720p --aspect 1:1 --negative 模糊 --seconds 10 --seed 9 --pro --relax --tail")
	if err != nil {
		t.Fatal(err)
	}
	req := paimeng.Request{Image: []byte("img"), Prompt: "old"}
	c.FillRequest(&req)
	if req.Prompt != "樱花" || req.Seconds != 10 || req.Seed != 9 || req.Mode != paimeng.ModePro || req.Lane != paimeng.LaneRelax ||
		req.Camera.String() != "zoom:-5" || req.FPS != 30 || req.Resolution != 720 || req.Aspect != paimeng.AspectSquare ||
		req.NegativePrompt != "模糊" || string(req.Image) != "img" || req.Tail != nil || req.Shot != nil {
		t.Errorf("request %+v", req)
	}
}

func TestNegativeNote(t *testing.T) {
	if NegativeNote(paimeng.LangEN, "  ") != "" {
		t.Error("note without a negative prompt")
	}
	if n := NegativeNote(paimeng.LangEN, "blur"); !strings.Contains(n, "negative prompt") {
		t.Errorf("en note %q", n)
	}
	if n := NegativeNote(paimeng.LangZH, "模糊"); !strings.Contains(n, "反向描述") {
		t.Errorf("zh note %q", n)
	}
}

func TestCameraOption(t *testing.T) {
	for _, tt := range []struct {
		in, camera, words string
		bad               bool
	}{
		{"", "", "", false},
		{"zoom:5", "zoom:5", "", false},
		{" Pan -3 ", "pan:-3", "", false},
		{"down-back", "down_back", "", false},
		{"推近", "", "推近", false},
		{"pan left", "", "pan left", false},
		{"slow push in", "", "slow push in", false},
		{"zoom:11", "", "", true},
		{"tilt=abc", "", "", true},
		{"zoom", "", "", true},
		{"spin:3", "", "", true},
		{"down_up", "", "", true},
		{"Spin=3", "", "", true},
		{"镜头：推近", "", "镜头：推近", false},
	} {
		c, words, err := CameraOption(tt.in)
		if (err != nil) != tt.bad || c.String() != tt.camera || words != tt.words {
			t.Errorf("CameraOption(%q) = %q, %q, %v", tt.in, c.String(), words, err)
		}
		if err != nil && paimeng.ErrorCode(err) != paimeng.EBadOption {
			t.Errorf("CameraOption(%q) code %q", tt.in, paimeng.ErrorCode(err))
		}
	}
}

func TestCameraLine(t *testing.T) {
	if l := CameraLine(paimeng.LangZH, paimeng.Shot{}); l != "" {
		t.Errorf("default shot line %q", l)
	}
	c, _ := paimeng.ParseCameraControl("zoom:-5")
	shot := paimeng.Shot{}.WithControl(c)
	if l := CameraLine(paimeng.LangEN, shot); l != "🎥 Camera: "+DescribeShot(paimeng.LangEN, shot) {
		t.Errorf("en line %q", l)
	}
	if l := CameraLine(paimeng.LangZH, paimeng.Shot{Static: true}); !strings.HasPrefix(l, "🎥 镜头：") {
		t.Errorf("zh line %q", l)
	}
	if l := CameraLine(paimeng.LangZH, paimeng.Shot{Moves: []paimeng.Move{{FadeOut: true}}}); l == "" {
		t.Error("no line for a fade")
	}
	if got := AckNotes("ack", "", "a", "", "b"); got != "ack\na\nb" {
		t.Errorf("AckNotes = %q", got)
	}
}
