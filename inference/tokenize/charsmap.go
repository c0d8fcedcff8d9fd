package tokenize

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// charsmap is SentencePiece's precompiled normalization table (the
// precompiled_charsmap of a NormalizerSpec, and of the Precompiled
// normalizer in tokenizer.json). The blob is a little-endian uint32 byte size
// of a Darts-clone double-array trie, the trie's uint32 units, then the
// replacement strings, each ended by a NUL byte. A trie key is the UTF-8 of
// a character sequence; its value is the offset of the replacement.
type charsmap struct {
	units      []uint32
	normalized string
}

func parseCharsmap(blob []byte) (*charsmap, error) {
	// The checks of SentencePiece's DecodePrecompiledCharsMap.
	if len(blob) <= 4 {
		return nil, fmt.Errorf("precompiled charsmap of %d bytes is too short", len(blob))
	}
	size := binary.LittleEndian.Uint32(blob)
	if uint64(size) >= uint64(len(blob)) {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d exceeds the blob (%d bytes)", size, len(blob))
	}
	rest := blob[4:]
	trie, normalized := rest[:size], rest[size:]
	c := &charsmap{units: make([]uint32, size/4), normalized: string(normalized)}
	for i := range c.units {
		c.units[i] = binary.LittleEndian.Uint32(trie[4*i:])
	}
	if len(c.units) == 0 {
		return nil, fmt.Errorf("precompiled charsmap has an empty trie")
	}
	if !utf8.ValidString(c.normalized) {
		return nil, fmt.Errorf("precompiled charsmap: replacement strings are not valid UTF-8")
	}
	return c, nil
}

// Darts-clone unit fields.
func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// match finds a key of the trie that is a prefix of s: the longest one, or
// the shortest when shortest is set. It returns the key's byte length and its
// replacement; n is 0 when no key matches.
func (c *charsmap) match(s string, shortest bool) (n int, repl string) {
	units := c.units
	pos := unitOffset(units[0])
	value := uint32(0)
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == 0 {
			break
		}
		pos ^= uint32(b)
		if pos >= uint32(len(units)) {
			break
		}
		u := units[pos]
		if unitLabel(u) != uint32(b) {
			break
		}
		pos ^= unitOffset(u)
		if unitHasLeaf(u) {
			if pos >= uint32(len(units)) {
				break
			}
			n, value = i+1, unitValue(units[pos])
			if shortest {
				break
			}
		}
	}
	if n == 0 || int(value) > len(c.normalized) {
		return 0, ""
	}
	repl = c.normalized[value:]
	if end := strings.IndexByte(repl, 0); end >= 0 {
		repl = repl[:end]
	}
	return n, repl
}

// normalizeHF applies the table the way the Hugging Face tokenizers library's
// Precompiled normalizer does, which differs from SentencePiece: the text is
// walked by extended grapheme cluster; a cluster shorter than 6 bytes whose
// start matches a key (the shortest one) is replaced whole by that key's
// replacement, even where the key covers only part of the cluster; other
// clusters go character by character, each replaced by its own entry or kept.
func (c *charsmap) normalizeHF(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		g := s[:nextGrapheme(s)]
		s = s[len(g):]
		if len(g) < 6 {
			if n, repl := c.match(g, true); n > 0 {
				b.WriteString(repl)
				continue
			}
		}
		for _, r := range g {
			ch := string(r)
			if n, repl := c.match(ch, true); n > 0 {
				b.WriteString(repl)
			} else {
				b.WriteString(ch)
			}
		}
	}
	return b.String()
}

// normalizeSPM applies the table the way SentencePiece does (without its
// whitespace rules): at each position the longest matching key is replaced,
// otherwise one character is copied. Invalid UTF-8 is not expected here (the
// tokenizer.json path replaces it first); see spmModel.normalizePrefix for
// SentencePiece's handling.
func (c *charsmap) normalizeSPM(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		if n, repl := c.match(s, false); n > 0 {
			b.WriteString(repl)
			s = s[n:]
			continue
		}
		_, n := utf8.DecodeRuneInString(s)
		b.WriteString(s[:n])
		s = s[n:]
	}
	return b.String()
}
