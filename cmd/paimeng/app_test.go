package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/telegram/telegramtest"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
	"github.com/paimeng/paimeng/queue"
)

// testConfig returns a dev configuration writing under a temp folder.
func testConfig(t *testing.T, env map[string]string) *Config {
	t.Helper()
	lib := testenv.ORTLibrary(t)
	base := map[string]string{
		"PAIMENG_DATA_DIR":       t.TempDir(),
		"PAIMENG_HTTP_ADDR":      "127.0.0.1:0",
		"PAIMENG_ORT_LIBRARY":    lib,
		"PAIMENG_MAX_SIDE":       "320",
		"PAIMENG_ENCODER_PRESET": "ultrafast",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, _, err := parseConfig("test", nil, func(k string) string { return base[k] }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startApp boots the real program and stops it when the test ends.
func startApp(t *testing.T, cfg *Config, roles Roles) *App {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return startWithLog(t, cfg, roles, log)
}

// startWithLog is startApp logging to log.
func startWithLog(t *testing.T, cfg *Config, roles Roles, log *slog.Logger) *App {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, roles, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("app did not stop")
		}
		app.Close()
	})
	return app
}

// scene is a photo-like test image: smooth shading with distinct shapes.
func scene(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 128 + 100*math.Sin(fx*9+fy*3)
			g := 128 + 100*math.Sin(fy*11-fx*2)
			b := 128 + 100*math.Cos((fx-0.5)*(fy-0.5)*40)
			img.Set(x, y, color.RGBA{uint8(r), uint8(g), uint8(b), 255})
		}
	}
	return img
}

func jpegBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// grayFrame decodes frame n (or the last with n < 0) of a video as gray pixels.
func grayFrame(t *testing.T, path string, n int, w, h int) []float64 {
	t.Helper()
	args := []string{"-v", "error"}
	if n < 0 {
		args = append(args, "-sseof", "-0.1")
	}
	args = append(args, "-i", path)
	if n >= 0 {
		args = append(args, "-vf", fmt.Sprintf("select=eq(n\\,%d),scale=%d:%d,format=gray", n, w, h))
	} else {
		args = append(args, "-vf", fmt.Sprintf("scale=%d:%d,format=gray", w, h))
	}
	args = append(args, "-frames:v", "1", "-f", "rawvideo", "-")
	out, err := exec.Command("ffmpeg", args...).Output()
	if err != nil || len(out) != w*h {
		t.Fatalf("decode frame %d: %v (%d bytes)", n, err, len(out))
	}
	f := make([]float64, len(out))
	for i, b := range out {
		f[i] = float64(b)
	}
	return f
}

// zoomScale finds the scale s for which the last frame best matches the
// first frame magnified by s about the centre: s > 1 is a push-in.
func zoomScale(first, last []float64, w, h int) float64 {
	best, bestErr := 1.0, math.Inf(1)
	for s := 0.7; s <= 1.6; s += 0.01 {
		var sum float64
		var n int
		for y := h / 4; y < 3*h/4; y++ {
			for x := w / 4; x < 3*w/4; x++ {
				sx := (float64(x)-float64(w)/2)/s + float64(w)/2
				sy := (float64(y)-float64(h)/2)/s + float64(h)/2
				ix, iy := int(sx), int(sy)
				if ix < 0 || iy < 0 || ix >= w || iy >= h {
					continue
				}
				d := last[y*w+x] - first[iy*w+ix]
				sum += d * d
				n++
			}
		}
		if e := sum / float64(n); e < bestErr {
			best, bestErr = s, e
		}
	}
	return best
}

func TestDevTelegramEndToEnd(t *testing.T) {
	tg := telegramtest.NewServer(t)
	cfg := testConfig(t, map[string]string{
		"PAIMENG_TELEGRAM_TOKEN":   tg.Token,
		"PAIMENG_TELEGRAM_API_URL": tg.URL,
	})
	app := startApp(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})

	photo := jpegBytes(t, scene(640, 360))
	member := &tgbotapi.User{ID: 4242, FirstName: "梦", LanguageCode: "zh-hans"}
	msg := tg.PushMessage(tgbotapi.Message{From: member, Photo: tg.AddPhoto(photo, 640, 360), Caption: "/gen 镜头缓慢推近，樱花飘落"})

	videos := tg.WaitSent(t, "sendVideo", 1)
	v := videos[0]
	if v.ReplyTo != msg.MessageID || len(v.File) == 0 {
		t.Fatalf("video reply %+v", v)
	}
	if !strings.Contains(v.Caption, "镜头缓慢推近") {
		t.Errorf("caption %q lacks the prompt", v.Caption)
	}
	mp4 := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(mp4, v.File, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := media.Probe(mp4)
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != "h264" || info.Profile != "High" || info.PixFmt != "yuv420p" || info.Duration < 4.8 || info.Duration > 5.3 {
		t.Fatalf("video %+v", info)
	}
	if info.Width%2 != 0 || info.Height%2 != 0 || info.Width != 320 || info.Height != 180 {
		t.Fatalf("size %dx%d", info.Width, info.Height)
	}
	if s := zoomScale(grayFrame(t, mp4, 0, 160, 90), grayFrame(t, mp4, -1, 160, 90), 160, 90); s < 1.1 {
		t.Fatalf("推近 should push in; measured scale %.2f", s)
	}

	id := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "4242"}
	acc, err := app.Store.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Balance != 90 {
		t.Fatalf("balance %d, want 100 - 10", acc.Balance)
	}
	queued := len(tg.Sent("sendMessage"))

	// Telegram delivers the same message again in a new update.
	tg.PushUpdate(tgbotapi.Update{Message: &msg})
	time.Sleep(2 * time.Second)
	if n := len(tg.Sent("sendVideo")); n != 1 {
		t.Fatalf("duplicate update sent %d videos", n)
	}
	if n := len(tg.Sent("sendMessage")); n != queued {
		t.Fatalf("duplicate update sent %d more messages", n-queued)
	}
	if acc, _ := app.Store.Account(context.Background(), id); acc.Balance != 90 {
		t.Fatalf("duplicate update charged: balance %d", acc.Balance)
	}
	if d, err := app.Store.Audit(context.Background()); err != nil || len(d) != 0 {
		t.Fatalf("audit %v %v", d, err)
	}

	// A bad image is refused in the member's language, nothing charged.
	tg.PushMessage(tgbotapi.Message{From: member, Document: tg.AddDocument([]byte("not an image at all"), "x.png", "image/png"), Caption: "/gen 后拉"})
	tg.WaitFor(t, func() bool {
		for _, s := range tg.Sent("sendMessage") {
			if strings.Contains(s.Text, "未扣除") {
				return true
			}
		}
		return false
	}, "a zh refusal")
	if acc, _ := app.Store.Account(context.Background(), id); acc.Balance != 90 {
		t.Fatalf("bad image charged: balance %d", acc.Balance)
	}
}

type jobView struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	VideoURL string `json:"video_url"`
	Error    *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func postJob(t *testing.T, c *http.Client, base, token, key string, img []byte, prompt string) (int, jobView) {
	t.Helper()
	return postJobFields(t, c, base, token, key, img, map[string]string{"prompt": prompt})
}

// postJobFields posts a job with the given form fields besides the image.
func postJobFields(t *testing.T, c *http.Client, base, token, key string, img []byte, fields map[string]string) (int, jobView) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "photo.jpg")
	fw.Write(img)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/jobs", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v jobView
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func waitJob(t *testing.T, c *http.Client, base, token, id string) jobView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", base+"/api/v1/jobs/"+id, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v jobView
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.Status == "succeeded" || v.Status == "failed" {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return jobView{}
}

func TestDevPlayground(t *testing.T) {
	app := startApp(t, testConfig(t, nil), Roles{Frontend: true, Worker: true, Playground: true})
	base := "http://" + app.Addr()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}

	resp, err := c.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("拍梦")) {
		t.Fatalf("playground page: %d", resp.StatusCode)
	}

	code, j := postJob(t, c, base, "", "k1", jpegBytes(t, scene(400, 300)), "pull back slowly")
	if code != http.StatusCreated || j.ID == "" {
		t.Fatalf("create: %d %+v", code, j)
	}
	done := waitJob(t, c, base, "", j.ID)
	if done.Status != "succeeded" || done.VideoURL == "" {
		t.Fatalf("job %+v", done)
	}
	resp, err = c.Get(base + done.VideoURL)
	if err != nil {
		t.Fatal(err)
	}
	mp4, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(mp4[:64], []byte("ftyp")) {
		t.Fatalf("video: %d, %d bytes", resp.StatusCode, len(mp4))
	}
}

// The production shape: serve and worker as separate processes sharing
// Redis, PostgreSQL and the blob folder.
func TestServeAndWorkerOnRedisAndPostgres(t *testing.T) {
	shared := t.TempDir()
	env := map[string]string{
		"PAIMENG_REDIS_URL":    testenv.RedisURL(t, 7),
		"PAIMENG_DATABASE_URL": credittest.DSN(t, "postgres"),
		"PAIMENG_BLOB_DIR":     shared,
	}
	front := startApp(t, testConfig(t, env), Roles{Frontend: true})
	startApp(t, testConfig(t, env), Roles{Worker: true})
	// The worker advertises its engines.
	reg := queue.NewRegistry(front.rdb)
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, err := reg.Engines(context.Background())
		if err == nil && m["camera"] == 1 && len(m) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker registry %v %v", m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	tok, err := front.Store.CreateToken(context.Background(), paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "alice"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + front.Addr()
	c := &http.Client{Timeout: 30 * time.Second}
	code, j := postJob(t, c, url, tok, "k1", jpegBytes(t, scene(300, 300)), "左移")
	if code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if code, again := postJob(t, c, url, tok, "k1", jpegBytes(t, scene(300, 300)), "左移"); code != http.StatusOK || again.ID != j.ID {
		t.Fatalf("idempotent create: %d %+v", code, again)
	}
	if done := waitJob(t, c, url, tok, j.ID); done.Status != "succeeded" {
		t.Fatalf("job %+v", done)
	}
	acc, err := front.Store.Account(context.Background(), paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "alice"})
	if err != nil || acc.Balance != 90 {
		t.Fatalf("balance %v %v", acc, err)
	}
}
