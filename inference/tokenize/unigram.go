package tokenize

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

type model interface {
	// tokenize appends the ids of one pre-token to ids.
	tokenize(s string, ids []int32) []int32
	eachToken(func(tok string, id int32))
}

func parseModel(raw json.RawMessage) (model, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenize: model: %w", err)
	}
	switch typ {
	case "Unigram":
		return parseUnigram(raw)
	case "BPE":
		return parseBPE(raw)
	case "":
		// Older files leave the type out; BPE is recognised by its merges.
		var probe struct {
			Merges json.RawMessage `json:"merges"`
		}
		if json.Unmarshal(raw, &probe) == nil && !isNull(probe.Merges) {
			return parseBPE(raw)
		}
	}
	return nil, fmt.Errorf("tokenize: unsupported model type %q", typ)
}

// unkPenalty is subtracted from the lowest piece score to score an unknown
// character, as SentencePiece does.
const unkPenalty = 10.0

// unigram is a SentencePiece unigram model: the segmentation of a pre-token is
// the one maximizing the sum of piece scores (Viterbi).
type unigram struct {
	pieces      []string
	scores      []float64
	ids         map[string]int32
	unkID       int32 // -1 when none
	byteFB      bool
	minScore    float64
	maxPieceLen int // bytes
}

func parseUnigram(raw json.RawMessage) (*unigram, error) {
	var c struct {
		Vocab      [][2]json.RawMessage `json:"vocab"`
		UnkID      *int32               `json:"unk_id"`
		ByteFallbk bool                 `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenize: model Unigram: %w", err)
	}
	u := &unigram{ids: make(map[string]int32, len(c.Vocab)), unkID: -1, byteFB: c.ByteFallbk, minScore: math.Inf(1)}
	for i, pair := range c.Vocab {
		var p string
		var sc float64
		if err := json.Unmarshal(pair[0], &p); err != nil {
			return nil, fmt.Errorf("tokenize: model Unigram: vocab entry %d: %w", i, err)
		}
		if err := json.Unmarshal(pair[1], &sc); err != nil {
			return nil, fmt.Errorf("tokenize: model Unigram: vocab entry %d: %w", i, err)
		}
		u.pieces = append(u.pieces, p)
		u.scores = append(u.scores, sc)
		if _, dup := u.ids[p]; !dup {
			u.ids[p] = int32(i)
		}
		u.minScore = min(u.minScore, sc)
		u.maxPieceLen = max(u.maxPieceLen, len(p))
	}
	if len(u.pieces) == 0 {
		return nil, fmt.Errorf("tokenize: model Unigram: empty vocab")
	}
	if c.UnkID != nil {
		if *c.UnkID < 0 || int(*c.UnkID) >= len(u.pieces) {
			return nil, fmt.Errorf("tokenize: model Unigram: unk_id %d out of range", *c.UnkID)
		}
		u.unkID = *c.UnkID
	}
	return u, nil
}

func (u *unigram) eachToken(f func(string, int32)) {
	for i, p := range u.pieces {
		f(p, int32(i))
	}
}

type viterbiNode struct {
	id    int32 // -1: unknown span
	score float64
	start int // -1: unreached
}

func (u *unigram) tokenize(s string, ids []int32) []int32 {
	if s == "" {
		return ids
	}
	unkScore := u.minScore - unkPenalty
	best := make([]viterbiNode, len(s)+1)
	for i := 1; i <= len(s); i++ {
		best[i].start = -1
	}
	for i := 0; i < len(s); {
		_, mblen := utf8.DecodeRuneInString(s[i:])
		here := best[i].score
		reached := best[i].start >= 0 || i == 0
		single := false
		if reached {
			// Every vocabulary piece that starts at i. Pieces are valid
			// UTF-8, so only character boundaries can end one.
			for j := i + mblen; j <= len(s) && j-i <= u.maxPieceLen; {
				if id, ok := u.ids[s[i:j]]; ok {
					cand := here + u.scores[id]
					if best[j].start < 0 || cand > best[j].score {
						best[j] = viterbiNode{id: id, score: cand, start: i}
					}
					if j-i == mblen {
						single = true
					}
				}
				if j == len(s) {
					break
				}
				_, n := utf8.DecodeRuneInString(s[j:])
				j += n
			}
			if !single {
				j := i + mblen
				cand := here + unkScore
				if best[j].start < 0 || cand > best[j].score {
					best[j] = viterbiNode{id: -1, score: cand, start: i}
				}
			}
		}
		i += mblen
	}
	// Walk back; consecutive unknown spans fuse into one.
	type tok struct {
		id         int32
		start, end int
	}
	var rev []tok
	for end := len(s); end > 0; {
		n := best[end]
		if n.id < 0 && len(rev) > 0 && rev[len(rev)-1].id < 0 {
			rev[len(rev)-1].start = n.start
		} else {
			rev = append(rev, tok{n.id, n.start, end})
		}
		end = n.start
	}
	for k := len(rev) - 1; k >= 0; k-- {
		t := rev[k]
		if t.id >= 0 {
			ids = append(ids, t.id)
			continue
		}
		// An unknown span: the text may still be a piece when fused, else
		// byte fallback, else unk.
		text := s[t.start:t.end]
		if id, ok := u.ids[text]; ok {
			ids = append(ids, id)
			continue
		}
		if u.byteFB {
			if bs, ok := u.byteTokens(text); ok {
				ids = append(ids, bs...)
				continue
			}
		}
		if u.unkID >= 0 {
			ids = append(ids, u.unkID)
		}
	}
	return ids
}

func (u *unigram) byteTokens(text string) ([]int32, bool) {
	out := make([]int32, 0, len(text))
	for i := 0; i < len(text); i++ {
		id, ok := u.ids[fmt.Sprintf("<0x%02X>", text[i])]
		if !ok {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}
