package discord

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// gen turns /gen into a job and edits the acknowledgement into the price
// and queue position, or a clear error.
func (b *Bot) gen(ctx context.Context, log *slog.Logger, ev *event, m member, st replyState, data discordgo.ApplicationCommandInteractionData) {
	req, note, err := b.genRequest(ctx, m, st, data)
	if err != nil {
		b.refuse(ctx, log, st, m.lang, err)
		return
	}
	req.IdempotencyKey = "discord:" + ev.in.ID
	b.submit(ctx, log, st, m, req, note)
}

// refuse answers the interaction with the text of err's code.
func (b *Bot) refuse(ctx context.Context, log *slog.Logger, st replyState, lang paimeng.Lang, err error) {
	if paimeng.ErrorCode(err) == paimeng.EINTERNAL {
		log.Error("request failed", "err", err)
	} else {
		log.Info("request refused", "code", paimeng.ErrorCode(err), "err", err)
	}
	if err := b.editText(ctx, st, command.ErrorText(lang, err)); err != nil {
		log.Error("answering failed", "err", err)
	}
}

// genRequest reads /gen's options and downloads its image. The returned
// note is appended to the acknowledgement.
func (b *Bot) genRequest(ctx context.Context, m member, st replyState, data discordgo.ApplicationCommandInteractionData) (*paimeng.Request, string, error) {
	opts := optionMap(data.Options)
	att := attachmentOf(data, opts)
	if att == nil {
		return nil, "", paimeng.Errorf(paimeng.ENoImage, "no attachment")
	}
	if !imageAttachment(att) {
		return nil, "", paimeng.Errorf(paimeng.EImageFormat, "attachment %q is %q", att.Filename, att.ContentType)
	}
	if att.Size > paimeng.MaxImageBytes {
		return nil, "", paimeng.Errorf(paimeng.EImageTooLarge, "attachment size %d", att.Size)
	}

	// The camera option is prompt text for now; options written into the
	// prompt (--seed 42, 时长:10) work as in every front end, and the
	// command's own options win.
	prompt := strings.TrimSpace(stringOpt(opts, optPrompt) + " " + stringOpt(opts, optCamera))
	cmd, err := command.Parse("/gen " + prompt)
	if err != nil {
		return nil, "", err
	}
	if n, ok, bad := intOpt(opts, optSeconds); ok {
		if bad || (n != 5 && n != 10) {
			return nil, "", paimeng.Errorf(paimeng.EBadOption, "seconds must be 5 or 10")
		}
		cmd.Seconds = int(n)
	}
	if s := stringOpt(opts, optMode); s != "" {
		switch strings.ToLower(s) {
		case "std", "standard":
			cmd.Mode = paimeng.ModeStd
		case "pro":
			cmd.Mode = paimeng.ModePro
		default:
			return nil, "", paimeng.Errorf(paimeng.EBadOption, "mode %q", s)
		}
	}
	if relax, ok := boolOpt(opts, optRelax); ok {
		cmd.Lane = paimeng.LaneFast
		if relax {
			cmd.Lane = paimeng.LaneRelax
		}
	}
	if n, ok, bad := intOpt(opts, optSeed); ok {
		if bad || n < 0 {
			return nil, "", paimeng.Errorf(paimeng.EBadOption, "seed must be a non-negative integer")
		}
		cmd.Seed = n
	}
	note := ""
	if strings.TrimSpace(stringOpt(opts, optNegative)) != "" {
		note = text(m.lang, keyNegativeIgnored)
	}

	image, err := b.download(ctx, att)
	if err != nil {
		return nil, "", err
	}
	return &paimeng.Request{
		Identity:    m.id,
		DisplayName: m.name,
		Lang:        m.lang,
		Image:       image,
		Prompt:      cmd.Prompt,
		Seconds:     cmd.Seconds,
		Seed:        cmd.Seed,
		Mode:        cmd.Mode,
		Lane:        cmd.Lane,
		Reply:       st.marshal(),
	}, note, nil
}

// attachmentOf returns /gen's image: the attachment its option names, or
// the only attachment resolved.
func attachmentOf(data discordgo.ApplicationCommandInteractionData, opts map[string]*discordgo.ApplicationCommandInteractionDataOption) *discordgo.MessageAttachment {
	if data.Resolved == nil || len(data.Resolved.Attachments) == 0 {
		return nil
	}
	if id := stringOpt(opts, optImage); id != "" {
		return data.Resolved.Attachments[id]
	}
	if len(data.Resolved.Attachments) == 1 {
		for _, a := range data.Resolved.Attachments {
			return a
		}
	}
	return nil
}

// imageAttachment reports whether an attachment says it is a JPEG, PNG or
// WebP picture (by content type, or by name when the type is missing).
func imageAttachment(a *discordgo.MessageAttachment) bool {
	return command.IsImageFile(a.ContentType, a.Filename)
}

// download fetches an attachment from Discord's CDN, refusing anything
// over paimeng.MaxImageBytes.
func (b *Bot) download(ctx context.Context, a *discordgo.MessageAttachment) ([]byte, error) {
	u := a.URL
	if u == "" {
		u = a.ProxyURL
	}
	if u == "" {
		return nil, paimeng.Errorf(paimeng.ENoImage, "attachment %s has no URL", a.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discord: download attachment %s: %w", a.ID, err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discord: download attachment %s: %w", a.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discord: download attachment %s: HTTP %d", a.ID, resp.StatusCode)
	}
	if resp.ContentLength > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "attachment is %d bytes", resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, paimeng.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("discord: download attachment %s: %w", a.ID, err)
	}
	if len(data) > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "download over %d bytes", paimeng.MaxImageBytes)
	}
	return data, nil
}

// submit queues req and edits the interaction's response into the
// acknowledgement (price and queue position) with note appended.
func (b *Bot) submit(ctx context.Context, log *slog.Logger, st replyState, m member, req *paimeng.Request, note string) {
	job, err := b.sub.Submit(ctx, req)
	if err != nil {
		b.refuse(ctx, log, st, m.lang, err)
		return
	}
	log = log.With("job_id", job.ID)
	now := time.Now()
	b.mu.Lock()
	b.owners.put(job.ID, m.id.UserID, now)
	b.mu.Unlock()
	if job.Status.Final() || job.DeliveredAt != nil {
		log.Info("request seen before; already answered")
		return
	}
	pos, err := b.jobs.QueuePosition(ctx, job.ID)
	if err != nil {
		log.Warn("queue position unknown", "err", err)
		pos = -1
	}
	ack := command.QueuedPriceText(m.lang, job.ID, pos, job.Price) + note

	// The result (or a progress bar) may have beaten the acknowledgement.
	unlock := b.lockJob(job.ID)
	defer unlock()
	b.mu.Lock()
	_, progressed := b.lastEdit[job.ID]
	done := b.delivered.has(job.ID, time.Now())
	b.mu.Unlock()
	if !done && !progressed {
		if err := b.editText(ctx, st, ack); err != nil {
			log.Error("acknowledgement edit failed", "err", err)
		}
	}
	log.Info("job queued", "position", pos, "price", job.Price, "mode", string(job.Mode), "lane", string(job.Lane), "seed", job.Seed)
}
