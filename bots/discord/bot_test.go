package discord_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/discord"
	"github.com/paimeng/paimeng/bots/discord/discordtest"
	"github.com/paimeng/paimeng/internal/testenv"
)

const (
	guildID   = "800000000000000001"
	channelID = "800000000000000002"
)

var (
	zhMember = discordtest.User{ID: "100000000000000042", Username: "paimon", GlobalName: "派蒙", Locale: "zh-CN"}
	enMember = discordtest.User{ID: "100000000000000043", Username: "lumine", Locale: "en-US"}
)

func identity(u discordtest.User) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: u.ID}
}

type env struct {
	t       *testing.T
	srv     *discordtest.Server
	svc     *service
	handler *command.Handler
	cfg     discord.Config
	bot     *discord.Bot
	app     *httptest.Server
	logs    *testenv.LogBuffer
}

func newEnv(t *testing.T, configure ...func(*discord.Config)) *env {
	t.Helper()
	svc := newService()
	e := &env{t: t, srv: discordtest.NewServer(t), svc: svc, handler: newHandler(svc), logs: &testenv.LogBuffer{}}
	e.cfg = discord.Config{
		Token:     e.srv.Token,
		AppID:     e.srv.AppID,
		PublicKey: e.srv.PublicKey,
		APIURL:    e.srv.URL,
		GuildID:   guildID,
		PublicURL: "https://paimeng.example",
		// A plain client: the bot itself sends Discord's API URLs to APIURL.
		HTTPClient: &http.Client{Timeout: time.Minute},
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range configure {
		f(&e.cfg)
	}
	e.bot, e.app = e.start()
	return e
}

// start makes a bot over the same services (another process, with an
// empty memory), serves its endpoint and runs it until the test ends.
func (e *env) start() (*discord.Bot, *httptest.Server) {
	e.t.Helper()
	bot, err := discord.New(e.cfg, e.svc, e.svc, e.svc, e.handler, e.svc)
	if err != nil {
		e.t.Fatal(err)
	}
	app := httptest.NewServer(bot.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
		app.Close()
	})
	return bot, app
}

func endpoint(app *httptest.Server) string { return app.URL + discord.InteractionsPath }

// ack is an answer of the interactions endpoint.
type ack struct {
	Type int `json:"type"`
	Data *struct {
		Content string `json:"content"`
		Flags   int    `json:"flags"`
	} `json:"data"`
}

func (a ack) flags() int {
	if a.Data == nil {
		return 0
	}
	return a.Data.Flags
}

// postTo delivers an interaction to an endpoint as Discord does (signed,
// the answer taken as the callback) and decodes the answer.
func (e *env) postTo(app *httptest.Server, raw []byte, in *discordgo.Interaction) ack {
	e.t.Helper()
	resp := e.srv.Post(e.t, endpoint(app), raw)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("endpoint answered %d %s", resp.StatusCode, body)
	}
	var a ack
	if err := json.Unmarshal(body, &a); err != nil {
		e.t.Fatalf("endpoint answer %q: %v", body, err)
	}
	return a
}

func (e *env) post(raw []byte, in *discordgo.Interaction) ack { return e.postTo(e.app, raw, in) }

// original waits for the interaction's response to satisfy cond.
func (e *env) original(in *discordgo.Interaction, what string, cond func(m discordtest.Message) bool) discordtest.Message {
	e.t.Helper()
	var m discordtest.Message
	e.srv.WaitFor(e.t, func() bool {
		var ok bool
		m, ok = e.srv.Original(in.Token)
		return ok && cond(m)
	}, "%s", what)
	return m
}

func (e *env) originalText(in *discordgo.Interaction, want string) discordtest.Message {
	e.t.Helper()
	return e.original(in, "response "+want, func(m discordtest.Message) bool { return m.Content == want })
}

func pngImage() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func mp4(n int) []byte {
	return append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{7}, n)...)
}

// job returns a job of the fake store.
func (e *env) job(id string) *paimeng.Job {
	e.t.Helper()
	j, err := e.svc.Job(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// succeed finishes a job with a video.
func (e *env) succeed(id string, video []byte) *paimeng.Job {
	key := "out/" + id + ".mp4"
	e.svc.Put(context.Background(), key, bytes.NewReader(video))
	return e.svc.Finish(id, paimeng.JobSucceeded, key, "")
}

// gen posts a /gen and waits for its acknowledgement.
func (e *env) gen(a discordtest.GenArgs) (*discordgo.Interaction, *paimeng.Job) {
	e.t.Helper()
	if a.Image == nil {
		a.Image = pngImage()
	}
	if a.GuildID == "" {
		a.GuildID = guildID
	}
	if a.ChannelID == "" {
		a.ChannelID = channelID
	}
	n := e.svc.JobCount()
	raw, in := e.srv.GenInteraction(a)
	e.post(raw, in)
	e.srv.WaitFor(e.t, func() bool { return e.svc.JobCount() > n }, "job submitted")
	j := e.job(e.svc.LastJobID())
	lang := paimeng.LangFromCode(a.User.Locale)
	e.originalText(in, command.AckNotes(command.QueuedPriceText(lang, j.ID, 1, j.Price), command.CameraLine(lang, j.Shot)))
	return in, j
}

func (e *env) deliver(j *paimeng.Job) {
	e.t.Helper()
	if err := e.bot.Deliver(context.Background(), j); err != nil {
		e.t.Fatalf("Deliver: %v", err)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t)
	resp := e.srv.Post(t, endpoint(e.app), e.srv.PingInteraction())
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"type":1}` {
		t.Fatalf("PING answered %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

func TestGenAcknowledgesBeforeSubmitting(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	entered := e.svc.Gate(gate)

	img := pngImage()
	raw, in := e.srv.GenInteraction(discordtest.GenArgs{
		User: zhMember, GuildID: guildID, ChannelID: channelID, Image: img, Filename: "cat.png",
		Prompt: "镜头缓慢推近", Seconds: 10, Mode: "pro", Seed: 42, Camera: "zoom:5", Relax: true,
		AttachmentSizeLimit: 25 << 20,
	})
	start := time.Now()
	a := e.post(raw, in)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("acknowledged after %s", d)
	}
	if a.Type != 5 || a.flags() != 0 {
		t.Fatalf("answer %+v, want a public deferred response", a)
	}
	// The submitter is still blocked: the acknowledgement did not wait.
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("Submit never called")
	}
	if m, ok := e.srv.Original(in.Token); !ok || m.Content != "" || len(e.svc.Submits()) != 0 {
		t.Fatalf("response %+v before Submit returned", m)
	}
	close(gate)

	e.srv.WaitFor(t, func() bool { return len(e.svc.Submits()) == 1 }, "submit")
	r := e.svc.Submits()[0]
	if r.Identity != identity(zhMember) || r.DisplayName != "派蒙" || r.Lang != paimeng.LangZH {
		t.Errorf("identity %v name %q lang %q", r.Identity, r.DisplayName, r.Lang)
	}
	if r.IdempotencyKey != "discord:"+in.ID {
		t.Errorf("key %q", r.IdempotencyKey)
	}
	if !bytes.Equal(r.Image, img) {
		t.Errorf("image is %d bytes, want the attachment's %d", len(r.Image), len(img))
	}
	if r.Prompt != "镜头缓慢推近" || r.Seconds != 10 || r.Mode != paimeng.ModePro || r.Seed != 42 || r.Lane != paimeng.LaneRelax {
		t.Errorf("prompt %q seconds %d mode %q seed %d lane %q", r.Prompt, r.Seconds, r.Mode, r.Seed, r.Lane)
	}
	if r.Camera.String() != "zoom:5" || r.Tail != nil || r.FPS != 0 || r.Resolution != 0 || r.Aspect != "" || r.Shot != nil {
		t.Errorf("camera %q tail %d bytes fps %d resolution %d aspect %q shot %v", r.Camera.String(), len(r.Tail), r.FPS, r.Resolution, r.Aspect, r.Shot)
	}
	var st map[string]any
	if err := json.Unmarshal(r.Reply, &st); err != nil {
		t.Fatal(err)
	}
	created, _ := discordtest.SnowflakeTime(in.ID)
	for k, want := range map[string]any{
		"app_id": e.srv.AppID, "interaction_token": in.Token, "interaction_id": in.ID, "channel_id": channelID,
		"guild_id": guildID, "user_id": zhMember.ID, "locale": "zh-CN", "attachment_size_limit": float64(25 << 20),
		"created": created.UTC().Format(time.RFC3339Nano),
	} {
		if got := st[k]; got != want {
			t.Errorf("reply state %s = %v, want %v", k, got, want)
		}
	}

	j := e.job("j001")
	// The acknowledgement says how the camera will move.
	m := e.originalText(in, command.QueuedPriceText(paimeng.LangZH, "j001", 1, j.Price)+"\n"+command.CameraLine(paimeng.LangZH, j.Shot))
	if !strings.Contains(m.Content, "🎥 镜头："+command.DescribeShot(paimeng.LangZH, j.Shot)) {
		t.Errorf("acknowledgement %q lacks the camera line", m.Content)
	}
	if m.Flags&64 != 0 || len(m.Files) != 0 {
		t.Errorf("acknowledgement %+v", m)
	}

	e.deliver(e.succeed("j001", mp4(4000)))
	m = e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	if f := m.Files[0]; !strings.HasSuffix(f.Name, ".mp4") || f.ContentType != "video/mp4" || !bytes.Equal(f.Data, mp4(4000)) {
		t.Errorf("file %s %s %d bytes", f.Name, f.ContentType, len(f.Data))
	}
	// In a server the caption leaves the balance out: it is personal.
	if want := command.DoneCaption(paimeng.LangZH, j.Prompt, 42, -1); m.Content != want {
		t.Errorf("caption %q, want %q", m.Content, want)
	}
	if want := []string{"pm:rerun:j001", "pm:seed:j001", command.LikeData("j001")}; !slices.Equal(m.CustomIDs, want) {
		t.Errorf("buttons %v, want %v", m.CustomIDs, want)
	}
	if len(e.srv.ChannelMessages(channelID)) != 0 {
		t.Error("result also posted in the channel")
	}
	e.srv.WaitFor(t, func() bool {
		l := e.logs.String()
		return strings.Contains(l, "platform=discord") && strings.Contains(l, "job_id=j001") && strings.Contains(l, "user=discord:"+zhMember.ID)
	}, "log attributes")
}

func TestRefusedRequests(t *testing.T) {
	e := newEnv(t)
	raw, _ := e.srv.GenInteraction(discordtest.GenArgs{User: zhMember, GuildID: guildID, ChannelID: channelID, Image: pngImage()})
	url := endpoint(e.app)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged := hex.EncodeToString(ed25519.Sign(other, append([]byte("0"), raw...)))
	sig, ts := e.srv.Sign(raw, time.Now())
	staleSig, staleTS := e.srv.Sign(raw, time.Now().Add(-6*time.Minute))
	aheadSig, aheadTS := e.srv.Sign(raw, time.Now().Add(2*time.Minute))
	altered := bytes.Replace(raw, []byte(`"gen"`), []byte(`"gen" `), 1)
	big := append(bytes.Clone(raw[:len(raw)-1]), []byte(`,"padding":"`+strings.Repeat("x", 70<<10)+`"}`)...)
	bigSig, bigTS := e.srv.Sign(big, time.Now())
	for _, tc := range []struct {
		name, sig, ts string
		body          []byte
	}{
		{"forged signature", forged, ts, raw},
		{"stale timestamp", staleSig, staleTS, raw},
		{"timestamp ahead", aheadSig, aheadTS, raw},
		{"altered body", sig, ts, altered},
		{"no signature", "", ts, raw},
		{"no timestamp", sig, "", raw},
		{"oversized body", bigSig, bigTS, big},
	} {
		resp := e.srv.PostSigned(t, url, tc.body, tc.sig, tc.ts)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
		}
	}
	if resp := e.srv.PostSigned(t, url, raw, sig, ts); resp.StatusCode != 200 {
		t.Fatalf("valid request: %d", resp.StatusCode)
	}
	e.srv.WaitFor(t, func() bool { return len(e.svc.Submits()) == 1 }, "valid request submitted")
	if n := len(e.svc.Submits()); n != 1 {
		t.Errorf("%d submits", n)
	}
	if bal, _ := e.svc.Account(context.Background(), identity(zhMember)); bal.Balance != 100-e.job("j001").Price {
		t.Errorf("balance %d", bal.Balance)
	}
}

func TestDuplicateInteraction(t *testing.T) {
	e := newEnv(t)
	raw, in := e.srv.GenInteraction(discordtest.GenArgs{User: enMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(), Prompt: "pan left"})
	a1 := e.post(raw, in)
	a2 := e.post(raw, in)
	if a1.Type != 5 || a2.Type != 5 {
		t.Errorf("answers %+v %+v", a1, a2)
	}
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 1 }, "job")
	j := e.job("j001")
	e.originalText(in, command.QueuedPriceText(paimeng.LangEN, "j001", 1, j.Price))
	time.Sleep(200 * time.Millisecond)
	if s := e.svc.Submits(); len(s) != 1 || s[0].IdempotencyKey != "discord:"+in.ID {
		t.Errorf("submits %+v", s)
	}
	if n := e.srv.Callbacks(in.ID); n != 1 {
		t.Errorf("%d callbacks", n)
	}
	// Another process receiving it again submits with the same key: one job.
	_, app2 := e.start()
	e.postTo(app2, raw, in)
	e.srv.WaitFor(t, func() bool { return len(e.svc.Submits()) == 2 }, "second process submits")
	if s := e.svc.Submits(); s[1].IdempotencyKey != s[0].IdempotencyKey || e.svc.JobCount() != 1 {
		t.Errorf("second process: keys %q %q, %d jobs", s[0].IdempotencyKey, s[1].IdempotencyKey, e.svc.JobCount())
	}
}

func TestDeliverAfterTokenExpiry(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember, Prompt: "推近"})
	e.srv.ExpireToken(in.Token)
	done := e.succeed(j.ID, mp4(2000))
	e.deliver(done)

	msgs := e.srv.ChannelMessages(channelID)
	if len(msgs) != 1 {
		t.Fatalf("%d channel messages", len(msgs))
	}
	m := msgs[0]
	if !strings.HasPrefix(m.Content, "<@"+zhMember.ID+"> ") || !strings.Contains(m.Content, "推近") {
		t.Errorf("content %q", m.Content)
	}
	if m.Nonce != j.ID || len(m.Files) != 1 || !bytes.Equal(m.Files[0].Data, mp4(2000)) || len(m.CustomIDs) != 3 {
		t.Errorf("message nonce %q files %d buttons %v", m.Nonce, len(m.Files), m.CustomIDs)
	}
	calls := e.srv.CallsTo("POST", "/channels/"+channelID+"/messages")
	var payload map[string]any
	if len(calls) == 1 {
		payload = calls[0].Payload
	}
	if payload["enforce_nonce"] != true || payload["nonce"] != j.ID {
		t.Errorf("payload %v", payload)
	}
	am, _ := payload["allowed_mentions"].(map[string]any)
	if users, _ := am["users"].([]any); len(users) != 1 || users[0] != zhMember.ID {
		t.Errorf("allowed_mentions %v", am)
	}

	// A retry (here: from another process, which remembers nothing) posts
	// nothing new.
	again, _ := e.start()
	if err := again.Deliver(context.Background(), done); err != nil {
		t.Fatal(err)
	}
	e.deliver(done)
	if n := len(e.srv.ChannelMessages(channelID)); n != 1 {
		t.Errorf("%d channel messages after the retry", n)
	}
}

func TestDeliverNearTokenExpiry(t *testing.T) {
	e := newEnv(t, func(c *discord.Config) { c.TokenTTL = 2 * time.Second })
	in, j := e.gen(discordtest.GenArgs{User: enMember})
	time.Sleep(time.Second + 100*time.Millisecond) // past TokenTTL less the margin
	e.deliver(e.svc.Finish(j.ID, paimeng.JobFailed, "", paimeng.EEngineFailed))
	msgs := e.srv.ChannelMessages(channelID)
	if len(msgs) != 1 || msgs[0].Content != "<@"+enMember.ID+"> "+command.CodeText(paimeng.LangEN, paimeng.EEngineFailed) || len(msgs[0].CustomIDs) != 0 {
		t.Fatalf("channel messages %+v", msgs)
	}
	if m, _ := e.srv.Original(in.Token); !strings.HasPrefix(m.Content, "✅") {
		t.Errorf("response edited with a token about to expire: %q", m.Content)
	}
}

func TestDeliverToDirectMessage(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: enMember})
	e.srv.ExpireToken(in.Token)
	e.srv.FailNext("POST", "/channels/"+channelID+"/messages", 403, `{"message":"Missing Permissions","code":50013}`)
	e.deliver(e.succeed(j.ID, mp4(500)))
	dm := e.srv.ChannelMessages(e.srv.DMChannel(enMember.ID))
	if len(dm) != 1 || len(dm[0].Files) != 1 || len(dm[0].CustomIDs) != 3 {
		t.Fatalf("direct messages %+v", dm)
	}
	if n := len(e.srv.ChannelMessages(channelID)); n != 0 {
		t.Errorf("%d channel messages", n)
	}
}

func TestDeliverOversizeVideoAsLink(t *testing.T) {
	e := newEnv(t)
	// The interaction says the channel takes 1000 bytes.
	in, j := e.gen(discordtest.GenArgs{User: enMember, Prompt: "push in", AttachmentSizeLimit: 1000})
	e.deliver(e.succeed(j.ID, mp4(3000)))
	m := e.original(in, "link", func(m discordtest.Message) bool { return strings.Contains(m.Content, "/media/") })
	if len(m.Files) != 0 || !strings.Contains(m.Content, "https://paimeng.example/media/"+j.ID+"/video.mp4") ||
		!strings.Contains(m.Content, "https://paimeng.example/top") || len(m.CustomIDs) != 3 {
		t.Errorf("response %+v", m)
	}
	if calls := e.srv.CallsTo("PATCH", "/webhooks/"); slices.ContainsFunc(calls, func(c discordtest.Call) bool { return len(c.Files) > 0 }) {
		t.Error("video uploaded anyway")
	}

	// Discord refusing the upload (a smaller limit than announced) also
	// gets the link.
	e.srv.SetUploadLimit(channelID, 1000)
	in2, j2 := e.gen(discordtest.GenArgs{User: enMember})
	e.deliver(e.succeed(j2.ID, mp4(3000)))
	m = e.original(in2, "link after 413", func(m discordtest.Message) bool { return strings.Contains(m.Content, "/media/"+j2.ID) })
	if len(m.Files) != 0 {
		t.Errorf("files %d", len(m.Files))
	}
}

func TestDeliverFromLocalFile(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: enMember})
	path := t.TempDir() + "/v.mp4"
	if err := os.WriteFile(path, mp4(1234), 0o600); err != nil {
		t.Fatal(err)
	}
	e.svc.SetPath("disk/v.mp4", path)
	e.deliver(e.svc.Finish(j.ID, paimeng.JobSucceeded, "disk/v.mp4", ""))
	m := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	if !bytes.Equal(m.Files[0].Data, mp4(1234)) {
		t.Error("file differs")
	}
}

func TestDeliverFailedAndCanceled(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	e.deliver(e.svc.Finish(j.ID, paimeng.JobFailed, "", paimeng.EJobTimeout))
	m := e.originalText(in, command.CodeText(paimeng.LangZH, paimeng.EJobTimeout))
	if len(m.CustomIDs) != 0 || len(m.Files) != 0 {
		t.Errorf("failed result %+v", m)
	}
	in2, j2 := e.gen(discordtest.GenArgs{User: zhMember})
	e.deliver(e.svc.Finish(j2.ID, paimeng.JobCanceled, "", ""))
	e.originalText(in2, command.Message(paimeng.LangZH, command.KeyCanceled))
	// A cancellation after the token expired is not posted in the channel.
	in3, j3 := e.gen(discordtest.GenArgs{User: zhMember})
	e.srv.ExpireToken(in3.Token)
	e.deliver(e.svc.Finish(j3.ID, paimeng.JobCanceled, "", ""))
	if n := len(e.srv.ChannelMessages(channelID)); n != 0 {
		t.Errorf("%d channel messages", n)
	}
}

func TestDeliverRetryableErrors(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	done := e.succeed(j.ID, mp4(100))
	e.srv.FailNext("PATCH", "/webhooks/", 500, "")
	if err := e.bot.Deliver(context.Background(), done); err == nil {
		t.Fatal("Deliver succeeded through server errors")
	}
	e.deliver(done)
	e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
}

func TestProgress(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: enMember})
	ctx := context.Background()
	j.Status = paimeng.JobRunning
	edits := func() int {
		m, _ := e.srv.Original(in.Token)
		return m.Edits
	}
	p := paimeng.Progress{JobID: j.ID, Stage: "render", Done: 3, Total: 10}
	want := command.ProgressText(paimeng.LangEN, j.ID, p)
	// Progress is dropped while the acknowledgement is still being written.
	e.srv.WaitFor(t, func() bool {
		if err := e.bot.Progress(ctx, j, p); err != nil {
			t.Fatal(err)
		}
		m, _ := e.srv.Original(in.Token)
		return m.Content == want
	}, "progress shown")
	before := edits()
	for i := 4; i < 10; i++ {
		if err := e.bot.Progress(ctx, j, paimeng.Progress{JobID: j.ID, Stage: "render", Done: i, Total: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if n := edits() - before; n != 0 {
		t.Errorf("%d more progress edits within ProgressEvery", n)
	}
	e.deliver(e.succeed(j.ID, mp4(100)))
	e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	n := edits()
	if err := e.bot.Progress(ctx, j, paimeng.Progress{JobID: j.ID, Stage: "upload", Done: 1, Total: 1}); err != nil {
		t.Fatal(err)
	}
	if edits() != n {
		t.Error("progress edited after the result")
	}
}

func TestProgressAfterInterval(t *testing.T) {
	e := newEnv(t, func(c *discord.Config) { c.ProgressEvery = 50 * time.Millisecond })
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	j.Status = paimeng.JobRunning
	for i := 1; i <= 3; i++ {
		p := paimeng.Progress{JobID: j.ID, Stage: "encode", Done: i, Total: 3}
		want := command.ProgressText(paimeng.LangZH, j.ID, p)
		e.srv.WaitFor(t, func() bool {
			if err := e.bot.Progress(context.Background(), j, p); err != nil {
				t.Fatal(err)
			}
			m, _ := e.srv.Original(in.Token)
			return m.Content == want
		}, "progress %d", i)
	}
}

func TestRerunByOwner(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember, Prompt: "后拉", Seconds: 10, Mode: "pro", Relax: true, Seed: 1234})
	e.deliver(e.succeed(j.ID, mp4(100)))
	video := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	firstImage := e.svc.Submits()[0].Image

	raw, click := e.srv.ComponentInteraction(zhMember, guildID, channelID, video.ID, "pm:rerun:"+j.ID)
	if a := e.post(raw, click); a.Type != 5 || a.flags() != 0 {
		t.Fatalf("answer %+v", a)
	}
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 2 }, "rerun submitted")
	r := e.svc.Submits()[1]
	if r.Seed != j.Seed || r.Seed == 0 || r.Prompt != j.Prompt || r.Seconds != 10 || r.Mode != paimeng.ModePro || r.Lane != paimeng.LaneRelax {
		t.Errorf("rerun request seed %d prompt %q seconds %d mode %q lane %q", r.Seed, r.Prompt, r.Seconds, r.Mode, r.Lane)
	}
	if !bytes.Equal(r.Image, firstImage) || r.IdempotencyKey != "discord:"+click.ID || r.Identity != identity(zhMember) {
		t.Errorf("rerun image %d bytes key %q identity %v", len(r.Image), r.IdempotencyKey, r.Identity)
	}
	j2 := e.job("j002")
	e.originalText(click, command.QueuedPriceText(paimeng.LangZH, "j002", 1, j2.Price))
	e.deliver(e.succeed("j002", mp4(200)))
	m := e.original(click, "rerun video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	if !slices.Contains(m.CustomIDs, "pm:rerun:j002") {
		t.Errorf("buttons %v", m.CustomIDs)
	}
	if v, _ := e.srv.MessageByID(video.ID); len(v.Files) != 1 || v.Content != video.Content {
		t.Error("the first video changed")
	}
}

func TestNewSeed(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: enMember, Seed: 7})
	e.deliver(e.succeed(j.ID, mp4(100)))
	video := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	raw, click := e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, "pm:seed:"+j.ID)
	e.post(raw, click)
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 2 }, "new seed submitted")
	if r := e.svc.Submits()[1]; r.Seed != 0 || r.IdempotencyKey != "discord:"+click.ID {
		t.Errorf("seed %d key %q", r.Seed, r.IdempotencyKey)
	}
}

func TestRerunByAnotherMember(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	e.deliver(e.succeed(j.ID, mp4(100)))
	video := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	balance := func() int64 {
		a, _ := e.svc.Account(context.Background(), identity(enMember))
		return a.Balance
	}
	before := balance()

	raw, click := e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, "pm:rerun:"+j.ID)
	a := e.post(raw, click)
	if a.Type != 4 || a.flags() != 64 || !strings.Contains(a.Data.Content, "Only the creator") {
		t.Errorf("answer %+v", a)
	}
	// Another process, which does not know the owner yet, checks the job.
	_, app2 := e.start()
	raw, click = e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, "pm:seed:"+j.ID)
	e.postTo(app2, raw, click)
	e.original(click, "refusal", func(m discordtest.Message) bool { return strings.Contains(m.Content, "Only the creator") })
	time.Sleep(100 * time.Millisecond)
	if n := len(e.svc.Submits()); n != 1 {
		t.Errorf("%d submits", n)
	}
	if balance() != before {
		t.Error("charged")
	}
}

func TestLikeButton(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	e.deliver(e.succeed(j.ID, mp4(100)))
	video := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })

	raw, click := e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, command.LikeData(j.ID))
	if a := e.post(raw, click); a.Type != 5 || a.flags() != 64 {
		t.Fatalf("answer %+v", a)
	}
	m := e.originalText(click, command.Message(paimeng.LangEN, command.KeyLiked, j.ID, int64(1)))
	if m.Flags&64 == 0 {
		t.Error("like answer is not ephemeral")
	}
	raw, click = e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, command.LikeData(j.ID))
	e.post(raw, click)
	e.originalText(click, command.Message(paimeng.LangEN, command.KeyLikedBefore, j.ID, int64(1)))
	raw, click = e.srv.ComponentInteraction(zhMember, guildID, channelID, video.ID, command.LikeData(j.ID))
	e.post(raw, click)
	e.originalText(click, command.Message(paimeng.LangZH, command.KeyLikeOwn))
	want := []string{"discord:" + enMember.ID + " " + j.ID, "discord:" + enMember.ID + " " + j.ID, "discord:" + zhMember.ID + " " + j.ID}
	if got := e.svc.LikeCalls(); !slices.Equal(got, want) {
		t.Errorf("likes %v", got)
	}
	if v, _ := e.srv.MessageByID(video.ID); v.Content != video.Content || len(v.Files) != 1 {
		t.Error("the video message changed")
	}
}

func TestCommandsRegistered(t *testing.T) {
	e := newEnv(t)
	e.srv.WaitFor(t, func() bool { return len(e.srv.Commands(guildID)) > 0 }, "commands")
	cmds := e.srv.Commands(guildID)
	names := map[string]*discordgo.ApplicationCommand{}
	for _, c := range cmds {
		names[c.Name] = c
		if c.NameLocalizations == nil || (*c.NameLocalizations)[discordgo.ChineseCN] == "" || (*c.NameLocalizations)[discordgo.EnglishUS] != c.Name {
			t.Errorf("%s: name localizations %v", c.Name, c.NameLocalizations)
		}
		if c.DescriptionLocalizations == nil || (*c.DescriptionLocalizations)[discordgo.ChineseCN] == "" || (*c.DescriptionLocalizations)[discordgo.EnglishUS] == "" {
			t.Errorf("%s: description localizations %v", c.Name, c.DescriptionLocalizations)
		}
		for _, o := range c.Options {
			if o.NameLocalizations[discordgo.ChineseCN] == "" || o.NameLocalizations[discordgo.EnglishUS] != o.Name ||
				o.DescriptionLocalizations[discordgo.ChineseCN] == "" || o.DescriptionLocalizations[discordgo.EnglishUS] == "" {
				t.Errorf("%s %s: localizations %v %v", c.Name, o.Name, o.NameLocalizations, o.DescriptionLocalizations)
			}
		}
	}
	for _, n := range []string{"gen", "balance", "price", "daily", "redeem", "link", "unlink", "queue", "cancel", "top", "help"} {
		if names[n] == nil {
			t.Errorf("command %s not registered", n)
		}
	}
	if len(cmds) != 11 {
		t.Errorf("%d commands", len(cmds))
	}
	gen := names["gen"]
	if gen == nil {
		t.FailNow()
	}
	if got := (*gen.NameLocalizations)[discordgo.ChineseCN]; got != "生成" {
		t.Errorf("gen is %q in Chinese", got)
	}
	var opts []string
	for _, o := range gen.Options {
		opts = append(opts, o.Name)
	}
	if want := []string{"image", "prompt", "seconds", "mode", "relax", "seed", "camera", "negative", "tail", "fps", "resolution", "aspect", "engine"}; !slices.Equal(opts, want) {
		t.Errorf("gen options %v", opts)
	}
	if o := gen.Options[0]; o.Type != discordgo.ApplicationCommandOptionAttachment || !o.Required {
		t.Errorf("image option %+v", o)
	}
	if o := gen.Options[2]; len(o.Choices) != 2 || o.Choices[0].Value != float64(5) || o.Choices[1].Value != float64(10) {
		t.Errorf("seconds choices %+v", o.Choices)
	}
	if o := gen.Options[5]; o.MinValue == nil || *o.MinValue != 0 {
		t.Errorf("seed minimum %v", o.MinValue)
	}
	if o := gen.Options[8]; o.Type != discordgo.ApplicationCommandOptionAttachment || o.Required {
		t.Errorf("tail option %+v", o)
	}
	choices := func(o *discordgo.ApplicationCommandOption) []any {
		var v []any
		for _, c := range o.Choices {
			v = append(v, c.Value)
		}
		return v
	}
	if got := choices(gen.Options[9]); !slices.Equal(got, []any{float64(24), float64(30)}) {
		t.Errorf("fps choices %v", got)
	}
	if got := choices(gen.Options[10]); !slices.Equal(got, []any{"540p", "720p", "1080p"}) {
		t.Errorf("resolution choices %v", got)
	}
	if got := choices(gen.Options[11]); !slices.Equal(got, []any{"16:9", "9:16", "1:1"}) {
		t.Errorf("aspect choices %v", got)
	}
	if len(e.srv.Commands("")) != 0 {
		t.Error("commands also registered globally")
	}

	g := newEnv(t, func(c *discord.Config) { c.GuildID = "" })
	g.srv.WaitFor(t, func() bool { return len(g.srv.Commands("")) == 11 }, "global commands")
}

func TestGateway(t *testing.T) {
	e := newEnv(t, func(c *discord.Config) { c.Mode = discord.ModeGateway; c.PublicKey = "" })
	e.srv.WaitFor(t, e.srv.GatewayConnected, "gateway connection")
	if calls := e.srv.CallsTo("WS", "/gateway"); len(calls) == 0 || calls[0].Payload["op"] != float64(2) {
		t.Fatalf("first frame %v", calls)
	} else if d, _ := calls[0].Payload["d"].(map[string]any); d["intents"] != float64(0) {
		t.Errorf("identify intents %v", d["intents"])
	}

	_, in := e.srv.GenInteraction(discordtest.GenArgs{User: enMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(), Prompt: "pan right"})
	e.srv.Dispatch(in)
	e.srv.WaitFor(t, func() bool { return e.srv.Callbacks(in.ID) == 1 }, "callback")
	if typ := e.srv.CallbackType(in.ID); typ != 5 {
		t.Errorf("callback type %d", typ)
	}
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 1 }, "job")
	j := e.job("j001")
	e.originalText(in, command.QueuedPriceText(paimeng.LangEN, "j001", 1, j.Price))

	// A resumed session replays the event: nothing happens twice.
	e.srv.ReplayLast()
	_, bal := e.srv.CommandInteraction(enMember, guildID, channelID, "balance", nil)
	e.srv.Dispatch(bal)
	e.originalText(bal, command.Message(paimeng.LangEN, command.KeyBalance, 100-j.Price))
	time.Sleep(200 * time.Millisecond)
	if n := len(e.svc.Submits()); n != 1 {
		t.Errorf("%d submits", n)
	}
	if n := e.srv.Callbacks(in.ID); n != 1 {
		t.Errorf("%d callbacks", n)
	}
	if n := len(e.srv.CallsTo("POST", "/interactions/"+in.ID+"/")); n != 1 {
		t.Errorf("%d callback requests", n)
	}
	e.deliver(e.succeed("j001", mp4(100)))
	e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
}

func TestCommandsThroughHandler(t *testing.T) {
	e := newEnv(t)
	id := identity(zhMember)
	run := func(name string, opts map[string]any) discordtest.Message {
		t.Helper()
		raw, in := e.srv.CommandInteraction(zhMember, guildID, channelID, name, opts)
		a := e.post(raw, in)
		if a.Type != 5 {
			t.Fatalf("/%s answer %+v", name, a)
		}
		return e.original(in, "/"+name+" answer", func(m discordtest.Message) bool { return m.Content != "" })
	}
	m := run("balance", nil)
	if m.Content != command.Message(paimeng.LangZH, command.KeyBalance, int64(100)) || m.Flags&64 == 0 {
		t.Errorf("/balance: %q flags %d", m.Content, m.Flags)
	}
	if m := run("daily", nil); m.Content != command.Message(paimeng.LangZH, command.KeyDaily, int64(15), int64(115)) || m.Flags&64 == 0 {
		t.Errorf("/daily: %q", m.Content)
	}
	if m := run("daily", nil); m.Content != command.CodeText(paimeng.LangZH, paimeng.EAlreadyClaimed) {
		t.Errorf("second /daily: %q", m.Content)
	}
	e.svc.AddCode("GIFT", 50)
	if m := run("redeem", map[string]any{"code": "GIFT"}); m.Content != command.Message(paimeng.LangZH, command.KeyRedeemed, int64(50), int64(165)) {
		t.Errorf("/redeem: %q", m.Content)
	}
	want, _ := e.handler.Handle(context.Background(), id, paimeng.LangZH, command.Command{Name: "top", Args: "likes week"})
	if m := run("top", map[string]any{"board": "likes", "period": "week"}); m.Content != want || m.Flags&64 != 0 {
		t.Errorf("/top: %q, want %q", m.Content, want)
	}
	if m := run("cancel", map[string]any{"id": "nope"}); m.Content != command.Message(paimeng.LangZH, command.KeyNoSuchJob, "nope") {
		t.Errorf("/cancel: %q", m.Content)
	}
	if m := run("help", nil); m.Content != command.Message(paimeng.LangZH, command.KeyHelp) {
		t.Errorf("/help: %q", m.Content)
	}
	if m := run("link", nil); !strings.Contains(m.Content, "LINK0001") {
		t.Errorf("/link: %q", m.Content)
	}
}

func TestGenRefusals(t *testing.T) {
	e := newEnv(t)
	// Over the size limit by the attachment's own word: nothing downloaded.
	att := e.srv.AddAttachment(channelID, "huge.png", "image/png", pngImage())
	att.Size = paimeng.MaxImageBytes + 1
	raw, in := e.srv.CommandInteraction(enMember, guildID, channelID, "gen", map[string]any{"image": att})
	if a := e.post(raw, in); a.Type != 4 || a.flags() != 64 {
		t.Errorf("answer %+v, want an ephemeral message", a)
	}
	e.originalText(in, command.CodeText(paimeng.LangEN, paimeng.EImageTooLarge))
	if n := len(e.srv.CallsTo("GET", "/attachments/")); n != 0 {
		t.Errorf("%d downloads of an over-size attachment", n)
	}
	// Not an image.
	raw, in = e.srv.GenInteraction(discordtest.GenArgs{User: enMember, GuildID: guildID, ChannelID: channelID, Image: []byte("%PDF-1.4"), Filename: "a.pdf", ContentType: "application/pdf"})
	e.post(raw, in)
	e.originalText(in, command.CodeText(paimeng.LangEN, paimeng.EImageFormat))
	// No credits.
	e.svc.SetBalance(identity(enMember), 1)
	raw, in = e.srv.GenInteraction(discordtest.GenArgs{User: enMember, GuildID: guildID, ChannelID: channelID, Image: pngImage()})
	e.post(raw, in)
	e.originalText(in, command.CodeText(paimeng.LangEN, paimeng.EInsufficient))
	if e.svc.JobCount() != 0 {
		t.Error("job created")
	}
	// The negative prompt is accepted, ignored and said so.
	e.svc.SetBalance(identity(enMember), 100)
	raw, in = e.srv.GenInteraction(discordtest.GenArgs{User: enMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(), Prompt: "push in", Negative: "blur"})
	e.post(raw, in)
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 1 }, "job")
	j := e.job("j001")
	m := e.original(in, "ack", func(m discordtest.Message) bool { return m.Content != "" })
	if !strings.HasPrefix(m.Content, command.QueuedPriceText(paimeng.LangEN, "j001", 1, j.Price)) || !strings.Contains(m.Content, "negative prompt") {
		t.Errorf("ack %q", m.Content)
	}
	if j.Prompt != "push in" {
		t.Errorf("prompt %q", j.Prompt)
	}
}

func TestNew(t *testing.T) {
	srv := discordtest.NewServer(t)
	svc := newService()
	h := newHandler(svc)
	cfg := discord.Config{Token: srv.Token, PublicKey: srv.PublicKey, APIURL: srv.URL, HTTPClient: &http.Client{}, Logger: slog.New(slog.DiscardHandler)}
	if _, err := discord.New(cfg, svc, svc, svc, h, svc); err != nil {
		t.Fatalf("New without an app id: %v", err)
	}
	for name, mod := range map[string]func(*discord.Config){
		"no token":      func(c *discord.Config) { c.Token = "" },
		"no public key": func(c *discord.Config) { c.PublicKey = "" },
		"bad key":       func(c *discord.Config) { c.PublicKey = "abcd" },
		"bad mode":      func(c *discord.Config) { c.Mode = "webhook" },
		"bad token":     func(c *discord.Config) { c.Token = "nope" }, // GET /users/@me refused
	} {
		c := cfg
		mod(&c)
		if _, err := discord.New(c, svc, svc, svc, h, svc); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := discord.New(cfg, nil, svc, svc, h, svc); err == nil {
		t.Error("no submitter: no error")
	}
	b, _ := discord.New(cfg, svc, svc, svc, h, svc)
	if b.Platform() != paimeng.PlatformDiscord {
		t.Error("platform")
	}
}

func TestHandlerRoutes(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(endpoint(e.app))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestRegistrationRetriesServerErrors(t *testing.T) {
	srv := discordtest.NewServer(t)
	svc := newService()
	srv.FailNext("PUT", "/applications/", 500, "")
	bot, err := discord.New(discord.Config{Token: srv.Token, AppID: srv.AppID, PublicKey: srv.PublicKey, APIURL: srv.URL, GuildID: guildID,
		HTTPClient: &http.Client{}, Logger: slog.New(slog.DiscardHandler)}, svc, svc, svc, newHandler(svc), svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	srv.WaitFor(t, func() bool { return len(srv.Commands(guildID)) == 11 }, "commands after a server error")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}

	// A refusal no retry can fix is returned.
	srv.FailNext("PUT", "/applications/", 400, `{"code":50035,"message":"Invalid Form Body"}`)
	if err := bot.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "registering commands") {
		t.Errorf("Run: %v", err)
	}
}

func TestGenInDirectMessage(t *testing.T) {
	e := newEnv(t)
	raw, in := e.srv.GenInteraction(discordtest.GenArgs{User: enMember, Image: pngImage(), Prompt: "shake"})
	if a := e.post(raw, in); a.Type != 5 {
		t.Fatalf("answer %+v", a)
	}
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 1 }, "job")
	j := e.job("j001")
	e.originalText(in, command.QueuedPriceText(paimeng.LangEN, "j001", 1, j.Price))
	if r := e.svc.Submits()[0]; r.Identity != identity(enMember) || r.DisplayName != enMember.Username || r.Lang != paimeng.LangEN {
		t.Errorf("identity %v name %q lang %q", r.Identity, r.DisplayName, r.Lang)
	}
	e.srv.ExpireToken(in.Token)
	e.deliver(e.succeed("j001", mp4(100)))
	if m := e.srv.ChannelMessages(e.srv.DMChannel(enMember.ID)); len(m) != 1 || len(m[0].Files) != 1 {
		t.Errorf("direct messages %+v", m)
	}
}

func TestRerunRefusedFromChannelMessage(t *testing.T) {
	e := newEnv(t)
	in, j := e.gen(discordtest.GenArgs{User: zhMember})
	e.srv.ExpireToken(in.Token)
	e.deliver(e.succeed(j.ID, mp4(100)))
	msgs := e.srv.ChannelMessages(channelID)
	if len(msgs) != 1 {
		t.Fatalf("%d channel messages", len(msgs))
	}
	// A process that never saw the job knows the owner from the mention.
	_, app2 := e.start()
	raw, click := e.srv.ComponentInteraction(enMember, guildID, channelID, msgs[0].ID, "pm:rerun:"+j.ID)
	if a := e.postTo(app2, raw, click); a.Type != 4 || a.flags() != 64 {
		t.Errorf("answer %+v", a)
	}
	raw, click = e.srv.ComponentInteraction(zhMember, guildID, channelID, msgs[0].ID, "pm:rerun:"+j.ID)
	if a := e.postTo(app2, raw, click); a.Type != 5 || a.flags() != 0 {
		t.Errorf("owner's answer %+v", a)
	}
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 2 }, "rerun by the owner")
}

func TestGenCameraTailAndOutput(t *testing.T) {
	e := newEnv(t)
	img, tail := pngImage(), append(pngImage(), 0) // two different pictures
	in, j := e.gen(discordtest.GenArgs{User: enMember, Image: img, Tail: tail, Prompt: "cherry blossoms", Camera: "zoom:-5", FPS: 30,
		Resolution: "1080p", Aspect: "9:16", Seed: 5})
	r := e.svc.Submits()[0]
	if !bytes.Equal(r.Image, img) || !bytes.Equal(r.Tail, tail) {
		t.Errorf("image %d bytes, tail %d bytes", len(r.Image), len(r.Tail))
	}
	if r.Camera.String() != "zoom:-5" || r.FPS != 30 || r.Resolution != 1080 || r.Aspect != paimeng.AspectTall || r.Prompt != "cherry blossoms" {
		t.Errorf("camera %q fps %d resolution %d aspect %q prompt %q", r.Camera.String(), r.FPS, r.Resolution, r.Aspect, r.Prompt)
	}
	if j.TailKey == "" || j.Shot.Moves[0].Zoom != -5 || j.FPS != 30 {
		t.Fatalf("job %+v", j)
	}

	// Rerun: the same camera script, end frame and output options.
	e.deliver(e.succeed(j.ID, mp4(100)))
	video := e.original(in, "video", func(m discordtest.Message) bool { return len(m.Files) == 1 })
	raw, click := e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, "pm:rerun:"+j.ID)
	e.post(raw, click)
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 2 }, "rerun submitted")
	r = e.svc.Submits()[1]
	if r.Shot == nil || len(r.Shot.Moves) != 1 || r.Shot.Moves[0].Zoom != -5 || r.Camera != nil {
		t.Errorf("rerun shot %+v camera %v", r.Shot, r.Camera)
	}
	if !bytes.Equal(r.Image, img) || !bytes.Equal(r.Tail, tail) || r.FPS != 30 || r.Resolution != 1080 || r.Aspect != paimeng.AspectTall || r.Seed != 5 {
		t.Errorf("rerun image %d tail %d fps %d resolution %d aspect %q seed %d", len(r.Image), len(r.Tail), r.FPS, r.Resolution, r.Aspect, r.Seed)
	}

	// A rerun of a job without an end frame or a stored shot reads its prompt again.
	e.deliver(e.succeed("j002", mp4(100)))
	_, j3 := e.gen(discordtest.GenArgs{User: enMember, Prompt: "pan left"})
	e.deliver(e.succeed(j3.ID, mp4(100)))
	e.svc.Update(j3.ID, func(j *paimeng.Job) { j.Shot = paimeng.Shot{} })
	raw, click = e.srv.ComponentInteraction(enMember, guildID, channelID, video.ID, "pm:seed:"+j3.ID)
	e.post(raw, click)
	e.srv.WaitFor(t, func() bool { return e.svc.JobCount() == 4 }, "second rerun submitted")
	if r := e.svc.Submits()[3]; r.Shot != nil || r.Tail != nil || r.Prompt != "pan left" || r.Seed != 0 {
		t.Errorf("rerun without a shot: shot %v tail %d prompt %q seed %d", r.Shot, len(r.Tail), r.Prompt, r.Seed)
	}
}

func TestGenOptionsInPrompt(t *testing.T) {
	e := newEnv(t)
	raw, in := e.srv.GenInteraction(discordtest.GenArgs{User: zhMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(),
		Prompt: "樱花 --camera down_back --fps 30 --res 720p --aspect 1:1 --negative 模糊", Camera: "推近"})
	e.post(raw, in)
	e.srv.WaitFor(t, func() bool { return len(e.svc.Submits()) == 1 }, "submit")
	j := e.job("j001")
	// The negative prompt written in the prompt gets the note too.
	e.originalText(in, command.AckNotes(command.QueuedPriceText(paimeng.LangZH, "j001", 1, j.Price),
		command.CameraLine(paimeng.LangZH, j.Shot), command.Message(paimeng.LangZH, command.KeyNegativeIgnored)))
	r := e.svc.Submits()[0]
	if r.Prompt != "樱花 推近" || r.Camera.String() != "down_back" || r.FPS != 30 || r.Resolution != 720 || r.Aspect != paimeng.AspectSquare || r.NegativePrompt != "模糊" {
		t.Errorf("prompt %q camera %q fps %d resolution %d aspect %q negative %q", r.Prompt, r.Camera.String(), r.FPS, r.Resolution, r.Aspect, r.NegativePrompt)
	}
	// The command's own options win over those in the prompt.
	raw, in = e.srv.GenInteraction(discordtest.GenArgs{User: zhMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(),
		Prompt: "x --camera zoom:3 --fps 30", Camera: "pan:-2", FPS: 24})
	e.post(raw, in)
	e.srv.WaitFor(t, func() bool { return len(e.svc.Submits()) == 2 }, "second submit")
	if r := e.svc.Submits()[1]; r.Camera.String() != "pan:-2" || r.FPS != 24 || r.Prompt != "x" {
		t.Errorf("camera %q fps %d prompt %q", r.Camera.String(), r.FPS, r.Prompt)
	}
	j2 := e.job("j002")
	e.originalText(in, command.AckNotes(command.QueuedPriceText(paimeng.LangZH, "j002", 2, j2.Price), command.CameraLine(paimeng.LangZH, j2.Shot)))
}

func TestGenBadOptionsRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	before, _ := e.svc.Account(context.Background(), identity(enMember))
	for _, tc := range []struct {
		args discordtest.GenArgs
		want string
	}{
		{discordtest.GenArgs{Camera: "zoom:11"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Camera: "spin:3"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Prompt: "x --camera zoom"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Prompt: "x --fps 25"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{FPS: 60}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Resolution: "4k"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Aspect: "4:3"}, command.CodeText(paimeng.LangEN, paimeng.EBadOption)},
		{discordtest.GenArgs{Tail: []byte("%PDF-1.4")}, command.CodeText(paimeng.LangEN, paimeng.EImageFormat)},
		{discordtest.GenArgs{Prompt: "x --tail"}, "Please attach the end frame with /gen's tail option. Nothing was charged."},
	} {
		a := tc.args
		a.User, a.GuildID, a.ChannelID, a.Image = enMember, guildID, channelID, pngImage()
		raw, in := e.srv.GenInteraction(a)
		got := e.post(raw, in)
		if got.Type != 4 || got.flags() != 64 || got.Data == nil || got.Data.Content != tc.want {
			t.Errorf("%+v: answer %+v, want an ephemeral %q", tc.args, got, tc.want)
		}
		// The same interaction again (Discord retries) gets the same answer.
		if again := e.post(raw, in); again.Type != 4 || again.Data == nil || again.Data.Content != tc.want {
			t.Errorf("%+v: repeated answer %+v", tc.args, again)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.svc.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
	if n := len(e.srv.CallsTo("GET", "/attachments/")); n != 0 {
		t.Errorf("%d downloads", n)
	}
	if after, _ := e.svc.Account(context.Background(), identity(enMember)); after.Balance != before.Balance {
		t.Errorf("balance %d → %d", before.Balance, after.Balance)
	}
	// In Chinese.
	raw, in := e.srv.GenInteraction(discordtest.GenArgs{User: zhMember, GuildID: guildID, ChannelID: channelID, Image: pngImage(), Camera: "zoom:-12"})
	if got := e.post(raw, in); got.Data == nil || got.Data.Content != command.CodeText(paimeng.LangZH, paimeng.EBadOption) {
		t.Errorf("zh answer %+v", got)
	}
}

func TestGenEngineOption(t *testing.T) {
	e := newEnv(t)
	e.gen(discordtest.GenArgs{User: enMember, Image: pngImage(), Prompt: "push in", Engine: " SVD "})
	if subs := e.svc.Submits(); len(subs) != 1 || subs[0].Engine != "svd" {
		t.Fatalf("submits %+v", subs)
	}
}
