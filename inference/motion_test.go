package inference

import "testing"

func TestParseMotion(t *testing.T) {
	push, pull := Motion{Zoom: 1}, Motion{Zoom: -1}
	gentle := Motion{Zoom: 1, Gentle: true}
	tests := []struct {
		prompt string
		want   Motion
	}{
		{"镜头缓缓推近，猫咪看向镜头", push},
		{"拉近到人物的脸", push},
		{"放大主体", push},
		{"镜头后拉，展现全景", pull},
		{"慢慢拉远", pull},
		{"画面缩小", pull},
		{"镜头左移", Motion{PanX: -1}},
		{"向右平移", Motion{PanX: 1}},
		{"横移镜头", Motion{PanX: 1}},
		{"镜头上移看天空", Motion{TiltY: 1}},
		{"镜头下移", Motion{TiltY: -1}},
		{"手持晃动的感觉", Motion{Shake: true}},
		{"画面轻微抖动", Motion{Shake: true}},
		{"固定镜头，不动", Motion{Static: true}},
		{"静止画面，最后暗转", Motion{Static: true, FadeOut: true}},
		{"推近并且摇晃，最后隐入黑暗", Motion{Zoom: 1, Shake: true, FadeOut: true}},
		{"一只猫在草地上", gentle},
		{"淡出", Motion{Zoom: 1, Gentle: true, FadeOut: true}},
		{"slow push in on the lighthouse", push},
		{"Zoom In to the eyes", push},
		{"dolly in", push},
		{"pull back to reveal the city", pull},
		{"zoom out slowly", pull},
		{"pan left across the skyline", Motion{PanX: -1}},
		{"PAN RIGHT", Motion{PanX: 1}},
		{"truck along the street", Motion{PanX: 1}},
		{"tilt up to the sky", Motion{TiltY: 1}},
		{"tilt down", Motion{TiltY: -1}},
		{"handheld shaky footage", Motion{Shake: true}},
		{"static shot, locked camera", Motion{Static: true}},
		{"still camera then fade to black", Motion{Static: true, FadeOut: true}},
		{"push in with camera shake and fade out", Motion{Zoom: 1, Shake: true, FadeOut: true}},
		{"a cat in Japan near a panel", gentle},
		{"", gentle},
	}
	for _, tt := range tests {
		if got := ParseMotion(tt.prompt); got != tt.want {
			t.Errorf("ParseMotion(%q) = %v (%+v), want %v", tt.prompt, got, got, tt.want)
		}
	}
}

func TestShakeBandLimited(t *testing.T) {
	m := Motion{Shake: true}
	a := m.path(240, 24, 7, 1280)
	b := m.path(240, 24, 7, 1280)
	c := m.path(240, 24, 8, 1280)
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
		if i > 0 {
			// Low-frequency: frame-to-frame change well under the amplitude.
			if d := a[i].shakeX - a[i-1].shakeX; d > 0.35*shakeAmp*1280 || d < -0.35*shakeAmp*1280 {
				t.Fatalf("frame %d: shake step %.2f px too large", i, d)
			}
		}
	}
	if !same || !diff {
		t.Fatalf("shake: same seed equal=%v, other seed differs=%v", same, diff)
	}
}
