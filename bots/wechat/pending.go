package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Results that cannot go out by customer-service message wait in a Redis
// list per reader until the reader's next message, whose passive reply
// carries them: the first finished video as a video (uploaded as temporary
// media within the reply budget, or as a /v/<id> link when the upload is
// not done in time), other results as text.

// pendingEntry is one waiting result: a final job, or a text.
type pendingEntry struct {
	Job  string `json:"job,omitempty"`
	Text string `json:"text,omitempty"`
}

// prepared is what a reply carries of the pending results.
type prepared struct {
	video  *reply
	texts  []string
	popped []pendingEntry // taken off the list for this reply
}

func (p *prepared) empty() bool { return p == nil || p.video == nil && len(p.texts) == 0 }

// errTooLarge marks videos over WeChat's 10 MB video limit.
var errTooLarge = errors.New("video over 10 MB")

// pushPending adds entries to the reader's list, at the front or the back,
// keeping their order.
func (b *Bot) pushPending(ctx context.Context, openID string, front bool, entries ...pendingEntry) error {
	if len(entries) == 0 {
		return nil
	}
	key := b.key("pending", openID)
	vals := make([]any, 0, len(entries))
	for i := range entries {
		e := entries[i]
		if front {
			e = entries[len(entries)-1-i]
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		vals = append(vals, raw)
	}
	pipe := b.rdb.TxPipeline()
	if front {
		pipe.LPush(ctx, key, vals...)
	} else {
		pipe.RPush(ctx, key, vals...)
	}
	pipe.Expire(ctx, key, pendingTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("wechat: keeping results for %s: %w", openID, err)
	}
	return nil
}

// takePending takes the reader's waiting results and prepares them for a
// reply: a video whose upload finishes before deadline, texts for the
// rest. Results this reply cannot carry go back to the list.
func (b *Bot) takePending(ctx context.Context, openID string, deadline time.Time) *prepared {
	p := &prepared{}
	key := b.key("pending", openID)
	pipe := b.rdb.TxPipeline()
	rng := pipe.LRange(ctx, key, 0, -1)
	pipe.Del(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		b.log.Warn("reading pending results failed", "user", openID, "err", err)
		return p
	}
	var keep []pendingEntry
	videos := 0
	for _, raw := range rng.Val() {
		var e pendingEntry
		if json.Unmarshal([]byte(raw), &e) != nil {
			continue
		}
		if e.Job == "" {
			if e.Text != "" {
				p.texts = append(p.texts, e.Text)
				p.popped = append(p.popped, e)
			}
			continue
		}
		job, err := b.jobs.Job(ctx, e.Job)
		if err != nil {
			if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
				b.log.Warn("pending job vanished", "job_id", e.Job, "user", openID)
			} else {
				b.log.Warn("reading a pending job failed", "job_id", e.Job, "err", err)
				keep = append(keep, e)
			}
			continue
		}
		switch job.Status {
		case paimeng.JobSucceeded:
			if p.video == nil {
				v, text := b.prepareVideo(ctx, job, deadline)
				switch {
				case v != nil:
					p.video = v
				case text != "":
					p.texts = append(p.texts, text)
				default:
					keep = append(keep, e)
					continue
				}
			} else if u := b.videoURL(job.ID); u != "" {
				p.texts = append(p.texts, fmt.Sprintf(videoLinkText, job.ID, u))
			} else {
				keep = append(keep, e)
				videos++
				continue
			}
		case paimeng.JobFailed:
			p.texts = append(p.texts, fmt.Sprintf(jobFailedText, job.ID, command.CodeText(lang, job.ErrorCode)))
		default:
			continue // canceled (the reader was told), or not final
		}
		p.popped = append(p.popped, e)
	}
	if len(keep) > 0 {
		if err := b.pushPending(context.WithoutCancel(ctx), openID, true, keep...); err != nil {
			b.log.Error("keeping pending results failed", "user", openID, "err", err)
		}
		if videos > 0 {
			p.texts = append(p.texts, fmt.Sprintf(moreResultsText, videos))
		}
	}
	return p
}

// putBack returns what an undelivered reply carried to the reader's list:
// its results at the front, its own answer at the back.
func (b *Bot) putBack(ctx context.Context, o *outcome) {
	ctx = context.WithoutCancel(ctx)
	if err := b.pushPending(ctx, o.openID, true, o.popped...); err != nil {
		b.log.Error("keeping results failed", "user", o.openID, "err", err)
	}
	if o.own != "" {
		if err := b.pushPending(ctx, o.openID, false, pendingEntry{Text: o.own}); err != nil {
			b.log.Error("keeping an answer failed", "user", o.openID, "err", err)
		}
	}
}

// prepareVideo uploads a finished job's video before deadline and returns
// the video reply, or the text to send instead ("" when there is none).
func (b *Bot) prepareVideo(ctx context.Context, job *paimeng.Job, deadline time.Time) (*reply, string) {
	u := b.videoURL(job.ID)
	desc := command.DoneCaption(lang, job.Prompt, job.Seed, -1)
	if u != "" {
		desc += fmt.Sprintf(watchOnWebText, u)
	}
	uctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	mediaID, err := b.mediaFor(uctx, job)
	switch {
	case err == nil:
		return &reply{MediaID: mediaID, Title: title(job), Desc: desc}, ""
	case errors.Is(err, errTooLarge):
		return nil, tooLargeText(job.ID, u)
	}
	b.log.Warn("video not ready for the reply; sending its link", "job_id", job.ID, "err", err)
	if u == "" {
		return nil, ""
	}
	return nil, fmt.Sprintf(videoLinkText, job.ID, u)
}

// title is a video message's title: the prompt, clipped.
func title(job *paimeng.Job) string {
	p := clipRunes(job.Prompt, 60)
	if p == "" {
		p = command.Message(lang, command.KeyDefaultPrompt)
	}
	return p
}

// tooLargeText is the text for a video over 10 MB that could not be
// re-encoded to fit (Config.Shrink); the web page plays it.
func tooLargeText(jobID, u string) string {
	if u == "" {
		return fmt.Sprintf(videoTooLargeNoURL, jobID)
	}
	return fmt.Sprintf(videoTooLarge, jobID, u)
}

// mediaFor returns the media id of a job's video, uploading it once
// (temporary media lives three days; the id is kept a little less).
func (b *Bot) mediaFor(ctx context.Context, job *paimeng.Job) (string, error) {
	key := b.key("media", job.ID)
	if id, err := b.rdb.Get(ctx, key).Result(); err == nil && id != "" {
		return id, nil
	}
	data, err := b.readVideo(ctx, job.VideoKey, maxVideoBytes)
	if err != nil {
		return "", err
	}
	if data == nil && b.shrink != nil {
		if data, err = b.shrunkVideo(ctx, job); err != nil {
			b.log.Warn("video over 10 MB could not be re-encoded; sending its link", "job_id", job.ID, "err", err)
			data = nil
		}
	}
	if data == nil {
		return "", errTooLarge
	}
	id, err := b.uploadVideo(ctx, "paimeng-"+job.ID+".mp4", data)
	if apiCode(err) == codeInvalidMediaSize {
		return "", errTooLarge
	}
	if err != nil {
		return "", err
	}
	if err := b.rdb.Set(context.WithoutCancel(ctx), key, id, mediaTTL).Err(); err != nil {
		b.log.Warn("remembering a media id failed", "job_id", job.ID, "err", err)
	}
	b.log.Info("video uploaded", "job_id", job.ID, "bytes", len(data))
	return id, nil
}

// shrunkVideo re-encodes a job's video under WeChat's limit and returns it.
func (b *Bot) shrunkVideo(ctx context.Context, job *paimeng.Job) ([]byte, error) {
	dir, err := os.MkdirTemp("", "paimeng-wechat-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := b.blobs.Path(job.VideoKey)
	if in == "" {
		in = filepath.Join(dir, "in.mp4")
		rc, err := b.blobs.Open(ctx, job.VideoKey)
		if err != nil {
			return nil, err
		}
		f, err := os.Create(in)
		if err == nil {
			_, err = io.Copy(f, rc)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "out.mp4")
	// A little under the limit: the multipart envelope counts too.
	if err := b.shrink(ctx, in, out, maxVideoBytes-64<<10); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	b.log.Info("video re-encoded under 10 MB", "job_id", job.ID, "bytes", len(data))
	return data, nil
}

// readVideo reads a finished clip; over limit bytes it returns no data.
func (b *Bot) readVideo(ctx context.Context, key string, limit int64) ([]byte, error) {
	if key == "" {
		return nil, errors.New("job has no video")
	}
	var rc io.ReadCloser
	if p := b.blobs.Path(key); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		if fi, err := f.Stat(); err == nil && fi.Size() > limit {
			f.Close()
			return nil, nil
		}
		rc = f
	} else {
		var err error
		if rc, err = b.blobs.Open(ctx, key); err != nil {
			return nil, err
		}
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil
	}
	return data, nil
}
