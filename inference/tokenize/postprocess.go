package tokenize

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds special tokens around a single sequence. pre and suf are
// the ids placed before and after it.
type postProcessor struct {
	pre, suf []int32
}

func (p *postProcessor) apply(ids []int32) []int32 {
	if p == nil || len(p.pre)+len(p.suf) == 0 {
		return ids
	}
	out := make([]int32, 0, len(p.pre)+len(ids)+len(p.suf))
	out = append(out, p.pre...)
	out = append(out, ids...)
	return append(out, p.suf...)
}

func (p *postProcessor) added() int {
	if p == nil {
		return 0
	}
	return len(p.pre) + len(p.suf)
}

func parsePostProcessor(raw json.RawMessage) (*postProcessor, error) {
	p := &postProcessor{}
	if isNull(raw) {
		return p, nil
	}
	if err := p.parse(raw); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *postProcessor) parse(raw json.RawMessage) error {
	typ, err := typeOf(raw)
	if err != nil {
		return fmt.Errorf("tokenize: post_processor: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("tokenize: post_processor Sequence: %w", err)
		}
		for _, r := range c.Processors {
			if isNull(r) {
				continue
			}
			// Each processor wraps the result of the previous one.
			var q postProcessor
			if err := q.parse(r); err != nil {
				return err
			}
			p.pre = append(append([]int32{}, q.pre...), p.pre...)
			p.suf = append(p.suf, q.suf...)
		}
		return nil
	case "ByteLevel":
		// Only adjusts offsets.
		return nil
	case "RobertaProcessing", "BertProcessing":
		var c struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("tokenize: post_processor %s: %w", typ, err)
		}
		var cls, sep int32
		if err := json.Unmarshal(c.Cls[1], &cls); err != nil {
			return fmt.Errorf("tokenize: post_processor %s: cls: %w", typ, err)
		}
		if err := json.Unmarshal(c.Sep[1], &sep); err != nil {
			return fmt.Errorf("tokenize: post_processor %s: sep: %w", typ, err)
		}
		p.pre = []int32{cls}
		p.suf = []int32{sep}
		return nil
	case "TemplateProcessing":
		var c struct {
			Single []struct {
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("tokenize: post_processor TemplateProcessing: %w", err)
		}
		seen := false
		for _, item := range c.Single {
			switch {
			case item.Sequence != nil:
				if item.Sequence.ID != "A" || seen {
					return fmt.Errorf("tokenize: post_processor TemplateProcessing: single template must hold sequence A once, got %q", item.Sequence.ID)
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := c.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("tokenize: post_processor TemplateProcessing: special token %q missing from special_tokens", item.SpecialToken.ID)
				}
				if seen {
					p.suf = append(p.suf, st.IDs...)
				} else {
					p.pre = append(p.pre, st.IDs...)
				}
			default:
				return fmt.Errorf("tokenize: post_processor TemplateProcessing: unknown template item")
			}
		}
		if !seen {
			return fmt.Errorf("tokenize: post_processor TemplateProcessing: single template has no sequence A")
		}
		return nil
	}
	return fmt.Errorf("tokenize: unsupported post_processor type %q", typ)
}
