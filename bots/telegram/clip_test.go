package telegram

import (
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello!", 5, "hell…"},
		{"点赞成功", 4, "点赞成功"},
		{"点赞成功了", 4, "点赞成…"},
		{"❤️ok", 3, "❤️ok"[:len("❤️")] + "…"}, // ❤ + variation selector: two units
		{"😀😀", 3, "😀…"},                       // one emoji is a surrogate pair
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	long := strings.Repeat("赞", maxMessageUTF16+10)
	if got := clip(long, maxMessageUTF16); utf16Len(got) != maxMessageUTF16 || !strings.HasSuffix(got, "…") {
		t.Errorf("long text clipped to %d units", utf16Len(got))
	}
}
