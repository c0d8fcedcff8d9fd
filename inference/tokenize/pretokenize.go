package tokenize

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a pre-token. first is true when it starts at the very beginning of
// the input text (Metaspace's "first" prepend scheme depends on it).
type piece struct {
	s     string
	first bool
}

type preTokenizer interface {
	split(in []piece) []piece
}

type preTokSeq []preTokenizer

func (q preTokSeq) split(in []piece) []piece {
	for _, p := range q {
		in = p.split(in)
	}
	return in
}

// span is a [start, end) byte range of a piece, and whether it is a match of
// the splitting pattern.
type span struct {
	start, end int
	match      bool
}

// splitBehavior applies a delimiter behavior (Removed, Isolated,
// MergedWithPrevious, MergedWithNext, Contiguous) to a list of spans covering
// the string, the way the tokenizers library does.
func splitBehavior(spans []span, behavior string) []span {
	var out []span
	switch behavior {
	case "Isolated":
		for _, s := range spans {
			out = append(out, span{s.start, s.end, false})
		}
	case "Removed":
		for _, s := range spans {
			if !s.match {
				out = append(out, s)
			}
		}
	case "MergedWithPrevious":
		prev := false
		for _, s := range spans {
			if s.match && !prev && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, span{s.start, s.end, false})
			}
			prev = s.match
		}
	case "MergedWithNext":
		prev := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prev && len(out) > 0 {
				out[len(out)-1].start = s.start
			} else {
				out = append(out, span{s.start, s.end, false})
			}
			prev = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case "Contiguous":
		prev := false
		for _, s := range spans {
			if s.match == prev && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, span{s.start, s.end, false})
			}
			prev = s.match
		}
	}
	return out
}

// applySpans cuts p along spans, dropping empty results.
func applySpans(p piece, spans []span, out []piece) []piece {
	for _, s := range spans {
		if s.end > s.start {
			out = append(out, piece{s: p.s[s.start:s.end], first: p.first && s.start == 0})
		}
	}
	return out
}

// regexSpans lists the matches of re in s and the gaps between them.
func regexSpans(re *regexp.Regexp, s string, invert bool) []span {
	var spans []span
	prev := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if prev != m[0] {
			spans = append(spans, span{prev, m[0], invert})
		}
		spans = append(spans, span{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev != len(s) {
		spans = append(spans, span{prev, len(s), invert})
	}
	return spans
}

var validBehaviors = map[string]bool{"Removed": true, "Isolated": true, "MergedWithPrevious": true, "MergedWithNext": true, "Contiguous": true}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenize: pre_tokenizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Sequence: %w", err)
		}
		var seq preTokSeq
		for _, r := range c.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	case "Metaspace":
		c := struct {
			Replacement    string  `json:"replacement"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			PrependScheme  *string `json:"prepend_scheme"`
			Split          *bool   `json:"split"`
		}{}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Metaspace: %w", err)
		}
		m := &metaspace{replacement: c.Replacement, scheme: "always", splitOn: true}
		if m.replacement == "" {
			m.replacement = "▁"
		}
		if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			m.scheme = "never"
		}
		if c.PrependScheme != nil {
			m.scheme = *c.PrependScheme
		}
		if m.scheme != "always" && m.scheme != "first" && m.scheme != "never" {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Metaspace: unsupported prepend_scheme %q", m.scheme)
		}
		if c.Split != nil {
			m.splitOn = *c.Split
		}
		return m, nil
	case "ByteLevel":
		c := struct {
			AddPrefixSpace bool  `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: pre_tokenizer ByteLevel: %w", err)
		}
		return &byteLevel{addPrefixSpace: c.AddPrefixSpace, useRegex: c.UseRegex == nil || *c.UseRegex}, nil
	case "WhitespaceSplit":
		return funcPreTok(func(p piece, out []piece) []piece {
			return applySpans(p, runSpans(p.s, unicode.IsSpace, "Removed"), out)
		}), nil
	case "Whitespace":
		// \w+|[^\w\s]+ : runs of word characters and runs of other
		// non-space characters.
		return funcPreTok(func(p piece, out []piece) []piece {
			var spans []span
			start, kind := 0, -1
			for i, r := range p.s {
				k := 2
				if isWordRune(r) {
					k = 0
				} else if !unicode.IsSpace(r) {
					k = 1
				}
				if k != kind {
					if kind >= 0 && kind != 2 {
						spans = append(spans, span{start, i, false})
					}
					start, kind = i, k
				}
			}
			if kind >= 0 && kind != 2 {
				spans = append(spans, span{start, len(p.s), false})
			}
			return applySpans(p, spans, out)
		}), nil
	case "Split":
		var c struct {
			Pattern  pattern `json:"pattern"`
			Behavior string  `json:"behavior"`
			Invert   bool    `json:"invert"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Split: %w", err)
		}
		if !validBehaviors[c.Behavior] {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Split: unsupported behavior %q", c.Behavior)
		}
		re, err := c.Pattern.compile("pre_tokenizer Split")
		if err != nil {
			return nil, err
		}
		return funcPreTok(func(p piece, out []piece) []piece {
			return applySpans(p, splitBehavior(regexSpans(re, p.s, c.Invert), c.Behavior), out)
		}), nil
	case "Digits":
		var c struct {
			IndividualDigits bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: pre_tokenizer Digits: %w", err)
		}
		behavior := "Contiguous"
		if c.IndividualDigits {
			behavior = "Isolated"
		}
		return funcPreTok(func(p piece, out []piece) []piece {
			return applySpans(p, runSpans(p.s, unicode.IsDigit, behavior), out)
		}), nil
	}
	return nil, fmt.Errorf("tokenize: unsupported pre_tokenizer type %q", typ)
}

// runSpans marks each character matching isDelim as a match span (one span
// per character, like the library's character patterns) and applies
// behavior.
func runSpans(s string, isDelim func(rune) bool, behavior string) []span {
	var spans []span
	prev := 0
	for i, r := range s {
		if !isDelim(r) {
			continue
		}
		if prev != i {
			spans = append(spans, span{prev, i, false})
		}
		n := i + utf8.RuneLen(r)
		if r == utf8.RuneError {
			n = i + 1
		}
		spans = append(spans, span{i, n, true})
		prev = n
	}
	if prev != len(s) {
		spans = append(spans, span{prev, len(s), false})
	}
	return splitBehavior(spans, behavior)
}

type funcPreTok func(p piece, out []piece) []piece

func (f funcPreTok) split(in []piece) []piece {
	var out []piece
	for _, p := range in {
		out = f(p, out)
	}
	return out
}

// metaspace replaces spaces by the replacement character, prepends it
// according to the scheme and splits before each replacement character.
type metaspace struct {
	replacement string
	scheme      string // always, first, never
	splitOn     bool
}

func (m *metaspace) split(in []piece) []piece {
	var out []piece
	for _, p := range in {
		s := strings.ReplaceAll(p.s, " ", m.replacement)
		// The library's prepend does nothing to an empty string.
		if s != "" && !strings.HasPrefix(s, m.replacement) && (m.scheme == "always" || m.scheme == "first" && p.first) {
			s = m.replacement + s
		}
		q := piece{s: s, first: p.first}
		if !m.splitOn {
			out = append(out, q)
			continue
		}
		var spans []span
		prev := 0
		for off := 0; off < len(s); {
			i := strings.Index(s[off:], m.replacement)
			if i < 0 {
				break
			}
			i += off
			if prev != i {
				spans = append(spans, span{prev, i, false})
			}
			spans = append(spans, span{i, i + len(m.replacement), true})
			prev = i + len(m.replacement)
			off = prev
		}
		if prev != len(s) {
			spans = append(spans, span{prev, len(s), false})
		}
		out = applySpans(q, splitBehavior(spans, "MergedWithNext"), out)
	}
	return out
}

// byteLevel optionally splits with the GPT-2 pattern, then maps every byte to
// its printable stand-in character.
type byteLevel struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b *byteLevel) split(in []piece) []piece {
	var out []piece
	for _, p := range in {
		s := p.s
		if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		var parts []piece
		if b.useRegex {
			parts = applySpans(piece{s: s, first: p.first}, gpt2Spans(s), nil)
		} else {
			parts = []piece{{s: s, first: p.first}}
		}
		for _, q := range parts {
			out = append(out, piece{s: byteLevelEncode(q.s), first: q.first})
		}
	}
	return out
}

// byteToRune is GPT-2's bytes_to_unicode table: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards in byte order.
var byteToRune = func() [256]rune {
	var t [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

func byteLevelEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

// gpt2Spans splits s the way GPT-2's pattern does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead, so the alternation is evaluated by hand.
func gpt2Spans(s string) []span {
	var spans []span
	isL := unicode.IsLetter
	isN := unicode.IsNumber
	isS := unicode.IsSpace
	isO := func(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }
	run := func(i int, f func(rune) bool) int {
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !f(r) {
				break
			}
			i += n
		}
		return i
	}
	for i := 0; i < len(s); {
		end := gpt2Match(s, i, isL, isN, isS, isO, run)
		spans = append(spans, span{i, end, false})
		i = end
	}
	return spans
}

func gpt2Match(s string, i int, isL, isN, isS, isO func(rune) bool, run func(int, func(rune) bool) int) int {
	if s[i] == '\'' {
		rest := s[i+1:]
		for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(rest, c) {
				return i + 1 + len(c)
			}
		}
	}
	j := i
	if s[i] == ' ' {
		j = i + 1
	}
	for _, class := range []func(rune) bool{isL, isN, isO} {
		for _, k := range []int{j, i} {
			if k >= len(s) {
				continue
			}
			r, _ := utf8.DecodeRuneInString(s[k:])
			if class(r) {
				return run(k, class)
			}
		}
	}
	// Whitespace: \s+(?!\S) takes the run, less its last character when a
	// non-space follows; \s+ takes a lone space before a non-space.
	end := run(i, isS)
	if end == len(s) {
		return end
	}
	_, lastSize := utf8.DecodeLastRuneInString(s[i:end])
	if end-lastSize > i {
		return end - lastSize
	}
	return end
}
