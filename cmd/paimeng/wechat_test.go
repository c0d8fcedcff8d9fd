package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/wechat/wechattest"
)

// The real program as a verified WeChat service account in safe mode,
// against a local server speaking the WeChat API: a reader's image, then
// a prompt, make one job and one charge, and the video arrives once by
// customer-service message; WeChat's retries of the same message change
// nothing and a forged one is refused. The admin menu command reaches the
// same API.
func TestDevWeChatEndToEnd(t *testing.T) {
	wx := wechattest.NewServer(t)
	env := map[string]string{
		"PAIMENG_WECHAT_APPID":            wx.AppID,
		"PAIMENG_WECHAT_SECRET":           wx.Secret,
		"PAIMENG_WECHAT_TOKEN":            wx.Token,
		"PAIMENG_WECHAT_AES_KEY":          wx.AESKey,
		"PAIMENG_WECHAT_API_URL":          wx.URL,
		"PAIMENG_WECHAT_CUSTOMER_SERVICE": "true",
	}
	cfg := testConfig(t, env)
	app := startApp(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})
	ctx := context.Background()
	endpoint := "http://" + app.Addr() + "/wechat"
	const reader = "oReader_wx123456"
	id := paimeng.Identity{Platform: paimeng.PlatformWeChat, UserID: reader}

	if r := wx.Deliver(t, endpoint, wx.Image(reader, jpegBytes(t, scene(640, 360))), true); !strings.Contains(r.Content, "描述") {
		t.Fatalf("image reply %+v", r)
	}
	text := wx.Text(reader, "镜头缓慢推近，樱花飘落")
	for range 3 { // WeChat retries a slow answer with the same MsgId
		if r := wx.Deliver(t, endpoint, text, true); r.Status != 200 {
			t.Fatalf("text reply %+v", r)
		}
	}
	wx.WaitFor(t, func() bool {
		for _, m := range wx.CustomMessages(reader) {
			if m.MsgType == "video" {
				return true
			}
		}
		return false
	}, "the video by customer-service message")

	forged := wx.Text(reader, "镜头后拉")
	if r := wx.DeliverWith(t, endpoint, forged, wechattest.DeliverOptions{Safe: true, BadSignature: true}); r.Status < 400 {
		t.Fatalf("forged message answered %d", r.Status)
	}
	if r := wx.DeliverWith(t, endpoint, forged, wechattest.DeliverOptions{Safe: true, WrongAppID: true}); r.Status < 400 {
		t.Fatalf("wrong AppID answered %d", r.Status)
	}

	var videos int
	for _, m := range wx.CustomMessages(reader) {
		if m.MsgType == "video" {
			videos++
		}
	}
	acc, err := app.Store.Account(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if videos != 1 || acc.Balance != 90 {
		t.Fatalf("%d videos, balance %d; want one video and one charge", videos, acc.Balance)
	}
	if ups := wx.Uploads(); len(ups) == 0 || !strings.HasSuffix(ups[len(ups)-1].Name, ".mp4") {
		t.Fatalf("uploads %+v", ups)
	}
	if d, err := app.Store.Audit(ctx); err != nil || len(d) != 0 {
		t.Fatalf("audit %v %v", d, err)
	}

	var out bytes.Buffer
	env["PAIMENG_DATA_DIR"] = cfg.DataDir
	if err := run(ctx, []string{"admin", "wechat", "menu"}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Fatalf("admin wechat menu: %v\n%s", err, out.String())
	}
	if m := string(wx.Menu()); !strings.Contains(m, "拍梦说明") {
		t.Fatalf("menu %s", m)
	}
}
