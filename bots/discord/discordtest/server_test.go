package discordtest_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng/bots/discord/discordtest"
)

func newSession(t *testing.T, s *discordtest.Server) *discordgo.Session {
	t.Helper()
	dg, err := discordgo.New("Bot " + s.Token)
	if err != nil {
		t.Fatal(err)
	}
	dg.Client = s.Client()
	dg.MaxRestRetries = 1
	return dg
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// restCode returns the HTTP status and Discord error code of err.
func restCode(err error) (status, code int) {
	var re *discordgo.RESTError
	if !errors.As(err, &re) {
		return 0, 0
	}
	if re.Message != nil {
		code = re.Message.Code
	}
	return re.Response.StatusCode, code
}

var member = discordtest.User{ID: "80351110224678912", Username: "nelly", GlobalName: "Nelly", Locale: "zh-CN"}

func TestGenInteractionPayload(t *testing.T) {
	s := discordtest.NewServer(t)
	img := pngBytes(t, 64, 48)
	raw, i := s.GenInteraction(discordtest.GenArgs{User: member, GuildID: "290926798626357999", ChannelID: "290926798626357250",
		Image: img, Prompt: "镜头缓慢推近", Seconds: 10, Mode: "pro", Seed: 42, Relax: true})

	// The documented shape, field by field.
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "application_id", "type", "data", "guild_id", "channel", "channel_id", "member", "token", "version",
		"app_permissions", "locale", "guild_locale", "entitlements", "authorizing_integration_owners", "context", "attachment_size_limit"} {
		if _, ok := p[k]; !ok {
			t.Errorf("payload lacks %s", k)
		}
	}
	if _, ok := p["user"]; ok {
		t.Error("guild interaction carries user")
	}
	if p["version"] != 1.0 || p["type"] != 2.0 || p["attachment_size_limit"] != float64(10<<20) || p["locale"] != "zh-CN" {
		t.Errorf("payload %s", raw)
	}
	data := p["data"].(map[string]any)
	if data["name"] != "gen" || data["type"] != 1.0 {
		t.Errorf("data %v", data)
	}

	if i.Type != discordgo.InteractionApplicationCommand || i.AppID != s.AppID || i.Member == nil || i.Member.User.ID != member.ID ||
		i.Member.User.GlobalName != "Nelly" || i.Locale != discordgo.ChineseCN || i.Token == "" || i.AppPermissions == 0 {
		t.Fatalf("interaction %+v", i)
	}
	created, err := discordgo.SnowflakeTimestamp(i.ID)
	if err != nil || time.Since(created) > time.Minute || time.Since(created) < -time.Second {
		t.Errorf("snowflake %s → %v %v", i.ID, created, err)
	}
	if c, _ := discordtest.SnowflakeTime(i.ID); !c.Equal(created) {
		t.Errorf("SnowflakeTime %v, discordgo %v", c, created)
	}
	if next := s.Snowflake(); next <= i.ID && len(next) == len(i.ID) {
		t.Errorf("snowflakes not increasing: %s after %s", next, i.ID)
	}
	d := i.ApplicationCommandData()
	want := map[string]discordgo.ApplicationCommandOptionType{"image": 11, "prompt": 3, "seconds": 4, "mode": 3, "seed": 4, "relax": 5}
	if len(d.Options) != len(want) {
		t.Errorf("options %v", d.Options)
	}
	for _, o := range d.Options {
		if want[o.Name] != o.Type {
			t.Errorf("option %s type %d", o.Name, o.Type)
		}
	}
	if d.GetOption("seconds").IntValue() != 10 || d.GetOption("prompt").StringValue() != "镜头缓慢推近" || !d.GetOption("relax").BoolValue() {
		t.Errorf("option values %v", d.Options)
	}
	att := d.Resolved.Attachments[d.GetOption("image").Value.(string)]
	if att == nil || att.Size != len(img) || att.Width != 64 || att.Height != 48 || att.ContentType != "image/png" || att.Filename == "" {
		t.Fatalf("attachment %+v", att)
	}
	resp, err := s.Client().Get(att.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, img) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("CDN served %d bytes, %s", len(got), resp.Header.Get("Content-Type"))
	}

	// A DM carries user instead of member.
	raw, i = s.CommandInteraction(member, "", "", "balance", map[string]any{"page": 2, "all": true})
	if i.Member != nil || i.User == nil || i.User.ID != member.ID || i.GuildID != "" || i.ChannelID != s.DMChannel(member.ID) {
		t.Errorf("DM interaction %s", raw)
	}
	if o := i.ApplicationCommandData().Options; len(o) != 2 || o[0].Name != "all" || o[0].Type != 5 || o[1].Type != 4 {
		t.Errorf("options %v", o)
	}
	if !bytes.Contains(raw, []byte(`"context":1`)) {
		t.Errorf("DM context: %s", raw)
	}
	if p := s.PingInteraction(); !bytes.Contains(p, []byte(`"type":1`)) {
		t.Errorf("ping %s", p)
	}
}

func TestSignature(t *testing.T) {
	s := discordtest.NewServer(t)
	key, err := hex.DecodeString(s.PublicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		t.Fatalf("public key %q", s.PublicKey)
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !discordgo.VerifyInteraction(r, ed25519.PublicKey(key)) {
			http.Error(w, "invalid request signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":1}`)
	}))
	defer app.Close()
	ping := s.PingInteraction()
	if resp := s.Post(t, app.URL, ping); resp.StatusCode != 200 {
		t.Errorf("signed ping: %d", resp.StatusCode)
	}
	sig, ts := s.Sign(ping, time.Now())
	altered := bytes.Replace(ping, []byte(`"type":1`), []byte(`"type":2`), 1)
	if resp := s.PostSigned(t, app.URL, altered, sig, ts); resp.StatusCode != 401 {
		t.Errorf("altered body: %d", resp.StatusCode)
	}
	if resp := s.PostSigned(t, app.URL, ping, "", ts); resp.StatusCode != 401 {
		t.Errorf("no signature: %d", resp.StatusCode)
	}
	stale, oldTS := s.Sign(ping, time.Now().Add(-time.Hour))
	if oldTS == ts {
		t.Error("stale timestamp equals now")
	}
	if resp := s.PostSigned(t, app.URL, ping, stale, oldTS); resp.StatusCode != 200 {
		t.Errorf("stale but valid signature: %d (only the front end can refuse it)", resp.StatusCode)
	}
}

func TestInteractionResponses(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	_, i := s.GenInteraction(discordtest.GenArgs{User: member, GuildID: "1", ChannelID: "2", Image: pngBytes(t, 8, 8), Prompt: "hi"})

	// Before any callback there is no @original and no followup.
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("x")}); !is(err, 404, 10008) {
		t.Errorf("edit before callback: %v", err)
	}
	if _, err := dg.FollowupMessageCreate(i, true, &discordgo.WebhookParams{Content: "x"}); !is(err, 404, 10015) {
		t.Errorf("followup before callback: %v", err)
	}
	defer_ := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
	if err := dg.InteractionRespond(i, defer_); err != nil {
		t.Fatal(err)
	}
	if err := dg.InteractionRespond(i, defer_); !is(err, 400, 40060) {
		t.Errorf("second callback: %v", err)
	}
	if n := s.Callbacks(i.ID); n != 1 || s.CallbackType(i.ID) != 5 {
		t.Errorf("callbacks %d type %d", n, s.CallbackType(i.ID))
	}
	if o, ok := s.Original(i.Token); !ok || o.Flags&(1<<7) == 0 {
		t.Errorf("deferred original %+v %v", o, ok)
	}

	// Progress edit, then the video as a file with a button.
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("生成中 40%")}); err != nil {
		t.Fatal(err)
	}
	button := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "❤️", Style: discordgo.SecondaryButton, CustomID: "like:job1"}}}}
	msg, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{
		Content:    ptr("done"),
		Components: &button,
		Files:      []*discordgo.File{{Name: "video.mp4", ContentType: "video/mp4", Reader: strings.NewReader("mp4 bytes")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Attachments) != 1 || msg.Attachments[0].Filename != "video.mp4" || msg.Content != "done" {
		t.Errorf("edited message %+v", msg)
	}
	o, ok := s.Original(i.Token)
	if !ok || o.Content != "done" || o.Edits != 2 || len(o.Files) != 1 || string(o.Files[0].Data) != "mp4 bytes" ||
		o.Files[0].ContentType != "video/mp4" || o.Flags != 0 || len(o.CustomIDs) != 1 || o.CustomIDs[0] != "like:job1" || len(o.Components) != 1 {
		t.Errorf("original %+v", o)
	}
	// An edit listing no attachments removes them; one without the field keeps them.
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("done!")}); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Original(i.Token); len(o.Files) != 1 {
		t.Errorf("attachments dropped by an edit without the field: %+v", o)
	}
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Attachments: &[]*discordgo.MessageAttachment{}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Original(i.Token); len(o.Files) != 0 {
		t.Errorf("attachments kept by an edit listing none: %+v", o)
	}

	f, err := dg.FollowupMessageCreate(i, true, &discordgo.WebhookParams{Content: "extra", Flags: discordgo.MessageFlagsEphemeral})
	if err != nil {
		t.Fatal(err)
	}
	if fs := s.Followups(i.Token); len(fs) != 1 || fs[0].ID != f.ID || fs[0].Flags != 64 {
		t.Errorf("followups %+v", fs)
	}
	if _, err := dg.FollowupMessageEdit(i, f.ID, &discordgo.WebhookEdit{Content: ptr("extra!")}); err != nil {
		t.Fatal(err)
	}

	// Limits: 2000 characters, empty messages.
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr(strings.Repeat("字", 2001))}); !is(err, 400, 50035) {
		t.Errorf("long content: %v", err)
	}
	if _, err := dg.FollowupMessageCreate(i, true, &discordgo.WebhookParams{}); !is(err, 400, 50006) {
		t.Errorf("empty followup: %v", err)
	}

	// Tokens end: ExpireToken, or the TTL.
	s.ExpireToken(i.Token)
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("late")}); !is(err, 401, 50027) {
		t.Errorf("expired token: %v", err)
	}
	_, j := s.CommandInteraction(member, "1", "2", "help", nil)
	s.SetTokenTTL(200 * time.Millisecond)
	if err := dg.InteractionRespond(j, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: "help"}}); err != nil {
		t.Fatal(err)
	}
	if o, ok := s.Original(j.Token); !ok || o.Content != "help" {
		t.Errorf("original %+v", o)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := dg.FollowupMessageCreate(j, true, &discordgo.WebhookParams{Content: "late"}); !is(err, 401, 50027) {
		t.Errorf("token past its TTL: %v", err)
	}
}

func TestDeferredFollowupFillsOriginal(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	_, i := s.CommandInteraction(member, "1", "2", "balance", nil)
	if err := dg.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}); err != nil {
		t.Fatal(err)
	}
	m, err := dg.FollowupMessageCreate(i, true, &discordgo.WebhookParams{Content: "100 credits"})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := s.Original(i.Token)
	if !ok || o.ID != m.ID || o.Content != "100 credits" || o.Flags != 64 || len(s.Followups(i.Token)) != 0 {
		t.Errorf("original %+v, followups %+v", o, s.Followups(i.Token))
	}
}

func TestUploadLimit(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	_, i := s.GenInteraction(discordtest.GenArgs{User: member, GuildID: "1", ChannelID: "3", Prompt: "x", AttachmentSizeLimit: 100})
	if err := dg.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}); err != nil {
		t.Fatal(err)
	}
	big := &discordgo.File{Name: "v.mp4", ContentType: "video/mp4", Reader: bytes.NewReader(make([]byte, 101))}
	if _, err := dg.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("v"), Files: []*discordgo.File{big}}); !is(err, 413, 40005) {
		t.Errorf("over the interaction's attachment_size_limit: %v", err)
	}
	if _, err := dg.ChannelMessageSendComplex("3", &discordgo.MessageSend{Files: []*discordgo.File{{Name: "v.mp4",
		Reader: bytes.NewReader(make([]byte, discordtest.DefaultUploadLimit+1))}}}); !is(err, 413, 40005) {
		t.Errorf("over 10 MiB: %v", err)
	}
	s.SetUploadLimit("3", 10)
	if _, err := dg.ChannelMessageSendComplex("3", &discordgo.MessageSend{Files: []*discordgo.File{{Name: "v.mp4",
		Reader: bytes.NewReader(make([]byte, 11))}}}); !is(err, 413, 40005) {
		t.Errorf("over the channel limit: %v", err)
	}
	if _, err := dg.ChannelMessageSendComplex("3", &discordgo.MessageSend{Files: []*discordgo.File{{Name: "v.mp4",
		Reader: bytes.NewReader(make([]byte, 10))}}}); err != nil {
		t.Errorf("at the channel limit: %v", err)
	}
	if n := len(s.ChannelMessages("3")); n != 1 {
		t.Errorf("%d channel messages", n)
	}
}

// nonceSend is a channel message with a nonce, which discordgo's
// MessageSend lacks.
type nonceSend struct {
	*discordgo.MessageSend
	Nonce        string `json:"nonce,omitempty"`
	EnforceNonce bool   `json:"enforce_nonce,omitempty"`
}

func TestChannelMessages(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	dm, err := dg.UserChannelCreate(member.ID)
	if err != nil || dm.ID != s.DMChannel(member.ID) || dm.Type != discordgo.ChannelTypeDM {
		t.Fatalf("DM channel %+v %v", dm, err)
	}
	send := func(nonce string, content string) *discordgo.Message {
		t.Helper()
		ep := discordgo.EndpointChannelMessages(dm.ID)
		ctype, body, err := discordgo.MultipartBodyWithJSON(nonceSend{MessageSend: &discordgo.MessageSend{Content: content}, Nonce: nonce, EnforceNonce: true},
			[]*discordgo.File{{Name: "v.mp4", ContentType: "video/mp4", Reader: strings.NewReader(content)}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := dg.RequestRaw("POST", ep, ctype, body, ep, 0)
		if err != nil {
			t.Fatal(err)
		}
		var m discordgo.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return &m
	}
	a := send("job-1", "first")
	b := send("job-1", "second")
	c := send("job-2", "third")
	if a.ID != b.ID || b.Content != "first" || c.ID == a.ID {
		t.Errorf("nonce dedup: %s %s %s", a.ID, b.ID, c.ID)
	}
	ms := s.ChannelMessages(dm.ID)
	if len(ms) != 2 || ms[0].Nonce != "job-1" || string(ms[0].Files[0].Data) != "first" {
		t.Errorf("channel messages %+v", ms)
	}
	if _, err := dg.ChannelMessageEdit(dm.ID, a.ID, "edited"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.MessageByID(a.ID); m.Content != "edited" || m.Edits != 1 || len(m.Files) != 1 {
		t.Errorf("edited %+v", m)
	}

	// Bad components are refused as Discord refuses them.
	dup := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "a", CustomID: "x", Style: 1}, discordgo.Button{Label: "b", CustomID: "x", Style: 1}}}}
	if _, err := dg.ChannelMessageSendComplex(dm.ID, &discordgo.MessageSend{Content: "x", Components: dup}); !is(err, 400, 50035) {
		t.Errorf("duplicate custom ids: %v", err)
	}
	long := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "a", CustomID: strings.Repeat("x", 101), Style: 1}}}}
	if _, err := dg.ChannelMessageSendComplex(dm.ID, &discordgo.MessageSend{Content: "x", Components: long}); !is(err, 400, 50035) {
		t.Errorf("long custom id: %v", err)
	}

	// Authorization is required.
	anon, _ := discordgo.New("Bot wrong")
	anon.Client = s.Client()
	if _, err := anon.ChannelMessageSend(dm.ID, "x"); !is(err, 401, 0) {
		t.Errorf("wrong token: %v", err)
	}
}

func TestComponentInteraction(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	row := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "❤️ 0", Style: discordgo.SecondaryButton, CustomID: "like:job1"}}}}
	m, err := dg.ChannelMessageSendComplex("5", &discordgo.MessageSend{Content: "video", Components: row})
	if err != nil {
		t.Fatal(err)
	}
	raw, i := s.ComponentInteraction(member, "1", "5", m.ID, "like:job1")
	if i.Type != discordgo.InteractionMessageComponent || i.MessageComponentData().CustomID != "like:job1" ||
		i.MessageComponentData().ComponentType != discordgo.ButtonComponent || i.Message == nil || i.Message.ID != m.ID ||
		len(i.Message.Components) != 1 {
		t.Fatalf("component interaction %s", raw)
	}
	row[0].(discordgo.ActionsRow).Components[0] = discordgo.Button{Label: "❤️ 1", Style: discordgo.SecondaryButton, CustomID: "like:job1"}
	if err := dg.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseUpdateMessage,
		Data: &discordgo.InteractionResponseData{Content: "video", Components: row}}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.MessageByID(m.ID)
	b := got.Components[0].(*discordgo.ActionsRow).Components[0].(*discordgo.Button)
	if got.Content != "video" || b.Label != "❤️ 1" || got.Edits != 1 {
		t.Errorf("updated message %+v %+v", got, b)
	}
	if o, ok := s.Original(i.Token); !ok || o.ID != m.ID {
		t.Errorf("component original %+v", o)
	}
	// A deferred update acknowledges without changing anything.
	_, j := s.ComponentInteraction(member, "1", "5", m.ID, "like:job1")
	if err := dg.InteractionRespond(j, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.MessageByID(m.ID); got.Edits != 1 {
		t.Errorf("deferred update edited: %+v", got)
	}
	// PONG is for pings only.
	_, k := s.ComponentInteraction(member, "1", "5", m.ID, "like:job1")
	if err := dg.InteractionRespond(k, &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}); !is(err, 400, 50035) {
		t.Errorf("pong to a button: %v", err)
	}
}

func TestCommandsAndFailures(t *testing.T) {
	s := discordtest.NewServer(t)
	dg := newSession(t, s)
	zh := map[discordgo.Locale]string{discordgo.ChineseCN: "生成"}
	zhDesc := map[discordgo.Locale]string{discordgo.ChineseCN: "从图片生成视频"}
	cmds := []*discordgo.ApplicationCommand{{
		Name: "gen", Description: "Image to video", NameLocalizations: &zh, DescriptionLocalizations: &zhDesc,
		Options: []*discordgo.ApplicationCommandOption{
			{Type: discordgo.ApplicationCommandOptionAttachment, Name: "image", Description: "The image", Required: true},
			{Type: discordgo.ApplicationCommandOptionString, Name: "prompt", Description: "What moves", Required: true},
			{Type: discordgo.ApplicationCommandOptionInteger, Name: "seconds", Description: "Length", Choices: []*discordgo.ApplicationCommandOptionChoice{
				{Name: "5", Value: 5}, {Name: "10", Value: 10}}},
		},
	}, {Name: "balance", Description: "Your credits"}}
	got, err := dg.ApplicationCommandBulkOverwrite(s.AppID, "", cmds)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID == "" || got[0].ApplicationID != s.AppID {
		t.Errorf("registered %+v", got)
	}
	reg := s.Commands("")
	if len(reg) != 2 || reg[0].Name != "gen" || (*reg[0].NameLocalizations)[discordgo.ChineseCN] != "生成" || len(s.Commands("9")) != 0 {
		t.Errorf("commands %+v", reg)
	}
	// Ids stay across overwrites; interactions carry them.
	again, _ := dg.ApplicationCommandBulkOverwrite(s.AppID, "", cmds)
	if again[0].ID != got[0].ID {
		t.Errorf("id changed: %s → %s", got[0].ID, again[0].ID)
	}
	if _, i := s.CommandInteraction(member, "", "", "balance", nil); i.ApplicationCommandData().ID != got[1].ID {
		t.Errorf("interaction command id %s, registered %s", i.ApplicationCommandData().ID, got[1].ID)
	}
	for name, bad := range map[string]*discordgo.ApplicationCommand{
		"upper case":     {Name: "Gen", Description: "x"},
		"no description": {Name: "gen"},
		"bad locale":     {Name: "gen", Description: "x", NameLocalizations: &map[discordgo.Locale]string{"zh": "生成"}},
		"long desc":      {Name: "gen", Description: strings.Repeat("x", 101)},
		"required after optional": {Name: "gen", Description: "x", Options: []*discordgo.ApplicationCommandOption{
			{Type: 3, Name: "a", Description: "a"}, {Type: 3, Name: "b", Description: "b", Required: true}}},
	} {
		if _, err := dg.ApplicationCommandBulkOverwrite(s.AppID, "7", []*discordgo.ApplicationCommand{bad}); !is(err, 400, 50035) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Injected failures: 500 once, and a 429 discordgo waits out.
	s.FailNext("GET", "/users/@me", 500, "")
	if _, err := dg.User("@me"); !is(err, 500, 0) {
		t.Errorf("injected 500: %v", err)
	}
	if u, err := dg.User("@me"); err != nil || u.ID != s.AppID || !u.Bot {
		t.Errorf("after the failure: %+v %v", u, err)
	}
	s.FailNext("", "/users/@me", 429, "")
	if _, err := dg.User("@me"); err != nil {
		t.Errorf("after a 429: %v", err)
	}
	calls := s.CallsTo("GET", "/users/@me")
	if len(calls) != 4 || calls[0].Status != 500 || calls[2].Status != 429 || calls[3].Status != 200 {
		t.Errorf("calls %+v", calls)
	}
	if put := s.CallsTo("PUT", "/applications/"); len(put) == 0 || put[0].Payload != nil || !bytes.HasPrefix(put[0].Body, []byte(`[{"name":"gen"`)) {
		t.Errorf("recorded PUTs %+v", put)
	}
}

func TestGateway(t *testing.T) {
	s := discordtest.NewServer(t)
	s.SetHeartbeatInterval(100 * time.Millisecond)
	dg := newSession(t, s)
	dg.LogLevel = discordgo.LogError
	got := make(chan *discordgo.InteractionCreate, 8)
	dg.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) { got <- ic })
	ready := make(chan *discordgo.Ready, 2)
	dg.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { ready <- r })
	if gb, err := dg.GatewayBot(); err != nil || !strings.HasPrefix(gb.URL, "ws://") || gb.Shards != 1 {
		t.Fatalf("GET /gateway/bot: %+v %v", gb, err)
	}
	if err := dg.Open(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ready:
		if r.SessionID == "" || r.User == nil || r.User.ID != s.AppID || r.Application == nil || r.Application.ID != s.AppID {
			t.Errorf("READY %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no READY")
	}
	s.WaitFor(t, s.GatewayConnected, "a gateway session")

	receive := func(id string) *discordgo.InteractionCreate {
		t.Helper()
		select {
		case ic := <-got:
			if ic.ID != id {
				t.Fatalf("interaction %s, want %s", ic.ID, id)
			}
			return ic
		case <-time.After(20 * time.Second):
			t.Fatalf("interaction %s not received", id)
			return nil
		}
	}
	_, i := s.GenInteraction(discordtest.GenArgs{User: member, GuildID: "1", ChannelID: "2", Image: pngBytes(t, 4, 4), Prompt: "hi"})
	s.Dispatch(i)
	ic := receive(i.ID)
	if ic.ApplicationCommandData().Name != "gen" || ic.Member.User.ID != member.ID || ic.Token != i.Token {
		t.Errorf("dispatched %+v", ic.Interaction)
	}
	s.ReplayLast()
	receive(i.ID)
	if err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: "queued"}}); err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, func() bool { _, _, hb := s.GatewayStats(); return hb >= 3 }, "heartbeats")

	// A dropped connection resumes and gets what it missed.
	s.DropGateway()
	_, j := s.CommandInteraction(member, "1", "2", "balance", nil)
	s.Dispatch(j)
	receive(j.ID)
	s.WaitFor(t, func() bool { _, resumes, _ := s.GatewayStats(); return resumes == 1 }, "a resume")
	if n, _, _ := s.GatewayStats(); n != 1 {
		t.Errorf("%d identifies", n)
	}
	var ops []float64
	for _, c := range s.CallsTo("WS", "/gateway") {
		if op := c.Payload["op"].(float64); op != 1 {
			ops = append(ops, op)
		}
	}
	if len(ops) != 2 || ops[0] != 2 || ops[1] != 6 {
		t.Errorf("gateway frames other than heartbeats: ops %v", ops)
	}
	if err := dg.Close(); err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, func() bool { return !s.GatewayConnected() }, "the session to close")

	// A wrong token is refused with close code 4004.
	bad := newSession(t, s)
	bad.Token, bad.Identify.Token = "Bot wrong", "Bot wrong"
	bad.ShouldReconnectOnError = false
	bad.LogLevel = -1
	if err := bad.Open(); err == nil {
		bad.Close()
		t.Error("IDENTIFY with a wrong token accepted")
	}
}

func is(err error, status, code int) bool {
	st, c := restCode(err)
	return st == status && c == code
}

func ptr[T any](v T) *T { return &v }
