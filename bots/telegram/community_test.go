package telegram_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/telegram/telegramtest"
)

func identity(u *tgbotapi.User) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: strconv.FormatInt(u.ID, 10)}
}

// ask sends text from u (in chat, or u's private chat when nil) and returns
// the bot's reply to it, "" when there was none.
func (e *env) ask(u *tgbotapi.User, chat *tgbotapi.Chat, text string) string {
	e.t.Helper()
	m := e.handle(tgbotapi.Message{From: u, Chat: chat, Text: text})
	var reply string
	for _, s := range e.srv.Sent("sendMessage") {
		if s.ChatID == m.Chat.ID && s.ReplyTo == m.MessageID {
			if reply != "" {
				e.t.Errorf("%q answered twice", text)
			}
			reply = s.Text
		}
	}
	return reply
}

// direct is what the command handler itself answers u for text.
func (e *env) direct(u *tgbotapi.User, text string) string {
	e.t.Helper()
	cmd, err := command.Parse(text)
	if err != nil {
		e.t.Fatal(err)
	}
	reply, ok := e.handler.Handle(context.Background(), identity(u), paimeng.LangFromCode(u.LanguageCode), cmd)
	if !ok {
		e.t.Fatalf("handler does not know %q", text)
	}
	return reply
}

func (e *env) balance(u *tgbotapi.User) int64 {
	e.t.Helper()
	acc, err := e.svc.Account(context.Background(), identity(u))
	if err != nil {
		e.t.Fatal(err)
	}
	return acc.Balance
}

func TestCommunityCommands(t *testing.T) {
	e := newEnv(t)
	zh, en := zhUser(), enUser()
	e.svc.AddCode("SPRING2025", 50)

	if got, want := e.ask(zh, nil, "/balance"), e.direct(zh, "/balance"); got != want || !strings.Contains(got, "100") {
		t.Errorf("/balance = %q, want %q", got, want)
	}
	if got, want := e.ask(zh, nil, "/daily"), command.Message(paimeng.LangZH, command.KeyDaily, 15, 115); got != want {
		t.Errorf("/daily = %q, want %q", got, want)
	}
	// A second check-in the same day is refused and pays nothing.
	if got, want := e.ask(zh, nil, "/daily"), e.direct(zh, "/daily"); got != want || got == command.Message(paimeng.LangZH, command.KeyDaily, 15, 130) {
		t.Errorf("second /daily = %q, want %q", got, want)
	}
	if got, want := e.ask(zh, nil, "/redeem SPRING2025"), command.Message(paimeng.LangZH, command.KeyRedeemed, 50, 165); got != want {
		t.Errorf("/redeem = %q, want %q", got, want)
	}
	if got, want := e.ask(zh, nil, "/redeem SPRING2025"), e.direct(zh, "/redeem SPRING2025"); got != want || strings.Contains(got, "215") {
		t.Errorf("second /redeem = %q, want %q", got, want)
	}
	if b := e.balance(zh); b != 165 {
		t.Errorf("balance %d, want 165", b)
	}

	// A finished video puts its maker on the board.
	job, _, _ := e.queuedJob(zh)
	e.svc.Finish(job.ID, paimeng.JobSucceeded, "v.mp4", "")
	top := e.ask(en, nil, "/top")
	if want := e.direct(en, "/top"); top != want || !strings.Contains(top, "派 蒙") {
		t.Errorf("/top = %q, want %q with the maker's name", top, want)
	}
	if got, want := e.ask(en, nil, "/price"), e.direct(en, "/price"); got != want || got == "" {
		t.Errorf("/price = %q, want %q", got, want)
	}

	// Admin commands: refused for members, run for admins.
	if got, want := e.ask(en, nil, "/grant telegram:42 25"), command.CodeText(paimeng.LangEN, paimeng.EForbidden); got != want {
		t.Errorf("member /grant = %q, want %q", got, want)
	}
	boss := &tgbotapi.User{ID: 1, FirstName: "Boss", LanguageCode: "en"}
	if got, want := e.ask(boss, nil, "/grant telegram:42 25 prize"), command.Message(paimeng.LangEN, command.KeyGrantDone, "telegram:42", 25, 180); got != want {
		t.Errorf("admin /grant = %q, want %q", got, want)
	}
}

func TestCommandsInGroups(t *testing.T) {
	e := newEnv(t)
	en := enUser()
	// Known commands are answered in groups, addressed or not.
	if got, want := e.ask(en, group(), "/daily"), command.Message(paimeng.LangEN, command.KeyDaily, 15, 115); got != want {
		t.Errorf("group /daily = %q, want %q", got, want)
	}
	if got := e.ask(en, group(), "/balance@PaimengBot"); got != e.direct(en, "/balance") {
		t.Errorf("group /balance@PaimengBot = %q", got)
	}
	// Commands for another bot and unknown commands stay unanswered.
	if got := e.ask(en, group(), "/daily@OtherBot"); got != "" {
		t.Errorf("/daily@OtherBot answered %q", got)
	}
	if got := e.ask(en, group(), "/frobnicate"); got != "" {
		t.Errorf("unknown group command answered %q", got)
	}
	if b := e.balance(en); b != 115 {
		t.Errorf("balance %d after one check-in", b)
	}
	// Codes stay out of groups: issuing a link code or redeeming one there
	// is refused with a pointer to the private chat.
	privateOnly := command.Message(paimeng.LangEN, command.KeyPrivateOnly)
	for _, text := range []string{"/link", "/redeem GIFT50", "/link@PaimengBot"} {
		if got := e.ask(en, group(), text); got != privateOnly {
			t.Errorf("group %s = %q, want the private-only answer", text, got)
		}
	}
	if got := e.ask(en, nil, "/link"); got == privateOnly || !strings.Contains(got, "/link ") {
		t.Errorf("private /link = %q, want a code", got)
	}
	// Addressed to this bot, or in private, an unknown command gets help.
	help := command.Message(paimeng.LangEN, command.KeyHelp)
	if got := e.ask(en, group(), "/frobnicate@PaimengBot"); got != help {
		t.Errorf("addressed unknown command = %q", got)
	}
	if got := e.ask(en, nil, "/frobnicate"); got != help {
		t.Errorf("private unknown command = %q", got)
	}
	if got := e.ask(en, nil, "/start"); got != help {
		t.Errorf("/start = %q", got)
	}
}

func TestCommandsOverLongPolling(t *testing.T) {
	e := newEnv(t)
	e.run()
	m := e.srv.PushMessage(tgbotapi.Message{From: zhUser(), Text: "/daily"})
	sent := e.srv.WaitSent(t, "sendMessage", 1)
	if sent[0].ReplyTo != m.MessageID || sent[0].Text != command.Message(paimeng.LangZH, command.KeyDaily, 15, 115) {
		t.Errorf("reply %+v", sent[0])
	}
	if got := e.srv.AllowedUpdates(); !slices.Equal(got, []string{"message", "callback_query"}) {
		t.Errorf("allowed_updates %v", got)
	}
}

func TestGenAcknowledgesPrice(t *testing.T) {
	e := newEnv(t)
	m := e.handle(e.photoGen(enUser(), "/gen push in --pro --seconds 10 --relax"))
	reqs := e.svc.Submits()
	if len(reqs) != 1 || reqs[0].Mode != paimeng.ModePro || reqs[0].Lane != paimeng.LaneRelax || reqs[0].Seconds != 10 || reqs[0].Prompt != "push in" {
		t.Fatalf("submits %+v", reqs)
	}
	job, err := e.svc.Job(context.Background(), "j001")
	if err != nil {
		t.Fatal(err)
	}
	std, _ := e.svc.Prices.Price("", paimeng.ModeStd, 5, paimeng.LaneFast)
	if job.Price <= 0 || job.Price == std {
		t.Fatalf("pro 10 s relax price %d (std 5 s fast %d)", job.Price, std)
	}
	sent := e.srv.Sent("sendMessage")
	if len(sent) != 1 || sent[0].ReplyTo != m.MessageID {
		t.Fatalf("sent %+v", sent)
	}
	if want := command.QueuedPriceText(paimeng.LangEN, "j001", 1, job.Price); sent[0].Text != want {
		t.Errorf("acknowledgement %q, want %q", sent[0].Text, want)
	}
	if !strings.Contains(sent[0].Text, strconv.FormatInt(job.Price, 10)) {
		t.Errorf("acknowledgement %q lacks the price %d", sent[0].Text, job.Price)
	}

	// Chinese option words work the same; the default is std and fast.
	e.handle(e.photoGen(zhUser(), "/gen 推近"))
	reqs = e.svc.Submits()
	if r := reqs[len(reqs)-1]; r.Mode != "" || r.Lane != "" {
		t.Errorf("default request mode %q lane %q", r.Mode, r.Lane)
	}
	sent = e.srv.Sent("sendMessage")
	if want := command.QueuedPriceText(paimeng.LangZH, "j002", 2, std); sent[len(sent)-1].Text != want {
		t.Errorf("acknowledgement %q, want %q", sent[len(sent)-1].Text, want)
	}
}

// deliveredInGroup makes zhUser's video in the group and delivers it.
func (e *env) deliveredInGroup() (*paimeng.Job, telegramtest.Sent) {
	e.t.Helper()
	e.handle(tgbotapi.Message{From: zhUser(), Chat: group(), Photo: e.srv.AddPhoto(jpeg(), 640, 480), Caption: "/gen 推近"})
	id := e.svc.LastJobID()
	e.svc.Put(context.Background(), "out/"+id+".mp4", bytes.NewReader(mp4(640, 480, 1000, 5000)))
	job := e.svc.Finish(id, paimeng.JobSucceeded, "out/"+id+".mp4", "")
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		e.t.Fatal(err)
	}
	videos := e.srv.Sent("sendVideo")
	if len(videos) == 0 {
		e.t.Fatal("no video sent")
	}
	return job, videos[len(videos)-1]
}

func TestLikeButton(t *testing.T) {
	e := newEnv(t)
	e.run()
	job, video := e.deliveredInGroup()
	data := command.LikeData(job.ID)
	if got := video.CallbackData(); !slices.Equal(got, []string{data}) {
		t.Fatalf("video buttons %v, want [%s]", got, data)
	}
	if label := video.ReplyMarkup.InlineKeyboard[0][0].Text; label != "❤️ 赞 / Like" {
		t.Errorf("button label %q", label)
	}

	// Another member presses Like.
	u, err := e.srv.PressButton(enUser(), video.ChatID, video.MessageID, data)
	if err != nil {
		t.Fatal(err)
	}
	answers := e.srv.WaitAnswers(t, 1)
	if a := answers[0]; a.CallbackQueryID != u.CallbackQuery.ID || a.Text != command.Message(paimeng.LangEN, command.KeyLiked, job.ID, 1) {
		t.Errorf("answer %+v", a)
	}
	if got := e.svc.LikeCalls(); !slices.Equal(got, []string{"telegram:43 " + job.ID}) {
		t.Errorf("Like calls %v", got)
	}

	// The same query again, in a new update and in the same update: one
	// like, one answer.
	e.srv.PushUpdate(tgbotapi.Update{CallbackQuery: u.CallbackQuery})
	e.bot.HandleUpdate(context.Background(), u)
	e.srv.WaitFor(t, func() bool {
		l := e.logs.String()
		return strings.Contains(l, "duplicate callback query") && strings.Contains(l, "duplicate update") || e.srv.Calls("answerCallbackQuery") > 1
	}, "the repeated query handled")
	if n := e.srv.Calls("answerCallbackQuery"); n != 1 {
		t.Errorf("repeated query answered: %d answerCallbackQuery calls", n)
	}

	// Pressing again is a new query: answered, the like counted once.
	if _, err := e.srv.PressButton(enUser(), video.ChatID, video.MessageID, data); err != nil {
		t.Fatal(err)
	}
	answers = e.srv.WaitAnswers(t, 2)
	if want := command.Message(paimeng.LangEN, command.KeyLikedBefore, job.ID, 1); answers[1].Text != want {
		t.Errorf("second press answered %q, want %q", answers[1].Text, want)
	}

	// The maker cannot like their own video.
	if _, err := e.srv.PressButton(zhUser(), video.ChatID, video.MessageID, data); err != nil {
		t.Fatal(err)
	}
	answers = e.srv.WaitAnswers(t, 3)
	if want := command.Message(paimeng.LangZH, command.KeyLikeOwn); answers[2].Text != want {
		t.Errorf("own like answered %q, want %q", answers[2].Text, want)
	}

	if n := e.srv.Calls("answerCallbackQuery"); n != 3 {
		t.Errorf("answerCallbackQuery called %d times, want 3", n)
	}
	if n := len(e.svc.LikeCalls()); n != 3 {
		t.Errorf("Like called %d times, want 3", n)
	}
	likes := e.svc.Likes(job.ID)
	if likes != 1 {
		t.Errorf("%d likes, want 1", likes)
	}
}

func TestLikeButtonOnDocument(t *testing.T) {
	e := newEnv(t)
	e.srv.SetUploadLimit("sendVideo", 100)
	e.handle(e.photoGen(enUser(), "/gen fade"))
	e.svc.Put(context.Background(), "v.mp4", bytes.NewReader(mp4(64, 64, 1, 5)))
	job := e.svc.Finish("j001", paimeng.JobSucceeded, "v.mp4", "")
	if err := e.bot.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	docs := e.srv.Sent("sendDocument")
	if len(docs) != 1 || !slices.Equal(docs[0].CallbackData(), []string{command.LikeData("j001")}) {
		t.Fatalf("documents %+v", docs)
	}
	// Failed jobs get no button.
	e.handle(e.photoGen(enUser(), "/gen fade again"))
	failed := e.svc.Finish("j002", paimeng.JobFailed, "", paimeng.EEngineFailed)
	if err := e.bot.Deliver(context.Background(), failed); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.srv.Sent("sendMessage") {
		if s.ReplyMarkup != nil {
			t.Errorf("message %q carries a keyboard", s.Text)
		}
	}
}

func TestForeignCallbackData(t *testing.T) {
	e := newEnv(t)
	for _, data := range []string{"vote:1", "like:", "like:../../x"} {
		e.bot.HandleUpdate(context.Background(), tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{
			ID: "q-" + data, From: enUser(), Data: data, ChatInstance: "c",
		}})
	}
	if got := e.svc.LikeCalls(); len(got) != 0 {
		t.Errorf("Like calls %v", got)
	}
	// Each query is still answered, so the member's client stops waiting.
	if n := e.srv.Calls("answerCallbackQuery"); n != 3 {
		t.Errorf("answerCallbackQuery called %d times", n)
	}
}
