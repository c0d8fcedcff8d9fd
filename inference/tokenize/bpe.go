package tokenize

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// bpe is a BPE model: a pre-token starts as one symbol per character (with
// the optional continuing-subword prefix and end-of-word suffix) and pairs are
// merged in the order of the merges list.
type bpe struct {
	vocab        map[string]int32
	merges       map[uint64]bpeMerge
	unkID        int32 // -1 when none
	prefix       string
	suffix       string
	fuseUnk      bool
	byteFB       bool
	ignoreMerges bool
}

type bpeMerge struct {
	rank  int
	newID int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func parseBPE(raw json.RawMessage) (*bpe, error) {
	var c struct {
		Vocab        map[string]int32  `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		UnkToken     *string           `json:"unk_token"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		IgnoreMerges bool              `json:"ignore_merges"`
		Dropout      *float64          `json:"dropout"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenize: model BPE: %w", err)
	}
	if c.Dropout != nil && *c.Dropout > 0 {
		return nil, fmt.Errorf("tokenize: model BPE: dropout %v is not supported", *c.Dropout)
	}
	m := &bpe{vocab: c.Vocab, merges: make(map[uint64]bpeMerge, len(c.Merges)), unkID: -1,
		fuseUnk: c.FuseUnk, byteFB: c.ByteFallback, ignoreMerges: c.IgnoreMerges}
	if m.vocab == nil {
		m.vocab = map[string]int32{}
	}
	if c.Prefix != nil {
		m.prefix = *c.Prefix
	}
	if c.Suffix != nil {
		m.suffix = *c.Suffix
	}
	if c.UnkToken != nil {
		id, ok := m.vocab[*c.UnkToken]
		if !ok {
			return nil, fmt.Errorf("tokenize: model BPE: unk_token %q is not in the vocab", *c.UnkToken)
		}
		m.unkID = id
	}
	for rank, r := range c.Merges {
		var a, b string
		var str string
		var arr []string
		if err := json.Unmarshal(r, &str); err == nil {
			var ok bool
			a, b, ok = strings.Cut(str, " ")
			if !ok {
				return nil, fmt.Errorf("tokenize: model BPE: merge %d %q is not two tokens", rank, str)
			}
		} else if err := json.Unmarshal(r, &arr); err == nil && len(arr) == 2 {
			a, b = arr[0], arr[1]
		} else {
			return nil, fmt.Errorf("tokenize: model BPE: merge %d: want \"a b\" or [a, b], got %s", rank, r)
		}
		ida, ok1 := m.vocab[a]
		idb, ok2 := m.vocab[b]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("tokenize: model BPE: merge %d (%q, %q) uses a token missing from the vocab", rank, a, b)
		}
		merged := a + strings.TrimPrefix(b, m.prefix)
		idm, ok := m.vocab[merged]
		if !ok {
			return nil, fmt.Errorf("tokenize: model BPE: merge %d result %q is not in the vocab", rank, merged)
		}
		k := pairKey(ida, idb)
		if _, dup := m.merges[k]; !dup {
			m.merges[k] = bpeMerge{rank: rank, newID: idm}
		}
	}
	return m, nil
}

func (m *bpe) eachToken(f func(string, int32)) {
	for t, id := range m.vocab {
		f(t, id)
	}
}

type bpeSymbol struct {
	id         int32
	prev, next int
	size       int // 0 once merged into its left neighbour
}

func (m *bpe) tokenize(w string, ids []int32) []int32 {
	if w == "" {
		return ids
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(ids, id)
		}
	}
	var syms []bpeSymbol
	add := func(id int32, size int) {
		syms = append(syms, bpeSymbol{id: id, prev: len(syms) - 1, next: len(syms) + 1, size: size})
	}
	unkLen := 0 // pending unknown run, in bytes; 0 when none
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		s := w[i : i+n]
		if i > 0 {
			s = m.prefix + s
		}
		if i+n == len(w) {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			if unkLen > 0 {
				add(m.unkID, unkLen)
				unkLen = 0
			}
			add(id, n)
		} else if bs, ok := m.byteTokens(s); ok {
			// As in the reference implementation, a pending unknown run is
			// not flushed before byte-fallback tokens.
			for _, b := range bs {
				add(b, 1)
			}
		} else if m.unkID >= 0 {
			if unkLen > 0 && !m.fuseUnk {
				add(m.unkID, unkLen)
				unkLen = 0
			}
			unkLen += n
		}
		i += n
	}
	if unkLen > 0 {
		add(m.unkID, unkLen)
	}
	if len(syms) == 0 {
		return ids
	}
	syms[len(syms)-1].next = -1

	q := &mergeQueue{}
	push := func(pos int) {
		next := syms[pos].next
		if next < 0 {
			return
		}
		if mg, ok := m.merges[pairKey(syms[pos].id, syms[next].id)]; ok {
			heap.Push(q, mergeItem{rank: mg.rank, pos: pos, newID: mg.newID})
		}
	}
	for i := range syms {
		push(i)
	}
	for q.Len() > 0 {
		it := heap.Pop(q).(mergeItem)
		l := &syms[it.pos]
		if l.size == 0 || l.next < 0 {
			continue
		}
		r := &syms[l.next]
		if mg, ok := m.merges[pairKey(l.id, r.id)]; !ok || mg.newID != it.newID {
			continue
		}
		l.id = it.newID
		l.size += r.size
		r.size = 0
		l.next = r.next
		if l.next >= 0 {
			syms[l.next].prev = it.pos
		}
		if l.prev >= 0 {
			push(l.prev)
		}
		push(it.pos)
	}
	for i := 0; i >= 0; i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	return ids
}

func (m *bpe) byteTokens(s string) ([]int32, bool) {
	if !m.byteFB {
		return nil, false
	}
	out := make([]int32, 0, len(s))
	for i := 0; i < len(s); i++ {
		id, ok := m.vocab[fmt.Sprintf("<0x%02X>", s[i])]
		if !ok {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

type mergeItem struct {
	rank, pos int
	newID     int32
}

// mergeQueue pops the lowest rank first, then the leftmost position.
type mergeQueue []mergeItem

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(mergeItem)) }
func (q *mergeQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
