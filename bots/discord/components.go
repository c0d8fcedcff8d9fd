package discord

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Custom ids of the buttons under a delivered video (the like button uses
// command.LikeData).
const (
	rerunPrefix = "pm:rerun:" // same image, prompt, options and seed
	seedPrefix  = "pm:seed:"  // the same with a new seed
)

// RerunData is the custom id of a video's Rerun button.
func RerunData(jobID string) string { return rerunPrefix + jobID }

// NewSeedData is the custom id of a video's New seed button.
func NewSeedData(jobID string) string { return seedPrefix + jobID }

// resultButtons is the action row under a delivered video.
func resultButtons(lang paimeng.Lang, jobID string) []discordgo.MessageComponent {
	return []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: text(lang, keyRerunLabel), Style: discordgo.SecondaryButton, CustomID: RerunData(jobID), Emoji: &discordgo.ComponentEmoji{Name: "🔁"}},
		discordgo.Button{Label: text(lang, keySeedLabel), Style: discordgo.SecondaryButton, CustomID: NewSeedData(jobID), Emoji: &discordgo.ComponentEmoji{Name: "🎲"}},
		discordgo.Button{Label: text(lang, keyLikeLabel), Style: discordgo.PrimaryButton, CustomID: command.LikeData(jobID), Emoji: &discordgo.ComponentEmoji{Name: "❤️"}},
	}}}
}

// routeComponent answers a button click. Like is acknowledged with an
// ephemeral deferral; Rerun and New seed with a public one whose message
// becomes the new job's, unless the clicked message shows that the clicker
// is not the video's owner: then the refusal is the (ephemeral) answer
// itself and nothing is charged.
func (b *Bot) routeComponent(ev *event, data discordgo.MessageComponentInteractionData) (*interactionResponse, func(ctx context.Context)) {
	in := ev.in
	m, ok := memberOf(in)
	if !ok {
		return &interactionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}, nil
	}
	if jobID, ok := command.ParseLikeData(data.CustomID); ok {
		return deferred(true), func(ctx context.Context) { b.like(ctx, ev, m, jobID) }
	}
	jobID, rerun := strings.CutPrefix(data.CustomID, rerunPrefix)
	newSeed := false
	if !rerun {
		jobID, newSeed = strings.CutPrefix(data.CustomID, seedPrefix)
	}
	if (!rerun && !newSeed) || !command.ValidJobID(jobID) {
		b.log.Info("unknown button", "user", m.id.String(), "custom_id", data.CustomID)
		return ephemeralText(text(m.lang, keyButtonExpired)), nil
	}
	if owner := b.ownerHint(in, jobID); owner != "" && owner != m.id.UserID {
		b.log.Info("rerun refused: not the owner", "user", m.id.String(), "job_id", jobID)
		return ephemeralText(text(m.lang, keyNotOwner)), nil
	}
	return deferred(false), func(ctx context.Context) { b.rerun(ctx, ev, m, jobID, newSeed) }
}

func ephemeralText(s string) *interactionResponse {
	return &interactionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &responseData{Content: clip(s, maxContentRunes), Flags: flagEphemeral, AllowedMentions: noMentions()},
	}
}

// ownerHint is the Discord user id of the job's owner as far as it is known
// without the database: from this process's memory, from the interaction
// that produced the clicked message, or from the mention that starts it.
func (b *Bot) ownerHint(in *discordgo.Interaction, jobID string) string {
	b.mu.Lock()
	owner, ok := b.owners.get(jobID, time.Now())
	b.mu.Unlock()
	if ok {
		return owner
	}
	msg := in.Message
	if msg == nil {
		return ""
	}
	if md := msg.InteractionMetadata; md != nil && md.User != nil && md.User.ID != "" {
		return md.User.ID
	}
	if mi := msg.Interaction; mi != nil && mi.User != nil && mi.User.ID != "" {
		return mi.User.ID
	}
	return leadingMention(msg.Content)
}

// leadingMention returns the user id of a "<@id>" that starts s.
func leadingMention(s string) string {
	rest, ok := strings.CutPrefix(s, "<@")
	if !ok {
		return ""
	}
	rest = strings.TrimPrefix(rest, "!")
	id, _, ok := strings.Cut(rest, ">")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return id
}

// rerun queues the job again for its owner: the same image and end frame,
// prompt, camera script, length, mode, lane, frame rate, resolution and
// aspect, with the same seed or (newSeed) a new one.
func (b *Bot) rerun(ctx context.Context, ev *event, m member, jobID string, newSeed bool) {
	st := b.replyOf(ev, m)
	log := b.log.With("user", m.id.String(), "interaction_id", ev.in.ID, "source_job_id", jobID, "new_seed", newSeed)
	src, err := b.jobs.Job(ctx, jobID)
	if err != nil {
		if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
			log.Info("rerun of an unknown job")
			b.answer(ctx, log, st, command.Message(m.lang, command.KeyNoSuchJob, jobID))
			return
		}
		b.refuse(ctx, log, st, m.lang, err)
		return
	}
	if src.Identity != m.id {
		log.Info("rerun refused: not the owner", "owner", src.Identity.String())
		b.answer(ctx, log, st, text(m.lang, keyNotOwner))
		return
	}
	image, err := b.readBlob(ctx, src.ImageKey, paimeng.MaxImageBytes)
	if err != nil {
		b.refuse(ctx, log, st, m.lang, fmt.Errorf("discord: image of job %s: %w", jobID, err))
		return
	}
	var tail []byte
	if src.TailKey != "" {
		if tail, err = b.readBlob(ctx, src.TailKey, paimeng.MaxImageBytes); err != nil {
			b.refuse(ctx, log, st, m.lang, fmt.Errorf("discord: end frame of job %s: %w", jobID, err))
			return
		}
	}
	seed := src.Seed
	if newSeed {
		seed = 0
	}
	req := &paimeng.Request{
		Identity:       m.id,
		DisplayName:    m.name,
		Lang:           m.lang,
		IdempotencyKey: "discord:" + ev.in.ID,
		Image:          image,
		Tail:           tail,
		Prompt:         src.Prompt,
		Seconds:        src.Seconds,
		Seed:           seed,
		Engine:         src.Engine,
		Mode:           src.Mode,
		Lane:           src.Lane,
		FPS:            src.FPS,
		Resolution:     src.Resolution,
		Aspect:         src.Aspect,
		Reply:          st.marshal(),
	}
	// The same camera script, not a new reading of the prompt. A job
	// without one (made before shots were stored) reads its prompt again.
	if shotSet(src.Shot) {
		shot := src.Shot
		req.Shot = &shot
	}
	b.submit(ctx, log, st, m, req, "")
}

// shotSet reports whether a job's camera script was stored.
func shotSet(s paimeng.Shot) bool {
	return s.Static || s.Walk || s.Shake != 0 || len(s.Moves) > 0
}

// readBlob reads a whole blob of at most limit bytes.
func (b *Bot) readBlob(ctx context.Context, key string, limit int64) ([]byte, error) {
	if key == "" {
		return nil, fmt.Errorf("no blob key")
	}
	rc, err := b.blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("blob %s is over %d bytes", key, limit)
	}
	return data, nil
}

// like likes a video for the member who clicked and answers only them.
func (b *Bot) like(ctx context.Context, ev *event, m member, jobID string) {
	st := b.replyOf(ev, m)
	log := b.log.With("user", m.id.String(), "interaction_id", ev.in.ID, "job_id", jobID)
	added, likes, err := b.community.Like(ctx, m.id, jobID)
	switch {
	case err != nil && paimeng.ErrorCode(err) == paimeng.EINTERNAL:
		log.Error("like failed", "err", err)
	case err != nil:
		log.Info("like refused", "code", paimeng.ErrorCode(err), "err", err)
	default:
		log.Info("liked", "added", added, "likes", likes)
	}
	b.answer(ctx, log, st, command.LikeText(m.lang, jobID, added, likes, err))
}

// answer edits the interaction's response to text, logging failures.
func (b *Bot) answer(ctx context.Context, log *slog.Logger, st replyState, s string) {
	if err := b.editText(ctx, st, s); err != nil {
		log.Error("answering failed", "err", err)
	}
}
