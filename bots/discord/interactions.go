package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// InteractionsPath is where Handler receives Discord's interactions.
const InteractionsPath = "/discord/interactions"

// Handler serves POST /discord/interactions: the Interactions Endpoint URL
// of the application. Requests over 64 KiB, without a valid Ed25519
// signature of the application's public key, or with a timestamp more
// than 5 minutes old or 1 minute ahead get 401 before anything is parsed.
// PING gets PONG; commands and button clicks get their deferred
// acknowledgement in the response itself and are handled afterwards.
func (b *Bot) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InteractionsPath, b.serveInteraction)
	return mux
}

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBody {
		b.log.Info("interaction refused: body too large", "bytes", r.ContentLength)
		http.Error(w, "invalid request", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		b.log.Info("interaction refused: body unreadable or too large", "bytes", len(body))
		http.Error(w, "invalid request", http.StatusUnauthorized)
		return
	}
	if why := b.verify(r.Header, body, time.Now()); why != "" {
		b.log.Info("interaction refused", "reason", why, "remote", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	ev, err := parseInteraction(body)
	if err != nil {
		b.log.Warn("interaction refused: bad JSON", "err", err)
		http.Error(w, "bad interaction", http.StatusBadRequest)
		return
	}
	resp, work, _ := b.route(ev)
	if resp == nil {
		http.Error(w, "unsupported interaction", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out, _ := json.Marshal(resp)
	_, _ = w.Write(out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	b.spawn(work)
}

// verify checks the signature of an interaction request; it returns why
// the request is refused, or "".
func (b *Bot) verify(h http.Header, body []byte, now time.Time) string {
	if b.publicKey == nil {
		return "no public key configured"
	}
	sig, err := hex.DecodeString(h.Get("X-Signature-Ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "malformed signature"
	}
	ts := h.Get("X-Signature-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "malformed timestamp"
	}
	t := time.Unix(sec, 0)
	if now.Sub(t) > maxAge || t.Sub(now) > maxAhead {
		return "timestamp outside the window"
	}
	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(append(msg, ts...), body...)
	if !ed25519.Verify(b.publicKey, msg, sig) {
		return "bad signature"
	}
	return ""
}

// event is one interaction with the fields discordgo does not decode.
type event struct {
	in *discordgo.Interaction
	// uploadLimit is attachment_size_limit: the most bytes a response may
	// attach in the interaction's channel.
	uploadLimit int64
}

func parseInteraction(raw []byte) (*event, error) {
	var in discordgo.Interaction
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	var extra struct {
		AttachmentSizeLimit int64 `json:"attachment_size_limit"`
	}
	_ = json.Unmarshal(raw, &extra)
	return &event{in: &in, uploadLimit: extra.AttachmentSizeLimit}, nil
}

// onEvent receives gateway dispatches; INTERACTION_CREATE is handled like
// an HTTP interaction, acknowledged through the callback endpoint.
func (b *Bot) onEvent(_ *discordgo.Session, e *discordgo.Event) {
	if e == nil || e.Type != "INTERACTION_CREATE" {
		return
	}
	ev, err := parseInteraction(e.RawData)
	if err != nil {
		b.log.Warn("gateway interaction unreadable", "err", err)
		return
	}
	resp, work, dup := b.route(ev)
	if resp == nil || dup || resp.Type == discordgo.InteractionResponsePong {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = b.respond(ctx, ev.in.ID, ev.in.Token, resp)
	cancel()
	if err != nil {
		if _, code := apiStatus(err); code == codeAlreadyAcknowledged {
			b.log.Info("interaction acknowledged elsewhere", "interaction_id", ev.in.ID)
		} else {
			b.log.Error("acknowledging interaction failed", "interaction_id", ev.in.ID, "err", err)
		}
		return
	}
	b.spawn(work)
}

// spawn runs work after an acknowledgement, in the background, with its
// own timeout.
func (b *Bot) spawn(work func(ctx context.Context)) {
	if work == nil {
		return
	}
	b.begin()
	go func() {
		defer b.end()
		ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
		defer cancel()
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			b.log.Error("interaction dropped: too many in hand")
			return
		}
		defer func() { <-b.sem }()
		work(ctx)
	}()
}

// route decides the immediate answer to an interaction and the work that
// follows it. A repeated interaction id gets the same answer, no work and
// dup true. A nil answer means the interaction is not supported.
func (b *Bot) route(ev *event) (resp *interactionResponse, work func(ctx context.Context), dup bool) {
	in := ev.in
	switch in.Type {
	case discordgo.InteractionPing:
		return &interactionResponse{Type: discordgo.InteractionResponsePong}, nil, false
	case discordgo.InteractionApplicationCommand:
		data, ok := in.Data.(discordgo.ApplicationCommandInteractionData)
		if !ok {
			return nil, nil, false
		}
		resp = deferred(ephemeralCommand(data.Name))
		if data.Name == command.Gen {
			// A bad option or attachment is refused at once, to the member
			// only; nothing is downloaded or charged.
			if _, refusal := readGen(paimeng.LangFromCode(string(in.Locale)), data); refusal != nil {
				fresh := b.fresh(in.ID)
				if fresh {
					log := b.log.With("interaction_id", in.ID)
					if m, ok := memberOf(in); ok {
						log = log.With("user", m.id.String())
					}
					log.Info("request refused", "command", data.Name, "code", paimeng.ErrorCode(refusal.err), "err", refusal.err)
				}
				return ephemeralText(refusal.text), nil, !fresh
			}
		}
		if !b.fresh(in.ID) {
			b.log.Info("repeated interaction", "interaction_id", in.ID)
			return resp, nil, true
		}
		return resp, func(ctx context.Context) { b.handleCommand(ctx, ev, data) }, false
	case discordgo.InteractionMessageComponent:
		data, ok := in.Data.(discordgo.MessageComponentInteractionData)
		if !ok {
			return nil, nil, false
		}
		resp, work = b.routeComponent(ev, data)
		if !b.fresh(in.ID) {
			b.log.Info("repeated interaction", "interaction_id", in.ID)
			return resp, nil, true
		}
		return resp, work, false
	}
	return nil, nil, false
}

// fresh records an interaction id and reports whether it is new.
func (b *Bot) fresh(id string) bool {
	if id == "" {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen.add(id, struct{}{}, time.Now())
}

// deferred is the "thinking…" acknowledgement whose message is edited later.
func deferred(ephemeral bool) *interactionResponse {
	r := &interactionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
	if ephemeral {
		r.Data = &responseData{Flags: flagEphemeral}
	}
	return r
}

// member is who sent an interaction.
type member struct {
	id   paimeng.Identity
	user *discordgo.User
	name string
	lang paimeng.Lang
}

func memberOf(in *discordgo.Interaction) (member, bool) {
	u := in.User
	if in.Member != nil && in.Member.User != nil {
		u = in.Member.User
	}
	if u == nil || u.ID == "" {
		return member{}, false
	}
	name := strings.TrimSpace(u.GlobalName)
	if name == "" {
		name = u.Username
	}
	return member{
		id:   paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: u.ID},
		user: u,
		name: name,
		lang: paimeng.LangFromCode(string(in.Locale)),
	}, true
}

// snowflakeTime is when a Discord id was made.
func snowflakeTime(id string) time.Time {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return time.Now().UTC()
	}
	return time.UnixMilli(int64(n>>22) + 1420070400000).UTC()
}

// replyState is what the bot stores with a job to answer later: the
// interaction whose response shows the job, and where its member is.
type replyState struct {
	AppID         string    `json:"app_id"`
	Token         string    `json:"interaction_token"`
	InteractionID string    `json:"interaction_id"`
	ChannelID     string    `json:"channel_id,omitempty"`
	GuildID       string    `json:"guild_id,omitempty"`
	UserID        string    `json:"user_id"`
	Locale        string    `json:"locale,omitempty"`
	Created       time.Time `json:"created"`
	UploadLimit   int64     `json:"attachment_size_limit,omitempty"`
}

func (b *Bot) replyOf(ev *event, m member) replyState {
	in := ev.in
	return replyState{
		AppID:         b.appID,
		Token:         in.Token,
		InteractionID: in.ID,
		ChannelID:     in.ChannelID,
		GuildID:       in.GuildID,
		UserID:        m.id.UserID,
		Locale:        string(in.Locale),
		Created:       snowflakeTime(in.ID),
		UploadLimit:   ev.uploadLimit,
	}
}

func parseReply(raw []byte) (replyState, bool) {
	var st replyState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil || st.UserID == "" || (st.Token == "" && st.ChannelID == "") {
		return replyState{}, false
	}
	return st, true
}

func (st replyState) marshal() []byte {
	raw, _ := json.Marshal(st)
	return raw
}

// handleCommand runs a slash command after its acknowledgement and edits
// the response with the answer.
func (b *Bot) handleCommand(ctx context.Context, ev *event, data discordgo.ApplicationCommandInteractionData) {
	m, ok := memberOf(ev.in)
	if !ok {
		b.log.Warn("command without a member", "interaction_id", ev.in.ID)
		return
	}
	st := b.replyOf(ev, m)
	log := b.log.With("user", m.id.String(), "interaction_id", ev.in.ID, "command", data.Name)
	if data.Name == command.Gen {
		b.gen(ctx, log, ev, m, st, data)
		return
	}
	cmd := command.Command{Name: data.Name, Args: commandArgs(data)}
	text, ok := b.handler.Handle(ctx, m.id, m.lang, cmd)
	if !ok || strings.TrimSpace(text) == "" {
		text = command.Message(m.lang, command.KeyHelp)
	}
	log.Info("command")
	if err := b.editText(ctx, st, text); err != nil {
		log.Error("answering command failed", "err", err)
	}
}

// commandArgs writes a slash command's options as the chat grammar's
// arguments: /redeem CODE → "CODE", /top likes week → "likes week".
func commandArgs(data discordgo.ApplicationCommandInteractionData) string {
	var order []string
	switch data.Name {
	case command.Redeem, command.Link:
		order = []string{optCode}
	case command.Cancel:
		order = []string{optID}
	case command.Top:
		order = []string{optBoard, optPeriod}
	}
	opts := optionMap(data.Options)
	var args []string
	for _, name := range order {
		if s := strings.TrimSpace(stringOpt(opts, name)); s != "" {
			args = append(args, strings.Join(strings.Fields(s), " "))
		}
	}
	return strings.Join(args, " ")
}

func optionMap(opts []*discordgo.ApplicationCommandInteractionDataOption) map[string]*discordgo.ApplicationCommandInteractionDataOption {
	m := make(map[string]*discordgo.ApplicationCommandInteractionDataOption, len(opts))
	for _, o := range opts {
		if o != nil {
			m[o.Name] = o
		}
	}
	return m
}

func stringOpt(opts map[string]*discordgo.ApplicationCommandInteractionDataOption, name string) string {
	if o := opts[name]; o != nil {
		switch v := o.Value.(type) {
		case string:
			return v
		case float64:
			return strconv.FormatInt(int64(v), 10)
		}
	}
	return ""
}

// intOpt returns an integer option; ok is false when absent, bad is true
// when present but not a whole number.
func intOpt(opts map[string]*discordgo.ApplicationCommandInteractionDataOption, name string) (n int64, ok, bad bool) {
	o := opts[name]
	if o == nil || o.Value == nil {
		return 0, false, false
	}
	switch v := o.Value.(type) {
	case float64:
		if v != float64(int64(v)) {
			return 0, true, true
		}
		return int64(v), true, false
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, true, err != nil
	}
	return 0, true, true
}

func boolOpt(opts map[string]*discordgo.ApplicationCommandInteractionDataOption, name string) (v, ok bool) {
	if o := opts[name]; o != nil {
		if bv, isBool := o.Value.(bool); isBool {
			return bv, true
		}
	}
	return false, false
}
