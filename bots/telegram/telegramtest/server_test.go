package telegramtest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng/bots/telegram/telegramtest"
)

func TestServer(t *testing.T) {
	s := telegramtest.NewServer(t)
	api, err := tgbotapi.NewBotAPIWithClient(s.Token, s.URL+"/bot%s/%s", s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if api.Self.UserName != telegramtest.BotUserName {
		t.Errorf("getMe: %+v", api.Self)
	}

	a := s.PushMessage(tgbotapi.Message{From: &tgbotapi.User{ID: 7}, Text: "/gen hi"})
	if a.Chat == nil || a.Chat.ID != 7 || a.MessageID == 0 || !a.IsCommand() || a.Command() != "gen" {
		t.Errorf("completed message %+v", a)
	}
	ups, err := api.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 {
		t.Fatalf("getUpdates: %v %v", ups, err)
	}
	// The offset confirms; a long poll waits for the next update.
	go func() {
		time.Sleep(200 * time.Millisecond)
		s.PushMessage(tgbotapi.Message{From: &tgbotapi.User{ID: 7}, Text: "second"})
	}()
	start := time.Now()
	ups, err = api.GetUpdates(tgbotapi.UpdateConfig{Offset: ups[0].UpdateID + 1, Timeout: 5})
	if err != nil || len(ups) != 1 || ups[0].Message.Text != "second" || time.Since(start) > 3*time.Second {
		t.Fatalf("long poll: %v %v", ups, err)
	}
	start = time.Now()
	ups, err = api.GetUpdates(tgbotapi.UpdateConfig{Offset: ups[0].UpdateID + 1, Timeout: 1})
	if err != nil || len(ups) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("empty long poll: %v %v after %s", ups, err, time.Since(start))
	}

	id := s.AddFile([]byte("pixels"), "a.jpg")
	f, err := api.GetFile(tgbotapi.FileConfig{FileID: id})
	if err != nil || f.FileSize != 6 {
		t.Fatalf("getFile: %+v %v", f, err)
	}
	resp, err := s.Client().Get(s.URL + "/file/bot" + s.Token + "/" + f.FilePath)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %v %v", resp, err)
	}
	resp.Body.Close()

	msg, err := api.Send(tgbotapi.NewMessage(7, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Request(tgbotapi.NewEditMessageText(7, msg.MessageID, "hello")); err == nil {
		t.Error("unchanged edit accepted")
	}
	if _, err := api.Request(tgbotapi.NewEditMessageText(7, msg.MessageID, "bye")); err != nil {
		t.Error(err)
	}
	if text, _ := s.MessageText(7, msg.MessageID); text != "bye" {
		t.Errorf("text %q", text)
	}
	v := tgbotapi.NewVideo(7, tgbotapi.FileBytes{Name: "v.mp4", Bytes: []byte("mp4")})
	v.Caption = "cap"
	if _, err := api.Send(v); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent("sendVideo")
	if len(sent) != 1 || string(sent[0].File) != "mp4" || sent[0].Caption != "cap" {
		t.Errorf("videos %+v", sent)
	}

	s.FailNext("sendMessage", telegramtest.Failure{Code: 429, Description: "Too Many Requests", RetryAfter: 2})
	_, err = api.Send(tgbotapi.NewMessage(7, "x"))
	if te, ok := err.(*tgbotapi.Error); !ok || te.Code != 429 || te.RetryAfter != 2 {
		t.Errorf("429: %#v", err)
	}
	if n := s.Calls("sendMessage"); n != 2 {
		t.Errorf("%d sendMessage calls", n)
	}
}

func TestServerButtons(t *testing.T) {
	s := telegramtest.NewServer(t)
	api, err := tgbotapi.NewBotAPIWithClient(s.Token, s.URL+"/bot%s/%s", s.Client())
	if err != nil {
		t.Fatal(err)
	}
	v := tgbotapi.NewVideo(7, tgbotapi.FileBytes{Name: "v.mp4", Bytes: []byte("mp4")})
	v.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("❤️", "like:abc")))
	msg, err := api.Send(v)
	if err != nil {
		t.Fatal(err)
	}
	if msg.ReplyMarkup == nil || len(msg.ReplyMarkup.InlineKeyboard) != 1 {
		t.Errorf("sent message markup %+v", msg.ReplyMarkup)
	}
	sent := s.Sent("sendVideo")
	if len(sent) != 1 || !slices.Equal(sent[0].CallbackData(), []string{"like:abc"}) {
		t.Fatalf("videos %+v", sent)
	}
	long := tgbotapi.NewMessage(7, "x")
	long.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("x", strings.Repeat("d", 65))))
	if _, err := api.Send(long); err == nil {
		t.Error("callback_data over 64 bytes accepted")
	}

	if _, err := s.NewCallbackQuery(&tgbotapi.User{ID: 8}, 7, msg.MessageID, "like:other"); err == nil {
		t.Error("press of a button that does not exist")
	}
	if _, err := s.NewCallbackQuery(&tgbotapi.User{ID: 8}, 7, 99999, "like:abc"); err == nil {
		t.Error("press on a message that does not exist")
	}

	// A bot that asks for messages only never sees the press.
	u, err := s.PressButton(&tgbotapi.User{ID: 8, LanguageCode: "en"}, 7, msg.MessageID, "like:abc")
	if err != nil {
		t.Fatal(err)
	}
	ups, err := api.GetUpdates(tgbotapi.UpdateConfig{AllowedUpdates: []string{"message"}})
	if err != nil || len(ups) != 0 {
		t.Fatalf("message-only getUpdates: %+v %v", ups, err)
	}
	if got := s.AllowedUpdates(); !slices.Equal(got, []string{"message"}) {
		t.Errorf("allowed updates %v", got)
	}
	s.PushUpdate(u)
	ups, err = api.GetUpdates(tgbotapi.UpdateConfig{AllowedUpdates: []string{"message", "callback_query"}})
	if err != nil || len(ups) != 1 {
		t.Fatalf("getUpdates: %+v %v", ups, err)
	}
	q := ups[0].CallbackQuery
	if q == nil || q.ID == "" || q.Data != "like:abc" || q.From.ID != 8 || q.Message == nil || q.Message.MessageID != msg.MessageID || q.Message.Chat.ID != 7 {
		t.Fatalf("callback query %+v", q)
	}
	// The setting sticks when a later call names none.
	if _, err := s.PressButton(&tgbotapi.User{ID: 9}, 7, msg.MessageID, "like:abc"); err != nil {
		t.Fatal(err)
	}
	if ups, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: ups[0].UpdateID + 1}); err != nil || len(ups) != 1 || ups[0].CallbackQuery.From.ID != 9 {
		t.Fatalf("getUpdates without allowed_updates: %+v %v", ups, err)
	}

	if _, err := api.Request(tgbotapi.NewCallback(q.ID, "liked")); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Request(tgbotapi.NewCallback(q.ID, "again")); err == nil {
		t.Error("second answer accepted")
	}
	if _, err := api.Request(tgbotapi.NewCallback("nope", "x")); err == nil {
		t.Error("answer to an unknown query accepted")
	}
	if a := s.Answers(); len(a) != 1 || a[0].CallbackQueryID != q.ID || a[0].Text != "liked" {
		t.Errorf("answers %+v", a)
	}
	if n := s.Calls("answerCallbackQuery"); n != 3 {
		t.Errorf("%d answerCallbackQuery calls", n)
	}
}
