package tokenize

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// SentencePiece piece types (ModelProto.SentencePiece.Type).
const (
	spmNormal      = 1
	spmUnknown     = 2
	spmControl     = 3
	spmUserDefined = 4
	spmUnused      = 5
	spmByte        = 6
)

var spmModelTypes = map[int32]string{1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"}

// spmModel is a SentencePiece Unigram model read from a ModelProto file (the
// spiece.model of T5 and umT5 checkpoints). It encodes as
// SentencePieceProcessor::Encode of SentencePiece 0.1.97 does: the
// normalizer with its whitespace rules, then the optimized Viterbi search of
// the unigram model (scores summed in float32, as there), then unknown
// pieces merged or split into byte pieces.
type spmModel struct {
	pieces []string
	scores []float32
	types  []int32
	trie   map[string]int32 // NORMAL, USER_DEFINED and UNUSED pieces
	user   []string         // USER_DEFINED pieces, longest first
	maxLen int              // longest trie piece, in bytes

	unkID, eosID, padID int32
	byteFallback        bool
	wsSuffix            bool // treat_whitespace_as_suffix
	byteIDs             [256]int32
	unkScore, maxScore  float32
	cmap                *charsmap // nil: no normalization table
	charsmapBlob        []byte
	dummyPrefix         bool
	removeExtraSpaces   bool
	escapeSpaces        bool
	modelType           int32
}

// looksLikeModelProto reports whether data may be a serialized ModelProto:
// its first field is a length-delimited field 1 (a piece), which no JSON
// text starts with.
func looksLikeModelProto(data []byte) bool {
	num, typ, n := protowire.ConsumeTag(data)
	return n > 0 && num == 1 && typ == protowire.BytesType
}

// fields calls f for each field of a protobuf message.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func parseModelProto(data []byte) (*spmModel, error) {
	m := &spmModel{
		trie:      map[string]int32{},
		modelType: 1,
		// TrainerSpec and NormalizerSpec defaults.
		unkID: 0, eosID: 2, padID: -1,
		dummyPrefix: true, removeExtraSpaces: true, escapeSpaces: true,
	}
	var charsmap []byte
	err := fields(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1: // pieces
			piece, score, ptype := "", float32(0), int32(spmNormal)
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					piece = string(v)
				case num == 2 && typ == protowire.Fixed32Type:
					score = math.Float32frombits(uint32(x))
				case num == 3 && typ == protowire.VarintType:
					ptype = int32(x)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, piece)
			m.scores = append(m.scores, score)
			m.types = append(m.types, ptype)
		case 2: // trainer_spec
			return fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				if typ != protowire.VarintType {
					return nil
				}
				switch num {
				case 3:
					m.modelType = int32(x)
				case 24:
					m.wsSuffix = x != 0
				case 35:
					m.byteFallback = x != 0
				case 40:
					m.unkID = int32(x)
				case 42:
					m.eosID = int32(x)
				case 43:
					m.padID = int32(x)
				}
				return nil
			})
		case 3: // normalizer_spec
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 2 && typ == protowire.BytesType:
					charsmap = v
				case num == 3 && typ == protowire.VarintType:
					m.dummyPrefix = x != 0
				case num == 4 && typ == protowire.VarintType:
					m.removeExtraSpaces = x != 0
				case num == 5 && typ == protowire.VarintType:
					m.escapeSpaces = x != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize: reading SentencePiece model: %w", err)
	}
	if name, ok := spmModelTypes[m.modelType]; !ok || m.modelType != 1 {
		if !ok {
			name = fmt.Sprint(m.modelType)
		}
		return nil, fmt.Errorf("tokenize: SentencePiece model type %s is not supported (only UNIGRAM)", name)
	}
	if len(m.pieces) == 0 {
		return nil, fmt.Errorf("tokenize: SentencePiece model has no pieces")
	}
	if len(charsmap) > 0 {
		m.charsmapBlob = charsmap
		if m.cmap, err = parseCharsmap(charsmap); err != nil {
			return nil, fmt.Errorf("tokenize: SentencePiece model: %w", err)
		}
	}

	// What ModelInterface::InitializePieces and the unigram Model set up.
	unk := int32(-1)
	m.maxScore = float32(1.17549435e-38) // FLT_MIN, the starting value there
	minScore := float32(math.MaxFloat32)
	for i, p := range m.pieces {
		id := int32(i)
		switch m.types[i] {
		case spmNormal, spmUserDefined, spmUnused:
			if p == "" {
				return nil, fmt.Errorf("tokenize: SentencePiece model: piece %d is empty", i)
			}
			if _, dup := m.trie[p]; dup {
				return nil, fmt.Errorf("tokenize: SentencePiece model: piece %q is duplicated", p)
			}
			m.trie[p] = id
			m.maxLen = max(m.maxLen, len(p))
			if m.types[i] == spmUserDefined {
				m.user = append(m.user, p)
			}
			if m.types[i] == spmNormal {
				minScore = min(minScore, m.scores[i])
				m.maxScore = max(m.maxScore, m.scores[i])
			}
		case spmUnknown:
			if unk >= 0 {
				return nil, fmt.Errorf("tokenize: SentencePiece model: more than one unknown piece")
			}
			unk = id
		case spmControl, spmByte:
		default:
			return nil, fmt.Errorf("tokenize: SentencePiece model: piece %q has unknown type %d", p, m.types[i])
		}
	}
	if unk < 0 {
		return nil, fmt.Errorf("tokenize: SentencePiece model has no unknown piece")
	}
	m.unkID = unk
	m.unkScore = minScore - float32(unkPenalty)
	sort.SliceStable(m.user, func(i, j int) bool { return len(m.user[i]) > len(m.user[j]) })
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
	}
	for i, p := range m.pieces {
		if m.types[i] != spmByte {
			continue
		}
		var b int
		if _, err := fmt.Sscanf(p, "<0x%02X>", &b); err != nil || len(p) != 6 || b > 255 {
			return nil, fmt.Errorf("tokenize: SentencePiece model: byte piece %q is not <0xXX>", p)
		}
		m.byteIDs[b] = int32(i)
	}
	if m.byteFallback {
		for b, id := range m.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("tokenize: SentencePiece model: byte_fallback is set but the byte piece <0x%02X> is missing", b)
			}
		}
	}
	for name, id := range map[string]int32{"eos_id": m.eosID, "pad_id": m.padID} {
		if int(id) >= len(m.pieces) {
			return nil, fmt.Errorf("tokenize: SentencePiece model: %s %d is out of range", name, id)
		}
	}
	return m, nil
}

// normalizePrefix is Normalizer::NormalizePrefix: the normalized form of the
// start of s and the number of bytes it consumes. User-defined pieces are
// kept as they are; an invalid UTF-8 byte becomes U+FFFD.
func (m *spmModel) normalizePrefix(s string) (string, int) {
	for _, u := range m.user {
		if strings.HasPrefix(s, u) {
			return u, len(u)
		}
	}
	if m.cmap != nil {
		if n, repl := m.cmap.match(s, false); n > 0 {
			return repl, n
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return "\uFFFD", 1
	}
	return s[:n], n
}

// normalize is Normalizer::Normalize: the table, then the whitespace rules
// (leading, trailing and repeated spaces removed, a space added in front, and
// spaces written as U+2581).
func (m *spmModel) normalize(in string) string {
	if in == "" {
		return ""
	}
	if m.removeExtraSpaces {
		for in != "" {
			sp, n := m.normalizePrefix(in)
			if sp != " " {
				break
			}
			in = in[n:]
		}
	}
	if in == "" {
		return ""
	}
	space := " "
	if m.escapeSpaces {
		space = "\u2581"
	}
	var b strings.Builder
	b.Grow(len(in) * 3)
	if !m.wsSuffix && m.dummyPrefix {
		b.WriteString(space)
	}
	prevSpace := m.removeExtraSpaces
	for in != "" {
		sp, n := m.normalizePrefix(in)
		for prevSpace && strings.HasPrefix(sp, " ") {
			sp = sp[1:]
		}
		if sp != "" {
			if m.escapeSpaces {
				b.WriteString(strings.ReplaceAll(sp, " ", space))
			} else {
				b.WriteString(sp)
			}
			prevSpace = strings.HasSuffix(sp, " ")
		}
		in = in[n:]
		if !m.removeExtraSpaces {
			prevSpace = false
		}
	}
	out := b.String()
	if m.removeExtraSpaces {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	if m.wsSuffix && m.dummyPrefix {
		out += space
	}
	return out
}

// encode returns the ids of text without the end-of-sequence id.
func (m *spmModel) encode(text string, ids []int32) []int32 {
	norm := m.normalize(text)
	if norm == "" {
		return ids
	}
	// Model::EncodeOptimized: the best path ending at each byte offset.
	type node struct {
		id    int32
		score float32
		start int // -1: unreached
	}
	best := make([]node, len(norm)+1)
	for i := range best {
		best[i].start = -1
	}
	for start := 0; start < len(norm); {
		here := best[start].score
		_, mblen := utf8.DecodeRuneInString(norm[start:])
		single := false
		for end := start + mblen; end <= len(norm) && end-start <= m.maxLen; {
			if id, ok := m.trie[norm[start:end]]; ok && m.types[id] != spmUnused {
				// The score is a double there (the user-defined
				// branch makes it one); the sum is stored as float.
				score := float64(m.scores[id])
				if m.types[id] == spmUserDefined {
					score = float64(float32(end-start)*m.maxScore) - 0.1
				}
				cand := score + float64(here)
				if t := &best[end]; t.start < 0 || cand > float64(t.score) {
					*t = node{id: id, score: float32(cand), start: start}
				}
				if end-start == mblen {
					single = true
				}
			}
			if end == len(norm) {
				break
			}
			_, n := utf8.DecodeRuneInString(norm[end:])
			end += n
		}
		if !single {
			cand := m.unkScore + here
			if t := &best[start+mblen]; t.start < 0 || cand > t.score {
				*t = node{id: m.unkID, score: cand, start: start}
			}
		}
		start += mblen
	}
	type tok struct {
		id         int32
		start, end int
	}
	var path []tok
	for end := len(norm); end > 0; end = best[end].start {
		path = append(path, tok{best[end].id, best[end].start, end})
	}
	// SentencePieceProcessor::Encode: an unknown piece becomes its UTF-8
	// bytes with byte fallback; otherwise a run of unknown pieces is one.
	prevUnk := false
	for k := len(path) - 1; k >= 0; k-- {
		t := path[k]
		isUnk := m.types[t.id] == spmUnknown
		switch {
		case isUnk && m.byteFallback:
			for i := t.start; i < t.end; i++ {
				ids = append(ids, m.byteIDs[norm[i]])
			}
		case isUnk && prevUnk:
		default:
			ids = append(ids, t.id)
		}
		prevUnk = isUnk
	}
	return ids
}
