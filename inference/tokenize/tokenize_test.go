package tokenize

import (
	"reflect"
	"strings"
	"testing"
)

type encodeCase struct {
	text string
	want []int32
}

func load(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := Load("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func checkCases(t *testing.T, file string, cases []encodeCase) {
	t.Helper()
	tk := load(t, file)
	for _, c := range cases {
		if got := tk.Encode(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Encode(%q) = %v, want %v", file, c.text, got, c.want)
		}
	}
}

// Vocabulary of unigram_t5.json (id piece score):
//
//	0 <pad> 0   1 </s> 0   2 <unk> 0   3 ▁ -3   4 ▁a -2   5 ▁cat -4
//	6 ▁ca -3.5  7 t -3     8 ▁c -5     9 at -3  10 ▁walk -4.5  11 s -2.5
//	12 ▁walks -8  13 ▁ab -2  14 c -4  15 bc -1  16 a -4.5  17 b -4.5
//	18 一 -5  19 只 -5  20 猫 -5  21 一只 -6  22 在 -4  23 走 -5  24 路 -5
//	25 走路 -7  26 ▁一 -6  27 , -3  28 . -3  29 ▁the -2.5  30 ▁dog -4
//	31 <extra_id_0> 0 (added token)
//
// The lowest score is -8, so an unknown character scores -8-10 = -18.
// Normalizer: Precompiled, Replace " {2,}" -> " "; pre-tokenizer:
// WhitespaceSplit then Metaspace (add_prefix_space); post-processor appends
// </s> (1). The same ids come from transformers.js' tokenizers package (see
// testdata/README.md).
func TestUnigramT5(t *testing.T) {
	checkCases(t, "unigram_t5.json", []encodeCase{
		// ▁cat: ▁cat -4 beats ▁ca+t -6.5 and ▁c+at -8. ▁walks: ▁walk+s
		// -7 beats the longer ▁walks -8 (Viterbi, not longest match).
		{"a cat walks", []int32{4, 5, 10, 11, 1}},
		// ▁abc: greedy longest match gives ▁ab+c = -6; Viterbi takes
		// ▁a+bc = -3.
		{"abc", []int32{4, 15, 1}},
		// ▁一只猫在走路: ▁+一只 = -9 beats ▁一+只 = -11; 走路 -7 beats
		// 走+路 -10.
		{"一只猫在走路", []int32{3, 21, 20, 22, 25, 1}},
		// 狗 is unknown: ▁ then <unk>.
		{"a 狗", []int32{4, 3, 2, 1}},
		// Consecutive unknown characters fuse into one <unk>.
		{"a 狗狗 cat", []int32{4, 3, 2, 5, 1}},
		// Runs of spaces, leading and trailing spaces disappear.
		{"a   cat", []int32{4, 5, 1}},
		{"  a cat  ", []int32{4, 5, 1}},
		{"the dog\twalks\n", []int32{29, 30, 10, 11, 1}},
		// Fullwidth letters and the ideographic space fold (NFKC).
		{"ａ　ｃａｔ", []int32{4, 5, 1}},
		// The fullwidth comma folds to ","; the ideographic full stop
		// stays and is unknown.
		{"一只猫，在走路。", []int32{3, 21, 20, 27, 22, 25, 2, 1}},
		// Added tokens are matched before normalization; the text after
		// one gets its own ▁.
		{"a<extra_id_0>cat", []int32{4, 31, 5, 1}},
		{"a cat</s>", []int32{4, 5, 1, 1}},
		// No lowercasing: ▁A is ▁ + <unk>; ▁Cat is ▁ + <unk> + at.
		{"A Cat", []int32{3, 2, 3, 2, 9, 1}},
		{"", []int32{1}},
	})
}

// unigram_bytefallback.json has the vocabulary above plus <0xE7> 32,
// <0x8B> 33, <0x97> 34 and byte_fallback; its normalizer and pre-tokenizer are
// the newer serialization (Strip right, Replace " {2,}" -> "▁", Metaspace with
// prepend_scheme "always").
func TestUnigramByteFallback(t *testing.T) {
	checkCases(t, "unigram_bytefallback.json", []encodeCase{
		{"a cat walks", []int32{4, 5, 10, 11, 1}},
		// 狗 is E7 8B 97 in UTF-8: all three byte pieces exist.
		{"a 狗", []int32{4, 3, 32, 33, 34, 1}},
		// The fused unknown run 狗🐱 needs <0xF0>, which is missing: the
		// whole run becomes one <unk>.
		{"a 狗🐱", []int32{4, 3, 2, 1}},
		{"🐱", []int32{3, 2, 1}},
		{"a  cat  ", []int32{4, 5, 1}},
		{"一只猫在走路", []int32{3, 21, 20, 22, 25, 1}},
		{"a<extra_id_0>cat", []int32{4, 31, 5, 1}},
	})
}

// bpe_gpt2.json: ids 0-255 are the GPT-2 byte characters in byte order (so an
// unmerged byte keeps its value as id). Merges, by rank:
//
//	0 Ġ c -> Ġc 256   1 a t -> at 257   2 Ġc at -> Ġcat 258
//	3 c at -> cat 259  4 h e -> he 260   5 t he -> the 261
//	6 Ġ the -> Ġthe 262  7 t h -> th 263  8 ç Į -> çĮ 264
//	9 çĮ « -> çĮ« 265 (猫 = E7 8C AB)  10 Ġ a -> Ġa 266
//
// <|endoftext|> is added token 267.
func TestBPEGPT2(t *testing.T) {
	checkCases(t, "bpe_gpt2.json", []encodeCase{
		// "a", "Ġcat": Ġ c (0) then a t (1) then Ġc at (2). "a" alone
		// has no merge (Ġ a only applies with the space).
		{"a cat", []int32{97, 258}},
		// t h e: h e (rank 4) goes before t h (rank 7), then t he (5).
		{"the", []int32{261}},
		// t h a t: a t (1) first, then t h (7); th at has no merge.
		{"that", []int32{263, 257}},
		{"th the", []int32{263, 262}},
		// Chinese: 猫's bytes merge to one token; others stay bytes.
		{"猫", []int32{265}},
		{" 猫猫", []int32{32, 265, 265}},
		{"一只猫在走路", []int32{228, 184, 128, 229, 143, 170, 265, 229, 156, 168, 232, 181, 176, 232, 183, 175}},
		// Emoji: four bytes F0 9F 90 B1.
		{"🐱", []int32{240, 159, 144, 177}},
		{"héllo wörld", []int32{104, 195, 169, 108, 108, 111, 32, 119, 195, 182, 114, 108, 100}},
		// Special token split out before the byte-level pass.
		{"a cat<|endoftext|>", []int32{97, 258, 267}},
		// GPT-2 split: "I" "'m" " " " fine" "!!" "\n\n" "ok" " 12"; in
		// "cat  the" the first space stands alone and the second joins
		// "the".
		{"I'm  fine!!\n\nok 12", []int32{73, 39, 109, 32, 32, 102, 105, 110, 101, 33, 33, 10, 10, 111, 107, 32, 49, 50}},
		{"cat  the", []int32{259, 32, 262}},
	})
}

// bpe_clip.json follows the CLIP text encoder's layout: ids 0-255 are the
// byte characters, 256-511 the same with "</w>", then merges
//
//	0 a t</w> -> at</w> 512   1 c a -> ca 513   2 c at</w> -> cat</w> 514
//	3 ca t</w> -> cat</w>     4 t h -> th 515   5 th e</w> -> the</w> 516
//	6 Ġ a -> Ġa 517
//
// and <|startoftext|> 518, <|endoftext|> 519 around every sequence. The
// normalizer lowercases and folds whitespace; the split keeps letter runs,
// single digits, and runs of other symbols.
func TestBPECLIP(t *testing.T) {
	checkCases(t, "bpe_clip.json", []encodeCase{
		// a</w> = 256+97; c a t</w>: a t</w> (0), then c at</w> (2).
		{"a cat", []int32{518, 353, 514, 519}},
		{"A CAT", []int32{518, 353, 514, 519}},
		// c a t s</w>: c a (1); "ca t" is no merge without </w>.
		{"cats", []int32{518, 513, 116, 371, 519}},
		// t h e</w>: t h (4) then th e</w> (5); "'s" is its own word.
		{"the cat's", []int32{518, 516, 514, 39, 371, 519}},
		// 猫 = E7 8C AB: the last byte carries </w> (256+0xAB).
		{"猫", []int32{518, 231, 140, 427, 519}},
		{"一只猫在走路", []int32{518, 228, 184, 128, 229, 143, 170, 231, 140, 171, 229, 156, 168, 232, 181, 176, 232, 183, 431, 519}},
		{"🐱 cat", []int32{518, 240, 159, 144, 433, 514, 519}},
		// Digits are single words: 1</w> 2</w>.
		{"12 cats!", []int32{518, 305, 306, 513, 116, 371, 289, 519}},
		{"  a\t\tcat  ", []int32{518, 353, 514, 519}},
		{"a<|endoftext|>cat", []int32{518, 353, 519, 514, 519}},
		{"<|startoftext|>a", []int32{518, 518, 353, 519}},
	})
}

// bpe_prefix.json: a BPE with continuing_subword_prefix "##", unk <unk> 0,
// fuse_unk and byte_fallback, split on whitespace. Vocab: h 1, e 2, l 3, o 4,
// w 5, r 6, d 7, he 8, ll 9, hell 10, hello 11, ##o 12, <0xE7> 13,
// <0x8C> 14, <0xAB> 15, 狗 16, ##l 17, ##e 18, ##ll 19, ##d 20, ##r 21,
// wo 22, ##or 23. Merges: 0 h ##e, 1 ##l ##l, 2 he ##ll, 3 hell ##o,
// 4 w ##o, 5 ##o ##r. Expected ids are derived by hand (transformers.js
// does not apply the prefix).
func TestBPEPrefix(t *testing.T) {
	checkCases(t, "bpe_prefix.json", []encodeCase{
		// h ##e ##l ##l ##o -> he (0) -> ##ll (1) -> hell (2) -> hello (3).
		// w ##o ##r ##l ##d: w ##o (4) beats ##o ##r (5); wo ##r has no
		// merge.
		{"hello world", []int32{11, 22, 21, 17, 20}},
		{"hell", []int32{10}},
		{"helo", []int32{8, 17, 12}},
		// w ##o ##o ##r ##l ##d: w ##o (4), then ##o ##r (5).
		{"woorld", []int32{22, 23, 17, 20}},
		// 猫 (first character, no prefix) is not in the vocab: byte
		// fallback to E7 8C AB. 狗 is.
		{"猫 hello 狗", []int32{13, 14, 15, 11, 16}},
		// ##x has no byte pieces (# and x are missing): the unknown run
		// ##x ##x fuses into one <unk>.
		{"hexx", []int32{8, 0}},
		{"xyz hello", []int32{0, 11}},
	})
}

func TestEncodePadded(t *testing.T) {
	t5 := load(t, "unigram_t5.json")
	if t5.PadID() != 0 || t5.VocabSize() != 32 {
		t.Fatalf("PadID %d VocabSize %d, want 0 and 32", t5.PadID(), t5.VocabSize())
	}
	ids, mask := t5.EncodePadded("a cat walks", 8)
	if want := []int32{4, 5, 10, 11, 1, 0, 0, 0}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if want := []int32{1, 1, 1, 1, 1, 0, 0, 0}; !reflect.DeepEqual(mask, want) {
		t.Errorf("mask %v, want %v", mask, want)
	}
	// Truncation keeps the trailing </s>.
	ids, mask = t5.EncodePadded("a cat walks", 3)
	if want := []int32{4, 5, 1}; !reflect.DeepEqual(ids, want) || !reflect.DeepEqual(mask, []int32{1, 1, 1}) {
		t.Errorf("truncated ids %v mask %v, want %v", ids, mask, want)
	}
	ids, _ = t5.EncodePadded("a cat", 1)
	if !reflect.DeepEqual(ids, []int32{1}) {
		t.Errorf("maxLen 1: %v", ids)
	}
	if ids, mask := t5.EncodePadded("a", 0); len(ids) != 0 || len(mask) != 0 {
		t.Errorf("maxLen 0: %v %v", ids, mask)
	}

	clip := load(t, "bpe_clip.json")
	if clip.PadID() != 519 || clip.VocabSize() != 520 {
		t.Fatalf("CLIP PadID %d VocabSize %d, want 519 and 520", clip.PadID(), clip.VocabSize())
	}
	ids, mask = clip.EncodePadded("a cat", 6)
	if want := []int32{518, 353, 514, 519, 519, 519}; !reflect.DeepEqual(ids, want) || !reflect.DeepEqual(mask, []int32{1, 1, 1, 1, 0, 0}) {
		t.Errorf("CLIP padded %v %v", ids, mask)
	}
	ids, _ = clip.EncodePadded("a cat cats", 4)
	if want := []int32{518, 353, 514, 519}; !reflect.DeepEqual(ids, want) {
		t.Errorf("CLIP truncated %v, want %v", ids, want)
	}
	clip.SetPadID(0)
	if ids, _ = clip.EncodePadded("a", 4); ids[3] != 0 {
		t.Errorf("SetPadID ignored: %v", ids)
	}
}

func TestTokenID(t *testing.T) {
	tk := load(t, "unigram_t5.json")
	if id, ok := tk.TokenID("</s>"); !ok || id != 1 {
		t.Errorf("</s> = %d %v", id, ok)
	}
	if _, ok := tk.TokenID("nope"); ok {
		t.Error("unknown token found")
	}
}

func TestUnsupportedComponents(t *testing.T) {
	base := func(model, extra string) string {
		return `{"added_tokens":[],` + extra + `"model":` + model + `}`
	}
	uni := `{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0]]}`
	for _, c := range []struct{ json, want string }{
		{base(`{"type":"WordPiece","vocab":{}}`, ""), `unsupported model type "WordPiece"`},
		{base(uni, `"normalizer":{"type":"BertNormalizer"},`), `unsupported normalizer type "BertNormalizer"`},
		{base(uni, `"pre_tokenizer":{"type":"Punctuation"},`), `unsupported pre_tokenizer type "Punctuation"`},
		{base(uni, `"post_processor":{"type":"Mystery"},`), `unsupported post_processor type "Mystery"`},
		{base(uni, `"normalizer":{"type":"Replace","pattern":{"Regex":"a(?=b)"},"content":""},`), `unsupported regex "a(?=b)" in normalizer Replace`},
		{base(uni, `"pre_tokenizer":{"type":"Metaspace","prepend_scheme":"sometimes"},`), `unsupported prepend_scheme "sometimes"`},
		{base(`{"type":"BPE","vocab":{"a":0},"merges":["a b"]}`, ""), `uses a token missing from the vocab`},
		{`{"added_tokens":[]}`, "no model"},
		{`not json`, "parsing tokenizer.json"},
	} {
		_, err := Parse([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s): error %v, want it to mention %q", c.json, err, c.want)
		}
	}
	if _, err := Load("testdata/missing.json"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// Metaspace's "first" scheme adds ▁ only at the very start of the text, not
// after an added token; "never" never adds it.
func TestMetaspacePrependScheme(t *testing.T) {
	mk := func(scheme string) *Tokenizer {
		tk, err := Parse([]byte(`{"added_tokens":[{"id":5,"content":"<x>","normalized":false,"special":true}],
			"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"` + scheme + `","split":true},
			"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["▁",-1],["a",-1],["▁a",-1],["b",-1],["<x>",0]]}}`))
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	for _, c := range []struct {
		scheme string
		want   []int32
	}{
		{"always", []int32{3, 5, 3, 1, 4}},
		{"first", []int32{3, 5, 2, 1, 4}},
		{"never", []int32{2, 5, 2, 1, 4}},
	} {
		// "a<x>a b" -> "a" | <x> | "a b"; "▁b" is no piece, so ▁ (1) + b (4).
		if got := mk(c.scheme).Encode("a<x>a b"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.scheme, got, c.want)
		}
	}
}

// A long run without spaces goes through the heap-based BPE merge and the
// Viterbi lattice without trouble.
func TestLongInput(t *testing.T) {
	gpt := load(t, "bpe_gpt2.json")
	if got := gpt.Encode(strings.Repeat("猫", 5000)); len(got) != 5000 {
		t.Errorf("BPE: %d ids, want 5000", len(got))
	}
	t5 := load(t, "unigram_t5.json")
	if got := t5.Encode(strings.Repeat("走路", 5000)); len(got) != 5002 {
		t.Errorf("Unigram: %d ids, want 5002", len(got))
	}
}

func FuzzEncode(f *testing.F) {
	files := []string{"unigram_t5.json", "unigram_bytefallback.json", "bpe_gpt2.json", "bpe_clip.json", "bpe_prefix.json", "spm_t5.model", "spm_bytes.model"}
	var tks []*Tokenizer
	for _, name := range files {
		tks = append(tks, load(f, name))
	}
	for _, s := range []string{"", "a cat walks", "一只猫在走路", "🐱 <|endoftext|> <extra_id_0>", "\xff\xfe a\xc3", "  \t\n ", "I'm  fine!!", "ａ　ｃａｔ\u0001\u2581"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, tk := range tks {
			ids := tk.Encode(s)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%s: id %d out of range for %q", files[i], id, s)
				}
			}
			p, m := tk.EncodePadded(s, 16)
			if len(p) != 16 || len(m) != 16 {
				t.Fatalf("%s: padded lengths %d %d", files[i], len(p), len(m))
			}
		}
	})
}
