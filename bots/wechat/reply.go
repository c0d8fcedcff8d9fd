package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/paimeng/paimeng/bots/command"
)

// WeChat wants the passive reply within 5 seconds and retries a message
// three times when it gets none. Each message is worked on in the
// background; its POST waits at most ReplyBudget for the answer and
// otherwise replies with a short "working on it" text, and the answer goes
// out later (customer-service message, or the reader's next message). A
// retry of a message still in hand waits for the same answer; one handled
// before gets the same reply again (or "success" once its answer went out
// in the background), and never starts a second job.

// reply is a passive reply: text, or a video (temporary media).
type reply struct {
	Text    string `json:"text,omitempty"`
	MediaID string `json:"media_id,omitempty"`
	Title   string `json:"title,omitempty"`
	Desc    string `json:"description,omitempty"`
}

func (r *reply) message() *message.Reply {
	switch {
	case r == nil:
		return nil
	case r.MediaID != "":
		return &message.Reply{MsgType: message.MsgTypeVideo, MsgData: message.NewVideo(r.MediaID, r.Title, clipBytes(r.Desc, maxTextBytes))}
	case r.Text != "":
		return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText(clipBytes(r.Text, maxTextBytes))}
	}
	return nil
}

// outcome is the answer to one message.
type outcome struct {
	openID string
	reply  *reply
	// own is the message's own answer, without the pending results.
	own string
	// popped are pending results the reply carries; they go back to the
	// list when the reply cannot be given.
	popped []pendingEntry
	// foreign outcomes replay a message another replica (or an earlier
	// run) handled: never sent in the background.
	foreign bool
}

// call is one message in hand or recently answered.
type call struct {
	done chan struct{}
	at   time.Time
	// Guarded by Bot.mu.
	out      *outcome
	finished bool
	waiters  int  // POSTs waiting for the answer now
	later    bool // the answer went out in the background
}

// dedupKey identifies a message across WeChat's retries: its MsgId, or
// sender and creation time for events.
func dedupKey(m *message.MixMessage) string {
	if m.MsgID != 0 {
		return "m" + strconv.FormatInt(m.MsgID, 10)
	}
	return "e" + string(m.FromUserName) + ":" + strconv.FormatInt(m.CreateTime, 10) + ":" + string(m.Event) + ":" + m.EventKey
}

// answer returns the passive reply to m within the reply budget counted
// from start; nil means "success".
func (b *Bot) answer(m *message.MixMessage, start time.Time) *message.Reply {
	key := dedupKey(m)
	now := time.Now()
	b.mu.Lock()
	c := b.calls[key]
	if c == nil {
		c = &call{done: make(chan struct{}), at: now}
		b.calls[key] = c
		b.pruneCallsLocked(now)
		b.start(c, key, m, start)
	}
	c.waiters++
	b.mu.Unlock()

	t := time.NewTimer(time.Until(start.Add(b.budget)))
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c.waiters--
	if c.finished {
		if c.later {
			return nil // its answer went out in the background
		}
		return c.out.reply.message()
	}
	b.log.Info("reply budget spent; answering later", "msg_key", key, "elapsed", time.Since(start))
	if b.customerService {
		return (&reply{Text: workingText}).message()
	}
	return (&reply{Text: workingNextText}).message()
}

// pruneCallsLocked forgets finished calls after callsForget (Redis keeps
// their keys longer) and the oldest ones beyond callsMax.
func (b *Bot) pruneCallsLocked(now time.Time) {
	if len(b.calls) < callsMax/2 {
		return
	}
	for k, c := range b.calls {
		if c.finished && (now.Sub(c.at) > callsForget || len(b.calls) >= callsMax) {
			delete(b.calls, k)
		}
	}
}

// start works on m in the background and finishes c with its outcome.
// The caller holds b.mu.
func (b *Bot) start(c *call, key string, m *message.MixMessage, start time.Time) {
	b.background(func(ctx context.Context) {
		o := b.process(ctx, key, m, start)
		b.finish(ctx, c, key, o)
	}, func() {
		// Too busy to start: say so later rather than stay silent.
		sorry := command.Message(lang, command.KeyTryLater)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b.finish(ctx, c, key, &outcome{openID: string(m.FromUserName), reply: &reply{Text: sorry}, own: sorry})
	})
}

// finish records c's outcome. When no POST waits for it, it goes out in
// the background.
func (b *Bot) finish(ctx context.Context, c *call, key string, o *outcome) {
	b.mu.Lock()
	c.out, c.finished = o, true
	bg := c.waiters == 0 && !o.foreign && o.reply != nil && o.openID != ""
	c.later = bg
	close(c.done)
	b.mu.Unlock()
	if o.foreign {
		return
	}
	// Record the answer for retries that reach another replica.
	rec := resultRecord{Later: bg}
	if !bg {
		rec.Reply = o.reply
	}
	if raw, err := json.Marshal(rec); err == nil {
		if err := b.rdb.Set(ctx, b.key("result", key), raw, seenTTL).Err(); err != nil {
			b.log.Warn("recording the answer failed", "msg_key", key, "err", err)
		}
	}
	if bg {
		b.sendLater(ctx, o)
	}
}

// resultRecord is a message's answer as kept in Redis for retries.
type resultRecord struct {
	Reply *reply `json:"reply,omitempty"`
	Later bool   `json:"later,omitempty"`
}

// claim marks a message as handled by this replica; false means it was
// handled (or is being handled) elsewhere. Redis errors count as a claim:
// the submitter's idempotency key still guards against a second job.
func (b *Bot) claim(ctx context.Context, key string) bool {
	ok, err := b.rdb.SetNX(ctx, b.key("seen", key), "1", seenTTL).Result()
	if err != nil {
		b.log.Warn("message dedup unavailable", "msg_key", key, "err", err)
		return true
	}
	return ok
}

// replay waits (until deadline) for the answer another replica gives to a
// message it handles.
func (b *Bot) replay(ctx context.Context, key string, deadline time.Time) *reply {
	for {
		raw, err := b.rdb.Get(ctx, b.key("result", key)).Bytes()
		if err == nil {
			var rec resultRecord
			if json.Unmarshal(raw, &rec) == nil && !rec.Later {
				return rec.Reply
			}
			return nil
		}
		if !errors.Is(err, redis.Nil) || time.Until(deadline) < 100*time.Millisecond {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
