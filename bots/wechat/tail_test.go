package wechat_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/bots/wechat"
	"github.com/paimeng/paimeng/bots/wechat/wechattest"
)

const (
	twoReady     = "最近两张图片已就绪"
	needsTwo     = "请先发送起始图和结束图两张图片，再发送描述并加上 --tail"
	needsTwoEN   = "Please send two pictures first"
	keptAsStart  = "作为起始图"
	instructions = "先发送一张图片"
)

// twoImages sends two pictures from reader and returns them with their
// messages.
func (e *env) twoImages(reader string, shade uint8) (first, second []byte, m1, m2 wechattest.Msg) {
	e.t.Helper()
	first, second = pngImage(e.t, shade), pngImage(e.t, shade+1)
	m1, m2 = e.wx.Image(reader, first), e.wx.Image(reader, second)
	r := e.send(m1, false)
	contains(e.t, "first image", r.Content, "收到图片，请在 10 分钟内发送一句描述")
	r = e.send(m2, true)
	contains(e.t, "second image", r.Content, twoReady)
	contains(e.t, "second image", r.Content, "--tail")
	contains(e.t, "second image", r.Content, "结束帧")
	contains(e.t, "second image", r.Content, "two are ready")
	return first, second, m1, m2
}

func TestTailFromTwoImages(t *testing.T) {
	for _, prompt := range []string{"--tail 推近", "结束帧 推近", "推近，首尾帧", "/gen 推近 --tail", "拍梦 推近结束帧"} {
		t.Run(prompt, func(t *testing.T) {
			e := newEnv(t, nil)
			const reader = "o_tail"
			first, second, m1, m2 := e.twoImages(reader, 40)
			r := e.text(reader, prompt, false)
			contains(t, "ack", r.Content, "任务 #j001")
			reqs := e.svc.Submits()
			if len(reqs) != 1 {
				t.Fatalf("%d submissions, want 1", len(reqs))
			}
			req := reqs[0]
			if !bytes.Equal(req.Image, first) || !bytes.Equal(req.Tail, second) {
				t.Fatalf("image %d bytes, tail %d bytes; want the first (%d) and the second (%d) sent",
					len(req.Image), len(req.Tail), len(first), len(second))
			}
			if req.Prompt != "推近" {
				t.Fatalf("prompt %q, want 推近", req.Prompt)
			}
			if want := fmt.Sprintf("wechat:%s:%d:%d", e.wx.AppID, m1.MsgID, m2.MsgID); req.IdempotencyKey != want {
				t.Fatalf("idempotency key %q, want %q", req.IdempotencyKey, want)
			}
			var st struct {
				Image int64 `json:"image_msg_id"`
				Tail  int64 `json:"tail_msg_id"`
			}
			if err := json.Unmarshal(req.Reply, &st); err != nil || st.Image != m1.MsgID || st.Tail != m2.MsgID {
				t.Fatalf("reply state %s: %v", req.Reply, err)
			}
			if got, want := e.balance(reader), 100-e.price("j001"); got != want {
				t.Fatalf("balance %d, want %d", got, want)
			}
			// Both images were used.
			contains(t, "tail again", e.text(reader, "再拍一次 --tail", false).Content, needsTwo)
			contains(t, "again", e.text(reader, "再拍一次", false).Content, instructions)
			if n := len(e.svc.Submits()); n != 1 {
				t.Fatalf("%d submissions, want 1", n)
			}
		})
	}
}

func TestTailNeedsTwoImages(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_one"
	// No image at all.
	r := e.text(reader, "推近 --tail", false)
	contains(t, "no image", r.Content, needsTwo)
	contains(t, "no image", r.Content, needsTwoEN)

	pic := pngImage(t, 60)
	e.send(e.wx.Image(reader, pic), false)
	for _, prompt := range []string{"推近 --tail", "推近 结束帧", "/gen --tail", "首尾帧"} {
		r := e.text(reader, prompt, prompt == "/gen --tail")
		contains(t, prompt, r.Content, needsTwo)
		contains(t, prompt, r.Content, needsTwoEN)
		contains(t, prompt, r.Content, keptAsStart)
		contains(t, prompt, r.Content, "本次未扣除积分")
	}
	if n := len(e.svc.Submits()); n != 0 || e.balance(reader) != 100 {
		t.Fatalf("%d submissions, balance %d", n, e.balance(reader))
	}
	// The image stayed: it becomes the start frame of the pair.
	end := pngImage(t, 61)
	contains(t, "end frame", e.send(e.wx.Image(reader, end), false).Content, twoReady)
	contains(t, "ack", e.text(reader, "推近 --tail", false).Content, "任务 #j001")
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, pic) || !bytes.Equal(reqs[0].Tail, end) {
		t.Fatalf("requests %d", len(reqs))
	}
}

func TestWithoutTailTheLatestImageIsUsed(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_latest"
	_, second, _, m2 := e.twoImages(reader, 80)
	contains(t, "ack", e.text(reader, "推近", false).Content, "任务 #j001")
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, second) || reqs[0].Tail != nil ||
		reqs[0].IdempotencyKey != fmt.Sprintf("wechat:%s:%d", e.wx.AppID, m2.MsgID) {
		t.Fatalf("requests %+v", reqs)
	}
	// The earlier image was consumed with it.
	contains(t, "after use", e.text(reader, "后拉", false).Content, instructions)
}

func TestTailRetriedPromptSubmitsOnce(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_retry"
	first, second, _, _ := e.twoImages(reader, 100)
	m := e.wx.Text(reader, "结束帧 镜头缓慢推近")
	var wg sync.WaitGroup
	replies := make([]wechattest.Reply, 3)
	for i := range replies {
		wg.Go(func() { replies[i] = e.send(m, i == 1) })
	}
	wg.Wait()
	for i, r := range replies {
		contains(t, fmt.Sprintf("reply %d", i), r.Content, "任务 #j001")
	}
	contains(t, "late retry", e.send(m, true).Content, "任务 #j001")
	// Another replica sees the same retry.
	other := e.newBot()
	srv := httptest.NewServer(other.Handler())
	defer srv.Close()
	r := e.wx.Deliver(t, srv.URL+wechat.CallbackPath, m, true)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	contains(t, "other replica", r.Content, "任务 #j001")

	reqs := e.svc.Submits()
	if len(reqs) != 1 || e.svc.JobCount() != 1 {
		t.Fatalf("%d submissions, %d jobs; want 1", len(reqs), e.svc.JobCount())
	}
	if !bytes.Equal(reqs[0].Image, first) || !bytes.Equal(reqs[0].Tail, second) || reqs[0].Prompt != "镜头缓慢推近" {
		t.Fatalf("request prompt %q image %d tail %d", reqs[0].Prompt, len(reqs[0].Image), len(reqs[0].Tail))
	}
	if got, want := e.balance(reader), 100-e.price("j001"); got != want {
		t.Fatalf("balance %d, want %d (one charge)", got, want)
	}
}

func TestThreeImagesKeepTheLastTwo(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_three"
	pics := [][]byte{pngImage(t, 120), pngImage(t, 121), pngImage(t, 122)}
	for i, p := range pics {
		r := e.send(e.wx.Image(reader, p), i%2 == 0)
		if i > 0 {
			contains(t, fmt.Sprintf("image %d", i+1), r.Content, twoReady)
		}
	}
	contains(t, "ack", e.text(reader, "--tail 推近", false).Content, "任务 #j001")
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, pics[1]) || !bytes.Equal(reqs[0].Tail, pics[2]) {
		t.Fatalf("%d requests; want the second image as the picture and the third as the end frame", len(reqs))
	}
	// The first image was dropped, the others used: nothing is left.
	contains(t, "after use", e.text(reader, "推近", false).Content, instructions)
}

// Two images arriving at once on two replicas are both kept.
func TestImagesAtOnceOnTwoReplicas(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_race"
	for round := range 5 {
		a, b := pngImage(t, uint8(10*round)), pngImage(t, uint8(10*round+5))
		ma, mb := e.wx.Image(reader, a), e.wx.Image(reader, b)
		var wg sync.WaitGroup
		wg.Go(func() { e.send(ma, false) })
		wg.Go(func() { e.send(mb, true) })
		wg.Wait()
		contains(t, "ack", e.text(reader, "推近 --tail", false).Content, fmt.Sprintf("任务 #j%03d", round+1))
		reqs := e.svc.Submits()
		if len(reqs) != round+1 {
			t.Fatalf("round %d: %d requests", round, len(reqs))
		}
		req := reqs[round]
		got := [][]byte{req.Image, req.Tail}
		if !(bytes.Equal(got[0], a) && bytes.Equal(got[1], b) || bytes.Equal(got[0], b) && bytes.Equal(got[1], a)) {
			t.Fatalf("round %d: the request does not carry both images", round)
		}
	}
}

// An image remembered in the single-object form still counts as the first.
func TestSingleStoredImageReadsAsOne(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_single"
	first := pngImage(t, 140)
	m1 := e.wx.Image(reader, first) // remembered directly, never delivered
	raw, _ := json.Marshal(map[string]any{"media_id": m1.MediaID, "pic_url": m1.PicURL, "msg_id": m1.MsgID, "at": time.Now().Format(time.RFC3339Nano)})
	key := "paimeng:wechat:" + e.wx.AppID + ":image:" + reader
	if err := e.rdb.Set(t.Context(), key, raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	second := pngImage(t, 141)
	contains(t, "second image", e.send(e.wx.Image(reader, second), false).Content, twoReady)
	if ttl := e.rdb.TTL(t.Context(), key).Val(); ttl <= 0 {
		t.Fatalf("key TTL %v, want one", ttl)
	}
	contains(t, "ack", e.text(reader, "推近 --tail", false).Content, "任务 #j001")
	reqs := e.svc.Submits()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Image, first) || !bytes.Equal(reqs[0].Tail, second) {
		t.Fatalf("%d requests", len(reqs))
	}
	if n := e.rdb.Exists(t.Context(), key).Val(); n != 0 {
		t.Fatal("images still remembered after the job")
	}
}

// A refused end-frame job: an image error forgets the pair and asks for
// both again; any other error keeps them for the next try.
func TestTailImageRefused(t *testing.T) {
	e := newEnv(t, nil)
	const reader = "o_tail_refused"
	e.twoImages(reader, 160)
	e.svc.FailNext(paimeng.Errorf(paimeng.EINTERNAL, "queue down"))
	r := e.text(reader, "推近 --tail", false)
	if strings.Contains(r.Content, "任务 #") {
		t.Fatalf("reply %q", r.Content)
	}
	// The pair stayed: the next try submits it again.
	e.svc.FailNext(paimeng.Errorf(paimeng.EImageTooSmall, "end frame too small"))
	r = e.text(reader, "推近 --tail", false)
	contains(t, "image error", r.Content, command.CodeText(paimeng.LangZH, paimeng.EImageTooSmall))
	contains(t, "image error", r.Content, "请重新发送起始图和结束图两张图片")
	if n := len(e.svc.Submits()); n != 2 {
		t.Fatalf("%d submissions, want 2", n)
	}
	contains(t, "forgotten", e.text(reader, "推近", false).Content, instructions)
	if e.balance(reader) != 100 || e.svc.JobCount() != 0 {
		t.Fatalf("balance %d, %d jobs", e.balance(reader), e.svc.JobCount())
	}
}
