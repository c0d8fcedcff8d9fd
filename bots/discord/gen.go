package discord

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// gen turns /gen into a job and edits the acknowledgement into the price
// and queue position, or a clear error. Its options were checked when the
// interaction arrived (see readGen).
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

// genSpec is /gen as read from the interaction, before any download.
type genSpec struct {
	image *discordgo.MessageAttachment
	tail  *discordgo.MessageAttachment // the end frame, or nil
	cmd   command.Command
}

// genRefusal is a /gen that readGen refused: the member sees text (only
// they do), nothing is charged.
type genRefusal struct {
	err  error
	text string
}

// readGen reads /gen's options and attachments without any I/O, so that
// a bad option or attachment is refused in the interaction's own answer.
// Options written into the prompt (--camera zoom:5, 时长:10) work as in
// every front end; the command's own options win over them. The camera
// option is a camera control when it reads as one (zoom:-5, down_back) and
// camera words for the prompt otherwise.
func readGen(lang paimeng.Lang, data discordgo.ApplicationCommandInteractionData) (*genSpec, *genRefusal) {
	bad := func(err error) (*genSpec, *genRefusal) {
		return nil, &genRefusal{err: err, text: command.ErrorText(lang, err)}
	}
	opts := optionMap(data.Options)
	image := attachmentOf(data, opts)
	if image == nil {
		return bad(paimeng.Errorf(paimeng.ENoImage, "no attachment"))
	}
	if err := checkAttachment(image); err != nil {
		return bad(err)
	}
	var tail *discordgo.MessageAttachment
	if id := stringOpt(opts, optTail); id != "" {
		if data.Resolved != nil {
			tail = data.Resolved.Attachments[id]
		}
		if tail == nil {
			return bad(paimeng.Errorf(paimeng.ENoImage, "tail attachment %s not resolved", id))
		}
		if err := checkAttachment(tail); err != nil {
			return bad(err)
		}
	}

	camera, words, err := command.CameraOption(stringOpt(opts, optCamera))
	if err != nil {
		return bad(err)
	}
	cmd, err := command.Parse("/gen " + stringOpt(opts, optPrompt))
	if err != nil {
		return bad(err)
	}
	if camera != nil {
		cmd.Camera = camera
	}
	if words != "" {
		cmd.Prompt = strings.TrimSpace(cmd.Prompt + " " + strings.Join(strings.Fields(words), " "))
		if n := utf8.RuneCountInString(cmd.Prompt); n > paimeng.MaxPromptRunes {
			return bad(paimeng.Errorf(paimeng.EPromptTooLong, "prompt and camera words have %d runes", n))
		}
	}
	if n, ok, isBad := intOpt(opts, optSeconds); ok {
		if isBad || (n != 5 && n != 10) {
			return bad(paimeng.Errorf(paimeng.EBadOption, "seconds must be 5 or 10"))
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
			return bad(paimeng.Errorf(paimeng.EBadOption, "mode %q", s))
		}
	}
	if relax, ok := boolOpt(opts, optRelax); ok {
		cmd.Lane = paimeng.LaneFast
		if relax {
			cmd.Lane = paimeng.LaneRelax
		}
	}
	if n, ok, isBad := intOpt(opts, optSeed); ok {
		if isBad || n < 0 {
			return bad(paimeng.Errorf(paimeng.EBadOption, "seed must be a non-negative integer"))
		}
		cmd.Seed = n
	}
	if n, ok, isBad := intOpt(opts, optFPS); ok {
		if isBad || n == 0 || !paimeng.ValidFPS(int(n)) {
			return bad(paimeng.Errorf(paimeng.EBadOption, "fps must be 24 or 30"))
		}
		cmd.FPS = int(n)
	}
	if s := strings.TrimSpace(stringOpt(opts, optRes)); s != "" {
		n, err := paimeng.ParseResolution(s)
		if err != nil {
			return bad(err)
		}
		cmd.Resolution = n
	}
	if s := strings.TrimSpace(stringOpt(opts, optAspect)); s != "" {
		a, err := paimeng.ParseAspect(s)
		if err != nil {
			return bad(err)
		}
		cmd.Aspect = a
	}
	if s := strings.TrimSpace(stringOpt(opts, optNegative)); s != "" {
		cmd.Negative = s
	}
	if s := strings.TrimSpace(stringOpt(opts, optEngine)); s != "" {
		// Free text: the Submitter refuses an engine it does not offer.
		cmd.Engine = strings.ToLower(s)
	}
	if cmd.Tail && tail == nil {
		return nil, &genRefusal{err: paimeng.Errorf(paimeng.EBadOption, "--tail without a tail attachment"), text: text(lang, keyTailOption)}
	}
	return &genSpec{image: image, tail: tail, cmd: cmd}, nil
}

// checkAttachment refuses an attachment that is not a picture or is over
// the size limit by its own word.
func checkAttachment(a *discordgo.MessageAttachment) error {
	if !imageAttachment(a) {
		return paimeng.Errorf(paimeng.EImageFormat, "attachment %q is %q", a.Filename, a.ContentType)
	}
	if a.Size > paimeng.MaxImageBytes {
		return paimeng.Errorf(paimeng.EImageTooLarge, "attachment size %d", a.Size)
	}
	return nil
}

// genRequest reads /gen's options and downloads its image and end frame.
// The returned note, if any, is a line for the acknowledgement.
func (b *Bot) genRequest(ctx context.Context, m member, st replyState, data discordgo.ApplicationCommandInteractionData) (*paimeng.Request, string, error) {
	spec, refusal := readGen(m.lang, data)
	if refusal != nil {
		return nil, "", refusal.err
	}
	image, err := b.download(ctx, spec.image)
	if err != nil {
		return nil, "", err
	}
	var tail []byte
	if spec.tail != nil {
		if tail, err = b.download(ctx, spec.tail); err != nil {
			return nil, "", err
		}
	}
	req := &paimeng.Request{
		Identity:    m.id,
		DisplayName: m.name,
		Lang:        m.lang,
		Image:       image,
		Tail:        tail,
		Reply:       st.marshal(),
	}
	spec.cmd.FillRequest(req)
	return req, command.NegativeNote(m.lang, req.NegativePrompt), nil
}

// attachmentOf returns /gen's image: the attachment its option names, or
// the only attachment resolved when that is not the end frame.
func attachmentOf(data discordgo.ApplicationCommandInteractionData, opts map[string]*discordgo.ApplicationCommandInteractionDataOption) *discordgo.MessageAttachment {
	if data.Resolved == nil || len(data.Resolved.Attachments) == 0 {
		return nil
	}
	if id := stringOpt(opts, optImage); id != "" {
		return data.Resolved.Attachments[id]
	}
	if len(data.Resolved.Attachments) == 1 {
		for id, a := range data.Resolved.Attachments {
			if id != stringOpt(opts, optTail) {
				return a
			}
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
// acknowledgement (price and queue position), with the job's camera move
// and note, if any, on lines of their own.
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
	ack := command.AckNotes(command.QueuedPriceText(m.lang, job.ID, pos, job.Price), command.CameraLine(m.lang, job.Shot), note)

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
