package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A reader's images wait for the prompt in one Redis key per reader,
// paimeng:wechat:<app id>:image:<openid>, shared by every replica: a JSON
// array of at most maxImages images, oldest first. Each image is kept for
// ImageTTL after it arrived; the key expires with its newest image.
// Changes are optimistic transactions (WATCH), so two images arriving at
// once on different replicas are both kept.

// maxImages is how many of the reader's latest images are remembered: the
// picture and, for a prompt with --tail, the end frame.
const maxImages = 2

// imageTxAttempts bounds the retries of a change that raced another.
const imageTxAttempts = 8

// imageMemo is one of the reader's images, waiting for its prompt.
type imageMemo struct {
	MediaID string    `json:"media_id"`
	PicURL  string    `json:"pic_url"`
	MsgID   int64     `json:"msg_id"`
	Sent    int64     `json:"sent,omitempty"` // the message's CreateTime, Unix seconds
	At      time.Time `json:"at"`             // when it arrived
}

// same reports whether a and o are the same image message.
func (a imageMemo) same(o imageMemo) bool {
	if a.MsgID != 0 || o.MsgID != 0 {
		return a.MsgID == o.MsgID
	}
	return a.MediaID == o.MediaID && a.PicURL == o.PicURL
}

// decodeImages reads a stored value: a JSON array, or the single object a
// key held when one image was remembered at a time. Anything else reads as
// no image.
func decodeImages(raw string) []imageMemo {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "{") {
		var memo imageMemo
		if json.Unmarshal([]byte(raw), &memo) != nil {
			return nil
		}
		return []imageMemo{memo}
	}
	var memos []imageMemo
	if json.Unmarshal([]byte(raw), &memos) != nil {
		return nil
	}
	return memos
}

// live drops images older than ImageTTL, images without a source and
// repeats of one message, keeping the order.
func (b *Bot) live(memos []imageMemo, now time.Time) []imageMemo {
	out := make([]imageMemo, 0, len(memos))
next:
	for _, m := range memos {
		if m.PicURL == "" && m.MediaID == "" || now.Sub(m.At) >= b.imageTTL {
			continue
		}
		for _, o := range out {
			if o.same(m) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// addImage places memo among memos in the order the reader sent them
// (a later delivery of an earlier message goes before the images sent
// after it) and keeps the latest maxImages. A message already there is
// not added again.
func addImage(memos []imageMemo, memo imageMemo) []imageMemo {
	i := len(memos)
	for j, m := range memos {
		if m.same(memo) {
			return memos
		}
		if memo.Sent != 0 && m.Sent > memo.Sent && i == len(memos) {
			i = j
		}
	}
	out := make([]imageMemo, 0, len(memos)+1)
	out = append(out, memos[:i]...)
	out = append(out, memo)
	out = append(out, memos[i:]...)
	if len(out) > maxImages {
		out = out[len(out)-maxImages:]
	}
	return out
}

// withoutImages returns memos less those in used.
func withoutImages(memos, used []imageMemo) []imageMemo {
	out := make([]imageMemo, 0, len(memos))
next:
	for _, m := range memos {
		for _, u := range used {
			if u.same(m) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// recallImages returns the reader's remembered images, oldest first.
func (b *Bot) recallImages(ctx context.Context, openID string) ([]imageMemo, error) {
	raw, err := b.rdb.Get(ctx, b.key("image", openID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return b.live(decodeImages(raw), time.Now()), nil
}

// updateImages replaces the reader's images (as recallImages reads them)
// by change's result in one transaction, and returns what it stored.
func (b *Bot) updateImages(ctx context.Context, openID string, change func([]imageMemo) []imageMemo) ([]imageMemo, error) {
	key := b.key("image", openID)
	var stored []imageMemo
	apply := func(tx *redis.Tx) error {
		raw, err := tx.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		now := time.Now()
		stored = b.live(change(b.live(decodeImages(raw), now)), now)
		if len(stored) == 0 {
			if raw == "" {
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Del(ctx, key)
				return nil
			})
			return err
		}
		// The key lives as long as its newest image.
		newest := stored[0].At
		for _, m := range stored[1:] {
			if m.At.After(newest) {
				newest = m.At
			}
		}
		ttl := max(b.imageTTL-now.Sub(newest), time.Millisecond)
		val, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, val, ttl)
			return nil
		})
		return err
	}
	for range imageTxAttempts {
		err := b.rdb.Watch(ctx, apply, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return stored, err
		}
	}
	return nil, fmt.Errorf("wechat: images of %s changed %d times in a row", openID, imageTxAttempts)
}

// rememberImage adds memo to the reader's images and returns them.
func (b *Bot) rememberImage(ctx context.Context, openID string, memo imageMemo) ([]imageMemo, error) {
	return b.updateImages(ctx, openID, func(cur []imageMemo) []imageMemo { return addImage(cur, memo) })
}

// forgetImages drops used from the reader's images; images that arrived
// since stay.
func (b *Bot) forgetImages(ctx context.Context, openID string, used []imageMemo) {
	if _, err := b.updateImages(ctx, openID, func(cur []imageMemo) []imageMemo { return withoutImages(cur, used) }); err != nil {
		b.log.Warn("forgetting images failed", "user", openID, "err", err)
	}
}
