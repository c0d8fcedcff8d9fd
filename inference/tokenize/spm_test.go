package tokenize

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// readLines splits a fixture file into lines, keeping every other byte
// (tabs, carriage returns, trailing spaces, invalid UTF-8) as it is.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("%s: no final newline", path)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func parseIDs(t testing.TB, line string) []int32 {
	t.Helper()
	var ids []int32
	for _, f := range strings.Fields(line) {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			t.Fatalf("bad id %q", f)
		}
		ids = append(ids, int32(n))
	}
	return ids
}

// spmCase is one line of testdata/spm_lines.txt with the ids spm_encode gave
// for it (no end-of-sequence id).
type spmCase struct {
	text string
	ids  []int32
}

func spmCases(t testing.TB, model string) []spmCase {
	t.Helper()
	lines := readLines(t, "testdata/spm_lines.txt")
	ids := readLines(t, "testdata/"+model+".ids")
	if len(lines) != len(ids) || len(lines) < 50 {
		t.Fatalf("%d lines, %d id lines", len(lines), len(ids))
	}
	out := make([]spmCase, len(lines))
	for i := range lines {
		out[i] = spmCase{lines[i], parseIDs(t, ids[i])}
	}
	return out
}

// The SentencePiece model files give the ids spm_encode gave (committed by
// scripts/spm-fixture.sh), plus the trailing </s>.
func TestSPMFixture(t *testing.T) {
	for _, model := range []string{"spm_t5", "spm_bytes"} {
		tk := load(t, model+".model")
		for _, c := range spmCases(t, model) {
			want := append(append([]int32{}, c.ids...), 1)
			if got := tk.Encode(c.text); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Encode(%q) = %v, want %v", model, c.text, got, want)
			}
		}
	}
}

// t5JSON converts a SentencePiece model to a tokenizer.json the way the
// transformers T5Converter does: every piece with its score in a Unigram
// model, control and user-defined pieces as added tokens (not normalized,
// control ones special), the Precompiled charsmap (left out when empty),
// and a post-processor appending </s>. newer selects the normalizer and
// pre-tokenizer of current transformers (Strip right, Replace " {2,}" -> "▁",
// Metaspace prepend_scheme "always") over the older T5 files' (Replace
// " {2,}" -> " ", WhitespaceSplit + Metaspace add_prefix_space).
func t5JSON(t testing.TB, m *spmModel, newer bool) []byte {
	t.Helper()
	type obj = map[string]any
	var added []obj
	vocab := make([][2]any, len(m.pieces))
	for i, p := range m.pieces {
		vocab[i] = [2]any{p, m.scores[i]}
		if m.types[i] == spmControl || m.types[i] == spmUserDefined {
			added = append(added, obj{"id": i, "content": p, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": m.types[i] == spmControl})
		}
	}
	var norms []obj
	if m.cmap != nil {
		norms = append(norms, obj{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(m.charsmapBlob)})
	}
	var pre obj
	if newer {
		norms = append(norms, obj{"type": "Strip", "strip_left": false, "strip_right": true},
			obj{"type": "Replace", "pattern": obj{"Regex": " {2,}"}, "content": "▁"})
		pre = obj{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	} else {
		norms = append(norms, obj{"type": "Replace", "pattern": obj{"Regex": " {2,}"}, "content": " "})
		pre = obj{"type": "Sequence", "pretokenizers": []obj{{"type": "WhitespaceSplit"},
			{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}}}
	}
	eos := m.pieces[m.eosID]
	b, err := json.Marshal(obj{
		"version":       "1.0",
		"added_tokens":  added,
		"normalizer":    obj{"type": "Sequence", "normalizers": norms},
		"pre_tokenizer": pre,
		"post_processor": obj{"type": "TemplateProcessing",
			"single":         []obj{{"Sequence": obj{"id": "A", "type_id": 0}}, {"SpecialToken": obj{"id": eos, "type_id": 0}}},
			"special_tokens": obj{eos: obj{"id": eos, "ids": []int32{m.eosID}, "tokens": []string{eos}}}},
		"model": obj{"type": "Unigram", "unk_id": m.unkID, "vocab": vocab, "byte_fallback": m.byteFallback},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hfDiffers lists the fixture lines where the tokenizer.json conversion of
// spm_t5.model gives other ids than SentencePiece, by design of the
// tokenizers library.
var hfDiffers = map[string]string{
	"<cam> a cat <sep> walks": "added tokens are split out first, so no ▁ is emitted before them and the text after one starts a new word",
	"<cam>zoom<sep>":          "the same",
	"x<cam>y":                 "the same",
	"\xef\xac\x81\xcc\x81 ligature with accent": "the cluster ﬁ+U+0301 is replaced whole by the entry of ﬁ, dropping the accent",
	"n\xcc\x83 a\xcc\x8a o\xcc\x88\xcc\x81":     "the cluster o+U+0308+U+0301 is replaced whole by the entry of o+U+0308, dropping U+0301",
	"invalid \xff\xfe bytes \xc3 here":          "a run of invalid bytes becomes one U+FFFD before normalization (which maps it to a space); SentencePiece writes one U+FFFD per byte and does not normalize it",
}

// hfMayDiffer tells whether a line of the byte-fallback model, which has no
// charsmap (identity normalization), may get other ids from the conversion:
// SentencePiece then treats only U+0020 as a space, while WhitespaceSplit and
// Strip take every Unicode space, and Metaspace adds no ▁ in front of a text
// that starts with a literal ▁.
func hfMayDiffer(text string) bool {
	if _, ok := hfDiffers[text]; ok {
		return true
	}
	return strings.ContainsFunc(text, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) || r == '\u2581' })
}

// The same vocabulary in a converted tokenizer.json gives the spm_encode ids,
// except on the lines of hfDiffers, which must still differ.
func TestSPMFixtureAsTokenizerJSON(t *testing.T) {
	for _, model := range []string{"spm_t5", "spm_bytes"} {
		m := load(t, model+".model").spm
		for _, newer := range []bool{false, true} {
			tk, err := Parse(t5JSON(t, m, newer))
			if err != nil {
				t.Fatal(err)
			}
			if tk.ModelType() != "unigram" || tk.VocabSize() != len(m.pieces) {
				t.Fatalf("%s: type %q, vocabulary %d", model, tk.ModelType(), tk.VocabSize())
			}
			for _, c := range spmCases(t, model) {
				want := append(append([]int32{}, c.ids...), m.eosID)
				got := tk.Encode(c.text)
				why, differs := hfDiffers[c.text]
				if model == "spm_bytes" {
					differs, why = hfMayDiffer(c.text), ""
				}
				switch {
				case !differs && !reflect.DeepEqual(got, want):
					t.Errorf("%s (newer %v): Encode(%q) = %v, spm_encode %v", model, newer, c.text, got, want)
				case why != "" && reflect.DeepEqual(got, want):
					t.Errorf("%s (newer %v): Encode(%q) = %v agrees with spm_encode though listed as differing (%s)", model, newer, c.text, got, why)
				}
			}
		}
	}
}
