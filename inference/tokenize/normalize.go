package tokenize

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

type normalizer interface {
	normalize(s string) string
}

type normalizerFunc func(string) string

func (f normalizerFunc) normalize(s string) string { return f(s) }

type normalizerSeq []normalizer

func (q normalizerSeq) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// pattern is the "pattern" field of Replace and Split: {"String": "..."} or
// {"Regex": "..."}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) compile(component string) (*regexp.Regexp, error) {
	switch {
	case p.String != nil:
		return regexp.MustCompile(regexp.QuoteMeta(*p.String)), nil
	case p.Regex != nil:
		re, err := compileOniguruma(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("tokenize: unsupported regex %q in %s: %v", *p.Regex, component, err)
		}
		return re, nil
	}
	return nil, fmt.Errorf("tokenize: %s has no String or Regex pattern", component)
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenize: normalizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Sequence: %w", err)
		}
		var seq normalizerSeq
		for _, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "NFC":
		return normalizerFunc(norm.NFC.String), nil
	case "NFD":
		return normalizerFunc(norm.NFD.String), nil
	case "NFKC":
		return normalizerFunc(norm.NFKC.String), nil
	case "NFKD":
		return normalizerFunc(norm.NFKD.String), nil
	case "Lowercase":
		return normalizerFunc(strings.ToLower), nil
	case "StripAccents":
		return normalizerFunc(stripAccents), nil
	case "Strip":
		// The library writes strip_left/strip_right; left/right are the
		// constructor's names, accepted too.
		var c struct {
			StripLeft  bool `json:"strip_left"`
			StripRight bool `json:"strip_right"`
			Left       bool `json:"left"`
			Right      bool `json:"right"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Strip: %w", err)
		}
		c.Left = c.Left || c.StripLeft
		c.Right = c.Right || c.StripRight
		return normalizerFunc(func(s string) string {
			if c.Left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if c.Right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}), nil
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Prepend: %w", err)
		}
		return normalizerFunc(func(s string) string {
			if s == "" {
				return s
			}
			return c.Prepend + s
		}), nil
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Replace: %w", err)
		}
		re, err := c.Pattern.compile("normalizer Replace")
		if err != nil {
			return nil, err
		}
		return normalizerFunc(func(s string) string {
			return re.ReplaceAllLiteralString(s, c.Content)
		}), nil
	case "Precompiled":
		var c struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Precompiled: %w", err)
		}
		// An empty table means no normalization, as in SentencePiece
		// (a model trained with the "identity" rule has none). The
		// tokenizers library refuses to load such a file ("Cannot parse
		// precompiled_charsmap") and its converters leave the normalizer
		// out instead, so no file it writes has one; accepting it keeps
		// hand-made files loading with the meaning SentencePiece gives it.
		if c.Charsmap == nil || *c.Charsmap == "" {
			return nil, nil
		}
		blob, err := base64.StdEncoding.DecodeString(*c.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Precompiled: precompiled_charsmap: %w", err)
		}
		cm, err := parseCharsmap(blob)
		if err != nil {
			return nil, fmt.Errorf("tokenize: normalizer Precompiled: %w", err)
		}
		return normalizerFunc(cm.normalizeHF), nil
	}
	return nil, fmt.Errorf("tokenize: unsupported normalizer type %q", typ)
}

// stripAccents removes nonspacing marks (the library's StripAccents, meant to
// follow NFD).
func stripAccents(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

// compileOniguruma compiles a pattern written for Oniguruma (the engine the
// tokenizers library uses) with Go's regexp. The shorthands \s, \S, \d, \D,
// \w and \W are Unicode-aware in Oniguruma but ASCII-only in Go, so they are
// rewritten to their Unicode classes. Constructs Go lacks (look-around,
// back-references, possessive quantifiers) fail to compile.
func compileOniguruma(p string) (*regexp.Regexp, error) {
	const (
		space = `\t\n\v\f\r\x{85}\p{Z}`
		digit = `\p{Nd}`
		word  = `\p{L}\p{M}\p{Nd}\p{Pc}`
	)
	var b strings.Builder
	inClass := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			i++
			var set string
			neg := false
			switch n {
			case 's', 'S':
				set, neg = space, n == 'S'
			case 'd', 'D':
				set, neg = digit, n == 'D'
			case 'w', 'W':
				set, neg = word, n == 'W'
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
				continue
			}
			switch {
			case inClass > 0 && !neg:
				b.WriteString(set)
			case inClass > 0 && neg:
				return nil, fmt.Errorf(`negated shorthand \%c inside a character class`, n)
			case neg:
				b.WriteString("[^" + set + "]")
			default:
				b.WriteString("[" + set + "]")
			}
			continue
		}
		switch c {
		case '[':
			inClass++
		case ']':
			if inClass > 0 {
				inClass--
			}
		}
		b.WriteByte(c)
	}
	return regexp.Compile(b.String())
}
