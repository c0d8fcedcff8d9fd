package tokenize

import (
	"sort"
	"unicode/utf8"
)

//go:generate go run gen_graphemes.go /usr/share/unicode

// Grapheme_Cluster_Break values, plus Extended_Pictographic (an emoji
// property the rules use; no code point has both it and another value).
type graphemeProp uint8

const (
	gbOther graphemeProp = iota
	gbCR
	gbLF
	gbControl
	gbExtend
	gbZWJ
	gbRegionalIndicator
	gbPrepend
	gbSpacingMark
	gbL
	gbV
	gbT
	gbLV
	gbLVT
	gbExtendedPictographic
)

type graphemeRange struct {
	lo, hi uint32
	prop   graphemeProp
}

func graphemePropOf(r rune) graphemeProp {
	if r >= 0xAC00 && r <= 0xD7A3 { // Hangul syllables
		if (r-0xAC00)%28 == 0 {
			return gbLV
		}
		return gbLVT
	}
	c := uint32(r)
	i := sort.Search(len(graphemeRanges), func(i int) bool { return graphemeRanges[i].hi >= c })
	if i < len(graphemeRanges) && graphemeRanges[i].lo <= c {
		return graphemeRanges[i].prop
	}
	return gbOther
}

// nextGrapheme returns the byte length of the extended grapheme cluster at
// the start of s (Unicode Standard Annex #29, rules GB3-GB13, as the
// unicode-segmentation crate applies them for Unicode 15.0). Invalid UTF-8
// bytes count as one character each.
func nextGrapheme(s string) int {
	if s == "" {
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	prev := graphemePropOf(r)
	// State for GB11 (emoji ZWJ sequences) and GB12/13 (flag pairs).
	pictSeq := prev == gbExtendedPictographic // Extended_Pictographic Extend*
	pictZWJ := false                          // ... followed by ZWJ
	riCount := 0
	if prev == gbRegionalIndicator {
		riCount = 1
	}
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		cur := graphemePropOf(r)
		if graphemeBreak(prev, cur, pictZWJ, riCount) {
			break
		}
		n += size
		switch {
		case cur == gbExtendedPictographic:
			pictSeq, pictZWJ = true, false
		case cur == gbExtend && pictSeq && !pictZWJ:
		case cur == gbZWJ && pictSeq && !pictZWJ:
			pictZWJ = true
		default:
			pictSeq, pictZWJ = false, false
		}
		if cur == gbRegionalIndicator {
			riCount++
		} else {
			riCount = 0
		}
		prev = cur
	}
	return n
}

// graphemeBreak reports whether there is a boundary between characters of
// properties a and b.
func graphemeBreak(a, b graphemeProp, pictZWJ bool, riCount int) bool {
	switch {
	case a == gbCR && b == gbLF: // GB3
		return false
	case a == gbControl || a == gbCR || a == gbLF: // GB4
		return true
	case b == gbControl || b == gbCR || b == gbLF: // GB5
		return true
	case a == gbL && (b == gbL || b == gbV || b == gbLV || b == gbLVT): // GB6
		return false
	case (a == gbLV || a == gbV) && (b == gbV || b == gbT): // GB7
		return false
	case (a == gbLVT || a == gbT) && b == gbT: // GB8
		return false
	case b == gbExtend || b == gbZWJ: // GB9
		return false
	case b == gbSpacingMark: // GB9a
		return false
	case a == gbPrepend: // GB9b
		return false
	case a == gbZWJ && b == gbExtendedPictographic && pictZWJ: // GB11
		return false
	case a == gbRegionalIndicator && b == gbRegionalIndicator: // GB12, GB13
		return riCount%2 == 0
	}
	return true // GB999
}
