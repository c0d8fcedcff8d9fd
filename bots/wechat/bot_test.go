package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/wechat"
	"github.com/paimeng/paimeng/bots/wechat/wechattest"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
)

const publicURL = "https://paimeng.example"

// env is one bot (or several replicas) against a fake WeChat, a real
// Redis and fakes of the services.
type env struct {
	t        *testing.T
	wx       *wechattest.Server
	svc      *service
	rdb      *redis.Client
	bot      *wechat.Bot
	cfg      wechat.Config
	endpoint string // the bot in safe mode (EncodingAESKey set)
	plain    string // a replica of it in plain mode, for plain messages
	plainBot *wechat.Bot
}

func newEnv(t *testing.T, tweak func(*wechat.Config)) *env {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t, 9))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	e := &env{t: t, wx: wechattest.NewServer(t), svc: newService(), rdb: rdb}
	e.cfg = wechat.Config{
		AppID:           e.wx.AppID,
		Secret:          e.wx.Secret,
		Token:           e.wx.Token,
		AESKey:          e.wx.AESKey,
		APIURL:          e.wx.URL,
		CustomerService: true,
		PublicURL:       publicURL,
		Logger:          slog.New(slog.DiscardHandler),
	}
	if tweak != nil {
		tweak(&e.cfg)
	}
	e.bot = e.newBot()
	srv := httptest.NewServer(e.bot.Handler())
	t.Cleanup(srv.Close)
	e.endpoint = srv.URL + wechat.CallbackPath
	// An account runs in one mode; plain messages go to a plain replica on
	// the same Redis and services (the safe one refuses them).
	plainCfg := e.cfg
	plainCfg.AESKey = ""
	pb, err := wechat.New(plainCfg, e.rdb, e.svc, e.svc, e.svc, newHandler(e.svc), e.svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pb.Wait(context.Background()) })
	psrv := httptest.NewServer(pb.Handler())
	t.Cleanup(psrv.Close)
	e.plain = psrv.URL + wechat.CallbackPath
	e.plainBot = pb
	return e
}

// wait waits for the background work of both replicas.
func (e *env) wait() {
	e.t.Helper()
	for _, b := range []*wechat.Bot{e.bot, e.plainBot} {
		if err := b.Wait(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// newBot is another replica on the same Redis and services.
func (e *env) newBot() *wechat.Bot {
	e.t.Helper()
	b, err := wechat.New(e.cfg, e.rdb, e.svc, e.svc, e.svc, newHandler(e.svc), e.svc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = b.Wait(context.Background()) })
	return b
}

func (e *env) send(m wechattest.Msg, safe bool) wechattest.Reply {
	e.t.Helper()
	endpoint := e.plain
	if safe {
		endpoint = e.endpoint
	}
	r := e.wx.Deliver(e.t, endpoint, m, safe)
	if r.Status != http.StatusOK {
		e.t.Fatalf("status %d for %s, body %q", r.Status, m.XML, r.Raw)
	}
	if safe && r.MsgType != "" && !r.Encrypted {
		e.t.Fatalf("plain reply in safe mode: %q", r.Raw)
	}
	return r
}

func (e *env) text(from, content string, safe bool) wechattest.Reply {
	e.t.Helper()
	return e.send(e.wx.Text(from, content), safe)
}

// finish ends job id as succeeded with a video of n bytes (or failed with
// code) and delivers it as the finisher would.
func (e *env) finish(bot *wechat.Bot, id string, videoBytes int, code string) *paimeng.Job {
	e.t.Helper()
	var j *paimeng.Job
	if code == "" {
		key := "out/" + id + ".mp4"
		if err := e.svc.Put(context.Background(), key, bytes.NewReader(fakeMP4(videoBytes))); err != nil {
			e.t.Fatal(err)
		}
		j = e.svc.Finish(id, paimeng.JobSucceeded, key, "")
	} else {
		j = e.svc.Finish(id, paimeng.JobFailed, "", code)
	}
	if err := bot.Deliver(context.Background(), j); err != nil {
		e.t.Fatalf("deliver %s: %v", id, err)
	}
	return j
}

func fakeMP4(n int) []byte {
	b := bytes.Repeat([]byte{0x42}, n)
	copy(b, []byte("\x00\x00\x00\x18ftypmp42"))
	return b
}

func pngImage(t testing.TB, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

func (e *env) balance(openID string) int64 {
	acc, _ := e.svc.Account(context.Background(), paimeng.Identity{Platform: paimeng.PlatformWeChat, UserID: openID})
	return acc.Balance
}

func (e *env) price(id string) int64 {
	e.t.Helper()
	j, err := e.svc.Job(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j.Price
}

func TestImageThenPromptDeliversByCustomerService(t *testing.T) {
	for _, safe := range []bool{false, true} {
		t.Run(fmt.Sprintf("safe=%v", safe), func(t *testing.T) {
			e := newEnv(t, nil)
			const reader = "o_reader1"
			pic := pngImage(t, 200)
			img := e.wx.Image(reader, pic)
			r := e.send(img, safe)
			if r.MsgType != "text" {
				t.Fatalf("image reply %q", r.Raw)
			}
			contains(t, "image reply", r.Content, "收到图片，请在 10 分钟内发送一句描述（镜头怎么动），我会把它拍成视频。")

			r = e.text(reader, "镜头缓慢推近 --seconds 10", safe)
			contains(t, "ack", r.Content, "任务 #j001")
			contains(t, "ack", r.Content, "积分")
			if strings.Contains(r.Content, "任意一条消息") {
				t.Fatalf("customer-service ack promises the next message: %q", r.Content)
			}
			reqs := e.svc.Submits()
			if len(reqs) != 1 {
				t.Fatalf("%d submissions, want 1", len(reqs))
			}
			req := reqs[0]
			if want := fmt.Sprintf("wechat:%s:%d", e.wx.AppID, img.MsgID); req.IdempotencyKey != want {
				t.Fatalf("idempotency key %q, want %q", req.IdempotencyKey, want)
			}
			if req.Identity.String() != "wechat:"+reader || req.Lang != paimeng.LangZH || req.Prompt != "镜头缓慢推近" || req.Seconds != 10 {
				t.Fatalf("request %+v", req)
			}
			if !bytes.Equal(req.Image, pic) {
				t.Fatalf("image of %d bytes, want the %d sent", len(req.Image), len(pic))
			}
			var st map[string]any
			if err := json.Unmarshal(req.Reply, &st); err != nil || st["openid"] != reader || st["msg_id"] == nil || st["created"] == nil {
				t.Fatalf("reply state %s: %v", req.Reply, err)
			}
			price := e.price("j001")
			if got := e.balance(reader); got != 100-price {
				t.Fatalf("balance %d, want %d", got, 100-price)
			}

			// The image was used: a second sentence is not a second job.
			r = e.text(reader, "再拍一次", safe)
			contains(t, "after use", r.Content, "先发送一张图片")

			e.finish(e.bot, "j001", 2000, "")
			ups := e.wx.Uploads()
			if len(ups) != 1 || ups[0].Type != "video" || !strings.HasSuffix(ups[0].Name, ".mp4") || len(ups[0].Data) != 2000 {
				t.Fatalf("uploads %+v", ups)
			}
			cms := e.wx.CustomMessages(reader)
			if len(cms) != 1 || cms[0].MsgType != "video" || cms[0].MediaID != ups[0].MediaID || cms[0].Title != "镜头缓慢推近" {
				t.Fatalf("custom messages %+v", cms)
			}
			contains(t, "description", cms[0].Description, publicURL+"/v/j001")

			// Delivered once, even when the finisher calls again.
			j, _ := e.svc.Job(context.Background(), "j001")
			if err := e.bot.Deliver(context.Background(), j); err != nil {
				t.Fatal(err)
			}
			if n := len(e.wx.CustomMessages(reader)); n != 1 || len(e.wx.Uploads()) != 1 {
				t.Fatalf("%d custom messages and %d uploads after a second delivery", n, len(e.wx.Uploads()))
			}
			if e.svc.JobCount() != 1 {
				t.Fatalf("%d jobs", e.svc.JobCount())
			}
		})
	}
}

func TestReplayedMessageMakesOneJob(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_replay"
	e.send(e.wx.Image(reader, pngImage(t, 10)), false)
	m := e.wx.Text(reader, "镜头左移")
	var wg sync.WaitGroup
	replies := make([]wechattest.Reply, 3)
	for i := range replies {
		wg.Go(func() { replies[i] = e.send(m, false) })
	}
	wg.Wait()
	for i, r := range replies {
		contains(t, fmt.Sprintf("reply %d", i), r.Content, "任务 #j001")
	}
	// WeChat retries again later: the same answer, still one job.
	r := e.send(m, true)
	contains(t, "late retry", r.Content, "任务 #j001")
	if n := e.svc.JobCount(); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
	if got, want := e.balance(reader), 100-e.price("j001"); got != want {
		t.Fatalf("balance %d, want %d (one charge)", got, want)
	}
	// Another replica sees the same retry: it starts nothing.
	other := e.newBot()
	srv := httptest.NewServer(other.Handler())
	defer srv.Close()
	r = e.wx.Deliver(t, srv.URL+wechat.CallbackPath, m, true)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	contains(t, "other replica", r.Content, "任务 #j001")
	if n := len(e.svc.Submits()); n != 1 {
		t.Fatalf("%d submissions, want 1", n)
	}
}

func TestRetryOfSlowMessageWaitsForTheSameJob(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.ReplyBudget = 300 * time.Millisecond })
	const reader = "o_slow"
	e.send(e.wx.Image(reader, pngImage(t, 30)), false)
	e.svc.SetDelay(1500 * time.Millisecond)
	m := e.wx.Text(reader, "镜头推近")
	r1 := e.send(m, false)
	contains(t, "first", r1.Content, "收到，正在处理，稍后把结果发给你。")
	r2 := e.send(m, false)
	contains(t, "retry", r2.Content, "正在处理")
	// The answer goes out by customer service once; a late retry gets "success".
	e.wx.WaitFor(t, func() bool { return len(e.wx.CustomMessages(reader)) == 1 }, "the ack by customer service")
	r3 := e.send(m, false)
	if r3.MsgType != "" {
		t.Fatalf("late retry answered %q, want success", r3.Raw)
	}
	contains(t, "ack", e.wx.CustomMessages(reader)[0].Content, "任务 #j001")
	e.svc.SetDelay(0)
	if n := len(e.svc.Submits()); n != 1 {
		t.Fatalf("%d submissions, want 1", n)
	}
	if got, want := e.balance(reader), 100-e.price("j001"); got != want {
		t.Fatalf("balance %d, want %d", got, want)
	}
}

func TestForgedCallbacksAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_forged"
	e.send(e.wx.Image(reader, pngImage(t, 50)), false)
	cases := map[string]wechattest.DeliverOptions{
		"bad signature":       {BadSignature: true},
		"bad signature safe":  {Safe: true, BadSignature: true},
		"stale timestamp":     {Timestamp: time.Now().Add(-6 * time.Minute)},
		"future timestamp":    {Safe: true, Timestamp: time.Now().Add(6 * time.Minute)},
		"wrong app id":        {Safe: true, WrongAppID: true},
		"tampered ciphertext": {Safe: true, Tamper: true},
		"tampered unsigned":   {Safe: true, TamperUnsigned: true},
		"bad msg_signature":   {Safe: true, BadMsgSignature: true},
		// Correctly signed query, plain body: the query signature does not
		// cover the body, so a safe-mode account refuses plain messages.
		"plain to safe mode": {},
	}
	for name, opt := range cases {
		r := e.wx.DeliverWith(t, e.endpoint, e.wx.Text(reader, "镜头推近"), opt)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s: status %d, body %q; want 4xx", name, r.Status, r.Raw)
		}
		if name == "bad signature" && len(r.Raw) != 0 {
			t.Errorf("%s: body %q, want none", name, r.Raw)
		}
	}
	if n := len(e.svc.Submits()); n != 0 {
		t.Fatalf("%d submissions after forged messages", n)
	}
	// The image is still waiting for a genuine prompt.
	r := e.text(reader, "镜头推近", true)
	contains(t, "genuine", r.Content, "任务 #j001")
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Post(e.endpoint+"?signature=x&timestamp=1&nonce=2", "text/xml", bytes.NewReader(make([]byte, 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestPassiveRepliesStayWithinBudget(t *testing.T) {
	e := newEnv(t, func(*wechat.Config) {}) // the default budget, as shipped
	e.svc.SetDelay(3 * time.Second)
	const n = 200
	msgs := make([]wechattest.Msg, n)
	for i := range msgs {
		msgs[i] = e.wx.Text(fmt.Sprintf("o_busy%03d", i), "余额")
	}
	elapsed := make([]time.Duration, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := e.send(m, i%2 == 1)
			elapsed[i] = r.Elapsed
			if !strings.Contains(r.Content, "正在处理") {
				t.Errorf("reply %d: %q", i, r.Content)
			}
		})
	}
	wg.Wait()
	slices.Sort(elapsed)
	p99 := elapsed[n*99/100-1]
	t.Logf("passive replies: median %v, p99 %v, max %v", elapsed[n/2], p99, elapsed[n-1])
	if p99 >= time.Second {
		t.Fatalf("p99 of passive replies %v, want under 1s", p99)
	}
	// Every answer still arrives, by customer service.
	e.wx.WaitFor(t, func() bool {
		for _, m := range msgs {
			if len(e.wx.CustomMessages(m.From)) != 1 {
				return false
			}
		}
		return true
	}, "%d balances by customer service", n)
	contains(t, "balance", e.wx.CustomMessages(msgs[0].From)[0].Content, "你的积分余额：100")
}

func TestPendingDeliveryOnNextMessage(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.CustomerService = false })
	const reader = "o_unverified"
	e.send(e.wx.Image(reader, pngImage(t, 90)), false)
	r := e.text(reader, "拍梦 镜头后拉", false)
	contains(t, "ack", r.Content, "任务 #j001")
	contains(t, "ack", r.Content, "任意一条消息")
	contains(t, "ack", r.Content, publicURL+"/v/j001")
	if req := e.svc.Submits()[0]; req.Prompt != "镜头后拉" {
		t.Fatalf("prompt %q", req.Prompt)
	}

	e.finish(e.bot, "j001", 4096, "")
	// Uploaded ahead (so the reply need not), but nothing sent.
	if len(e.wx.Uploads()) != 1 || len(e.wx.CustomMessages(reader)) != 0 {
		t.Fatalf("%d uploads, %d messages without customer service", len(e.wx.Uploads()), len(e.wx.CustomMessages(reader)))
	}
	r = e.text(reader, "结果", false)
	ups := e.wx.Uploads()
	if r.MsgType != "video" || len(ups) != 1 || r.MediaID != ups[0].MediaID || r.Title != "镜头后拉" {
		t.Fatalf("reply %+v, uploads %d", r, len(ups))
	}
	contains(t, "description", r.Description, publicURL+"/v/j001")
	// Once.
	r = e.text(reader, "余额", false)
	if r.MsgType != "text" {
		t.Fatalf("second reply %q", r.Raw)
	}
	contains(t, "balance", r.Content, "你的积分余额")
	r = e.text(reader, "结果", true)
	contains(t, "nothing left", r.Content, "暂时没有新的结果")
	if len(e.wx.Uploads()) != 1 {
		t.Fatalf("%d uploads", len(e.wx.Uploads()))
	}
}

func TestPendingFailureAndSeveralResults(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.CustomerService = false })
	const reader = "o_many"
	for i := range 3 {
		e.send(e.wx.Image(reader, pngImage(t, uint8(i))), false)
		contains(t, "ack", e.text(reader, fmt.Sprintf("镜头推近 %d", i), false).Content, fmt.Sprintf("任务 #j00%d", i+1))
	}
	e.finish(e.bot, "j001", 1000, "")
	e.finish(e.bot, "j002", 0, paimeng.EEngineFailed)
	e.finish(e.bot, "j003", 1000, "")
	r := e.text(reader, "余额", false)
	if r.MsgType != "video" {
		t.Fatalf("reply %q", r.Raw)
	}
	contains(t, "description", r.Description, command.CodeText(paimeng.LangZH, paimeng.EEngineFailed))
	contains(t, "description", r.Description, publicURL+"/v/j003")
	contains(t, "description", r.Description, "你的积分余额")
}

func TestCustomerServiceWindowFallsBackToNextMessage(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_window"
	e.send(e.wx.Image(reader, pngImage(t, 70)), false)
	e.text(reader, "镜头晃动", false)
	e.wx.SetLastMessage(reader, time.Now().Add(-49*time.Hour))
	e.finish(e.bot, "j001", 1500, "")
	if n := len(e.wx.CustomMessages(reader)); n != 0 {
		t.Fatalf("%d custom messages outside the window", n)
	}
	r := e.text(reader, "你好", false)
	if r.MsgType != "video" || r.MediaID == "" {
		t.Fatalf("reply %q", r.Raw)
	}
	contains(t, "description", r.Description, "先发送一张图片")
}

func TestLargeVideoAndFailureByCustomerService(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_large"
	for i := range 2 {
		e.send(e.wx.Image(reader, pngImage(t, uint8(100+i))), false)
		e.text(reader, "镜头推近", false)
	}
	e.finish(e.bot, "j001", 11<<20, "")
	e.finish(e.bot, "j002", 0, paimeng.EImageTooSmall)
	cms := e.wx.CustomMessages(reader)
	if len(cms) != 2 || cms[0].MsgType != "text" || cms[1].MsgType != "text" {
		t.Fatalf("custom messages %+v", cms)
	}
	contains(t, "large", cms[0].Content, publicURL+"/v/j001")
	contains(t, "failed", cms[1].Content, command.CodeText(paimeng.LangZH, paimeng.EImageTooSmall))
	if len(e.wx.Uploads()) != 0 {
		t.Fatal("uploaded a video over 10 MB")
	}
}

func TestConversation(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_talk"
	e.svc.AddCode("GIFT50", 50)

	contains(t, "no image", e.text(reader, "镜头推近", false).Content, "先发送一张图片")
	contains(t, "gen without image", e.text(reader, "/gen 镜头推近", false).Content, "先发送一张图片")
	contains(t, "help", e.text(reader, "帮助", false).Content, "余额：查看积分")
	contains(t, "help word", e.text(reader, "拍梦", false).Content, "余额：查看积分")
	contains(t, "subscribe", e.send(e.wx.Event(reader, "subscribe", ""), false).Content, "余额：查看积分")
	contains(t, "click help", e.send(e.wx.Event(reader, "CLICK", wechat.ClickHelp), false).Content, "余额：查看积分")
	contains(t, "click balance", e.send(e.wx.Event(reader, "CLICK", wechat.ClickBalance), true).Content, "你的积分余额：100")
	contains(t, "balance", e.text(reader, "余额", false).Content, "你的积分余额：100")
	contains(t, "daily", e.text(reader, "签到", false).Content, "15")
	contains(t, "daily again", e.text(reader, "签到", false).Content, "已经签到")
	contains(t, "redeem", e.text(reader, "兑换 GIFT50", false).Content, "50")
	contains(t, "redeem again", e.text(reader, "兑换 GIFT50", true).Content, "用过")
	contains(t, "slash balance", e.text(reader, "/balance", false).Content, "你的积分余额：165")
	contains(t, "price", e.text(reader, "价格", false).Content, "价格")
	contains(t, "queue", e.text(reader, "队列", false).Content, command.Message(paimeng.LangZH, command.KeyQueueEmpty))
	contains(t, "link", e.text(reader, "关联", false).Content, "LINK0001")
	contains(t, "top", e.text(reader, "排行", false).Content, publicURL+"/top")
	if r := e.send(e.wx.Event(reader, "unsubscribe", ""), false); r.MsgType != "" {
		t.Fatalf("unsubscribe answered %q", r.Raw)
	}

	// Without --tail the latest of two images is the picture; options
	// work; a bad option keeps the images for a corrected prompt.
	e.send(e.wx.Image(reader, pngImage(t, 1)), false)
	second := pngImage(t, 2)
	img := e.wx.Image(reader, second)
	e.send(img, false)
	contains(t, "bad option", e.text(reader, "镜头推近 --seconds 7", false).Content, "选项有误")
	contains(t, "ack", e.text(reader, "镜头推近 --pro --seed 42", false).Content, "任务 #j001")
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, second) || reqs[0].Mode != paimeng.ModePro || reqs[0].Seed != 42 ||
		reqs[0].IdempotencyKey != fmt.Sprintf("wechat:%s:%d", e.wx.AppID, img.MsgID) {
		t.Fatalf("requests %+v", reqs)
	}
	contains(t, "cancel", e.text(reader, "取消 j001", false).Content, "j001")
}

func TestTokenSharedByReplicas(t *testing.T) {
	e := newEnv(t, nil)
	other := e.newBot()
	var wg sync.WaitGroup
	for i := range 10 {
		b := e.bot
		if i%2 == 1 {
			b = other
		}
		wg.Go(func() {
			if err := b.CreateMenu(context.Background(), wechat.DefaultMenu(publicURL)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.wx.TokenCalls(); n != 1 {
		t.Fatalf("%d token calls, want 1", n)
	}
	var menu struct {
		Button []struct{ Type, Name, Key, URL string }
	}
	if err := json.Unmarshal(e.wx.Menu(), &menu); err != nil || len(menu.Button) != 3 ||
		menu.Button[0].Key != wechat.ClickHelp || menu.Button[1].Key != wechat.ClickBalance || menu.Button[2].URL != publicURL+"/top" {
		t.Fatalf("menu %s: %v", e.wx.Menu(), err)
	}
}

func TestRefusedTokenIsRefreshed(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if err := e.bot.CreateMenu(ctx, wechat.DefaultMenu(publicURL)); err != nil {
		t.Fatal(err)
	}
	e.wx.FailNext("/cgi-bin/menu/create", 40001, "invalid credential")
	if err := e.bot.CreateMenu(ctx, wechat.DefaultMenu(publicURL)); err != nil {
		t.Fatalf("after 40001: %v", err)
	}
	if n := e.wx.TokenCalls(); n < 2 {
		t.Fatalf("%d token calls, want a refresh", n)
	}
	calls := e.wx.TokenCalls()
	e.wx.ExpireTokens()
	if err := e.newBot().CreateMenu(ctx, wechat.DefaultMenu(publicURL)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := e.wx.TokenCalls(); n != calls+1 {
		t.Fatalf("%d token calls after expiry, want %d", n, calls+1)
	}
	// The refreshed token is shared.
	if err := e.bot.CreateMenu(ctx, wechat.DefaultMenu(publicURL)); err != nil {
		t.Fatal(err)
	}
	if n := e.wx.TokenCalls(); n != calls+1 {
		t.Fatalf("%d token calls, want %d", n, calls+1)
	}
}

func TestHandshake(t *testing.T) {
	e := newEnv(t, nil)
	status, body := e.wx.Handshake(t, e.endpoint, "echo123", false)
	if status != http.StatusOK || body != "echo123" {
		t.Fatalf("good handshake: %d %q", status, body)
	}
	status, body = e.wx.Handshake(t, e.endpoint, "echo123", true)
	if status < 400 || status >= 500 || body != "" {
		t.Fatalf("bad handshake: %d %q", status, body)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	svc := newService()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for name, cfg := range map[string]wechat.Config{
		"no app id":   {Secret: "s", Token: "t"},
		"bad aes key": {AppID: "wx1", Secret: "s", Token: "t", AESKey: "short"},
		"bad api url": {AppID: "wx1", Secret: "s", Token: "t", APIURL: "ftp://x"},
	} {
		if _, err := wechat.New(cfg, rdb, svc, svc, svc, newHandler(svc), svc); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// slowUploads delays media uploads.
type slowUploads struct{ delay time.Duration }

func (s slowUploads) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/cgi-bin/media/upload" {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestPendingVideoLinkWhenUploadIsSlow(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) {
		c.CustomerService = false
		c.ReplyBudget = 800 * time.Millisecond
		c.HTTPClient = &http.Client{Transport: slowUploads{delay: 3 * time.Second}}
	})
	const reader = "o_slowupload"
	e.send(e.wx.Image(reader, pngImage(t, 5)), false)
	e.text(reader, "镜头推近", false)
	// The upload ahead of time does not finish before the delivery gives
	// up on it; the reply cannot upload in its budget either.
	if err := e.svc.Put(context.Background(), "out/j001.mp4", bytes.NewReader(fakeMP4(3000))); err != nil {
		t.Fatal(err)
	}
	j := e.svc.Finish("j001", paimeng.JobSucceeded, "out/j001.mp4", "")
	dctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.bot.Deliver(dctx, j); err != nil {
		t.Fatal(err)
	}
	r := e.text(reader, "结果", true)
	if r.MsgType != "text" || r.Elapsed >= time.Second {
		t.Fatalf("reply after %v: %q", r.Elapsed, r.Raw)
	}
	contains(t, "link", r.Content, publicURL+"/v/j001")
	contains(t, "once", e.text(reader, "结果", false).Content, "暂时没有新的结果")
}

func TestPendingResultsSurviveASlowReply(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) {
		c.CustomerService = false
		c.ReplyBudget = 300 * time.Millisecond
	})
	const reader = "o_slowreply"
	e.send(e.wx.Image(reader, pngImage(t, 6)), false)
	e.text(reader, "镜头推近", false)
	e.finish(e.bot, "j001", 3000, "")
	e.svc.SetDelay(time.Second)
	r := e.text(reader, "余额", false)
	contains(t, "interim", r.Content, "稍后给我发任意一条消息")
	e.wait()
	e.svc.SetDelay(0)
	r = e.text(reader, "结果", false)
	if r.MsgType != "video" || r.MediaID == "" {
		t.Fatalf("reply %q", r.Raw)
	}
	contains(t, "kept answer", r.Description, "你的积分余额")
}

// The root package of the WeChat library sets the global logger to debug
// when imported; this package must not pull it in.
func TestLibraryLeavesLoggingAlone(t *testing.T) {
	if lvl := logrus.GetLevel(); lvl != logrus.InfoLevel {
		t.Fatalf("logrus level %v, want info", lvl)
	}
}

// A video over 10 MB is re-encoded under the limit (media.Shrink, real
// ffmpeg) and sent as a video, not a link.
func TestLargeVideoReencoded(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) {
		c.Shrink = func(ctx context.Context, in, out string, maxBytes int64) error {
			return media.Shrink(ctx, media.EncodeOptions{Preset: "ultrafast"}, in, out, maxBytes)
		}
	})
	const reader = "o_big"
	e.send(e.wx.Image(reader, pngImage(t, 90)), false)
	e.text(reader, "镜头推近", false)

	big := filepath.Join(t.TempDir(), "big.mp4")
	gen := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
		"-i", "testsrc2=s=960x540:r=24,noise=alls=80:allf=t", "-t", "6",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "20M", "-maxrate", "20M", "-bufsize", "20M", "-pix_fmt", "yuv420p", big)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("making a big video: %v: %s", err, b)
	}
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 10<<20 {
		t.Fatalf("test video only %d bytes", len(data))
	}
	if err := e.svc.Put(context.Background(), "out/j001.mp4", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	j := e.svc.Finish("j001", paimeng.JobSucceeded, "out/j001.mp4", "")
	if err := e.bot.Deliver(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	cms := e.wx.CustomMessages(reader)
	if len(cms) != 1 || cms[0].MsgType != "video" {
		t.Fatalf("custom messages %+v", cms)
	}
	ups := e.wx.Uploads()
	if len(ups) != 1 || len(ups[0].Data) > 10<<20 || len(ups[0].Data) < 5<<20 {
		t.Fatalf("uploads: %d, size %d", len(ups), len(ups[0].Data))
	}
}

func TestCameraAndOutputOptions(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_camera"
	help := e.text(reader, "帮助", false).Content
	for _, w := range []string{"--camera", "zoom:-5", "--fps", "--res", "--aspect", "down_back", "结束帧"} {
		contains(t, "help", help, w)
	}

	// --tail with one image is refused without a charge, and the image
	// stays for the corrected prompt; a bad camera value too.
	pic := pngImage(t, 7)
	img := e.wx.Image(reader, pic)
	e.send(img, false)
	contains(t, "tail", e.text(reader, "推近 --tail", false).Content, "请先发送起始图和结束图两张图片")
	contains(t, "tail slash", e.text(reader, "/gen --tail", true).Content, "请先发送起始图和结束图两张图片")
	contains(t, "bad camera", e.text(reader, "樱花 --camera zoom:11", false).Content, "选项有误")
	if n := len(e.svc.Submits()); n != 0 || e.balance(reader) != 100 {
		t.Fatalf("%d submissions, balance %d", n, e.balance(reader))
	}

	r := e.text(reader, "樱花 --camera zoom:-5 --fps 30 --res 1080p --aspect 9:16 --negative 模糊", false)
	contains(t, "ack", r.Content, "任务 #j001")
	contains(t, "negative note", r.Content, command.Message(paimeng.LangZH, command.KeyNegativeIgnored))
	contains(t, "camera line", r.Content, "🎥 镜头：")
	reqs := e.svc.Submits()
	if len(reqs) != 1 {
		t.Fatalf("%d submissions", len(reqs))
	}
	req := reqs[0]
	if req.Prompt != "樱花" || req.Camera.String() != "zoom:-5" || req.FPS != 30 || req.Resolution != 1080 || req.Aspect != paimeng.AspectTall ||
		req.NegativePrompt != "模糊" || req.Tail != nil || !bytes.Equal(req.Image, pic) {
		t.Fatalf("request prompt %q camera %q fps %d resolution %d aspect %q negative %q tail %d", req.Prompt, req.Camera.String(), req.FPS,
			req.Resolution, req.Aspect, req.NegativePrompt, len(req.Tail))
	}
	if want := fmt.Sprintf("wechat:%s:%d", e.wx.AppID, img.MsgID); req.IdempotencyKey != want {
		t.Fatalf("key %q, want %q", req.IdempotencyKey, want)
	}
	// Chinese option names work as well.
	e.send(e.wx.Image(reader, pngImage(t, 8)), false)
	e.text(reader, "后拉 镜头:pan:3 帧率:24 分辨率:720p 比例:1:1", false)
	if reqs := e.svc.Submits(); len(reqs) != 2 || reqs[1].Prompt != "后拉" || reqs[1].Camera.String() != "pan:3" || reqs[1].FPS != 24 ||
		reqs[1].Resolution != 720 || reqs[1].Aspect != paimeng.AspectSquare {
		t.Fatalf("second request %+v", reqs[len(reqs)-1])
	}
}
