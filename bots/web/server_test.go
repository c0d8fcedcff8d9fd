package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
)

var (
	alice = paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "alice"}
	bob   = paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
	carol = paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "777"}
)

type harness struct {
	t     *testing.T
	srv   *Server
	be    *backend
	blobs paimeng.BlobStore
	ts    *httptest.Server
	logs  *lockedWriter
}

func newHarness(t *testing.T, cfg Config, blobs paimeng.BlobStore) *harness {
	t.Helper()
	be := newBackend(100)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if blobs == nil {
		blobs = dirBlobs{dir: t.TempDir()}
	}
	if cfg.Prices == nil {
		cfg.Prices = be.prices
	}
	s := New(cfg, be, be, be, tokens{"tok-alice": alice, "tok-bob": bob, "tok-carol": carol}, blobs)
	s.pollEvery = 50 * time.Millisecond
	s.minEventGap = 0
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &harness{t: t, srv: s, be: be, blobs: blobs, ts: ts, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

type form struct {
	image    []byte
	noImage  bool
	prompt   string
	seconds  string
	seed     string
	mode     string
	lane     string
	name     string
	extraPad int
	tail     []byte      // image_tail file, when set
	extra    [][2]string // more fields, in order
}

func (f form) encode(t *testing.T) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if !f.noImage {
		fw, err := mw.CreateFormFile("image", "still.png")
		if err != nil {
			t.Fatal(err)
		}
		img := f.image
		if img == nil {
			img = []byte("\x89PNG\r\n\x1a\nnot really a png")
		}
		_, _ = fw.Write(img)
	}
	_ = mw.WriteField("prompt", f.prompt)
	if f.seconds != "" {
		_ = mw.WriteField("seconds", f.seconds)
	}
	if f.seed != "" {
		_ = mw.WriteField("seed", f.seed)
	}
	for k, v := range map[string]string{"mode": f.mode, "lane": f.lane, "name": f.name} {
		if v != "" {
			_ = mw.WriteField(k, v)
		}
	}
	if f.extraPad > 0 {
		_ = mw.WriteField("padding", strings.Repeat("x", f.extraPad))
	}
	if f.tail != nil {
		fw, err := mw.CreateFormFile("image_tail", "end.png")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(f.tail)
	}
	for _, kv := range f.extra {
		_ = mw.WriteField(kv[0], kv[1])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// do sends a request; hdr holds header pairs.
func (h *harness) do(method, path string, body io.Reader, hdr ...string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { res.Body.Close() })
	return res
}

func (h *harness) submit(f form, hdr ...string) *http.Response {
	h.t.Helper()
	body, ct := f.encode(h.t)
	return h.do("POST", "/api/v1/jobs", body, append([]string{"Content-Type", ct}, hdr...)...)
}

func decode[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func wantError(t *testing.T, res *http.Response, status int, code string) errorView {
	t.Helper()
	if res.StatusCode != status {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, b)
	}
	e := decode[errorBody](t, res)
	if e.Error.Code != code {
		t.Fatalf("code %q, want %q", e.Error.Code, code)
	}
	if e.Error.Message == "" {
		t.Fatal("empty message")
	}
	return e.Error
}

const authAlice = "Bearer tok-alice"

func TestBearerRequired(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	wantError(t, h.do("GET", "/api/v1/me", nil), 401, paimeng.EUNAUTH)
	wantError(t, h.do("GET", "/api/v1/me", nil, "Authorization", "Bearer nope"), 401, paimeng.EUNAUTH)
	wantError(t, h.do("GET", "/api/v1/me", nil, "Authorization", "Basic abc"), 401, paimeng.EUNAUTH)
	wantError(t, h.submit(form{prompt: "推近"}), 401, paimeng.EUNAUTH)
	res := h.do("GET", "/api/v1/me", nil, "Authorization", authAlice)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	me := decode[meView](t, res)
	if me.User != "web:alice" || me.Balance != 100 {
		t.Fatalf("me = %+v", me)
	}
	if len(res.Cookies()) != 0 {
		t.Fatal("cookie issued without playground")
	}
	// A forged playground cookie is not accepted without playground mode.
	wantError(t, h.do("GET", "/api/v1/me", nil, "Cookie", playgroundCookie+"=pg"+strings.Repeat("0", 32)), 401, paimeng.EUNAUTH)
}

func TestPlaygroundCookie(t *testing.T) {
	h := newHarness(t, Config{Playground: true}, nil)
	res := h.do("GET", "/api/v1/me", nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	var c *http.Cookie
	for _, k := range res.Cookies() {
		if k.Name == playgroundCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
	me := decode[meView](t, res)
	if me.User != "web:"+c.Value {
		t.Fatalf("user %q, cookie %q", me.User, c.Value)
	}

	res = h.do("GET", "/api/v1/me", nil, "Cookie", c.Name+"="+c.Value)
	if len(res.Cookies()) != 0 {
		t.Fatal("cookie reissued")
	}
	if again := decode[meView](t, res); again.User != me.User {
		t.Fatalf("user %q, then %q", me.User, again.User)
	}

	// The cookie user can submit and read its job.
	res = h.submit(form{prompt: "推近"}, "Cookie", c.Name+"="+c.Value)
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	job := decode[jobView](t, res)
	res = h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Cookie", c.Name+"="+c.Value)
	if res.StatusCode != 200 {
		t.Fatalf("get status %d", res.StatusCode)
	}

	// A cookie that names some other user is replaced by a fresh one.
	res = h.do("GET", "/api/v1/me", nil, "Cookie", c.Name+"=alice")
	if me := decode[meView](t, res); me.User == "web:alice" || len(res.Cookies()) != 1 {
		t.Fatalf("forged cookie accepted: %+v", me)
	}
	// Bearer still wins in playground mode.
	if me := decode[meView](t, h.do("GET", "/api/v1/me", nil, "Authorization", authAlice)); me.User != "web:alice" {
		t.Fatalf("user %q", me.User)
	}
}

func TestCreateJob(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.submit(form{prompt: "  推近，暗转 ", seconds: "10", seed: "42"}, "Authorization", authAlice, "Accept-Language", "en-US,en;q=0.9")
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	job := decode[jobView](t, res)
	if job.ID == "" || job.Status != paimeng.JobQueued || job.Prompt != "推近，暗转" || job.Seconds != 10 || job.Seed != 42 || job.Price != 20 {
		t.Fatalf("job %+v", job)
	}
	if job.QueuePosition != 1 || job.VideoURL != nil || job.Error != nil || job.CreatedAt.IsZero() {
		t.Fatalf("job %+v", job)
	}
	if loc := res.Header.Get("Location"); loc != "/api/v1/jobs/"+job.ID {
		t.Fatalf("location %q", loc)
	}
	req := h.be.last()
	if req.Identity != alice || req.Lang != paimeng.LangEN || !strings.HasPrefix(req.IdempotencyKey, "web:alice:") || len(req.Image) == 0 {
		t.Fatalf("request %+v", req)
	}
	if got := h.be.balance(alice); got != 80 {
		t.Fatalf("balance %d", got)
	}

	// Without a key, every request is a new job.
	res = h.submit(form{prompt: "后拉"}, "Authorization", authAlice)
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	second := decode[jobView](t, res)
	if second.ID == job.ID || second.QueuePosition != 2 {
		t.Fatalf("second %+v", second)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.submit(form{prompt: "左移"}, "Authorization", authAlice, "Idempotency-Key", "k1")
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	first := decode[jobView](t, res)
	if h.be.last().IdempotencyKey != "web:alice:k1" {
		t.Fatalf("key %q", h.be.last().IdempotencyKey)
	}
	res = h.submit(form{prompt: "左移"}, "Authorization", authAlice, "Idempotency-Key", "k1")
	if res.StatusCode != 200 {
		t.Fatalf("repeat status %d", res.StatusCode)
	}
	if again := decode[jobView](t, res); again.ID != first.ID {
		t.Fatalf("ids %s, %s", first.ID, again.ID)
	}
	if h.be.createdJobs() != 1 || h.be.balance(alice) != 90 {
		t.Fatalf("created %d, balance %d", h.be.createdJobs(), h.be.balance(alice))
	}
	// The same header from another user is a different key.
	res = h.submit(form{prompt: "左移"}, "Authorization", "Bearer tok-bob", "Idempotency-Key", "k1")
	if res.StatusCode != 201 {
		t.Fatalf("bob status %d", res.StatusCode)
	}
	wantError(t, h.submit(form{prompt: "x"}, "Authorization", authAlice, "Idempotency-Key", strings.Repeat("k", 201)), 400, paimeng.EINVALID)
}

func TestValidation(t *testing.T) {
	h := newHarness(t, Config{MaxUploadBytes: 64 << 10}, nil)
	auth := []string{"Authorization", authAlice}
	wantError(t, h.submit(form{noImage: true, prompt: "推近"}, auth...), 400, paimeng.ENoImage)
	wantError(t, h.submit(form{image: []byte{}, prompt: "推近"}, auth...), 400, paimeng.ENoImage)
	wantError(t, h.submit(form{prompt: strings.Repeat("长", paimeng.MaxPromptRunes+1)}, auth...), 400, paimeng.EPromptTooLong)
	wantError(t, h.submit(form{prompt: "ok", seconds: "7"}, auth...), 400, paimeng.EBadOption)
	wantError(t, h.submit(form{prompt: "ok", seed: "abc"}, auth...), 400, paimeng.EBadOption)
	wantError(t, h.do("POST", "/api/v1/jobs", strings.NewReader(`{}`), "Content-Type", "application/json", "Authorization", authAlice), 400, paimeng.ENoImage)
	wantError(t, h.do("POST", "/api/v1/jobs", strings.NewReader(`{}`), "Content-Type", "text/plain", "Authorization", authAlice), 400, paimeng.EINVALID)
	wantError(t, h.do("POST", "/api/v1/jobs", strings.NewReader(`{"image":`), "Content-Type", "application/json", "Authorization", authAlice), 400, paimeng.EINVALID)
	wantError(t, h.submit(form{prompt: "ok", image: bytes.Repeat([]byte{1}, 100<<10)}, auth...), 413, paimeng.EImageTooLarge)
	wantError(t, h.submit(form{prompt: "ok", extraPad: 100 << 10}, auth...), 413, paimeng.EImageTooLarge)
	big := `{"image":"` + strings.Repeat("QUJD", 30<<10) + `"}`
	wantError(t, h.do("POST", "/api/v1/jobs", strings.NewReader(big), "Content-Type", "application/json", "Authorization", authAlice), 413, paimeng.EImageTooLarge)
	// A prompt of exactly the limit passes.
	if res := h.submit(form{prompt: strings.Repeat("长", paimeng.MaxPromptRunes)}, auth...); res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if h.be.createdJobs() != 1 {
		t.Fatalf("created %d", h.be.createdJobs())
	}
}

func TestImageOverLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a 20 MB body")
	}
	h := newHarness(t, Config{}, nil)
	res := h.submit(form{prompt: "ok", image: make([]byte, paimeng.MaxImageBytes+1)}, "Authorization", authAlice)
	wantError(t, res, 413, paimeng.EImageTooLarge)
}

func TestInsufficientCredits(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	h.be.set(func(b *backend) { b.grant = 1 })
	e := wantError(t, h.submit(form{prompt: "推近"}, "Authorization", authAlice, "Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"), 402, paimeng.EInsufficient)
	if !strings.Contains(e.Message, "积分不足") {
		t.Fatalf("zh message %q", e.Message)
	}
	e = wantError(t, h.submit(form{prompt: "推近"}, "Authorization", authAlice, "Accept-Language", "fr;q=1, en-GB;q=0.8, zh;q=0.5"), 402, paimeng.EInsufficient)
	if !strings.Contains(e.Message, "Not enough credits") {
		t.Fatalf("en message %q", e.Message)
	}
}

func TestInternalErrorNotLeaked(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	h.be.set(func(b *backend) { b.submitErr = errors.New("pq: connection refused to 10.0.0.7") })
	res := h.submit(form{prompt: "推近"}, "Authorization", authAlice)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 500 || bytes.Contains(b, []byte("10.0.0.7")) || !bytes.Contains(b, []byte(`"code":"internal"`)) {
		t.Fatalf("status %d body %s", res.StatusCode, b)
	}
	if !strings.Contains(h.logs.String(), "10.0.0.7") || !strings.Contains(h.logs.String(), "user=web:alice") {
		t.Fatalf("not logged: %s", h.logs.String())
	}
}

func TestJobOwnership(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	if res := h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", authAlice); res.StatusCode != 200 {
		t.Fatalf("owner status %d", res.StatusCode)
	}
	wantError(t, h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", "Bearer tok-bob"), 404, paimeng.ENOTFOUND)
	wantError(t, h.do("GET", "/api/v1/jobs/"+job.ID+"/events", nil, "Authorization", "Bearer tok-bob"), 404, paimeng.ENOTFOUND)
	wantError(t, h.do("GET", "/api/v1/jobs/nope", nil, "Authorization", authAlice), 404, paimeng.ENOTFOUND)
	wantError(t, h.do("GET", "/api/v1/jobs/"+job.ID, nil), 401, paimeng.EUNAUTH)
}

func TestFailedJobError(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	h.be.update(job.ID, func(j *paimeng.Job) {
		j.Status = paimeng.JobFailed
		j.ErrorCode = paimeng.EEngineFailed
		j.ErrorDetail = "cuda oom at layer 7"
		now := time.Now()
		j.FinishedAt = &now
	})
	res := h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", authAlice, "Accept-Language", "en")
	b, _ := io.ReadAll(res.Body)
	if bytes.Contains(b, []byte("cuda")) {
		t.Fatalf("detail leaked: %s", b)
	}
	var v jobView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Error == nil || v.Error.Code != paimeng.EEngineFailed || !strings.Contains(v.Error.Message, "could not be made") || v.FinishedAt == nil {
		t.Fatalf("job %s", b)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	name string
	job  jobView
}

func readEvents(t *testing.T, body io.Reader, out chan<- sseEvent) {
	sc := bufio.NewScanner(body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var v jobView
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Errorf("event data %q: %v", line, err)
			}
			out <- sseEvent{name: name, job: v}
		}
	}
	close(out)
}

func next(t *testing.T, ch <-chan sseEvent, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended early")
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("timed out waiting for event")
		}
	}
}

func TestProgressAndEvents(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	ctx := context.Background()
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))

	res := h.do("GET", "/api/v1/jobs/"+job.ID+"/events", nil, "Authorization", authAlice)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 64)
	go readEvents(t, res.Body, events)

	first := next(t, events, func(sseEvent) bool { return true })
	if first.name != "progress" || first.job.Status != paimeng.JobQueued || first.job.QueuePosition != 1 {
		t.Fatalf("first event %+v", first)
	}

	stored := h.be.update(job.ID, func(j *paimeng.Job) {
		j.Status = paimeng.JobRunning
		now := time.Now()
		j.StartedAt = &now
	})
	if err := h.srv.Progress(ctx, stored, paimeng.Progress{Stage: "render", Done: 30, Total: 120}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, func(e sseEvent) bool { return e.job.Progress != nil && e.job.Progress.Done == 30 })
	if ev.name != "progress" || ev.job.Status != paimeng.JobRunning || ev.job.Progress.Stage != "render" || ev.job.Progress.Fraction != 0.25 {
		t.Fatalf("progress event %+v", ev)
	}

	got := decode[jobView](t, h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", authAlice))
	if got.Progress == nil || got.Progress.Total != 120 || got.Progress.Fraction != 0.25 || got.Status != paimeng.JobRunning {
		t.Fatalf("GET job %+v", got)
	}

	_ = h.srv.Progress(ctx, stored, paimeng.Progress{Stage: "encode", Done: 120, Total: 120})
	next(t, events, func(e sseEvent) bool { return e.job.Progress != nil && e.job.Progress.Stage == "encode" })

	final := h.be.update(job.ID, func(j *paimeng.Job) {
		j.Status = paimeng.JobSucceeded
		j.VideoKey = "videos/" + j.ID + ".mp4"
		j.PosterKey = "videos/" + j.ID + ".jpg"
		now := time.Now()
		j.FinishedAt = &now
	})
	if err := h.srv.Deliver(ctx, final); err != nil {
		t.Fatal(err)
	}
	done := next(t, events, func(e sseEvent) bool { return e.name == "done" })
	if done.job.Status != paimeng.JobSucceeded || done.job.VideoURL == nil || *done.job.VideoURL != "/media/"+job.ID+"/video.mp4" ||
		done.job.PosterURL == nil || done.job.Progress != nil {
		t.Fatalf("done event %+v", done)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("event after done")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end")
	}

	// Once final, a new stream sends the final state and ends.
	res = h.do("GET", "/api/v1/jobs/"+job.ID+"/events", nil, "Authorization", authAlice)
	b, _ := io.ReadAll(res.Body)
	if !bytes.HasPrefix(b, []byte("event: done\n")) || bytes.Count(b, []byte("event:")) != 1 {
		t.Fatalf("final stream %q", b)
	}
	h.srv.hub.mu.Lock()
	n := len(h.srv.hub.jobs)
	h.srv.hub.mu.Unlock()
	if n != 0 {
		t.Fatalf("hub keeps %d entries", n)
	}
}

func TestEventsPollCatchesFinal(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	res := h.do("GET", "/api/v1/jobs/"+job.ID+"/events", nil, "Authorization", authAlice)
	events := make(chan sseEvent, 64)
	go readEvents(t, res.Body, events)
	next(t, events, func(sseEvent) bool { return true })
	// Canceled without a Deliver reaching this process.
	h.be.update(job.ID, func(j *paimeng.Job) { j.Status = paimeng.JobCanceled })
	done := next(t, events, func(e sseEvent) bool { return e.name == "done" })
	if done.job.Status != paimeng.JobCanceled {
		t.Fatalf("done %+v", done)
	}
}

func finishedJob(t *testing.T, h *harness, video []byte) string {
	t.Helper()
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	ctx := context.Background()
	if err := h.blobs.Put(ctx, "v/"+job.ID+".mp4", bytes.NewReader(video)); err != nil {
		t.Fatal(err)
	}
	if err := h.blobs.Put(ctx, "v/"+job.ID+".jpg", strings.NewReader("\xff\xd8poster")); err != nil {
		t.Fatal(err)
	}
	h.be.update(job.ID, func(j *paimeng.Job) {
		j.Status = paimeng.JobSucceeded
		j.VideoKey = "v/" + j.ID + ".mp4"
		j.PosterKey = "v/" + j.ID + ".jpg"
		now := time.Now()
		j.FinishedAt = &now
	})
	return job.ID
}

func TestMediaRange(t *testing.T) {
	video := []byte("0123456789abcdefghij")
	for _, tc := range []struct {
		name      string
		blobs     paimeng.BlobStore
		wantRange bool
	}{
		{"file", nil, true},
		{"stream", &memBlobs{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, tc.blobs)
			id := finishedJob(t, h, video)

			// No credentials: the job id is the capability.
			res := h.do("GET", "/media/"+id+"/video.mp4", nil, "Range", "bytes=2-5")
			b, _ := io.ReadAll(res.Body)
			if tc.wantRange {
				if res.StatusCode != 206 || string(b) != "2345" || res.Header.Get("Content-Range") != fmt.Sprintf("bytes 2-5/%d", len(video)) {
					t.Fatalf("range: %d %q %q", res.StatusCode, res.Header.Get("Content-Range"), b)
				}
			} else if res.StatusCode != 200 || !bytes.Equal(b, video) {
				t.Fatalf("stream: %d %q", res.StatusCode, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "video/mp4" {
				t.Fatalf("content type %q", ct)
			}

			res = h.do("GET", "/media/"+id+"/poster.jpg?download=1", nil)
			b, _ = io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(b) != "\xff\xd8poster" || res.Header.Get("Content-Type") != "image/jpeg" ||
				!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("poster: %d %v %q", res.StatusCode, res.Header, b)
			}
			wantError(t, h.do("GET", "/media/nope/video.mp4", nil), 404, paimeng.ENOTFOUND)
		})
	}
}

func TestMediaOfUnfinishedJob(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	wantError(t, h.do("GET", "/media/"+job.ID+"/video.mp4", nil), 404, paimeng.ENOTFOUND)
}

func TestHealthAndPage(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.do("GET", "/healthz", nil)
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("healthz %d %q", res.StatusCode, b)
	}
	res = h.do("GET", "/", nil)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	page := string(b)
	for _, want := range []string{
		"图生视频", "Image to video", "生成视频", "Make video",
		"推近", "后拉", "左移", "右移", "晃动", "不动", "暗转", "push in", "fade out",
		"/api/v1/jobs", "/events", "Idempotency-Key", "Bearer", "localStorage", "navigator.language",
		`name="viewport"`, "<video",
		"camera_control", "image_tail", "aspect_ratio", `id="cameraType"`, `id="cameraAxis"`, `id="cameraValue"`, `id="fps"`,
		`id="resolution"`, `id="aspect"`, `id="tail"`, "down_back", "forward_up", "right_turn_forward", "left_turn_forward",
		"horizontal", "vertical", "roll", "1080p", "9:16", "结束帧", "End frame",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "cdn"} {
		if strings.Contains(page, bad) {
			t.Errorf("page references %q", bad)
		}
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP")
	}
	if res := h.do("GET", "/nope", nil); res.StatusCode != 404 {
		t.Fatalf("unknown path %d", res.StatusCode)
	}
	wantError(t, h.do("GET", "/api/v1/nope", nil), 404, paimeng.ENOTFOUND)
}

func TestErrorTables(t *testing.T) {
	codes := map[string]int{
		paimeng.ECONFLICT: 409, paimeng.EINTERNAL: 500, paimeng.EINVALID: 400, paimeng.ENOTFOUND: 404,
		paimeng.EUNAUTH: 401, paimeng.ENoImage: 400, paimeng.EImageTooLarge: 413, paimeng.EImageTooSmall: 400,
		paimeng.EImageFormat: 400, paimeng.EPromptTooLong: 400, paimeng.EBadOption: 400, paimeng.EInsufficient: 402,
		paimeng.ETooManyJobs: 429, paimeng.EEngineFailed: 500, paimeng.EJobTimeout: 500, paimeng.EUnknownEngine: 400,
		paimeng.EAlreadyClaimed: 409, paimeng.ECodeInvalid: 404, paimeng.ECodeUsed: 409, paimeng.ECodeExpired: 410,
		paimeng.EAlreadyLinked: 409, paimeng.ENotLinked: 409, paimeng.ENotCancelable: 409, paimeng.EBanned: 403,
		paimeng.EPromptBlocked: 422, paimeng.ERateLimited: 429, paimeng.EForbidden: 403,
	}
	for code, status := range codes {
		if got := statusOf(code); got != status {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, status)
		}
		zh, en, ok := texts(code)
		if !ok || zh == "" || en == "" || zh == en {
			t.Errorf("texts(%s) = %q, %q, %v", code, zh, en, ok)
		}
	}
	if statusOf("something_else") != 500 || messageFor("something_else", paimeng.LangEN) == "" {
		t.Error("unknown code")
	}
}

func TestLangOf(t *testing.T) {
	for header, want := range map[string]paimeng.Lang{
		"":                          paimeng.LangZH,
		"en":                        paimeng.LangEN,
		"zh-CN,zh;q=0.9,en;q=0.8":   paimeng.LangZH,
		"en-US,en;q=0.9,zh;q=0.8":   paimeng.LangEN,
		"fr-FR, zh;q=0.4, en;q=0.6": paimeng.LangEN,
		"de":                        paimeng.LangZH,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", header)
		if got := langOf(r); got != want {
			t.Errorf("langOf(%q) = %s, want %s", header, got, want)
		}
	}
}
