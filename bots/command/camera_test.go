package command

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/paimeng/paimeng"
)

type (
	tMove = paimeng.Move
	tShot = paimeng.Shot
)

// shotMoves builds a Shot with just moves.
func shotMoves(ms ...tMove) tShot { return tShot{Moves: ms} }

const (
	shotSudden = paimeng.EaseSudden
	shotLinear = paimeng.EaseLinear
)

// shotCases are prompts as creators write them, with the shot each must
// give.
var shotCases = []struct {
	prompt string
	want   tShot
}{
	// Chinese.
	{"镜头缓慢推近，女孩回头微笑", shotMoves(tMove{Dolly: 2.4})},
	{"航拍，镜头缓缓上升掠过城市", shotMoves(tMove{Vertical: 3})},
	{"手持镜头跟随主角奔跑，轻微晃动", tShot{Shake: 0.35}},
	{"先推近再后拉", shotMoves(tMove{Dolly: 4}, tMove{Dolly: -4})},
	{"镜头向右环绕人物一圈", shotMoves(tMove{Orbit: 5})},
	{"第一人称视角走进森林", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: 3}}}},
	{"猛然拉远", shotMoves(tMove{Dolly: -7.2, Ease: shotSudden})},
	{"一只橘猫趴在窗台上晒太阳", tShot{}},
	{"镜头缓缓推近，然后暗转", shotMoves(tMove{Dolly: 2.4}, tMove{FadeOut: true})},
	{"固定镜头，雨滴落在窗户上", tShot{Static: true}},
	{"镜头不动，人物缓缓转身，最后画面变暗", tShot{Static: true, Moves: []tMove{{FadeOut: true}}}},
	{"镜头向左平移，展示整条街道", shotMoves(tMove{Horizontal: -5})},
	{"镜头缓缓向右平移", shotMoves(tMove{Horizontal: 3})},
	{"平移镜头扫过金色的麦田", shotMoves(tMove{Horizontal: 5})},
	{"镜头从右往左横移", shotMoves(tMove{Horizontal: -5})},
	{"镜头从左到右缓缓平移", shotMoves(tMove{Horizontal: 3})},
	{"镜头从右侧平移过来", shotMoves(tMove{Horizontal: -5})},
	{"镜头向左摇，露出远处的雪山", shotMoves(tMove{Tilt: -5})},
	{"摇镜头展示整个房间", shotMoves(tMove{Tilt: 5})},
	{"镜头缓缓上摇，从脚步到脸部", shotMoves(tMove{Pan: 3})},
	{"仰拍高楼，云朵快速飘过", shotMoves(tMove{Pan: 5})},
	{"俯拍城市夜景，车流如织", shotMoves(tMove{Pan: -5})},
	{"镜头下压，看向地面的小狗", shotMoves(tMove{Pan: -5})},
	{"镜头稍微向下摇", shotMoves(tMove{Pan: -2.5})},
	{"镜头顺时针旋转，梦幻的氛围", shotMoves(tMove{Roll: 5})},
	{"画面逆时针缓慢旋转", shotMoves(tMove{Roll: -3})},
	{"镜头大幅旋转，天旋地转", shotMoves(tMove{Roll: 8})},
	{"旋转木马在夜色中闪烁", tShot{}},
	{"游戏角色升级，全身发光", tShot{}},
	{"太阳缓缓升起，照亮海面", tShot{}},
	{"镜头左环绕主角", shotMoves(tMove{Orbit: -5})},
	{"镜头逆时针环绕城堡", shotMoves(tMove{Orbit: -5})},
	{"镜头绕着女孩慢慢转了一圈", shotMoves(tMove{Orbit: 3})},
	{"剧烈晃动的画面，战场上爆炸不断", tShot{Shake: 1.5}},
	{"手持长剑的武士站在雨中", tShot{}},
	{"镜头轻微推近，不要晃动", shotMoves(tMove{Dolly: 2})},
	{"画面稳定，缓缓拉远", shotMoves(tMove{Dolly: -2.4})},
	{"变焦推近，聚焦在她的眼睛上", shotMoves(tMove{Zoom: -4})},
	{"镜头拉近到人物面部特写", shotMoves(tMove{Zoom: -4})},
	{"镜头快速拉开，展现整个战场", shotMoves(tMove{Zoom: 6.8})},
	{"镜头先向左平移，然后缓缓拉远，最后暗转", shotMoves(tMove{Horizontal: -5}, tMove{Dolly: -2.4}, tMove{FadeOut: true})},
	{"淡入，镜头推近少女的脸庞", shotMoves(tMove{Dolly: 4, FadeIn: true})},
	{"从黑暗中浮现一座古堡，镜头缓缓前推", shotMoves(tMove{Dolly: 2.4, FadeIn: true})},
	{"镜头急推到主角的眼睛", shotMoves(tMove{Dolly: 7.2, Ease: shotSudden})},
	{"镜头突然拉远，揭示身后的怪物", shotMoves(tMove{Dolly: -7.2, Ease: shotSudden})},
	{"镜头匀速向前推进，穿过隧道", shotMoves(tMove{Dolly: 4, Ease: shotLinear})},
	{"风格：赛博朋克，霓虹灯，镜头缓慢横移", shotMoves(tMove{Horizontal: 3})},
	{"cinematic, 4K, 电影感：女孩站在海边，海风吹起头发", tShot{}},
	{"镜头向上移动，展现大楼全貌", shotMoves(tMove{Vertical: 5})},
	{"镜头缓缓下降，落在湖面上", shotMoves(tMove{Vertical: -3})},
	{"无人机航拍，镜头急速爬升", shotMoves(tMove{Vertical: 8.5})},
	{"镜头缓慢推近并向左摇", shotMoves(tMove{Dolly: 2.4, Tilt: -3})},
	{"第一人称视角奔跑，镜头剧烈晃动", tShot{Walk: true, Shake: 1.5, Moves: []tMove{{Dolly: 3}}}},
	{"主观镜头推开房门，然后缓缓后退", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: -2.4}}}},
	{"第一人称走进古堡，然后暗转", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: 3}, {FadeOut: true}}}},
	{"镜头静止，只有烛光在摇曳", tShot{Static: true}},
	{"机位固定，延时摄影拍摄云海翻涌", tShot{Static: true}},
	{"镜头一动不动，猫咪慢慢睁开眼睛", tShot{Static: true}},
	{"女孩一动不动地站着，镜头缓缓推近", shotMoves(tMove{Dolly: 2.4})},
	{"她慢慢靠近，微风拂面", tShot{}},
	{"镜头靠近她的脸", shotMoves(tMove{Dolly: 4})},
	{"画面淡出", shotMoves(tMove{FadeOut: true})},
	{"淡入淡出", shotMoves(tMove{FadeIn: true, FadeOut: true})},
	{"挥手说再见，镜头缓缓拉远", shotMoves(tMove{Dolly: -2.4})},
	{"一位老先生坐在公园长椅上，镜头慢慢推近", shotMoves(tMove{Dolly: 2.4})},
	{"紧接着镜头拉远", shotMoves(tMove{Dolly: -4})},
	{"镜头推近，随后向右摇，最后淡出", shotMoves(tMove{Dolly: 4}, tMove{Tilt: 5}, tMove{FadeOut: true})},
	{"树叶在风中摇晃，镜头固定", tShot{Static: true}},
	{"画面轻微抖动，营造紧张感", tShot{Shake: 0.35}},
	{"镜头不晃，平稳地向前推进", shotMoves(tMove{Dolly: 4})},
	{"轻轻地推近，暗转", shotMoves(tMove{Dolly: 2.4, FadeOut: true})},
	{"雪花缓缓飘落，镜头推近", shotMoves(tMove{Dolly: 4})},
	{"强烈的阳光照在沙漠上，镜头向右平移", shotMoves(tMove{Horizontal: 5})},
	{"镜头先缓缓上升，再快速向左平移，最后渐黑", shotMoves(tMove{Vertical: 3}, tMove{Horizontal: -8.5}, tMove{FadeOut: true})},
	{"镜头缓缓远离，城市越来越小", shotMoves(tMove{Dolly: -2.4})},
	{"镜头 slowly push in，女孩微笑", shotMoves(tMove{Dolly: 2.4})},
	{"镜头围绕着古树缓缓旋转", shotMoves(tMove{Orbit: 3})},
	{"人群向左移动，镜头静止", tShot{Static: true}},
	{"镜头不要动，两个人在咖啡馆聊天，最后淡出", tShot{Static: true, Moves: []tMove{{FadeOut: true}}}},
	{"第一人称穿过走廊，然后猛然转向右边", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Tilt: 9, Ease: shotSudden}}}},
	{"热气球缓缓上升，航拍", tShot{}},
	{"夕阳西下，镜头缓缓拉远，画面逐渐变暗", shotMoves(tMove{Dolly: -2.4, FadeOut: true})},
	{"主角回头→镜头推近→暗转", shotMoves(tMove{Dolly: 4}, tMove{FadeOut: true})},

	// English.
	{"camera slowly pushes in on her face", shotMoves(tMove{Dolly: 2.4})},
	{"drone shot rising over the misty mountains", shotMoves(tMove{Vertical: 5})},
	{"slowly push in, then fade to black", shotMoves(tMove{Dolly: 2.4}, tMove{FadeOut: true})},
	{"locked-off shot, rain falling", tShot{Static: true}},
	{"violent handheld shake", tShot{Shake: 1.5}},
	{"a cat sleeping on a windowsill, warm afternoon light", tShot{}},
	{"pan left while pushing in", shotMoves(tMove{Tilt: -5, Dolly: 4})},
	{"push in and fade out", shotMoves(tMove{Dolly: 4, FadeOut: true})},
	{"push in, then fade to black", shotMoves(tMove{Dolly: 4}, tMove{FadeOut: true})},
	{"Slow dolly in towards the old man, subtle handheld shake", tShot{Shake: 0.35, Moves: []tMove{{Dolly: 1.2}}}},
	{"The camera pans slowly to the right across the valley", shotMoves(tMove{Tilt: 3})},
	{"tilt up to reveal the skyscraper", shotMoves(tMove{Pan: 5})},
	{"crash zoom into her eyes", shotMoves(tMove{Zoom: -7.2, Ease: shotSudden})},
	{"zoom out to reveal the whole city", shotMoves(tMove{Zoom: 4})},
	{"the camera orbits around the statue", shotMoves(tMove{Orbit: 5})},
	{"orbit left around the dancer", shotMoves(tMove{Orbit: -5})},
	{"first-person POV walking through a neon-lit alley", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: 3}}}},
	{"static shot of a lighthouse, waves crashing, fade to black", tShot{Static: true, Moves: []tMove{{FadeOut: true}}}},
	{"tripod shot, no camera movement, a candle flickering", tShot{Static: true}},
	{"the camera doesn't move while the crowd rushes past", tShot{Static: true}},
	{"a locked door in a dark corridor", tShot{}},
	{"TV static on an old screen, slow push in", shotMoves(tMove{Dolly: 2.4})},
	{"stilted dialogue, two actors on stage", tShot{}},
	{"the camera slowly cranes up over the crowd", shotMoves(tMove{Vertical: 3})},
	{"truck left past the market stalls", shotMoves(tMove{Horizontal: -5})},
	{"tracking shot following a cyclist", shotMoves(tMove{Horizontal: 5})},
	{"the camera rolls clockwise as the ship capsizes", shotMoves(tMove{Roll: 5})},
	{"rolling hills under a golden sky", tShot{}},
	{"she shakes her head and smiles", tShot{}},
	{"slight dutch angle, camera slowly pulls back", shotMoves(tMove{Roll: 1.5, Dolly: -1.2})},
	{"quickly pan right, then slowly tilt down, finally fade out", shotMoves(tMove{Tilt: 8.5}, tMove{Pan: -3}, tMove{FadeOut: true})},
	{"handheld camera, no shake", tShot{}},
	{"fade in from black, the camera rises slowly above the clouds", shotMoves(tMove{Vertical: 3, FadeIn: true})},
	{"a rose in the rain", tShot{}},
	{"the sun rises over the ocean", tShot{}},
	{"Camera moves closer to the girl", shotMoves(tMove{Dolly: 4})},
	{"the girl moves closer to the camera", tShot{}},
	{"snap zoom on the villain's face", shotMoves(tMove{Zoom: -7.2, Ease: shotSudden})},
	{"suddenly pull back to reveal the army", shotMoves(tMove{Dolly: -7.2, Ease: shotSudden})},
	{"steady push in on the detective", shotMoves(tMove{Dolly: 4, Ease: shotLinear})},
	{"camera slowly pushes in → fades to black", shotMoves(tMove{Dolly: 2.4}, tMove{FadeOut: true})},
	{"push in -> pull out", shotMoves(tMove{Dolly: 4}, tMove{Dolly: -4})},
	{"rotate counter-clockwise slowly", shotMoves(tMove{Roll: -3})},
	{"expand the frame, the wind howls", tShot{}},
	{"slow motion rain, camera pushes in", shotMoves(tMove{Dolly: 4})},
	{"heavy rain, the camera pushes in", shotMoves(tMove{Dolly: 4})},
	{"pan left a little", shotMoves(tMove{Tilt: -2.5})},
	{"a little girl in a red coat, camera pans right", shotMoves(tMove{Tilt: 5})},
	{"aerial drone shot descending slowly into the canyon", shotMoves(tMove{Vertical: -3})},
	{"camera circles around the car, shaky cam", tShot{Shake: 0.7, Moves: []tMove{{Orbit: 5}}}},
	{"whip pan to the right", shotMoves(tMove{Tilt: 9, Ease: shotSudden})},
	{"the camera stays completely still as the storm rolls in", tShot{Static: true}},
	{"the camera still pushes in", shotMoves(tMove{Dolly: 4})},
	{"intense handheld footage of a riot", tShot{Shake: 1.5}},
	{"camera gently rotates, dreamy atmosphere", shotMoves(tMove{Roll: 3})},
	{"no zoom, just a gentle pan across the field", shotMoves(tMove{Tilt: 3})},
	{"push in fast and violently, then cut", shotMoves(tMove{Dolly: 10})},
	{"the camera is rising above the forest", shotMoves(tMove{Vertical: 5})},
	{"the sun is rising, a rooster crows", tShot{}},
	{"a girl dancing in the rain, camera circles around her slowly, handheld feel", tShot{Shake: 0.7, Moves: []tMove{{Orbit: 3}}}},
	{"POV: walking into the kitchen, then fade out", tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: 3}, {FadeOut: true}}}},
}

func TestParseShot(t *testing.T) {
	zh := 0
	for _, c := range shotCases {
		if shotHasHan(c.prompt) {
			zh++
		}
		if got := ParseShot(c.prompt); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseShot(%q)\n got %s\nwant %s", c.prompt, shotText(got), shotText(c.want))
		}
	}
	if len(shotCases) < 70 || 2*zh < len(shotCases) {
		t.Errorf("%d cases, %d Chinese: want at least 70, half Chinese", len(shotCases), zh)
	}
}

// shotText prints every field of a shot (Shot.String is a summary).
func shotText(s tShot) string {
	return fmt.Sprintf("{Static:%v Shake:%v Walk:%v Moves:%+v}", s.Static, s.Shake, s.Walk, s.Moves)
}

func shotHasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

func TestDescribeShot(t *testing.T) {
	for _, c := range []struct {
		shot   tShot
		zh, en string
	}{
		{shotMoves(tMove{Dolly: 2.4}, tMove{FadeOut: true}), "缓慢推近 → 暗转", "slow push in → fade to black"},
		{tShot{}, "默认镜头：轻推", "default: gentle push in"},
		{tShot{Moves: []tMove{{FadeOut: true}}}, "默认镜头：轻推，暗转", "default: gentle push in, fade to black"},
		{tShot{Static: true}, "固定镜头", "locked-off"},
		{tShot{Static: true, Moves: []tMove{{FadeIn: true}}}, "固定镜头，渐显", "locked-off, fade in"},
		{shotMoves(tMove{Tilt: -5, Dolly: 4}), "推近并左摇", "push in and pan left"},
		{shotMoves(tMove{Dolly: -7.2, Ease: shotSudden}), "猛然拉远", "sudden pull back"},
		{shotMoves(tMove{Horizontal: 8.5}), "快速右移", "fast truck right"},
		{shotMoves(tMove{Zoom: -4, FadeIn: true}), "渐显并变焦推近", "fade in and zoom in"},
		{tShot{Shake: 0.7}, "手持晃动", "handheld shake"},
		{tShot{Walk: true, Shake: 0.35, Moves: []tMove{{Dolly: 3}}}, "第一人称，缓慢推近，轻微晃动", "first person, slow push in, slight shake"},
		{shotMoves(tMove{Orbit: -5}, tMove{Pan: 2.5}), "向左环绕 → 轻微上摇", "orbit left → slight tilt up"},
	} {
		if got := DescribeShot(paimeng.LangZH, c.shot); got != c.zh {
			t.Errorf("DescribeShot(zh, %s) = %q, want %q", shotText(c.shot), got, c.zh)
		}
		if got := DescribeShot(paimeng.LangEN, c.shot); got != c.en {
			t.Errorf("DescribeShot(en, %s) = %q, want %q", shotText(c.shot), got, c.en)
		}
	}
}

func FuzzParseShot(f *testing.F) {
	for _, c := range shotCases {
		f.Add(c.prompt)
	}
	f.Fuzz(func(t *testing.T, prompt string) {
		s := ParseShot(prompt)
		if !reflect.DeepEqual(s, ParseShot(prompt)) {
			t.Fatalf("ParseShot(%q) is not deterministic", prompt)
		}
		if math.IsNaN(s.Shake) || s.Shake < 0 || s.Shake > 1.5 {
			t.Errorf("ParseShot(%q).Shake = %v", prompt, s.Shake)
		}
		if s.Static && (len(s.Moves) > 0 && s.HasMotion() || s.Shake != 0) {
			t.Errorf("ParseShot(%q) is static with motion: %+v", prompt, s)
		}
		for _, m := range s.Moves {
			for _, v := range []float64{m.Horizontal, m.Vertical, m.Pan, m.Tilt, m.Roll, m.Zoom, m.Dolly, m.Orbit} {
				if math.IsNaN(v) || v < -10 || v > 10 {
					t.Errorf("ParseShot(%q): amount %v out of [-10, 10] in %+v", prompt, v, m)
				}
			}
			if math.IsNaN(m.Length) || m.Length < 0 {
				t.Errorf("ParseShot(%q): length %v in %+v", prompt, m.Length, m)
			}
			if !m.Moving() && !m.FadeIn && !m.FadeOut {
				t.Errorf("ParseShot(%q): empty move %+v", prompt, m)
			}
		}
		_ = DescribeShot(paimeng.LangZH, s)
		_ = DescribeShot(paimeng.LangEN, s)
	})
}
