package tokenize

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// liveAlphabet mixes what prompts contain: ASCII, spaces of several kinds,
// Chinese in and out of the fixture vocabulary, fullwidth forms, accented
// and decomposed letters, combining marks, ligatures, circled digits, emoji
// with modifiers and joiners, other scripts, the user-defined pieces, control
// characters and stray invalid bytes.
var liveAlphabet = []string{
	"a", "b", "c", "e", "o", "s", "t", "x", "A", "Z", "cat", "the", "walk", "ing", "0", "1", "9", "42",
	".", ",", "!", "?", "-", "'", "\"", "(", ")", ":", "/", "#",
	" ", " ", " ", "  ", "\t", "\u00a0", "\u3000", "\u2003", "\u200b", "\u2581", "\r",
	"一", "只", "猫", "在", "走", "路", "海", "边", "龍", "鬱", "，", "。", "！", "「", "」",
	"Ａ", "ｂ", "Ｃ", "ｚ", "１", "９", "（", "）", "＠", "～", "ｶ", "ﾞ", "ﾀ",
	"é", "è", "ü", "ñ", "ç", "Å", "ø", "ß", "e\u0301", "\u0301", "\u0308", "\u0303", "\u20dd",
	"ﬁ", "ﬂ", "ﬃ", "①", "⑩", "⑳", "Ⅻ", "²", "½", "㎏", "℃", "™",
	"🐱", "🐶", "🌅", "❤", "\ufe0f", "👍", "🏽", "\u200d", "👩", "🇯", "🇵",
	"П", "ж", "ы", "안", "녕", "ا", "ل", "न", "्", "α", "Ω",
	"<cam>", "<sep>", "<", ">", "\x01", "\x7f", "\u0085", "\ufeff", "\xff", "\xc3", "\xe4\xb8",
}

// TestSPMLive feeds seeded random strings through Debian's spm_encode and
// through this package and compares the ids, for both fixture models.
func TestSPMLive(t *testing.T) {
	spmEncode, err := exec.LookPath("spm_encode")
	if err != nil {
		t.Fatalf("spm_encode not found (%v): install Debian's sentencepiece package (scripts/setup.sh test does)", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lines := make([]string, 400)
	for i := range lines {
		var b strings.Builder
		for n := rng.IntN(24); n > 0; n-- {
			b.WriteString(liveAlphabet[rng.IntN(len(liveAlphabet))])
		}
		lines[i] = b.String()
	}
	input := strings.Join(lines, "\n") + "\n"
	for _, model := range []string{"spm_t5", "spm_bytes"} {
		cmd := exec.Command(spmEncode, "--model=testdata/"+model+".model", "--output_format=id")
		cmd.Stdin = strings.NewReader(input)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("spm_encode: %v: %s", err, stderr.Bytes())
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(got) != len(lines) {
			t.Fatalf("%s: spm_encode gave %d lines for %d", model, len(got), len(lines))
		}
		tk := load(t, model+".model")
		bad := 0
		for i, line := range lines {
			want := parseIDs(t, got[i])
			if ids := tk.EncodeRaw(line); !reflect.DeepEqual(ids, want) && !(len(ids) == 0 && len(want) == 0) {
				if bad++; bad <= 10 {
					t.Errorf("%s: EncodeRaw(%q) = %v, spm_encode %v", model, line, ids, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d lines differ", model, bad, len(lines))
		}
	}
}
