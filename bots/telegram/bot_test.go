package telegram_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/telegram"
	"github.com/paimeng/paimeng/bots/telegram/telegramtest"
	"github.com/paimeng/paimeng/internal/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

type env struct {
	t       *testing.T
	srv     *telegramtest.Server
	svc     *service
	handler *command.Handler
	bot     *telegram.Bot
	logs    *testenv.LogBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	svc := newService()
	e := &env{t: t, srv: telegramtest.NewServer(t), svc: svc, handler: newHandler(svc), logs: &testenv.LogBuffer{}}
	e.bot = e.newBot()
	return e
}

func (e *env) newBot() *telegram.Bot {
	e.t.Helper()
	bot, err := telegram.New(telegram.Config{
		Token:       e.srv.Token,
		APIURL:      e.srv.URL,
		HTTPClient:  e.srv.Client(),
		PollTimeout: time.Second,
		Logger:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, e.svc, e.svc, e.svc, e.handler, e.svc)
	if err != nil {
		e.t.Fatal(err)
	}
	return bot
}

// run starts long polling until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
}

// handle feeds one update synchronously.
func (e *env) handle(m tgbotapi.Message) tgbotapi.Message {
	m = e.srv.CompleteMessage(m)
	e.bot.HandleUpdate(context.Background(), tgbotapi.Update{UpdateID: m.MessageID, Message: &m})
	return m
}

// jpeg is the largest size of every test photo.
func jpeg() []byte {
	return append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte("jpeg"), 100)...)
}

func zhUser() *tgbotapi.User {
	return &tgbotapi.User{ID: 42, FirstName: "派", LastName: "蒙", UserName: "paimon", LanguageCode: "zh-hans"}
}

func enUser() *tgbotapi.User {
	return &tgbotapi.User{ID: 43, FirstName: "Lumine", LanguageCode: "en-US"}
}

func group() *tgbotapi.Chat { return &tgbotapi.Chat{ID: -1001, Type: "supergroup", Title: "Teyvat"} }

func (e *env) photoGen(from *tgbotapi.User, caption string) tgbotapi.Message {
	return tgbotapi.Message{From: from, Photo: e.srv.AddPhoto(jpeg(), 1280, 960), Caption: caption}
}

func TestPhotoGenQueues(t *testing.T) {
	e := newEnv(t)
	e.run()
	m := e.srv.PushMessage(e.photoGen(zhUser(), "/gen 镜头缓慢推近 --seconds 10 --seed 42"))

	sent := e.srv.WaitSent(t, "sendMessage", 1)
	reqs := e.svc.Submits()
	if len(reqs) != 1 {
		t.Fatalf("%d submits", len(reqs))
	}
	r := reqs[0]
	if r.Identity.String() != "telegram:42" || r.Lang != paimeng.LangZH || r.DisplayName != "派 蒙" {
		t.Errorf("request identity %v lang %q name %q", r.Identity, r.Lang, r.DisplayName)
	}
	if want := "telegram:" + strconv.FormatInt(telegramtest.BotID, 10) + ":42:" + strconv.Itoa(m.MessageID); r.IdempotencyKey != want {
		t.Errorf("key %q, want %q", r.IdempotencyKey, want)
	}
	if !bytes.Equal(r.Image, jpeg()) {
		t.Errorf("image is %d bytes, not the largest photo size", len(r.Image))
	}
	if r.Prompt != "镜头缓慢推近" || r.Seconds != 10 || r.Seed != 42 {
		t.Errorf("prompt %q seconds %d seed %d", r.Prompt, r.Seconds, r.Seed)
	}
	var st map[string]any
	if err := json.Unmarshal(r.Reply, &st); err != nil || st["chat_id"] != float64(42) || st["message_id"] != float64(m.MessageID) || st["lang"] != "zh" {
		t.Errorf("reply state %s (%v)", r.Reply, err)
	}

	q := sent[0]
	if q.ChatID != 42 || q.ReplyTo != m.MessageID || q.Text != command.QueuedPriceText(paimeng.LangZH, "j001", 1, 20) {
		t.Errorf("queued reply %+v", q)
	}
	e.srv.WaitFor(t, func() bool {
		j, _ := e.svc.Job(context.Background(), "j001")
		return strings.Contains(string(j.Reply), `"status_message_id":`+strconv.Itoa(q.MessageID))
	}, "status message id stored")
	e.srv.WaitFor(t, func() bool {
		l := e.logs.String()
		return strings.Contains(l, "platform=telegram") && strings.Contains(l, "job_id=j001") && strings.Contains(l, "user=telegram:42")
	}, "log attributes")
}

func TestGenForOtherBotIgnored(t *testing.T) {
	e := newEnv(t)
	e.handle(e.photoGen(zhUser(), "/gen@OtherBot 推近"))
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Text: "/gen@OtherBot"})
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Text: "/balance@OtherBot"})
	if n := len(e.svc.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
	if s := e.srv.Sent(); len(s) != 0 {
		t.Errorf("sent %+v", s)
	}
	// Addressed to this bot (any case) works.
	e.handle(e.photoGen(zhUser(), "/gen@paimengbot 推近"))
	if n := len(e.svc.Submits()); n != 1 {
		t.Errorf("%d submits for /gen@paimengbot", n)
	}
}

func TestReplyToPhoto(t *testing.T) {
	e := newEnv(t)
	photo := e.srv.CompleteMessage(tgbotapi.Message{From: enUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 800, 600)})
	m := e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Text: "/gen 后拉", ReplyToMessage: &photo})
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, jpeg()) || reqs[0].Prompt != "后拉" {
		t.Fatalf("submits %+v", reqs)
	}
	if !strings.HasSuffix(reqs[0].IdempotencyKey, ":-1001:"+strconv.Itoa(m.MessageID)) {
		t.Errorf("key %q is not the /gen message", reqs[0].IdempotencyKey)
	}
	sent := e.srv.Sent("sendMessage")
	if len(sent) != 1 || sent[0].ChatID != -1001 || sent[0].ReplyTo != m.MessageID {
		t.Errorf("sent %+v", sent)
	}
}

func TestDocumentImage(t *testing.T) {
	e := newEnv(t)
	png := []byte("\x89PNG\r\n\x1a\nfake png")
	e.handle(tgbotapi.Message{From: enUser(), Document: e.srv.AddDocument(png, "cat.png", "image/png"), Caption: "/gen pan left"})
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, png) || reqs[0].Prompt != "pan left" {
		t.Fatalf("submits %+v", reqs)
	}
	// A document that is not an image is refused before anything is charged.
	e.handle(tgbotapi.Message{From: enUser(), Document: e.srv.AddDocument([]byte("%PDF"), "a.pdf", "application/pdf"), Caption: "/gen"})
	if n := len(e.svc.Submits()); n != 1 {
		t.Errorf("%d submits", n)
	}
	sent := e.srv.Sent("sendMessage")
	if got := sent[len(sent)-1].Text; got != command.CodeText(paimeng.LangEN, paimeng.EImageFormat) {
		t.Errorf("pdf answer %q", got)
	}
}

func TestCaptionlessPhoto(t *testing.T) {
	e := newEnv(t)
	e.handle(tgbotapi.Message{From: zhUser(), Photo: e.srv.AddPhoto(jpeg(), 100, 100)})
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 100, 100)})
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Text: "nice picture"})
	e.handle(tgbotapi.Message{From: zhUser(), Photo: e.srv.AddPhoto(jpeg(), 100, 100), MediaGroupID: "album"})
	sent := e.srv.Sent()
	if len(sent) != 1 || sent[0].ChatID != 42 || sent[0].Text != command.Message(paimeng.LangZH, command.KeyHint) {
		t.Errorf("sent %+v", sent)
	}
	if n := len(e.svc.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
}

func TestGenWithoutImage(t *testing.T) {
	e := newEnv(t)
	e.handle(tgbotapi.Message{From: zhUser(), Text: "/gen 推近"})
	e.handle(tgbotapi.Message{From: enUser(), Text: "/gen push in"})
	text := tgbotapi.Message{From: zhUser(), Text: "just words"}
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Text: "/gen", ReplyToMessage: &text})
	want := []string{
		command.CodeText(paimeng.LangZH, paimeng.ENoImage),
		command.CodeText(paimeng.LangEN, paimeng.ENoImage),
		command.CodeText(paimeng.LangZH, paimeng.ENoImage),
	}
	e.wantAnswers(t, want)
	if n := len(e.svc.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
}

func TestEnglishMember(t *testing.T) {
	e := newEnv(t)
	e.handle(e.photoGen(enUser(), "/gen push in"))
	reqs := e.svc.Submits()
	if len(reqs) != 1 || reqs[0].Lang != paimeng.LangEN {
		t.Fatalf("submits %+v", reqs)
	}
	sent := e.srv.Sent("sendMessage")
	if len(sent) != 1 || sent[0].Text != command.QueuedPriceText(paimeng.LangEN, "j001", 1, 10) {
		t.Errorf("sent %+v", sent)
	}
	e.handle(tgbotapi.Message{From: enUser(), Text: "/help"})
	e.handle(tgbotapi.Message{From: enUser(), Text: "/balance"})
	sent = e.srv.Sent("sendMessage")
	if len(sent) != 3 || sent[1].Text != command.Message(paimeng.LangEN, command.KeyHelp) || sent[2].Text != "Your credit balance: 90" {
		t.Errorf("sent %+v", sent)
	}
}

func TestRefusalsChargeNothing(t *testing.T) {
	e := newEnv(t)
	long := "/gen " + strings.Repeat("推", paimeng.MaxPromptRunes+1)
	e.handle(e.photoGen(zhUser(), long))
	e.handle(e.photoGen(zhUser(), "/gen x --seconds 3"))
	big := []tgbotapi.PhotoSize{{FileID: "nope", Width: 9000, Height: 9000, FileSize: paimeng.MaxImageBytes + 1}}
	e.handle(tgbotapi.Message{From: zhUser(), Photo: big, Caption: "/gen"})
	e.svc.SetBalance(paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "43"}, 3)
	e.handle(e.photoGen(enUser(), "/gen"))

	if n := e.svc.JobCount(); n != 0 {
		t.Errorf("%d jobs", n)
	}
	if n := e.srv.Calls("getFile"); n != 1 {
		t.Errorf("getFile called %d times; only the image of the member without credits is fetched", n)
	}
	want := []string{
		command.CodeText(paimeng.LangZH, paimeng.EPromptTooLong),
		command.CodeText(paimeng.LangZH, paimeng.EBadOption),
		command.CodeText(paimeng.LangZH, paimeng.EImageTooLarge),
		command.CodeText(paimeng.LangEN, paimeng.EInsufficient),
	}
	e.wantAnswers(t, want)
}

func TestDuplicateUpdates(t *testing.T) {
	e := newEnv(t)
	e.run()
	m := e.srv.CompleteMessage(e.photoGen(zhUser(), "/gen 推近"))
	// The same update twice, then the same message in another update.
	e.srv.PushUpdates(tgbotapi.Update{UpdateID: 7000, Message: &m}, tgbotapi.Update{UpdateID: 7000, Message: &m})
	e.srv.PushUpdate(tgbotapi.Update{Message: &m})
	e.srv.WaitSent(t, "sendMessage", 1)
	e.srv.WaitFor(t, func() bool {
		offs := e.srv.Offsets()
		return offs[len(offs)-1] > 7001
	}, "updates confirmed")
	e.srv.WaitFor(t, func() bool {
		j, _ := e.svc.Job(context.Background(), "j001")
		return strings.Contains(string(j.Reply), "status_message_id")
	}, "status stored")

	// A restarted bot (no memory) sees the message again.
	again := e.newBot()
	again.HandleUpdate(context.Background(), tgbotapi.Update{UpdateID: 7000, Message: &m})

	if n := e.svc.JobCount(); n != 1 {
		t.Errorf("%d jobs", n)
	}
	if n := len(e.svc.Submits()); n > 2 {
		t.Errorf("%d submits", n)
	}
	time.Sleep(100 * time.Millisecond)
	if s := e.srv.Sent("sendMessage"); len(s) != 1 {
		t.Errorf("%d replies: %+v", len(s), s)
	}
}

func (e *env) queuedJob(from *tgbotapi.User) (*paimeng.Job, tgbotapi.Message, telegramtest.Sent) {
	e.t.Helper()
	m := e.handle(e.photoGen(from, "/gen 镜头缓慢推近 --seed 7"))
	sent := e.srv.Sent("sendMessage")
	if len(sent) == 0 {
		e.t.Fatal("no queued reply")
	}
	id := e.svc.LastJobID()
	j, err := e.svc.Job(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j, m, sent[len(sent)-1]
}

func TestProgressThrottled(t *testing.T) {
	e := newEnv(t)
	job, _, status := e.queuedJob(zhUser())
	ctx := context.Background()
	for i := 1; i <= 30; i++ {
		if err := e.bot.Progress(ctx, job, paimeng.Progress{JobID: job.ID, Stage: "render", Done: i * 4, Total: 120}); err != nil {
			t.Fatal(err)
		}
	}
	edits := e.srv.Sent("editMessageText")
	if len(edits) != 1 {
		t.Fatalf("%d edits", len(edits))
	}
	if edits[0].MessageID != status.MessageID || edits[0].Text != "⏳ 任务 #j001 渲染中\n░░░░░░░░░░ 3%" {
		t.Errorf("edit %+v", edits[0])
	}
	// A job without a status message is skipped quietly.
	if err := e.bot.Progress(ctx, &paimeng.Job{ID: "x", Reply: []byte(`{"chat_id":42,"message_id":1}`)}, paimeng.Progress{}); err != nil {
		t.Error(err)
	}
}

func TestProgressResumesAfterInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the throttle")
	}
	e := newEnv(t)
	bot, err := telegram.New(telegram.Config{Token: e.srv.Token, APIURL: e.srv.URL, HTTPClient: e.srv.Client(), ProgressEvery: 200 * time.Millisecond, Logger: quiet()}, e.svc, e.svc, e.svc, e.handler, e.svc)
	if err != nil {
		t.Fatal(err)
	}
	e.bot = bot
	job, _, _ := e.queuedJob(zhUser())
	ctx := context.Background()
	e.bot.Progress(ctx, job, paimeng.Progress{Done: 1, Total: 10})
	time.Sleep(300 * time.Millisecond) // past ProgressEvery, within the per-chat second
	e.bot.Progress(ctx, job, paimeng.Progress{Done: 2, Total: 10})
	time.Sleep(800 * time.Millisecond)
	e.bot.Progress(ctx, job, paimeng.Progress{Done: 3, Total: 10})
	if n := len(e.srv.Sent("editMessageText")); n != 2 {
		t.Errorf("%d edits, want 2", n)
	}
}

// mp4 builds a minimal MP4: ftyp, moov with mvhd, an audio and a video
// track header, and mdat.
func mp4(width, height, timescale, duration uint32) []byte {
	box := func(typ string, parts ...[]byte) []byte {
		body := bytes.Join(parts, nil)
		out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
		return append(append(out, typ...), body...)
	}
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], timescale)
	binary.BigEndian.PutUint32(mvhd[16:], duration)
	tkhd := func(w, h uint32) []byte {
		b := make([]byte, 84)
		binary.BigEndian.PutUint32(b[76:], w<<16)
		binary.BigEndian.PutUint32(b[80:], h<<16)
		return b
	}
	return bytes.Join([][]byte{
		box("ftyp", []byte("isom\x00\x00\x02\x00isomavc1")),
		box("moov", box("mvhd", mvhd), box("trak", box("tkhd", tkhd(0, 0))), box("trak", box("tkhd", tkhd(width, height)))),
		box("mdat", bytes.Repeat([]byte{0xab}, 4096)),
	}, nil)
}

func TestDeliverVideo(t *testing.T) {
	e := newEnv(t)
	job, m, status := e.queuedJob(zhUser())
	clip := mp4(1280, 720, 1000, 5000)
	e.svc.Put(context.Background(), "out/j001.mp4", bytes.NewReader(clip))
	job = e.svc.Finish(job.ID, paimeng.JobSucceeded, "out/j001.mp4", "")

	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	videos := e.srv.Sent("sendVideo")
	if len(videos) != 1 {
		t.Fatalf("%d videos", len(videos))
	}
	v := videos[0]
	if !bytes.Equal(v.File, clip) || v.FileField != "video" || !strings.HasSuffix(v.FileName, ".mp4") {
		t.Errorf("upload field %q name %q, %d bytes", v.FileField, v.FileName, len(v.File))
	}
	if v.ChatID != 42 || v.ReplyTo != m.MessageID {
		t.Errorf("video to chat %d reply %d", v.ChatID, v.ReplyTo)
	}
	if v.Caption != command.DoneCaption(paimeng.LangZH, "镜头缓慢推近", 7, 90) {
		t.Errorf("caption %q", v.Caption)
	}
	for k, want := range map[string]string{"supports_streaming": "true", "width": "1280", "height": "720", "duration": "5"} {
		if v.Params[k] != want {
			t.Errorf("%s = %q, want %q", k, v.Params[k], want)
		}
	}
	if text, _ := e.srv.MessageText(42, status.MessageID); text != command.Message(paimeng.LangZH, command.KeyDone, job.ID) {
		t.Errorf("status message %q", text)
	}
	// Delivering again (a retry) sends nothing new.
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Sent("sendVideo")); n != 1 {
		t.Errorf("%d videos after retry", n)
	}
}

func TestDeliverTooBigForVideo(t *testing.T) {
	e := newEnv(t)
	job, _, _ := e.queuedJob(enUser())
	clip := mp4(640, 360, 600, 6000)
	e.svc.Put(context.Background(), "v.mp4", bytes.NewReader(clip))
	job = e.svc.Finish(job.ID, paimeng.JobSucceeded, "v.mp4", "")
	e.srv.SetUploadLimit("sendVideo", 100)
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	docs := e.srv.Sent("sendDocument")
	if len(docs) != 1 || !bytes.Equal(docs[0].File, clip) || !strings.Contains(docs[0].Caption, "Seed: 7") {
		t.Fatalf("documents %+v", docs)
	}
}

func TestDeliverWithoutStatusMessage(t *testing.T) {
	e := newEnv(t)
	clip := mp4(64, 64, 1, 5)
	e.svc.Put(context.Background(), "v.mp4", bytes.NewReader(clip))
	job := &paimeng.Job{ID: "jx", Identity: paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "42"}, Status: paimeng.JobSucceeded,
		VideoKey: "v.mp4", Seed: 3, Reply: []byte(`{"chat_id":42,"message_id":9,"lang":"en"}`)}
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if v := e.srv.Sent("sendVideo"); len(v) != 1 || v[0].ReplyTo != 9 || !strings.Contains(v[0].Caption, "Credits left: 100") {
		t.Errorf("videos %+v", v)
	}
	if n := e.srv.Calls("editMessageText"); n != 0 {
		t.Errorf("%d edits", n)
	}
	// A status message that is gone is not an error.
	job.ID, job.Reply = "jy", []byte(`{"chat_id":42,"message_id":9,"status_message_id":999999,"lang":"en"}`)
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Errorf("missing status message: %v", err)
	}
}

func TestDeliverFailure(t *testing.T) {
	e := newEnv(t)
	job, m, status := e.queuedJob(enUser())
	job = e.svc.Finish(job.ID, paimeng.JobFailed, "", paimeng.EEngineFailed)
	job.ErrorDetail = "onnx: CUDA out of memory"
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	sent := e.srv.Sent("sendMessage")
	last := sent[len(sent)-1]
	if last.Text != command.CodeText(paimeng.LangEN, paimeng.EEngineFailed) || last.ReplyTo != m.MessageID {
		t.Errorf("failure reply %+v", last)
	}
	if !strings.Contains(last.Text, "Nothing was charged") || strings.Contains(last.Text, "CUDA") {
		t.Errorf("failure text %q", last.Text)
	}
	if text, _ := e.srv.MessageText(43, status.MessageID); text != command.Message(paimeng.LangEN, command.KeyFailed, job.ID) {
		t.Errorf("status %q", text)
	}
	if n := len(e.srv.Sent("sendVideo")); n != 0 {
		t.Errorf("%d videos", n)
	}

	// A canceled job was answered by /cancel (or the ban): its status
	// message changes and nothing new is sent.
	before := len(e.srv.Sent("sendMessage"))
	canceled := e.svc.Finish(job.ID, paimeng.JobCanceled, "canceled", "")
	canceled.ID = "other"
	if err := e.bot.Deliver(context.Background(), canceled); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Sent("sendMessage")); n != before {
		t.Errorf("canceled job sent %d new messages", n-before)
	}
	if text, _ := e.srv.MessageText(43, status.MessageID); text != command.Message(paimeng.LangEN, command.KeyCanceled) {
		t.Errorf("canceled status %q", text)
	}
}

func TestDeliverRetryableErrors(t *testing.T) {
	e := newEnv(t)
	job, _, _ := e.queuedJob(zhUser())
	e.svc.Put(context.Background(), "v.mp4", bytes.NewReader(mp4(320, 240, 10, 50)))
	job = e.svc.Finish(job.ID, paimeng.JobSucceeded, "v.mp4", "")
	ctx := context.Background()

	e.srv.FailNext("sendVideo", telegramtest.Failure{Code: 429, Description: "Too Many Requests: retry after 3", RetryAfter: 3})
	err := e.bot.Deliver(ctx, job)
	var ae *telegram.APIError
	if !errors.As(err, &ae) || !ae.Temporary() || ae.RetryAfter != 3*time.Second || ae.Code != 429 {
		t.Fatalf("429: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "telegram: ") {
		t.Errorf("error %q lacks prefix", err)
	}

	// The video goes out on retry; a 5xx on the status edit after it does
	// not fail the delivery (a retry elsewhere would send the video again).
	e.srv.FailNext("editMessageText", telegramtest.Failure{Code: 502, Description: "Bad Gateway"})
	if err := e.bot.Deliver(ctx, job); err != nil {
		t.Fatalf("status edit failure failed the delivery: %v", err)
	}
	if err := e.bot.Deliver(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Sent("sendVideo")); n != 1 {
		t.Errorf("%d videos", n)
	}
	if n := e.srv.Calls("sendVideo"); n != 2 {
		t.Errorf("sendVideo called %d times", n)
	}

	// Progress reports flood control too.
	e.srv.FailNext("editMessageText", telegramtest.Failure{Code: 429, Description: "Too Many Requests", RetryAfter: 1})
	running, _ := e.svc.Job(ctx, job.ID)
	running.ID = "fresh"
	if err := e.bot.Progress(ctx, running, paimeng.Progress{Done: 1, Total: 2}); !errors.As(err, &ae) || ae.Code != 429 {
		t.Errorf("progress 429: %v", err)
	}
}

func TestRunSurvivesAPIErrors(t *testing.T) {
	e := newEnv(t)
	e.srv.FailNext("getUpdates", telegramtest.Failure{Code: 502, Description: "Bad Gateway"})
	e.run()
	e.srv.PushMessage(tgbotapi.Message{From: zhUser(), Text: "/start"})
	sent := e.srv.WaitSent(t, "sendMessage", 1)
	if sent[0].Text != command.Message(paimeng.LangZH, command.KeyHelp) {
		t.Errorf("start answer %q", sent[0].Text)
	}
}

func TestRunStops(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(ctx) }()
	e.srv.WaitFor(t, func() bool { return e.srv.Calls("getUpdates") > 0 }, "polling")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestNew(t *testing.T) {
	srv := telegramtest.NewServer(t)
	svc := newService()
	h := newHandler(svc)
	if _, err := telegram.New(telegram.Config{}, svc, svc, svc, h, svc); err == nil {
		t.Error("no token accepted")
	}
	if _, err := telegram.New(telegram.Config{Token: srv.Token, APIURL: srv.URL}, svc, svc, svc, nil, svc); err == nil {
		t.Error("no command handler accepted")
	}
	_, err := telegram.New(telegram.Config{Token: "999:wrong", APIURL: srv.URL}, svc, svc, svc, h, svc)
	var ae *telegram.APIError
	if !errors.As(err, &ae) || ae.Code != 401 || !strings.HasPrefix(err.Error(), "telegram: ") {
		t.Errorf("wrong token: %v", err)
	}
	url := srv.URL
	srv.Close()
	_, err = telegram.New(telegram.Config{Token: "999:secret-token", APIURL: url}, svc, svc, svc, h, svc)
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("unreachable API: %v", err)
	}
	bot, _ := telegram.New(telegram.Config{Token: srv.Token, APIURL: telegramtest.NewServer(t).URL, Logger: quiet()}, svc, svc, svc, h, svc)
	if bot == nil || bot.Platform() != paimeng.PlatformTelegram || bot.Self().UserName != telegramtest.BotUserName {
		t.Errorf("bot %+v", bot)
	}
}

var _ paimeng.Deliverer = (*telegram.Bot)(nil)

// fastService finishes and delivers every job inside Submit, as a very
// fast worker would before the queued reply exists.
type fastService struct {
	*service
	deliver func(*paimeng.Job)
}

func (f fastService) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	j, err := f.service.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	done := f.Finish(j.ID, paimeng.JobSucceeded, "v.mp4", "")
	f.deliver(done)
	f.Update(j.ID, func(j *paimeng.Job) {
		now := time.Now()
		j.DeliveredAt = &now
	})
	return j, nil
}

func TestDeliveredBeforeStatusMessage(t *testing.T) {
	e := newEnv(t)
	e.svc.Put(context.Background(), "v.mp4", bytes.NewReader(mp4(64, 64, 1, 5)))
	var bot *telegram.Bot
	fast := fastService{service: e.svc, deliver: func(j *paimeng.Job) {
		if err := bot.Deliver(context.Background(), j); err != nil {
			t.Error(err)
		}
	}}
	bot, err := telegram.New(telegram.Config{Token: e.srv.Token, APIURL: e.srv.URL, HTTPClient: e.srv.Client(), Logger: quiet()}, fast, e.svc, e.svc, e.handler, e.svc)
	if err != nil {
		t.Fatal(err)
	}
	m := e.srv.CompleteMessage(e.photoGen(enUser(), "/gen fade"))
	bot.HandleUpdate(context.Background(), tgbotapi.Update{UpdateID: 1, Message: &m})
	if n := len(e.srv.Sent("sendVideo")); n != 1 {
		t.Fatalf("%d videos", n)
	}
	status := e.srv.Sent("sendMessage")
	if len(status) != 1 {
		t.Fatalf("sent %+v", status)
	}
	if text, _ := e.srv.MessageText(43, status[0].MessageID); text != command.Message(paimeng.LangEN, command.KeyDone, "j001") {
		t.Errorf("status message %q", text)
	}
}

func TestDeliverPermanentErrorDropped(t *testing.T) {
	e := newEnv(t)
	job, _, status := e.queuedJob(zhUser())
	job = e.svc.Finish(job.ID, paimeng.JobFailed, "", paimeng.EJobTimeout)
	e.srv.FailNext("sendMessage", telegramtest.Failure{Code: 403, Description: "Forbidden: bot was blocked by the user"})
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Errorf("blocked bot: %v", err)
	}
	if text, _ := e.srv.MessageText(42, status.MessageID); text != status.Text {
		t.Errorf("status changed to %q", text)
	}
}

func TestTailFromReply(t *testing.T) {
	e := newEnv(t)
	first, end := jpeg(), append(jpeg(), []byte("end frame")...)
	photo := e.srv.CompleteMessage(tgbotapi.Message{From: zhUser(), Chat: group(), Photo: e.srv.AddPhoto(first, 800, 600)})
	m := e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Photo: e.srv.AddPhoto(end, 800, 600), ReplyToMessage: &photo,
		Caption: "/gen 樱花 --tail --camera zoom:-5 --fps 30 --res 720p --aspect 16:9 --negative 模糊"})
	reqs := e.svc.Submits()
	if len(reqs) != 1 {
		t.Fatalf("%d submits", len(reqs))
	}
	r := reqs[0]
	if !bytes.Equal(r.Image, first) || !bytes.Equal(r.Tail, end) {
		t.Errorf("image %d bytes, tail %d bytes: the replied-to photo is the first frame", len(r.Image), len(r.Tail))
	}
	if r.Prompt != "樱花" || r.Camera.String() != "zoom:-5" || r.FPS != 30 || r.Resolution != 720 || r.Aspect != paimeng.AspectWide || r.NegativePrompt != "模糊" {
		t.Errorf("prompt %q camera %q fps %d resolution %d aspect %q negative %q", r.Prompt, r.Camera.String(), r.FPS, r.Resolution, r.Aspect, r.NegativePrompt)
	}
	if !strings.HasSuffix(r.IdempotencyKey, ":-1001:"+strconv.Itoa(m.MessageID)) {
		t.Errorf("key %q", r.IdempotencyKey)
	}
	// The acknowledgement is the usual one, with the negative-prompt note.
	sent := e.srv.Sent("sendMessage")
	j, _ := e.svc.Job(context.Background(), "j001")
	want := command.QueuedPriceText(paimeng.LangZH, "j001", 1, j.Price) + "\n" + command.CameraLine(paimeng.LangZH, j.Shot) + "\n" +
		command.Message(paimeng.LangZH, command.KeyNegativeIgnored)
	if command.CameraLine(paimeng.LangZH, j.Shot) == "" {
		t.Error("no camera line for zoom:-5")
	}
	if len(sent) != 1 || sent[0].Text != want || sent[0].ReplyTo != m.MessageID {
		t.Errorf("sent %+v", sent)
	}

	// Without --tail, a photo replying to a photo animates its own.
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Photo: e.srv.AddPhoto(end, 800, 600), ReplyToMessage: &photo, Caption: "/gen 推近"})
	if r := e.svc.Submits()[1]; !bytes.Equal(r.Image, end) || r.Tail != nil {
		t.Errorf("without --tail: image %d bytes, tail %d bytes", len(r.Image), len(r.Tail))
	}
}

func TestTailNeedsTwoPictures(t *testing.T) {
	e := newEnv(t)
	photo := e.srv.CompleteMessage(tgbotapi.Message{From: enUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 800, 600)})
	text := e.srv.CompleteMessage(tgbotapi.Message{From: enUser(), Chat: group(), Text: "look"})
	pdf := e.srv.CompleteMessage(tgbotapi.Message{From: enUser(), Chat: group(), Document: e.srv.AddDocument([]byte("%PDF"), "a.pdf", "application/pdf")})
	e.handle(e.photoGen(zhUser(), "/gen 推近 --tail"))                                                                                              // no picture replied to
	e.handle(tgbotapi.Message{From: enUser(), Chat: group(), Text: "/gen --tail", ReplyToMessage: &photo})                                        // no end frame
	e.handle(tgbotapi.Message{From: enUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 8, 8), Caption: "/gen --tail", ReplyToMessage: &text}) // replied to a text
	e.handle(tgbotapi.Message{From: enUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 8, 8), Caption: "/gen --tail", ReplyToMessage: &pdf})  // replied to a PDF
	e.handle(tgbotapi.Message{From: enUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 8, 8), Caption: "/gen --camera zoom:11", ReplyToMessage: &photo})
	want := []string{
		command.Message(paimeng.LangZH, command.KeyTailNeedsReply),
		command.Message(paimeng.LangEN, command.KeyTailNeedsReply),
		command.Message(paimeng.LangEN, command.KeyTailNeedsReply),
		command.CodeText(paimeng.LangEN, paimeng.EImageFormat),
		command.CodeText(paimeng.LangEN, paimeng.EBadOption),
	}
	e.wantAnswers(t, want)
	if n := len(e.svc.Submits()); n != 0 {
		t.Errorf("%d submits", n)
	}
	if n := e.srv.Calls("getFile"); n != 0 {
		t.Errorf("%d downloads", n)
	}
	for _, id := range []string{"42", "43"} {
		if a, _ := e.svc.Account(context.Background(), paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: id}); a.Balance != 100 {
			t.Errorf("telegram:%s balance %d", id, a.Balance)
		}
	}
}

// wantAnswers checks the texts of every message the bot sent, in order.
func (e *env) wantAnswers(t *testing.T, want []string) {
	t.Helper()
	sent := e.srv.Sent("sendMessage")
	if len(sent) != len(want) {
		t.Fatalf("sent %+v", sent)
	}
	for i, w := range want {
		if sent[i].Text != w {
			t.Errorf("answer %d = %q, want %q", i, sent[i].Text, w)
		}
	}
}
