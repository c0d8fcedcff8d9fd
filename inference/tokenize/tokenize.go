// Package tokenize loads a serialized tokenizer (the tokenizer.json format of
// the Hugging Face tokenizers library) and turns prompts into token ids for the
// text encoders of the video models.
//
// Two model types are supported: Unigram (SentencePiece unigram, as used by
// T5 and umT5 encoders) and BPE (byte-level BPE as used by GPT-2 and CLIP
// style encoders). The pipeline follows the library's order: added tokens are
// split out of the raw text, the rest is normalized, split again on
// normalized added tokens, pre-tokenized, segmented by the model, and finally
// wrapped by the post-processor (for example the trailing </s> of T5 or the
// start/end tokens of CLIP).
//
// Components that are not implemented make Parse fail with an error naming
// the component and its type, rather than silently producing different ids.
//
// Supported: models Unigram and BPE; normalizers Sequence, NFC, NFD, NFKC,
// NFKD, Lowercase, StripAccents, Strip, Prepend, Replace and Precompiled
// (SentencePiece's compiled table, read as the library reads it: see
// charsmap.go); pre-tokenizers Sequence, Metaspace,
// ByteLevel, WhitespaceSplit, Whitespace, Split and Digits; post-processors
// TemplateProcessing (single sequence), RobertaProcessing, BertProcessing,
// ByteLevel and Sequence; added tokens with single_word, lstrip, rstrip and
// normalized.
//
// Not supported: WordPiece and WordLevel models, BPE dropout, sentence
// pairs, offsets, decoding, the BertNormalizer normalizer, the Punctuation,
// BertPreTokenizer, UnicodeScripts and CharDelimiterSplit pre-tokenizers, and
// Regex patterns that need Oniguruma features Go's regexp lacks (look-around,
// back-references). Lowercase uses Go's per-rune case mapping, which differs
// from Rust's full lowercasing only for a few characters such as U+0130.
package tokenize

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids. It is safe for concurrent use.
type Tokenizer struct {
	kind       string    // "unigram" or "bpe"
	spm        *spmModel // set for a SentencePiece model file; the fields below up to post are unused then
	normalizer normalizer
	pretok     preTokenizer
	model      model
	post       *postProcessor

	added      []addedToken
	rawIndex   map[byte][]int // first byte -> indices into added of non-normalized tokens, longest first
	normIndex  map[byte][]int // same for normalized tokens
	vocabSize  int
	padID      int32
	tokenIDs   map[string]int32 // model vocabulary plus added tokens
	maxTokenID int32
}

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type fileFormat struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Padding       *struct {
		PadID    *int32 `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
}

// Load reads and parses a tokenizer.json file or a SentencePiece model file
// (see Parse).
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return t, nil
}

// Parse builds a Tokenizer from the contents of a tokenizer.json file, or of
// a SentencePiece model file (a serialized ModelProto, such as the
// spiece.model of T5 and umT5 checkpoints), told apart by content. A
// SentencePiece model must be of type UNIGRAM; it encodes as SentencePiece's
// own encoder does, and Encode appends the end-of-sequence id as the
// transformers T5Tokenizer does (when the model has one). Its padding id is
// the model's pad_id, or 0 when it has none.
func Parse(data []byte) (*Tokenizer, error) {
	if looksLikeModelProto(data) {
		return parseSPM(data)
	}
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenize: parsing tokenizer.json: %w", err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("tokenize: tokenizer.json has no model")
	}
	t := &Tokenizer{}
	var err error
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pretok, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}

	t.tokenIDs = make(map[string]int32)
	t.maxTokenID = -1
	t.model.eachToken(func(tok string, id int32) {
		t.tokenIDs[tok] = id
		if id > t.maxTokenID {
			t.maxTokenID = id
		}
	})
	t.rawIndex = map[byte][]int{}
	t.normIndex = map[byte][]int{}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			continue
		}
		if a.ID < 0 {
			return nil, fmt.Errorf("tokenize: added token %q has negative id %d", a.Content, a.ID)
		}
		i := len(t.added)
		t.added = append(t.added, a)
		t.tokenIDs[a.Content] = a.ID
		if a.ID > t.maxTokenID {
			t.maxTokenID = a.ID
		}
		idx := t.rawIndex
		if a.Normalized {
			idx = t.normIndex
		}
		idx[a.Content[0]] = append(idx[a.Content[0]], i)
	}
	for _, idx := range []map[byte][]int{t.rawIndex, t.normIndex} {
		for b, list := range idx {
			sort.SliceStable(list, func(i, j int) bool {
				return len(t.added[list[i]].Content) > len(t.added[list[j]].Content)
			})
			idx[b] = list
		}
	}
	t.vocabSize = int(t.maxTokenID) + 1
	switch t.model.(type) {
	case *unigram:
		t.kind = "unigram"
	case *bpe:
		t.kind = "bpe"
	}

	t.padID = 0
	switch {
	case f.Padding != nil && f.Padding.PadID != nil:
		t.padID = *f.Padding.PadID
	case f.Padding != nil && f.Padding.PadToken != "" && t.hasToken(f.Padding.PadToken):
		t.padID = t.tokenIDs[f.Padding.PadToken]
	case t.hasToken("<pad>"):
		t.padID = t.tokenIDs["<pad>"]
	case t.hasToken("<|endoftext|>"):
		t.padID = t.tokenIDs["<|endoftext|>"]
	}
	return t, nil
}

func parseSPM(data []byte) (*Tokenizer, error) {
	m, err := parseModelProto(data)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{kind: "unigram", spm: m, post: &postProcessor{}, vocabSize: len(m.pieces), tokenIDs: map[string]int32{}}
	if m.eosID >= 0 {
		t.post.suf = []int32{m.eosID}
	}
	if m.padID >= 0 {
		t.padID = m.padID
	}
	for i, p := range m.pieces {
		if _, dup := t.tokenIDs[p]; !dup {
			t.tokenIDs[p] = int32(i)
		}
	}
	t.maxTokenID = int32(len(m.pieces) - 1)
	return t, nil
}

// ModelType is the kind of model: "unigram" (SentencePiece unigram, from a
// tokenizer.json or a SentencePiece model file) or "bpe".
func (t *Tokenizer) ModelType() string { return t.kind }

func (t *Tokenizer) hasToken(s string) bool {
	_, ok := t.tokenIDs[s]
	return ok
}

// VocabSize is the number of ids the tokenizer can produce: one more than the
// largest id of the model vocabulary and the added tokens. It is the size of
// the text encoder's embedding table for the model families in use.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// PadID is the id used to pad EncodePadded output. It comes from the file's
// padding section when present, else the "<pad>" token, else "<|endoftext|>"
// (what CLIP text encoders pad with), else 0.
func (t *Tokenizer) PadID() int32 { return t.padID }

// SetPadID overrides the padding id (some CLIP variants pad with another
// token). Not safe to call concurrently with encoding.
func (t *Tokenizer) SetPadID(id int32) { t.padID = id }

// TokenID returns the id of a vocabulary entry or added token.
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	id, ok := t.tokenIDs[token]
	return id, ok
}

// Encode returns the ids of text, with the post-processor's special tokens
// (for example T5's trailing </s>) added. Invalid UTF-8 is replaced by U+FFFD
// first (for a SentencePiece model file, each invalid byte by one U+FFFD, as
// SentencePiece does).
func (t *Tokenizer) Encode(text string) []int32 {
	return t.post.apply(t.EncodeRaw(text))
}

// EncodeRaw returns the ids of text without the post-processor's special
// tokens.
func (t *Tokenizer) EncodeRaw(text string) []int32 {
	if t.spm != nil {
		// SentencePiece replaces each invalid byte itself.
		return t.spm.encode(text, nil)
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int32
	for _, seg := range t.splitAdded(text, t.rawIndex, 0) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		norm := seg.text
		if t.normalizer != nil {
			norm = t.normalizer.normalize(norm)
		}
		for _, sub := range t.splitAdded(norm, t.normIndex, seg.start) {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			pieces := []piece{{s: sub.text, first: seg.start == 0 && sub.start == 0}}
			if t.pretok != nil {
				pieces = t.pretok.split(pieces)
			}
			for _, p := range pieces {
				if p.s == "" {
					continue
				}
				ids = t.model.tokenize(p.s, ids)
			}
		}
	}
	return ids
}

// EncodePadded encodes text to exactly maxLen ids: the text's ids are
// truncated so that they and the post-processor's special tokens fit (so the
// trailing </s> of T5 or the end token of CLIP is kept), then padded on the
// right with PadID. mask is 1 for real tokens and 0 for padding.
func (t *Tokenizer) EncodePadded(text string, maxLen int) (ids []int32, mask []int32) {
	if maxLen <= 0 {
		return []int32{}, []int32{}
	}
	raw := t.EncodeRaw(text)
	if room := maxLen - t.post.added(); len(raw) > room {
		if room < 0 {
			room = 0
		}
		raw = raw[:room]
	}
	out := t.post.apply(raw)
	if len(out) > maxLen {
		out = out[:maxLen]
	}
	ids = make([]int32, maxLen)
	mask = make([]int32, maxLen)
	copy(ids, out)
	for i := range ids {
		if i < len(out) {
			mask[i] = 1
		} else {
			ids[i] = t.padID
		}
	}
	return ids, mask
}

// segment is a piece of text, or an added token when id >= 0. start is its
// byte offset in the enclosing text.
type segment struct {
	text  string
	id    int32
	start int
}

// splitAdded splits s on the added tokens of index with leftmost-longest
// matching, honouring single_word, lstrip and rstrip. base is the offset of s
// in the original text.
func (t *Tokenizer) splitAdded(s string, index map[byte][]int, base int) []segment {
	if len(index) == 0 {
		return []segment{{text: s, id: -1, start: base}}
	}
	var out []segment
	last := 0 // end of the previous emitted piece
	pos := 0  // where the search goes on
	for pos < len(s) {
		a, ok := t.matchAt(s, pos, index)
		if !ok {
			pos++
			continue
		}
		start, stop := pos, pos+len(a.Content)
		pos = stop
		if a.SingleWord {
			startOK := start == 0 || !endsWithWord(s[:start])
			stopOK := stop == len(s) || !startsWithWord(s[stop:])
			if !startOK || !stopOK {
				continue
			}
		}
		if a.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, last)
		}
		if a.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			pos = max(pos, stop)
		}
		if last < start {
			out = append(out, segment{text: s[last:start], id: -1, start: base + last})
		}
		out = append(out, segment{id: a.ID, start: base + start})
		last = stop
	}
	if last < len(s) || len(out) == 0 {
		out = append(out, segment{text: s[last:], id: -1, start: base + last})
	}
	return out
}

func (t *Tokenizer) matchAt(s string, pos int, index map[byte][]int) (addedToken, bool) {
	for _, i := range index[s[pos]] {
		if strings.HasPrefix(s[pos:], t.added[i].Content) {
			return t.added[i], true
		}
	}
	return addedToken{}, false
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Pc, r) || r == '_'
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// typeOf reads the "type" field of a component.
func typeOf(raw json.RawMessage) (string, error) {
	var h struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", err
	}
	return h.Type, nil
}
