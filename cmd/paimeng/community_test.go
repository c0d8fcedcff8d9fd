package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/telegram/telegramtest"
)

// One community on two platforms: a Telegram member checks in, links the
// web identity into one wallet, makes a relax clip at the relax price,
// gets a like from another member, redeems a code, and shows up as one
// leaderboard row; the ledger audit stays at zero drift.
func TestDevCommunityAcrossPlatforms(t *testing.T) {
	tg := telegramtest.NewServer(t)
	cfg := testConfig(t, map[string]string{
		"PAIMENG_TELEGRAM_TOKEN":   tg.Token,
		"PAIMENG_TELEGRAM_API_URL": tg.URL,
		"PAIMENG_DAILY_CREDITS":    "7",
		"PAIMENG_PRICES":           "camera=10, relax=0.5",
	})
	app := startApp(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})
	ctx := context.Background()
	base := "http://" + app.Addr()
	c := &http.Client{Timeout: 30 * time.Second}

	group := &tgbotapi.Chat{ID: -1001, Type: "supergroup", Title: "拍梦社区"}
	mei := &tgbotapi.User{ID: 5151, FirstName: "梦", LanguageCode: "zh-hans"}
	bob := &tgbotapi.User{ID: 6262, FirstName: "Bob", LanguageCode: "en"}
	meiID := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "5151"}
	webID := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "mei-web"}

	// say sends text to the group (codes privately) and returns the bot's
	// reply to it.
	say := func(from *tgbotapi.User, text string) string {
		t.Helper()
		chat := group
		if strings.HasPrefix(text, "/redeem") {
			chat = nil // a private chat with the bot
		}
		m := tg.PushMessage(tgbotapi.Message{From: from, Chat: chat, Text: text})
		var reply string
		tg.WaitFor(t, func() bool {
			for _, s := range tg.Sent("sendMessage") {
				if s.ReplyTo == m.MessageID {
					reply = s.Text
					return true
				}
			}
			return false
		}, "a reply to %q", text)
		t.Logf("%s → %s", text, reply)
		return reply
	}
	balance := func(id paimeng.Identity) int64 {
		t.Helper()
		a, err := app.Store.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}

	if r := say(mei, "/balance"); !strings.Contains(r, "100") {
		t.Fatalf("/balance reply %q", r)
	}
	if r := say(mei, "/daily"); !strings.Contains(r, "7") || balance(meiID) != 107 {
		t.Fatalf("/daily reply %q, balance %d", r, balance(meiID))
	}
	if r := say(mei, "/daily"); r != command.CodeText(paimeng.LangZH, paimeng.EAlreadyClaimed) || balance(meiID) != 107 {
		t.Fatalf("second /daily reply %q, balance %d", r, balance(meiID))
	}

	// The web identity asks for a link code; Telegram claims it.
	token, err := app.Store.CreateToken(ctx, webID, "test")
	if err != nil {
		t.Fatal(err)
	}
	var link struct {
		Code string `json:"code"`
	}
	apiJSON(t, c, "POST", base+"/api/v1/link", token, nil, http.StatusOK, &link)
	if len(link.Code) != 6 {
		t.Fatalf("link code %q", link.Code)
	}
	if r := say(mei, "/link "+link.Code); !strings.Contains(r, "207") {
		t.Fatalf("/link reply %q, want the joined balance 107 + 100", r)
	}
	meiAcc, _ := app.Store.Account(ctx, meiID)
	webAcc, _ := app.Store.Account(ctx, webID)
	if meiAcc.ID != webAcc.ID || meiAcc.Balance != 207 {
		t.Fatalf("after link: telegram %+v web %+v", meiAcc, webAcc)
	}
	var me struct {
		Balance int64 `json:"balance"`
	}
	apiJSON(t, c, "GET", base+"/api/v1/me", token, nil, http.StatusOK, &me)
	if me.Balance != 207 {
		t.Fatalf("web /me balance %d", me.Balance)
	}
	if r := say(mei, "/daily"); r != command.CodeText(paimeng.LangZH, paimeng.EAlreadyClaimed) {
		t.Fatalf("/daily after link paid again: %q", r)
	}

	// The price is shown before committing and in the confirmation.
	if r := say(mei, "/price --relax"); !strings.Contains(r, "5") {
		t.Fatalf("/price --relax reply %q", r)
	}
	photo := jpegBytes(t, scene(640, 360))
	gen := tg.PushMessage(tgbotapi.Message{From: mei, Chat: group, Photo: tg.AddPhoto(photo, 640, 360), Caption: "/gen 镜头缓慢推近 --relax"})
	videos := tg.WaitSent(t, "sendVideo", 1)
	var ack string
	for _, s := range tg.Sent("sendMessage") {
		if s.ReplyTo == gen.MessageID {
			ack = s.Text
			break
		}
	}
	if !strings.Contains(ack, "5") {
		t.Fatalf("acknowledgement %q does not show the relax price 5", ack)
	}
	if balance(meiID) != 202 {
		t.Fatalf("balance after a relax clip %d, want 207 - 5", balance(meiID))
	}
	jobs, err := app.Store.RecentJobs(ctx, webID, 1)
	if err != nil || len(jobs) != 1 || jobs[0].Lane != paimeng.LaneRelax || jobs[0].Price != 5 {
		t.Fatalf("job %+v %v", jobs, err)
	}
	jobID := jobs[0].ID

	// Bob likes it with the button; the owner's web identity cannot.
	data := command.LikeData(jobID)
	if _, err := tg.PressButton(bob, group.ID, videos[0].MessageID, data); err != nil {
		t.Fatal(err)
	}
	if a := tg.WaitAnswers(t, 1); len(a) != 1 {
		t.Fatalf("answers %+v", a)
	}
	apiJSON(t, c, "POST", base+"/api/v1/jobs/"+jobID+"/like", token, nil, http.StatusForbidden, nil)

	// A redemption code pays once.
	codes, err := app.Store.CreateCodes(ctx, 50, 1, nil, "launch", "admin:test")
	if err != nil {
		t.Fatal(err)
	}
	if r := say(bob, "/redeem "+codes[0]); !strings.Contains(r, "50") {
		t.Fatalf("/redeem reply %q", r)
	}
	if r := say(mei, "/redeem "+codes[0]); r != command.CodeText(paimeng.LangZH, paimeng.ECodeUsed) {
		t.Fatalf("second /redeem reply %q", r)
	}

	// One leaderboard row for the member, whichever platform made what.
	var board struct {
		Rows []struct {
			Name      string   `json:"name"`
			Platforms []string `json:"platforms"`
			Score     int64    `json:"score"`
		} `json:"rows"`
	}
	for _, b := range []string{"generations", "likes", "spent"} {
		apiJSON(t, c, "GET", base+"/api/v1/leaderboard?board="+b+"&period=week", "", nil, http.StatusOK, &board)
		if len(board.Rows) != 1 || board.Rows[0].Name != "梦" || strings.Join(board.Rows[0].Platforms, ",") != "telegram,web" {
			t.Fatalf("%s board %+v", b, board.Rows)
		}
		want := map[string]int64{"generations": 1, "likes": 1, "spent": 5}[b]
		if board.Rows[0].Score != want {
			t.Fatalf("%s score %d, want %d", b, board.Rows[0].Score, want)
		}
	}
	if r := say(bob, "/top likes"); !strings.Contains(r, "梦") {
		t.Fatalf("/top likes reply %q", r)
	}

	var out bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"PAIMENG_DATA_DIR": cfg.DataDir, "PAIMENG_ORT_LIBRARY": cfg.ORTLibrary}[k]
	}
	if err := run(ctx, []string{"admin", "audit"}, getenv, &out, &out); err != nil || !strings.Contains(out.String(), "drift 0") {
		t.Fatalf("paimeng admin audit: %v\n%s", err, out.String())
	}
}

// apiJSON makes one API call and decodes the JSON answer into v.
func apiJSON(t *testing.T, c *http.Client, method, url, token string, body any, want int, v any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: HTTP %d, want %d: %s", method, url, resp.StatusCode, want, raw.String())
	}
	if v != nil {
		if err := json.Unmarshal(raw.Bytes(), v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw.String())
		}
	}
}
