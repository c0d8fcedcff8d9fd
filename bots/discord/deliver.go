package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// stale reports whether the interaction token of st can no longer be
// trusted to edit its response (TokenTTL less a minute of margin).
func (b *Bot) stale(st replyState, now time.Time) bool {
	if st.Token == "" || st.AppID == "" {
		return true
	}
	margin := tokenMargin
	if b.tokenTTL <= 2*margin {
		margin = b.tokenTTL / 2
	}
	return now.Sub(st.Created) >= b.tokenTTL-margin
}

func langOf(job *paimeng.Job, st replyState) paimeng.Lang {
	if job.Lang != "" {
		return job.Lang
	}
	return paimeng.LangFromCode(st.Locale)
}

// Progress edits the job's interaction response into a progress bar, at
// most once every ProgressEvery per job, never after the result and never
// once the token is about to expire; other updates are dropped.
func (b *Bot) Progress(ctx context.Context, job *paimeng.Job, p paimeng.Progress) error {
	st, ok := parseReply(job.Reply)
	now := time.Now()
	if !ok || job.Status.Final() || b.stale(st, now) {
		return nil
	}
	if b.throttled(job.ID, now) {
		return nil
	}
	unlock, ok := b.tryLockJob(job.ID)
	if !ok {
		return nil // the acknowledgement or the result is being written
	}
	defer unlock()
	now = time.Now()
	if b.throttled(job.ID, now) {
		return nil
	}
	b.mu.Lock()
	b.lastEdit[job.ID] = now
	b.pruneLocked(now)
	b.mu.Unlock()
	content := command.ProgressText(langOf(job, st), job.ID, p)
	err := b.editOriginal(ctx, st, &messageBody{Content: &content, AllowedMentions: noMentions()}, nil)
	if err != nil && !tokenGone(err) {
		return fmt.Errorf("discord: progress of job %s: %w", job.ID, err)
	}
	return nil
}

// throttled reports whether a progress edit of the job is due no more:
// its result went out, or it was edited less than ProgressEvery ago.
func (b *Bot) throttled(jobID string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.delivered.has(jobID, now) {
		return true
	}
	last, ok := b.lastEdit[jobID]
	return ok && now.Sub(last) < b.progressEvery
}

func (b *Bot) pruneLocked(now time.Time) {
	if len(b.lastEdit) > progressMaxKeep {
		for id, t := range b.lastEdit {
			if now.Sub(t) > progressForget {
				delete(b.lastEdit, id)
			}
		}
	}
}

// result is what Deliver sends.
type result struct {
	content    string
	components []discordgo.MessageComponent
	file       *upload
	// noFile is the content to send instead when Discord refuses the file
	// as too large.
	noFile string
	// quiet results are only shown in the interaction's response, never
	// posted in the channel (a cancellation the member was told about).
	quiet bool
}

// Deliver answers the job's interaction: a succeeded job's response
// becomes the MP4 (or, over the channel's upload limit, a link to the web
// video and gallery) with its caption and Rerun, New seed and Like buttons;
// a failed job's response becomes the error text; a canceled job's the
// canceled text. When the interaction token has expired (or is about to),
// the result is posted in the channel mentioning the member, with the job
// id as an enforced nonce so a retried delivery posts once; a channel that
// refuses the bot gets a direct message instead. Rate limits, server and
// network errors are returned for a retry; client errors no retry can fix
// are logged and dropped.
func (b *Bot) Deliver(ctx context.Context, job *paimeng.Job) error {
	log := b.log.With("job_id", job.ID, "user", job.Identity.String())
	st, ok := parseReply(job.Reply)
	if !ok {
		log.Error("job has no interaction to answer; not delivered")
		return nil
	}
	if !job.Status.Final() {
		return fmt.Errorf("discord: deliver job %s: status %s is not final", job.ID, job.Status)
	}
	lang := langOf(job, st)
	unlock := b.lockJob(job.ID)
	defer unlock()
	now := time.Now()
	b.mu.Lock()
	delete(b.lastEdit, job.ID)
	b.owners.put(job.ID, st.UserID, now)
	sent := b.delivered.has(job.ID, now)
	b.mu.Unlock()
	if sent {
		return nil
	}

	r, err := b.result(ctx, log, job, st, lang)
	if err != nil {
		return fmt.Errorf("discord: deliver job %s: %w", job.ID, err)
	}
	via, err := b.send(ctx, log, st, job, r)
	switch {
	case err == nil:
	case temporary(err):
		return fmt.Errorf("discord: deliver job %s: %w", job.ID, err)
	default:
		log.Error("result cannot be sent; dropping", "err", err)
		via = "none"
	}
	b.mu.Lock()
	b.delivered.add(job.ID, struct{}{}, time.Now())
	b.mu.Unlock()
	log.Info("delivered", "status", string(job.Status), "code", job.ErrorCode, "via", via)
	return nil
}

// result builds the message for a final job.
func (b *Bot) result(ctx context.Context, log *slog.Logger, job *paimeng.Job, st replyState, lang paimeng.Lang) (*result, error) {
	switch job.Status {
	case paimeng.JobCanceled:
		return &result{content: command.Message(lang, command.KeyCanceled), quiet: true}, nil
	case paimeng.JobFailed:
		return &result{content: command.CodeText(lang, job.ErrorCode)}, nil
	}
	// The balance is personal: shown in direct messages only, as /balance
	// answers privately in a server.
	balance := int64(-1)
	if st.GuildID == "" {
		if acc, err := b.community.Account(ctx, job.Identity); err == nil {
			balance = acc.Balance
		} else {
			log.Warn("balance unknown for caption", "err", err)
		}
	}
	caption := command.DoneCaption(lang, job.Prompt, job.Seed, balance)
	r := &result{content: caption, components: resultButtons(lang, job.ID), noFile: caption + "\n" + b.videoLink(lang, job.ID)}

	limit := st.UploadLimit
	if limit <= 0 {
		limit = defaultUploadLimit
	}
	limit = min(limit, maxUploadLimit)
	data, size, err := b.readVideo(ctx, job.VideoKey, limit)
	if err != nil {
		return nil, fmt.Errorf("open video %q: %w", job.VideoKey, err)
	}
	if data == nil {
		log.Info("video over the upload limit; sending a link", "bytes", size, "limit", limit)
		r.content = r.noFile
		return r, nil
	}
	r.file = &upload{name: "paimeng-" + job.ID + ".mp4", contentType: "video/mp4", data: data}
	return r, nil
}

// videoLink is the text pointing at the web video and the gallery.
func (b *Bot) videoLink(lang paimeng.Lang, jobID string) string {
	if b.publicURL == "" {
		return text(lang, keyVideoTooLarge)
	}
	return text(lang, keyVideoLink, b.publicURL+"/media/"+jobID+"/video.mp4") + "\n" +
		command.Message(lang, command.KeyTopGallery, b.publicURL+"/top")
}

// readVideo reads a finished clip; over limit bytes it returns no data and
// the size seen so far.
func (b *Bot) readVideo(ctx context.Context, key string, limit int64) ([]byte, int64, error) {
	if key == "" {
		return nil, 0, errors.New("job has no video")
	}
	if p := b.blobs.Path(key); p != "" {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		if fi.Size() > limit {
			return nil, fi.Size(), nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, err
		}
		if int64(len(data)) > limit {
			return nil, int64(len(data)), nil
		}
		return data, int64(len(data)), nil
	}
	rc, err := b.blobs.Open(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) > limit {
		return nil, int64(len(data)), nil
	}
	return data, int64(len(data)), nil
}

// send edits the interaction's response into r, or posts r in the channel
// (or a direct message) when the token cannot edit any more. It reports
// where r went.
func (b *Bot) send(ctx context.Context, log *slog.Logger, st replyState, job *paimeng.Job, r *result) (string, error) {
	if !b.stale(st, time.Now()) {
		err := b.editResult(ctx, st, r)
		if err == nil {
			return "response", nil
		}
		if !tokenGone(err) {
			return "", err
		}
		log.Info("interaction token no longer valid; posting in the channel", "err", err)
	}
	if r.quiet {
		return "none", nil
	}
	return b.post(ctx, log, st, job, r)
}

// bodyOf is the message body of r (with its file, or the link instead).
func bodyOf(r *result, withFile bool) (*messageBody, []upload) {
	content := r.content
	comps := r.components
	if comps == nil {
		comps = []discordgo.MessageComponent{}
	}
	atts := []attachmentRef{}
	var files []upload
	if withFile && r.file != nil {
		atts = append(atts, attachmentRef{ID: "0", Filename: r.file.name})
		files = []upload{*r.file}
	} else if r.file != nil {
		content = r.noFile
	}
	content = clip(content, maxContentRunes)
	return &messageBody{Content: &content, Components: &comps, Attachments: &atts, AllowedMentions: noMentions()}, files
}

func (b *Bot) editResult(ctx context.Context, st replyState, r *result) error {
	body, files := bodyOf(r, true)
	err := b.editOriginal(ctx, st, body, files)
	if err != nil && r.file != nil && tooLarge(err) {
		body, _ = bodyOf(r, false)
		err = b.editOriginal(ctx, st, body, nil)
	}
	return err
}

// post sends r to the interaction's channel mentioning the member, or to
// the member's direct messages when the channel refuses the bot.
func (b *Bot) post(ctx context.Context, log *slog.Logger, st replyState, job *paimeng.Job, r *result) (string, error) {
	if st.ChannelID != "" {
		err := b.postTo(ctx, st.ChannelID, st.UserID, job.ID, r)
		if err == nil {
			return "channel", nil
		}
		if !forbidden(err) {
			return "", err
		}
		log.Info("channel refuses the bot; sending a direct message", "channel_id", st.ChannelID, "err", err)
	}
	out, err := b.call(ctx, http.MethodPost, discordgo.EndpointUserChannels("@me"), map[string]string{"recipient_id": st.UserID}, nil, "")
	if err != nil {
		return "", fmt.Errorf("open direct message: %w", err)
	}
	var ch discordgo.Channel
	if err := discordgo.Unmarshal(out, &ch); err != nil || ch.ID == "" {
		return "", fmt.Errorf("open direct message: unreadable channel: %v", err)
	}
	if err := b.postTo(ctx, ch.ID, st.UserID, job.ID, r); err != nil {
		return "", err
	}
	return "dm", nil
}

// postTo creates a message in a channel with an enforced nonce, so a
// repeat of the same delivery returns the first message.
func (b *Bot) postTo(ctx context.Context, channelID, userID, jobID string, r *result) error {
	send := func(withFile bool) error {
		body, files := bodyOf(r, withFile)
		content := clip("<@"+userID+"> "+*body.Content, maxContentRunes)
		body.Content = &content
		body.Attachments = nil
		if len(files) > 0 {
			body.Attachments = &[]attachmentRef{{ID: "0", Filename: files[0].name}}
		}
		body.AllowedMentions = &allowedMentions{Parse: []string{}, Users: []string{userID}}
		body.Nonce = nonceOf(jobID)
		body.EnforceNonce = true
		_, err := b.call(ctx, http.MethodPost, discordgo.EndpointChannelMessages(channelID), body, files, "")
		return err
	}
	err := send(true)
	if err != nil && r.file != nil && tooLarge(err) {
		err = send(false)
	}
	if err != nil {
		return fmt.Errorf("post in channel %s: %w", channelID, err)
	}
	return nil
}

// nonceOf is the message nonce for a job's result: the job id, or a hash
// of it when it is longer than Discord's 25 characters.
func nonceOf(jobID string) string {
	if len(jobID) <= 25 {
		return jobID
	}
	sum := sha256.Sum256([]byte(jobID))
	return hex.EncodeToString(sum[:])[:25]
}
