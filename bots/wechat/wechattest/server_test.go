package wechattest_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/config"
	oacontext "github.com/silenceper/wechat/v2/officialaccount/context"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"
	"github.com/silenceper/wechat/v2/util"

	"github.com/paimeng/paimeng/bots/wechat/wechattest"
)

func TestCredentials(t *testing.T) {
	s := wechattest.NewServer(t)
	if !regexp.MustCompile(`^wx[0-9a-f]{16}$`).MatchString(s.AppID) || !regexp.MustCompile(`^gh_[0-9a-f]{12}$`).MatchString(s.OriginalID) ||
		len(s.AESKey) != 43 || s.Secret == "" || s.Token == "" {
		t.Errorf("credentials %+v", s)
	}
	if other := wechattest.NewServer(t); other.AppID == s.AppID || other.AESKey == s.AESKey {
		t.Error("two servers share credentials")
	}
}

func TestSignatureAndCrypto(t *testing.T) {
	s := wechattest.NewServer(t)
	if got, want := wechattest.Signature(s.Token, "1700000000", "42"), util.Signature(s.Token, "1700000000", "42"); got != want {
		t.Errorf("signature %s, silenceper %s", got, want)
	}
	msg := s.Text("oReader", "你好 ]]> <b>&").XML

	// Ours → silenceper.
	ct, err := wechattest.Encrypt(s.AESKey, s.AppID, msg)
	if err != nil {
		t.Fatal(err)
	}
	_, plain, err := util.DecryptMsg(s.AppID, ct, s.AESKey)
	if err != nil || !bytes.Equal(plain, msg) {
		t.Fatalf("silenceper decrypt: %q %v", plain, err)
	}
	if _, _, err := util.DecryptMsg("wx0000000000000000", ct, s.AESKey); err == nil {
		t.Error("silenceper accepted another AppID")
	}
	// Silenceper → ours, for every padding length.
	for n := range 40 {
		m := append(bytes.Clone(msg), bytes.Repeat([]byte("x"), n)...)
		enc, err := util.EncryptMsg([]byte("0123456789abcdef"), m, s.AppID, s.AESKey)
		if err != nil {
			t.Fatal(err)
		}
		appID, got, err := wechattest.Decrypt(s.AESKey, string(enc))
		if err != nil || appID != s.AppID || !bytes.Equal(got, m) {
			t.Fatalf("decrypt of %d extra bytes: %q %q %v", n, appID, got, err)
		}
	}
	if _, _, err := wechattest.Decrypt(s.AESKey, ct[:len(ct)-4]); err == nil {
		t.Error("truncated ciphertext decrypted")
	}
}

// endpoint is a callback endpoint built on silenceper's server, as a bot
// would use it: it echoes text, answers images with their MediaId as a
// video, subscribe events with a news article and "silence" with nothing.
type endpoint struct {
	s     *wechattest.Server
	delay time.Duration

	mu       sync.Mutex
	got      []*message.MixMessage
	rejected []string
	queries  []url.Values
}

func newEndpoint(t *testing.T, s *wechattest.Server) (*endpoint, string) {
	e := &endpoint{s: s}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv.URL + "/wechat"
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(e.delay)
	srv := server.NewServer(&oacontext.Context{Config: &config.Config{
		AppID: e.s.AppID, AppSecret: e.s.Secret, Token: e.s.Token, EncodingAESKey: e.s.AESKey}})
	srv.Request, srv.Writer = r, w
	e.mu.Lock()
	e.queries = append(e.queries, r.URL.Query())
	e.mu.Unlock()
	srv.SetMessageHandler(func(m *message.MixMessage) *message.Reply {
		e.mu.Lock()
		e.got = append(e.got, m)
		e.mu.Unlock()
		switch {
		case m.MsgType == message.MsgTypeText && m.Content == "silence":
			return nil
		case m.MsgType == message.MsgTypeText:
			return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText("echo: " + m.Content)}
		case m.MsgType == message.MsgTypeImage:
			return &message.Reply{MsgType: message.MsgTypeVideo, MsgData: message.NewVideo(m.MediaID, "标题", "描述")}
		case m.Event == message.EventSubscribe:
			return &message.Reply{MsgType: message.MsgTypeNews, MsgData: message.NewNews([]*message.Article{
				message.NewArticle("欢迎", "说明", "https://example.com/p.png", "https://example.com/v/1")})}
		}
		return nil
	})
	if err := srv.Serve(); err != nil {
		e.mu.Lock()
		e.rejected = append(e.rejected, err.Error())
		e.mu.Unlock()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if srv.ResponseMsg == nil {
		if r.URL.Query().Get("encrypt_type") == "aes" {
			// Silenceper would encrypt an empty reply in safe mode.
			io.WriteString(w, "success")
		}
		return
	}
	if err := srv.Send(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (e *endpoint) received() ([]*message.MixMessage, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*message.MixMessage(nil), e.got...), append([]string(nil), e.rejected...)
}

func TestMessagesXML(t *testing.T) {
	s := wechattest.NewServer(t)
	a, b := s.Text("oReader", "hi"), s.Text("oReader", "hi")
	if a.MsgID == 0 || b.MsgID <= a.MsgID || a.From != "oReader" || time.Since(time.Unix(a.CreateTime, 0)) > time.Minute {
		t.Errorf("messages %+v %+v", a, b)
	}
	want := fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[oReader]]></FromUserName>"+
		"<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>%d</MsgId></xml>",
		s.OriginalID, a.CreateTime, a.MsgID)
	if string(a.XML) != want {
		t.Errorf("text XML\n%s\nwant\n%s", a.XML, want)
	}
	ev := s.Event("oReader", "CLICK", "GEN")
	if ev.MsgID != 0 || bytes.Contains(ev.XML, []byte("MsgId")) ||
		!bytes.Contains(ev.XML, []byte("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[GEN]]></EventKey>")) {
		t.Errorf("event XML %s", ev.XML)
	}
	var m message.MixMessage
	if err := xml.Unmarshal(s.Text("o", "a]]>b").XML, &m); err != nil || m.Content != "a]]>b" {
		t.Errorf("CDATA escape: %q %v", m.Content, err)
	}

	png := []byte("\x89PNG\r\n\x1a\nrest of the picture")
	img := s.Image("oReader", png)
	if err := xml.Unmarshal(img.XML, &m); err != nil || m.MsgType != "image" || m.PicURL != img.PicURL || m.MediaID != img.MediaID || int64(m.MsgID) != img.MsgID {
		t.Fatalf("image XML %s: %v", img.XML, err)
	}
	if !strings.HasPrefix(img.PicURL, s.URL+"/mmbiz_png/") {
		t.Errorf("PicUrl %s", img.PicURL)
	}
	resp, err := s.Client().Get(img.PicURL)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(data, png) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("PicUrl download %d %q %q", resp.StatusCode, data, resp.Header.Get("Content-Type"))
	}
	tok := stableToken(t, s, false)["access_token"].(string)
	status, data := get(t, s, "/cgi-bin/media/get?access_token="+tok+"&media_id="+img.MediaID)
	if status != 200 || !bytes.Equal(data, png) {
		t.Errorf("media/get of the image %d %q", status, data)
	}
	if len(s.Uploads()) != 0 {
		t.Errorf("incoming image listed as upload: %+v", s.Uploads())
	}
}

func TestDeliver(t *testing.T) {
	s := wechattest.NewServer(t)
	e, ep := newEndpoint(t, s)
	for _, safe := range []bool{false, true} {
		t.Run(fmt.Sprintf("safe=%v", safe), func(t *testing.T) {
			m := s.Text("oReader", "你好")
			r := s.Deliver(t, ep, m, safe)
			if r.Status != 200 || r.MsgType != "text" || r.Content != "echo: 你好" || r.Encrypted != safe || r.ToUser != "oReader" || r.FromUser != s.OriginalID {
				t.Errorf("reply %+v raw %s", r, r.Raw)
			}
			if r.Elapsed <= 0 || r.Elapsed > wechattest.ReplyDeadline {
				t.Errorf("elapsed %s", r.Elapsed)
			}
			if safe && !bytes.Contains(r.Raw, []byte("<Encrypt>")) {
				t.Errorf("raw %s", r.Raw)
			}
			e.mu.Lock()
			q := e.queries[len(e.queries)-1]
			e.mu.Unlock()
			if q.Get("openid") != "oReader" || q.Get("nonce") == "" || (q.Get("encrypt_type") == "aes") != safe || (q.Get("msg_signature") != "") != safe {
				t.Errorf("query %v", q)
			}

			img := s.Image("oReader", []byte("\xff\xd8\xff\xe0jpeg"))
			r = s.Deliver(t, ep, img, safe)
			if r.MsgType != "video" || r.MediaID != img.MediaID || r.Title != "标题" || r.Description != "描述" {
				t.Errorf("image reply %+v", r)
			}
			r = s.Deliver(t, ep, s.Event("oReader", "subscribe", ""), safe)
			if r.MsgType != "news" || r.Title != "欢迎" || r.URL != "https://example.com/v/1" || len(r.Articles) != 1 {
				t.Errorf("news reply %+v", r)
			}
			r = s.Deliver(t, ep, s.Text("oReader", "silence"), safe)
			if r.Status != 200 || r.MsgType != "" {
				t.Errorf("no reply %+v %q", r, r.Raw)
			}
		})
	}
	got, rejected := e.received()
	if len(got) != 8 || len(rejected) != 0 {
		t.Fatalf("endpoint got %d messages, rejected %v", len(got), rejected)
	}
	if got[1].PicURL == "" || got[2].Event != "subscribe" || got[4].Content != "你好" {
		t.Errorf("parsed %+v %+v %+v", got[1], got[2], got[4])
	}
}

func TestDeliverForged(t *testing.T) {
	s := wechattest.NewServer(t)
	e, ep := newEndpoint(t, s)
	cases := []struct {
		name string
		opt  wechattest.DeliverOptions
		want string // in the endpoint's error
	}{
		{"bad signature plain", wechattest.DeliverOptions{BadSignature: true}, "请求校验失败"},
		{"bad signature safe", wechattest.DeliverOptions{Safe: true, BadSignature: true}, "请求校验失败"},
		{"bad msg_signature", wechattest.DeliverOptions{Safe: true, BadMsgSignature: true}, "验证签名失败"},
		{"tampered, signed", wechattest.DeliverOptions{Safe: true, Tamper: true}, "解密失败"},
		{"tampered after signing", wechattest.DeliverOptions{Safe: true, TamperUnsigned: true}, "验证签名失败"},
		{"wrong AppID", wechattest.DeliverOptions{Safe: true, WrongAppID: true}, "APPID"},
	}
	for i, c := range cases {
		r := s.DeliverWith(t, ep, s.Text("oForger", "x"), c.opt)
		_, rejected := e.received()
		if r.Status != http.StatusForbidden || len(rejected) != i+1 || !strings.Contains(rejected[i], c.want) {
			t.Errorf("%s: status %d, rejected %v", c.name, r.Status, rejected)
		}
	}
	// Silenceper has no timestamp window: the stale delivery is signed right.
	old := time.Now().Add(-time.Hour)
	s.DeliverWith(t, ep, s.Text("oForger", "x"), wechattest.DeliverOptions{Timestamp: old})
	e.mu.Lock()
	q := e.queries[len(e.queries)-1]
	e.mu.Unlock()
	if q.Get("timestamp") != fmt.Sprint(old.Unix()) || q.Get("signature") != util.Signature(s.Token, q.Get("timestamp"), q.Get("nonce")) {
		t.Errorf("stale query %v", q)
	}
	// None of these opened a customer-service window.
	tok := stableToken(t, s, false)["access_token"].(string)
	if res := postJSON(t, s, "/cgi-bin/message/custom/send?access_token="+tok, customText("oForger", "hi")); res["errcode"] != 45015.0 {
		t.Errorf("custom send after forged deliveries: %v", res)
	}
}

// fakeTB records the failures Deliver reports.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func TestDeliverChecksReplies(t *testing.T) {
	s := wechattest.NewServer(t)
	var body func(r *http.Request) string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, body(r))
	}))
	defer srv.Close()
	plainReply := func(to, from string) string {
		return fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1</CreateTime>"+
			"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>", to, from)
	}
	encrypted := func(appID, token, xml string) string {
		ct, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(xml), appID, s.AESKey)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("<xml><Encrypt><![CDATA[%s]]></Encrypt><MsgSignature><![CDATA[%s]]></MsgSignature><TimeStamp>7</TimeStamp><Nonce><![CDATA[9]]></Nonce></xml>",
			ct, util.Signature(token, "7", "9", string(ct)))
	}
	cases := []struct {
		name string
		safe bool
		body string
		ok   bool
	}{
		{"success", false, "success", true},
		{"empty safe", true, "", true},
		{"plain text", false, plainReply("oReader", s.OriginalID), true},
		{"wrong ToUserName", false, plainReply("oOther", s.OriginalID), false},
		{"wrong FromUserName", false, plainReply("oReader", "gh_000000000000"), false},
		{"not XML", false, "ok!", false},
		{"encrypted", true, encrypted(s.AppID, s.Token, plainReply("oReader", s.OriginalID)), true},
		{"plain reply in safe mode", true, plainReply("oReader", s.OriginalID), false},
		{"encrypted reply in plain mode", false, encrypted(s.AppID, s.Token, plainReply("oReader", s.OriginalID)), false},
		{"bad MsgSignature", true, encrypted(s.AppID, "other", plainReply("oReader", s.OriginalID)), false},
		{"other AppID", true, encrypted("wx0000000000000000", s.Token, plainReply("oReader", s.OriginalID)), false},
		{"encrypted nothing", true, encrypted(s.AppID, s.Token, ""), false},
	}
	for _, c := range cases {
		body = func(*http.Request) string { return c.body }
		tb := &fakeTB{TB: t}
		r := s.Deliver(tb, srv.URL, s.Text("oReader", "x"), c.safe)
		if (len(tb.errors) == 0) != c.ok {
			t.Errorf("%s: errors %v", c.name, tb.errors)
		}
		if c.ok && r.Encrypted != (c.name == "encrypted") {
			t.Errorf("%s: %+v", c.name, r)
		}
		if r.Elapsed < 100*time.Millisecond {
			t.Errorf("%s: elapsed %s", c.name, r.Elapsed)
		}
	}
}

func TestHandshake(t *testing.T) {
	s := wechattest.NewServer(t)
	_, ep := newEndpoint(t, s)
	if status, body := s.Handshake(t, ep, "echo123", false); status != 200 || body != "echo123" {
		t.Errorf("handshake %d %q", status, body)
	}
	if status, body := s.Handshake(t, ep, "echo123", true); status != http.StatusForbidden || strings.Contains(body, "echo123") {
		t.Errorf("bad handshake %d %q", status, body)
	}
}

func get(t *testing.T, s *wechattest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := s.Client().Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decode(t *testing.T, resp *http.Response, err error) map[string]any {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("HTTP %d: %v", resp.StatusCode, m)
	}
	return m
}

func postJSON(t *testing.T, s *wechattest.Server, path string, v any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := s.Client().Post(s.URL+path, "application/json", bytes.NewReader(b))
	return decode(t, resp, err)
}

func stableToken(t *testing.T, s *wechattest.Server, force bool) map[string]any {
	t.Helper()
	return postJSON(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": s.AppID, "secret": s.Secret, "force_refresh": force})
}

func TestTokens(t *testing.T) {
	s := wechattest.NewServer(t)
	a := stableToken(t, s, false)
	b := stableToken(t, s, false)
	if a["access_token"] == nil || a["access_token"] != b["access_token"] || a["expires_in"] != 7200.0 || b["expires_in"].(float64) > 7200 {
		t.Fatalf("stable tokens %v %v", a, b)
	}
	if s.TokenCalls() != 2 || s.Tokens() != 1 {
		t.Errorf("%d calls, %d tokens", s.TokenCalls(), s.Tokens())
	}
	send := func(tok any) map[string]any {
		return postJSON(t, s, fmt.Sprintf("/cgi-bin/message/custom/send?access_token=%s", tok), customText("oReader", "hi"))
	}
	s.SetLastMessage("oReader", time.Now())
	if res := send(a["access_token"]); res["errcode"] != 0.0 || res["errmsg"] != "ok" {
		t.Errorf("send with the token: %v", res)
	}
	if res := send("nope"); res["errcode"] != 40001.0 || !strings.HasPrefix(res["errmsg"].(string), "invalid credential") {
		t.Errorf("send with a wrong token: %v", res)
	}
	if res := postJSON(t, s, "/cgi-bin/message/custom/send", customText("oReader", "hi")); res["errcode"] != 41001.0 {
		t.Errorf("send without a token: %v", res)
	}

	// A forced refresh ends the previous stable token.
	c := stableToken(t, s, true)
	if c["access_token"] == a["access_token"] || c["expires_in"] != 7200.0 {
		t.Errorf("forced refresh %v", c)
	}
	if res := send(a["access_token"]); res["errcode"] != 40001.0 {
		t.Errorf("send with the replaced token: %v", res)
	}

	// Legacy tokens are fresh on every call.
	resp, err := s.Client().Get(s.URL + "/cgi-bin/token?grant_type=client_credential&appid=" + s.AppID + "&secret=" + s.Secret)
	d := decode(t, resp, err)
	if d["access_token"] == nil || d["access_token"] == c["access_token"] || d["expires_in"] != 7200.0 {
		t.Errorf("legacy token %v", d)
	}

	s.ExpireTokens()
	for _, tok := range []any{c["access_token"], d["access_token"]} {
		if res := send(tok); res["errcode"] != 42001.0 || !strings.HasPrefix(res["errmsg"].(string), "access_token expired") {
			t.Errorf("send with an expired token: %v", res)
		}
	}
	e := stableToken(t, s, false)
	if e["access_token"] == c["access_token"] || e["expires_in"] != 7200.0 {
		t.Errorf("stable token after expiry %v", e)
	}
	if res := send(e["access_token"]); res["errcode"] != 0.0 {
		t.Errorf("send with the new token: %v", res)
	}
	if s.TokenCalls() != 5 || s.Tokens() != 4 {
		t.Errorf("%d calls, %d tokens", s.TokenCalls(), s.Tokens())
	}

	for _, c := range []struct {
		body map[string]any
		code float64
	}{
		{map[string]any{"grant_type": "x", "appid": s.AppID, "secret": s.Secret}, 40002},
		{map[string]any{"grant_type": "client_credential", "appid": "wx1", "secret": s.Secret}, 40013},
		{map[string]any{"grant_type": "client_credential", "appid": s.AppID, "secret": "x"}, 40125},
	} {
		if res := postJSON(t, s, "/cgi-bin/stable_token", c.body); res["errcode"] != c.code || res["access_token"] != nil {
			t.Errorf("%v: %v", c.body, res)
		}
	}
	if s.TokenCalls() != 5 {
		t.Errorf("%d calls after failures", s.TokenCalls())
	}

	s.FailNext("/cgi-bin/stable_token", -1, "")
	if res := stableToken(t, s, false); res["errcode"] != -1.0 || res["errmsg"] != "system error" {
		t.Errorf("FailNext: %v", res)
	}
	if res := stableToken(t, s, false); res["access_token"] != e["access_token"] {
		t.Errorf("after the failure: %v", res)
	}
	if n := s.Calls("/cgi-bin/stable_token"); n != 9 {
		t.Errorf("%d stable_token calls", n)
	}
}

func upload(t *testing.T, s *wechattest.Server, tok, typ, field, name string, data []byte) map[string]any {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	resp, err := s.Client().Post(s.URL+"/cgi-bin/media/upload?access_token="+tok+"&type="+typ, mw.FormDataContentType(), &b)
	return decode(t, resp, err)
}

func TestUpload(t *testing.T) {
	s := wechattest.NewServer(t)
	tok := stableToken(t, s, false)["access_token"].(string)
	video := bytes.Repeat([]byte("v"), 10<<20)
	res := upload(t, s, tok, "video", "media", "clip.mp4", video)
	id, _ := res["media_id"].(string)
	if res["type"] != "video" || id == "" || res["created_at"] == nil || time.Since(time.Unix(int64(res["created_at"].(float64)), 0)) > time.Minute {
		t.Fatalf("upload %v", res)
	}
	ups := s.Uploads()
	if len(ups) != 1 || ups[0].MediaID != id || ups[0].Type != "video" || ups[0].Name != "clip.mp4" || !bytes.Equal(ups[0].Data, video) {
		t.Fatalf("uploads %d", len(ups))
	}
	for _, c := range []struct {
		typ, field, name string
		data             []byte
		code             float64
	}{
		{"video", "media", "big.mp4", append(video, 'x'), 40006},
		{"video", "media", "clip", video[:10], 40005},
		{"video", "media", "clip.mov", video[:10], 40005},
		{"video", "file", "clip.mp4", video[:10], 41005},
		{"movie", "media", "clip.mp4", video[:10], 40004},
		{"thumb", "media", "t.jpg", video[:65<<10], 40006},
	} {
		if res := upload(t, s, tok, c.typ, c.field, c.name, c.data); res["errcode"] != c.code {
			t.Errorf("%s %s %s: %v", c.typ, c.field, c.name, res)
		}
	}
	if res := upload(t, s, "nope", "video", "media", "clip.mp4", video[:10]); res["errcode"] != 40001.0 {
		t.Errorf("upload with a wrong token: %v", res)
	}
	if res := upload(t, s, tok, "thumb", "media", "t.jpg", []byte("\xff\xd8\xff")); res["thumb_media_id"] == nil {
		t.Errorf("thumb upload %v", res)
	}
	if n := len(s.Uploads()); n != 2 {
		t.Errorf("%d uploads", n)
	}

	// media/get answers a video with its download URL.
	status, body := get(t, s, "/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
	var v struct {
		VideoURL string `json:"video_url"`
	}
	if err := json.Unmarshal(body, &v); status != 200 || err != nil || v.VideoURL == "" {
		t.Fatalf("media/get %d %s", status, body)
	}
	resp, err := s.Client().Get(v.VideoURL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, video) {
		t.Errorf("video download of %d bytes", len(got))
	}
	if _, body := get(t, s, "/cgi-bin/media/get?access_token="+tok+"&media_id=nope"); !bytes.Contains(body, []byte(`"errcode":40007`)) {
		t.Errorf("unknown media %s", body)
	}
}

func customText(to, content string) map[string]any {
	return map[string]any{"touser": to, "msgtype": "text", "text": map[string]any{"content": content}}
}

func TestCustomSend(t *testing.T) {
	s := wechattest.NewServer(t)
	_, ep := newEndpoint(t, s)
	tok := stableToken(t, s, false)["access_token"].(string)
	send := func(v any) map[string]any {
		return postJSON(t, s, "/cgi-bin/message/custom/send?access_token="+tok, v)
	}
	if res := send(customText("oReader", "hi")); res["errcode"] != 45015.0 || !strings.HasPrefix(res["errmsg"].(string), "response out of time limit") {
		t.Errorf("before any message: %v", res)
	}
	s.Deliver(t, ep, s.Text("oReader", "silence"), false)
	for i := range 20 {
		if res := send(customText("oReader", fmt.Sprint(i))); res["errcode"] != 0.0 {
			t.Fatalf("message %d: %v", i, res)
		}
	}
	if res := send(customText("oReader", "21")); res["errcode"] != 45047.0 || !strings.HasPrefix(res["errmsg"].(string), "out of response count limit") {
		t.Errorf("21st message: %v", res)
	}
	// A new message from the reader starts the count over.
	s.Deliver(t, ep, s.Event("oReader", "CLICK", "GEN"), true)
	if res := send(customText("oReader", "again")); res["errcode"] != 0.0 {
		t.Errorf("after a new message: %v", res)
	}
	msgs := s.CustomMessages("oReader")
	if len(msgs) != 21 || msgs[0].MsgType != "text" || msgs[0].Content != "0" || msgs[20].Content != "again" {
		t.Errorf("recorded %d: %+v", len(msgs), msgs[0])
	}

	s.SetLastMessage("oReader", time.Now().Add(-48*time.Hour-time.Minute))
	if res := send(customText("oReader", "late")); res["errcode"] != 45015.0 {
		t.Errorf("after 48 h: %v", res)
	}
	s.SetLastMessage("oReader", time.Now().Add(-47*time.Hour))
	if res := send(customText("oReader", "in time")); res["errcode"] != 0.0 {
		t.Errorf("within 48 h: %v", res)
	}

	id := upload(t, s, tok, "video", "media", "clip.mp4", []byte("mp4"))["media_id"].(string)
	video := map[string]any{"touser": "oReader", "msgtype": "video", "video": map[string]any{"media_id": id, "title": "视频", "description": "d"}}
	if res := send(video); res["errcode"] != 0.0 {
		t.Errorf("video: %v", res)
	}
	news := map[string]any{"touser": "oReader", "msgtype": "news", "news": map[string]any{"articles": []any{
		map[string]any{"title": "t", "description": "d", "url": "https://example.com/v/1", "picurl": "https://example.com/p.jpg"}}}}
	if res := send(news); res["errcode"] != 0.0 {
		t.Errorf("news: %v", res)
	}
	msgs = s.CustomMessages("oReader")
	last2 := msgs[len(msgs)-2:]
	if last2[0].MsgType != "video" || last2[0].MediaID != id || last2[0].Title != "视频" || last2[1].MsgType != "news" || last2[1].URL != "https://example.com/v/1" {
		t.Errorf("recorded %+v", last2)
	}
	for _, c := range []struct {
		body any
		code float64
	}{
		{map[string]any{"touser": "oReader", "msgtype": "video", "video": map[string]any{"media_id": "nope"}}, 40007},
		{customText("oReader", ""), 44004},
		{customText("", "x"), 40003},
		{map[string]any{"touser": "oReader", "msgtype": "voice"}, 40008},
		{"not an object", 47001},
	} {
		if res := send(c.body); res["errcode"] != c.code {
			t.Errorf("%v: %v", c.body, res)
		}
	}

	s.FailNext("/cgi-bin/message/custom/send", 45009, "reach max api daily quota limit")
	if res := send(customText("oReader", "x")); res["errcode"] != 45009.0 {
		t.Errorf("FailNext: %v", res)
	}
	s.WaitFor(t, func() bool { return len(s.CustomMessages("oReader")) == 24 }, "24 messages")
}

func TestMenu(t *testing.T) {
	s := wechattest.NewServer(t)
	tok := stableToken(t, s, false)["access_token"].(string)
	menu := map[string]any{"button": []any{
		map[string]any{"type": "click", "name": "生成视频", "key": "GEN"},
		map[string]any{"name": "更多", "sub_button": []any{
			map[string]any{"type": "view", "name": "排行榜", "url": "https://example.com/top"},
			map[string]any{"type": "click", "name": "余额", "key": "BALANCE"},
		}},
	}}
	if res := postJSON(t, s, "/cgi-bin/menu/create?access_token="+tok, menu); res["errcode"] != 0.0 {
		t.Fatalf("menu: %v", res)
	}
	var got map[string]any
	if err := json.Unmarshal(s.Menu(), &got); err != nil || len(got["button"].([]any)) != 2 {
		t.Errorf("menu %s %v", s.Menu(), err)
	}
	for _, c := range []struct {
		menu any
		code float64
	}{
		{map[string]any{"button": []any{}}, 40016},
		{map[string]any{"button": []any{map[string]any{"type": "click", "name": "一二三四五六", "key": "K"}}}, 40018},
		{map[string]any{"button": []any{map[string]any{"type": "click", "name": "a"}}}, 40019},
		{map[string]any{"button": []any{map[string]any{"type": "nope", "name": "a", "key": "K"}}}, 40017},
		{map[string]any{"button": []any{map[string]any{"type": "view", "name": "a", "url": "example.com"}}}, 40020},
		{map[string]any{"button": []any{map[string]any{"name": "a", "sub_button": []any{}}}}, 40023},
	} {
		if res := postJSON(t, s, "/cgi-bin/menu/create?access_token="+tok, c.menu); res["errcode"] != c.code {
			t.Errorf("%v: %v", c.menu, res)
		}
	}
}
