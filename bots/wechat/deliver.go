package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Progress does nothing: WeChat messages cannot be edited, and a progress
// message would spend the reader's customer-service quota.
func (b *Bot) Progress(ctx context.Context, job *paimeng.Job, p paimeng.Progress) error { return nil }

// preUploadTimeout bounds the upload ahead of a next-message delivery
// when the caller's context has no deadline.
const preUploadTimeout = 2 * time.Minute

// Deliver sends a final job's result to its reader once. With
// CustomerService, a succeeded job's MP4 is uploaded as temporary media
// and sent as a customer-service video message (a video over 10 MB is
// re-encoded under it with Config.Shrink, or sent as a link to its web
// page when that is not possible), a failed job's error as
// text. Outside the 48-hour window, over the 20-message quota, without
// CustomerService, or when WeChat refuses the message (45015, 45047), the
// result waits for the reader's next message instead. Canceled jobs send
// nothing (the reader was answered when canceling). Deliver returns nil
// once the result is sent or kept for the next message; network and
// server errors are returned for a retry.
func (b *Bot) Deliver(ctx context.Context, job *paimeng.Job) error {
	log := b.log.With("job_id", job.ID, "user", job.Identity.String())
	openID := ""
	if st, ok := parseReply(job.Reply); ok {
		openID = st.OpenID
	} else if job.Identity.Platform == paimeng.PlatformWeChat {
		openID = job.Identity.UserID
	}
	if openID == "" {
		log.Error("job has no reader to answer; not delivered")
		return nil
	}
	if !job.Status.Final() {
		return fmt.Errorf("wechat: deliver job %s: status %s is not final", job.ID, job.Status)
	}
	if job.Status == paimeng.JobCanceled {
		log.Info("canceled; nothing to deliver")
		return nil
	}
	key := b.key("delivered", job.ID)
	first, err := b.rdb.SetNX(ctx, key, "1", deliveredTTL).Result()
	if err != nil {
		return fmt.Errorf("wechat: deliver job %s: %w", job.ID, err)
	}
	if !first {
		log.Info("delivered before")
		return nil
	}
	undo := func() {
		if err := b.rdb.Del(context.WithoutCancel(ctx), key).Err(); err != nil {
			log.Warn("undoing the delivery mark failed", "err", err)
		}
	}
	if b.customerService {
		sent, err := b.deliverCustom(ctx, log, job, openID)
		if err != nil {
			undo()
			return fmt.Errorf("wechat: deliver job %s: %w", job.ID, err)
		}
		if sent {
			log.Info("delivered", "status", string(job.Status), "code", job.ErrorCode, "via", "customer_service")
			return nil
		}
	}
	if job.Status == paimeng.JobSucceeded {
		// Upload (and re-encode) now, with time to spare: the passive reply
		// to the next message has well under a second and only reads the
		// media id kept here.
		// It may take at most half of what is left, so that keeping the
		// result never fails for lack of time.
		uctx, cancel := context.WithTimeout(ctx, preUploadTimeout)
		if dl, ok := ctx.Deadline(); ok {
			cancel()
			uctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		}
		if _, err := b.mediaFor(uctx, job); err != nil && !errors.Is(err, errTooLarge) {
			log.Warn("video not uploaded ahead; the next message will try", "err", err)
		}
		cancel()
	}
	if err := b.pushPending(ctx, openID, false, pendingEntry{Job: job.ID}); err != nil {
		undo()
		return fmt.Errorf("wechat: deliver job %s: %w", job.ID, err)
	}
	log.Info("delivered", "status", string(job.Status), "code", job.ErrorCode, "via", "next_message")
	return nil
}

// deliverCustom sends a job's result by customer-service message; sent is
// false when the result must wait for the reader's next message.
func (b *Bot) deliverCustom(ctx context.Context, log *slog.Logger, job *paimeng.Job, openID string) (sent bool, err error) {
	ok, err := b.reserveCustom(ctx, openID)
	if err != nil || !ok {
		if err != nil {
			log.Warn("customer-service window unknown; keeping the result", "err", err)
		} else {
			log.Info("outside the customer-service window or quota; keeping the result")
		}
		return false, nil
	}
	switch job.Status {
	case paimeng.JobFailed:
		err = b.customText(ctx, openID, fmt.Sprintf(jobFailedText, job.ID, command.CodeText(lang, job.ErrorCode)))
	default:
		err = b.customResult(ctx, log, job, openID)
	}
	switch {
	case err == nil:
		return true, nil
	case apiCode(err) == codeOutOfWindow || apiCode(err) == codeOutOfQuota:
		log.Info("customer service refused; keeping the result", "code", apiCode(err))
		return false, nil
	case temporaryAPI(err):
		return false, err
	}
	// Refused for good (e.g. the reader unsubscribed): keep it for a
	// message that may never come rather than retry forever.
	log.Warn("customer service refused the result; keeping it", "err", err)
	return false, nil
}

// customResult sends a succeeded job's video (or its link when over
// 10 MB) by customer-service message.
func (b *Bot) customResult(ctx context.Context, log *slog.Logger, job *paimeng.Job, openID string) error {
	u := b.videoURL(job.ID)
	mediaID, err := b.mediaFor(ctx, job)
	if errors.Is(err, errTooLarge) {
		log.Info("video over 10 MB; sending its link")
		return b.customText(ctx, openID, tooLargeText(job.ID, u))
	}
	if err != nil {
		return err
	}
	balance := int64(-1)
	if acc, err := b.community.Account(ctx, job.Identity); err == nil {
		balance = acc.Balance
	} else {
		log.Warn("balance unknown for caption", "err", err)
	}
	desc := command.DoneCaption(lang, job.Prompt, job.Seed, balance)
	if u != "" {
		desc += fmt.Sprintf(watchOnWebText, u)
	}
	return b.customVideo(ctx, openID, mediaID, title(job), clipBytes(desc, maxTextBytes))
}

// reserveCustom counts one customer-service message to the reader; false
// means it may not be sent (no message from the reader within 48 hours, or
// 20 sent since the last one).
func (b *Bot) reserveCustom(ctx context.Context, openID string) (bool, error) {
	raw, err := b.rdb.Get(ctx, b.key("last", openID)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)) > csWindow-csWindowMargin {
		return false, nil
	}
	key := b.key("cs", openID)
	pipe := b.rdb.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, csWindow)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return n.Val() <= csQuota, nil
}

// sendLater sends an answer its POST could not wait for: by customer
// service when possible, otherwise it waits for the reader's next message.
func (b *Bot) sendLater(ctx context.Context, o *outcome) {
	log := b.log.With("user", "wechat:"+o.openID)
	if b.customerService {
		ok, err := b.reserveCustom(ctx, o.openID)
		if err == nil && ok {
			if o.reply.MediaID != "" {
				err = b.customVideo(ctx, o.openID, o.reply.MediaID, o.reply.Title, clipBytes(o.reply.Desc, maxTextBytes))
			} else {
				err = b.customText(ctx, o.openID, o.reply.Text)
			}
			if err == nil {
				log.Info("answer sent by customer service")
				return
			}
		}
		log.Info("answer cannot go by customer service; keeping it for the next message", "err", err)
	}
	b.putBack(ctx, o)
	log.Info("answer kept for the next message")
}
