package tokenize

import (
	"strings"
	"testing"
)

// The nmt_nfkc table embedded in spm_t5.model (by spm_train) maps what NFKC
// maps, looked up in the Darts trie.
func TestCharsmapNFKC(t *testing.T) {
	c := load(t, "spm_t5.model").spm.cmap
	if c == nil {
		t.Fatal("spm_t5.model has no charsmap")
	}
	for _, tc := range []struct{ in, key, want string }{
		{"Ａbc", "Ａ", "A"},
		{"ｚ", "ｚ", "z"},
		{"９", "９", "9"},
		{"ﬁsh", "ﬁ", "fi"},
		{"ﬃ", "ﬃ", "ffi"},
		{"①", "①", "1"},
		{"⑳", "⑳", "20"},
		{"ｶﾀ", "ｶ", "カ"},
		{"Ⅻ", "Ⅻ", "XII"},
		{"㎏", "㎏", "kg"},
		{"\u3000", "\u3000", " "},
		{"\u00a0x", "\u00a0", " "},
		{"\t", "\t", " "},
		{"e\u0301cole", "e\u0301", "é"}, // a two-character key
		{"\u0001", "\u0001", ""},        // removed
	} {
		n, got := c.match(tc.in, false)
		if n != len(tc.key) || got != tc.want {
			t.Errorf("match(%q) = %d %q, want %d %q", tc.in, n, got, len(tc.key), tc.want)
		}
	}
	for _, s := range []string{"a", "A", "猫", "é", "\u0301", "", "🐱"} {
		if n, got := c.match(s, false); n != 0 {
			t.Errorf("match(%q) = %d %q, want no entry", s, n, got)
		}
	}
}

// The tokenizers library's per-grapheme lookup (normalizeHF) and
// SentencePiece's longest match agree on ordinary text and differ on a
// cluster whose first character has an entry of its own.
func TestCharsmapGraphemes(t *testing.T) {
	m := load(t, "spm_t5.model").spm
	spm := func(s string) string {
		return strings.TrimPrefix(strings.ReplaceAll(m.normalize(s), "\u2581", " "), " ")
	}
	for _, s := range []string{"Ｃａｆé ﬁ ①", "e\u0301cole", "一只猫，在走路。", "👍🏽 ❤️"} {
		if hf, sp := m.cmap.normalizeHF(s), spm(s); hf != sp {
			t.Errorf("%q: library %q, SentencePiece %q", s, hf, sp)
		}
	}
	for _, c := range []struct{ in, hf, sp string }{
		{"\ufb01\u0301", "fi", "fi\u0301"},
		{"o\u0308\u0301", "ö", "ö\u0301"},
	} {
		if got := m.cmap.normalizeHF(c.in); got != c.hf {
			t.Errorf("normalizeHF(%q) = %q, want %q", c.in, got, c.hf)
		}
		if got := spm(c.in); got != c.sp {
			t.Errorf("SentencePiece normalize(%q) = %q, want %q", c.in, got, c.sp)
		}
	}
}

func TestCharsmapBroken(t *testing.T) {
	for _, c := range []struct {
		blob []byte
		want string
	}{
		{nil, "too short"},
		{[]byte{4, 0, 0, 0}, "too short"},
		{[]byte{8, 0, 0, 0, 1, 2, 3, 4}, "exceeds"},
		{[]byte{0, 0, 0, 0, 'a'}, "empty trie"},
		{[]byte{4, 0, 0, 0, 1, 2, 3, 4, 0xff}, "not valid UTF-8"},
	} {
		if _, err := parseCharsmap(c.blob); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseCharsmap(%v): %v, want an error mentioning %q", c.blob, err, c.want)
		}
	}
	_, err := Parse([]byte(`{"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAA"},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0]]}}`))
	if err == nil || !strings.Contains(err.Error(), "normalizer Precompiled") {
		t.Errorf("broken charsmap in tokenizer.json: %v", err)
	}
	// An empty one means no normalization.
	tk, err := Parse([]byte(`{"normalizer":{"type":"Precompiled","precompiled_charsmap":""},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["Ａ",-1]]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("Ａ"); len(got) != 1 || got[0] != 1 {
		t.Errorf("empty charsmap: Encode(Ａ) = %v, want [1]", got)
	}
}
