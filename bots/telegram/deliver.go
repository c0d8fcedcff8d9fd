package telegram

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Progress edits the job's status message with a progress bar, at most once
// every ProgressEvery per job and once a second per chat; other updates are
// dropped.
func (b *Bot) Progress(ctx context.Context, job *paimeng.Job, p paimeng.Progress) error {
	st, ok := parseReply(job.Reply)
	if !ok || st.StatusID == 0 {
		return nil
	}
	now := time.Now()
	b.mu.Lock()
	if last, ok := b.lastEdit[job.ID]; ok && now.Sub(last) < b.progressEvery {
		b.mu.Unlock()
		return nil
	}
	if last, ok := b.lastChat[st.ChatID]; ok && now.Sub(last) < chatEditEvery {
		b.mu.Unlock()
		return nil
	}
	b.lastEdit[job.ID] = now
	b.lastChat[st.ChatID] = now
	b.pruneLocked(now)
	b.mu.Unlock()

	if err := b.edit(ctx, st.ChatID, st.StatusID, command.ProgressText(langOf(job, st), job.ID, p)); err != nil {
		return fmt.Errorf("telegram: progress of job %s: %w", job.ID, err)
	}
	return nil
}

func (b *Bot) pruneLocked(now time.Time) {
	if len(b.lastEdit) > progressMaxKeep {
		for id, t := range b.lastEdit {
			if now.Sub(t) > progressForget {
				delete(b.lastEdit, id)
			}
		}
	}
	if len(b.lastChat) > progressMaxKeep {
		for id, t := range b.lastChat {
			if now.Sub(t) > chatEditEvery {
				delete(b.lastChat, id)
			}
		}
	}
}

func langOf(job *paimeng.Job, st replyState) paimeng.Lang {
	if job.Lang != "" {
		return job.Lang
	}
	return st.Lang
}

// Deliver answers the member's /gen with the video (or, when it is too big
// for a video, a document) captioned with prompt, seed and credits left and
// carrying a like button (see command.LikeData), or
// with the error text of a failed job; then marks the status message done.
// Flood control, server and network errors are returned for a retry; a
// retry does not send the result twice. Client errors no retry can fix are
// logged and dropped.
func (b *Bot) Deliver(ctx context.Context, job *paimeng.Job) error {
	log := b.log.With("job_id", job.ID, "user", job.Identity.String())
	st, ok := parseReply(job.Reply)
	if !ok {
		log.Error("job has no chat to answer; not delivered")
		return nil
	}
	if !job.Status.Final() {
		return fmt.Errorf("telegram: deliver job %s: status %s is not final", job.ID, job.Status)
	}
	lang := langOf(job, st)
	b.mu.Lock()
	delete(b.lastEdit, job.ID)
	sent := b.delivered.has(job.ID, time.Now())
	b.mu.Unlock()

	if !sent {
		var err error
		switch job.Status {
		case paimeng.JobSucceeded:
			err = b.sendResult(ctx, job, st, lang)
		case paimeng.JobCanceled:
			// The member (or an admin's ban) canceled it and was answered
			// then; only the status message below changes.
			if st.StatusID == 0 {
				_, err = b.reply(ctx, st.ChatID, st.MessageID, command.Message(lang, command.KeyCanceled))
			}
		default:
			_, err = b.reply(ctx, st.ChatID, st.MessageID, command.CodeText(lang, job.ErrorCode))
		}
		switch {
		case err == nil:
		case permanent(err):
			// Retrying cannot help (blocked bot, deleted chat, file over
			// every limit); keep the status message as it is.
			log.Error("result cannot be sent; dropping", "err", err)
			b.mu.Lock()
			b.delivered.add(job.ID, time.Now())
			b.mu.Unlock()
			return nil
		default:
			return fmt.Errorf("telegram: deliver job %s: %w", job.ID, err)
		}
		b.mu.Lock()
		b.delivered.add(job.ID, time.Now())
		b.mu.Unlock()
	}
	if st.StatusID != 0 {
		// Best effort: the result is out, and a retry (perhaps on another
		// replica, which does not know that) must not send it again.
		if err := b.edit(ctx, st.ChatID, st.StatusID, statusText(lang, job)); err != nil {
			log.Warn("status edit failed", "err", err)
		}
	}
	log.Info("delivered", "status", string(job.Status), "code", job.ErrorCode)
	return nil
}

func (b *Bot) sendResult(ctx context.Context, job *paimeng.Job, st replyState, lang paimeng.Lang) error {
	// The balance is personal: shown in private chats only (group chat
	// ids are negative).
	balance := int64(-1)
	if st.ChatID > 0 {
		if acc, err := b.community.Account(ctx, job.Identity); err == nil {
			balance = acc.Balance
		} else {
			b.log.Warn("balance unknown for caption", "job_id", job.ID, "user", job.Identity.String(), "err", err)
		}
	}
	v, err := b.openVideo(ctx, job.VideoKey)
	if err != nil {
		return fmt.Errorf("open video %q: %w", job.VideoKey, err)
	}
	defer v.close()

	params := tgbotapi.Params{
		"chat_id":                     strconv.FormatInt(st.ChatID, 10),
		"reply_to_message_id":         strconv.Itoa(st.MessageID),
		"allow_sending_without_reply": "true",
		"caption":                     command.DoneCaption(lang, job.Prompt, job.Seed, balance),
	}
	if err := params.AddInterface("reply_markup", likeKeyboard(job.ID)); err != nil {
		return err
	}
	name := "paimeng-" + job.ID + ".mp4"
	info := probeMP4(v.ra, v.size)
	if info.duration == 0 {
		info.duration = job.Seconds
	}
	vp := tgbotapi.Params{"supports_streaming": "true"}
	for k, val := range params {
		vp[k] = val
	}
	vp.AddNonZero("width", info.width)
	vp.AddNonZero("height", info.height)
	vp.AddNonZero("duration", info.duration)
	err = b.upload(ctx, "sendVideo", vp, "video", name, v)
	if err != nil && tooLarge(err) {
		b.log.Warn("video too large for sendVideo; sending as a document", "job_id", job.ID, "bytes", v.size)
		err = b.upload(ctx, "sendDocument", params, "document", name, v)
	}
	return err
}

// likeLabel is the like button's text; viewers in a group read either language.
const likeLabel = "❤️ 赞 / Like"

// likeKeyboard is the inline keyboard under a delivered video.
func likeKeyboard(jobID string) tgbotapi.InlineKeyboardMarkup {
	return tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData(likeLabel, command.LikeData(jobID))))
}

func (b *Bot) upload(ctx context.Context, method string, params tgbotapi.Params, field, name string, v *video) error {
	return b.call(ctx, method, func(api *tgbotapi.BotAPI) error {
		_, err := api.UploadFiles(method, params, []tgbotapi.RequestFile{{
			Name: field,
			Data: tgbotapi.FileReader{Name: name, Reader: io.NewSectionReader(v.ra, 0, v.size)},
		}})
		return err
	})
}

func tooLarge(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	d := strings.ToLower(ae.Description)
	return ae.Code == http.StatusRequestEntityTooLarge || strings.Contains(d, "too big") || strings.Contains(d, "too large")
}

// video is a finished clip ready to upload, possibly more than once.
type video struct {
	ra    io.ReaderAt
	size  int64
	close func() error
}

func (b *Bot) openVideo(ctx context.Context, key string) (*video, error) {
	if key == "" {
		return nil, errors.New("job has no video")
	}
	if p := b.blobs.Path(key); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		return &video{ra: f, size: fi.Size(), close: f.Close}, nil
	}
	rc, err := b.blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return &video{ra: bytes.NewReader(data), size: int64(len(data)), close: func() error { return nil }}, nil
}

// mp4Info is what sendVideo can be told about a clip.
type mp4Info struct {
	width, height, duration int
}

// probeMP4 reads the movie header (duration) and the first visual track
// header (width, height) of an MP4; unknown fields stay zero.
func probeMP4(r io.ReaderAt, size int64) mp4Info {
	var info mp4Info
	moov, ok := findBox(r, 0, size, "moov")
	if !ok {
		return info
	}
	if mvhd, ok := findBox(r, moov.body, moov.end, "mvhd"); ok {
		var ts, dur uint64
		if v := readN(r, mvhd.body, 1); v == 1 {
			ts, dur = readN(r, mvhd.body+20, 4), readN(r, mvhd.body+24, 8)
		} else {
			ts, dur = readN(r, mvhd.body+12, 4), readN(r, mvhd.body+16, 4)
		}
		if ts > 0 && dur > 0 && dur < math.MaxInt32*ts {
			info.duration = max(int(math.Round(float64(dur)/float64(ts))), 1)
		}
	}
	walkBoxes(r, moov.body, moov.end, func(trak box) bool {
		if trak.typ != "trak" {
			return true
		}
		tkhd, ok := findBox(r, trak.body, trak.end, "tkhd")
		if !ok {
			return true
		}
		off := tkhd.body + 76
		if readN(r, tkhd.body, 1) == 1 {
			off = tkhd.body + 88
		}
		w, h := readN(r, off, 4)>>16, readN(r, off+4, 4)>>16
		if w > 0 && h > 0 {
			info.width, info.height = int(w), int(h)
			return false
		}
		return true
	})
	return info
}

type box struct {
	typ       string
	body, end int64
}

// walkBoxes calls fn for each box in [start, end) until fn returns false.
func walkBoxes(r io.ReaderAt, start, end int64, fn func(box) bool) {
	var hdr [16]byte
	for off := start; off+8 <= end; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return
		}
		n, hlen := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		switch n {
		case 0:
			n = end - off
		case 1:
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return
			}
			n, hlen = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		}
		if n < hlen || n > end-off {
			return
		}
		if !fn(box{typ: string(hdr[4:8]), body: off + hlen, end: off + n}) {
			return
		}
		off += n
	}
}

func findBox(r io.ReaderAt, start, end int64, typ string) (box, bool) {
	var found box
	ok := false
	walkBoxes(r, start, end, func(b box) bool {
		if b.typ == typ {
			found, ok = b, true
			return false
		}
		return true
	})
	return found, ok
}

// readN reads an n-byte big-endian unsigned integer at off, 0 on error.
func readN(r io.ReaderAt, off int64, n int) uint64 {
	var buf [8]byte
	if _, err := r.ReadAt(buf[8-n:], off); err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(buf[:])
}
