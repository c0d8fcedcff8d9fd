// Package moderation refuses prompts that contain blocked terms.
//
// Prompt and terms are compared after Normalize, which folds the usual
// disguises away: full-width and other compatibility forms, upper case,
// zero-width and bidirectional control characters, and spaces or
// punctuation put between letters ("b a n", "b.a.n", "ｂａｎ", "b\u200ban").
// A term matches anywhere in the normalised prompt, also inside longer
// words, so terms should be specific enough not to catch innocent text.
package moderation

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/paimeng/paimeng"
)

// invisible reports whether r is a zero-width or bidirectional control
// character. They are removed before NFKC so that they cannot keep
// characters from composing.
func invisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F, // zero width space, (non-)joiner, LRM, RLM
		r >= 0x2060 && r <= 0x2064, // word joiner, invisible operators
		r >= 0x202A && r <= 0x202E, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0xFEFF,                // zero width no-break space (BOM)
		r == 0x180E,                // Mongolian vowel separator
		r == 0x00AD,                // soft hyphen
		r == 0x061C:                // Arabic letter mark
		return true
	}
	return unicode.Is(unicode.Cf, r) // any other format character
}

// Normalize returns the form prompts and terms are compared in: invisible
// characters removed, NFKC applied, lower-cased, and everything that is not
// a letter or a digit (spaces, punctuation, symbols, combining marks)
// dropped.
func Normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
	s = strings.ToLower(norm.NFKC.String(s))
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// Filter checks prompts against a list of blocked terms. A nil Filter, or
// one without terms, allows everything. A Filter is safe for concurrent use.
type Filter struct {
	terms []term
}

type term struct {
	raw  string // as configured, for the operator
	norm string
}

// New returns a filter for terms. Terms that normalise to nothing (blank,
// or made only of punctuation and symbols) are ignored, and so are
// duplicates.
func New(terms []string) *Filter {
	f := &Filter{}
	seen := map[string]bool{}
	for _, t := range terms {
		n := Normalize(t)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		f.terms = append(f.terms, term{raw: strings.TrimSpace(t), norm: n})
	}
	return f
}

// Len returns the number of terms in use.
func (f *Filter) Len() int {
	if f == nil {
		return 0
	}
	return len(f.terms)
}

// Check returns an EPromptBlocked error when prompt contains one of the
// filter's terms. The error's message names the term for the operator;
// members only ever see the text for the code.
func (f *Filter) Check(prompt string) error {
	if f == nil || len(f.terms) == 0 {
		return nil
	}
	p := Normalize(prompt)
	if p == "" {
		return nil
	}
	for _, t := range f.terms {
		if strings.Contains(p, t.norm) {
			return paimeng.Errorf(paimeng.EPromptBlocked, "prompt contains blocked term %q", t.raw)
		}
	}
	return nil
}

// LoadTerms reads a term list: one term per line; blank lines and lines
// whose first non-blank character is '#' are skipped.
func LoadTerms(path string) ([]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("moderation: %w", err)
	}
	defer file.Close()
	var terms []string
	sc := bufio.NewScanner(file)
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		terms = append(terms, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("moderation: read %s: %w", path, err)
	}
	return terms, nil
}
