package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
)

const (
	authBob   = "Bearer tok-bob"
	authCarol = "Bearer tok-carol"
)

// call sends a JSON body (or none) with an Authorization header (or none).
func (h *harness) call(method, path, auth, body string, hdr ...string) *http.Response {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
		hdr = append(hdr, "Content-Type", "application/json")
	}
	if auth != "" {
		hdr = append(hdr, "Authorization", auth)
	}
	return h.do(method, path, r, hdr...)
}

func wantStatus(t *testing.T, res *http.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, b)
	}
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

func TestCreateJobModeLane(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.submit(form{prompt: "推近", mode: "pro", lane: "relax", name: "  Alice \t Z  "}, "Authorization", authAlice)
	wantStatus(t, res, 201)
	job := decode[jobView](t, res)
	want, err := h.be.prices.Price("", paimeng.ModePro, 5, paimeng.LaneRelax)
	if err != nil {
		t.Fatal(err)
	}
	if job.Mode != paimeng.ModePro || job.Lane != paimeng.LaneRelax || job.Price != want || job.Private {
		t.Fatalf("job %+v, want pro/relax at %d", job, want)
	}
	req := h.be.last()
	if req.Mode != paimeng.ModePro || req.Lane != paimeng.LaneRelax || req.DisplayName != "Alice Z" {
		t.Fatalf("request mode %q lane %q name %q", req.Mode, req.Lane, req.DisplayName)
	}
	if got := h.be.balance(alice); got != 100-want {
		t.Fatalf("balance %d, want %d", got, 100-want)
	}

	// Defaults: the request leaves them empty, the view names them.
	job = decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	if req := h.be.last(); req.Mode != "" || req.Lane != "" || req.DisplayName != "" {
		t.Fatalf("default request %+v", req)
	}
	if job.Mode != paimeng.ModeStd || job.Lane != paimeng.LaneFast || job.Price != 10 {
		t.Fatalf("default job %+v", job)
	}
	// Upper case is accepted.
	job = decode[jobView](t, h.submit(form{prompt: "推近", mode: "PRO", lane: "Fast"}, "Authorization", authAlice))
	if job.Mode != paimeng.ModePro || job.Lane != paimeng.LaneFast || job.Price != 18 {
		t.Fatalf("pro fast job %+v", job)
	}

	before := h.be.createdJobs()
	wantError(t, h.submit(form{prompt: "x", mode: "ultra"}, "Authorization", authAlice), 400, paimeng.EBadOption)
	wantError(t, h.submit(form{prompt: "x", lane: "slow"}, "Authorization", authAlice), 400, paimeng.EBadOption)
	wantError(t, h.submit(form{prompt: "x", name: strings.Repeat("名", maxNameRunes+1)}, "Authorization", authAlice), 400, paimeng.EINVALID)
	wantError(t, h.submit(form{prompt: "x", name: "a\x00b"}, "Authorization", authAlice), 400, paimeng.EINVALID)
	if h.be.createdJobs() != before {
		t.Fatal("a rejected form made a job")
	}
}

func TestPrice(t *testing.T) {
	prices, err := paimeng.ParsePrices("camera=10 svd=30 svd/pro/10=99", 10)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{Prices: prices, Engines: []string{"camera", "svd"}}, nil)

	// The whole table, without credentials.
	res := h.do("GET", "/api/v1/price", nil)
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	if keys(t, b) != "rows" {
		t.Fatalf("table %s", b)
	}
	var table priceTableView
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 8 {
		t.Fatalf("%d rows: %s", len(table.Rows), b)
	}
	var raw struct{ Rows []json.RawMessage }
	_ = json.Unmarshal(b, &raw)
	if got := keys(t, raw.Rows[0]); got != "engine,fast,mode,relax,seconds" {
		t.Fatalf("row keys %s", got)
	}
	if r := table.Rows[0]; r.Engine != "camera" || r.Mode != paimeng.ModeStd || r.Seconds != 5 || r.Fast != 10 || r.Relax != 5 {
		t.Fatalf("first row %+v", r)
	}
	if r := table.Rows[7]; r.Engine != "svd" || r.Mode != paimeng.ModePro || r.Seconds != 10 || r.Fast != 99 || r.Relax != 50 {
		t.Fatalf("last row %+v", r)
	}

	for q, want := range map[string]int64{
		"mode=std":                       10,
		"seconds=10":                     20,
		"mode=pro&seconds=5&lane=relax":  9,
		"engine=svd":                     30,
		"engine=svd&mode=pro&seconds=10": 99,
		"engine=svd&mode=pro&seconds=10&lane=relax": 50,
		"lane=RELAX": 5,
	} {
		res := h.do("GET", "/api/v1/price?"+q, nil)
		wantStatus(t, res, 200)
		v := decode[priceView](t, res)
		if v.Price != want {
			t.Errorf("%s: price %d, want %d", q, v.Price, want)
		}
	}
	v := decode[priceView](t, h.do("GET", "/api/v1/price?seconds=5", nil))
	if v.Engine != "camera" || v.Mode != paimeng.ModeStd || v.Lane != paimeng.LaneFast || v.Seconds != 5 {
		t.Fatalf("defaults %+v", v)
	}
	wantError(t, h.do("GET", "/api/v1/price?mode=ultra", nil), 400, paimeng.EBadOption)
	wantError(t, h.do("GET", "/api/v1/price?seconds=7", nil), 400, paimeng.EBadOption)
	wantError(t, h.do("GET", "/api/v1/price?seconds=five", nil), 400, paimeng.EBadOption)
	wantError(t, h.do("GET", "/api/v1/price?lane=slow", nil), 400, paimeng.EBadOption)
	wantError(t, h.do("GET", "/api/v1/price?engine=sora", nil), 400, paimeng.EUnknownEngine)
	if res := h.do("GET", "/api/v1/price", nil); len(res.Cookies()) != 0 {
		t.Fatal("public route issued a cookie")
	}

	// Without a table the route is not found; without engines it prices "*".
	h = newHarness(t, Config{}, nil)
	h.srv.cfg.Prices = nil
	wantError(t, h.do("GET", "/api/v1/price", nil), 404, paimeng.ENOTFOUND)
	h = newHarness(t, Config{}, nil)
	table = decode[priceTableView](t, h.do("GET", "/api/v1/price", nil))
	if len(table.Rows) != 4 || table.Rows[0].Engine != "*" || table.Rows[0].Fast != 10 {
		t.Fatalf("default table %+v", table)
	}
}

func TestMeBanned(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.call("GET", "/api/v1/me", authAlice, "")
	b, _ := io.ReadAll(res.Body)
	if keys(t, b) != "balance,banned,user" {
		t.Fatalf("me %s", b)
	}
	_ = h.be.Ban(t.Context(), bob, alice, "spam")
	if me := decode[meView](t, h.call("GET", "/api/v1/me", authAlice, "")); !me.Banned || me.Balance != 100 {
		t.Fatalf("me %+v", me)
	}
	e := wantError(t, h.submit(form{prompt: "推近"}, "Authorization", authAlice, "Accept-Language", "en"), 403, paimeng.EBanned)
	if !strings.Contains(e.Message, "banned") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestDaily(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	wantError(t, h.call("POST", "/api/v1/daily", "", ""), 401, paimeng.EUNAUTH)
	res := h.call("POST", "/api/v1/daily", authAlice, "")
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	if keys(t, b) != "amount,balance" {
		t.Fatalf("daily %s", b)
	}
	var c claimView
	_ = json.Unmarshal(b, &c)
	if c.Amount != 5 || c.Balance != 105 {
		t.Fatalf("claim %+v", c)
	}
	e := wantError(t, h.call("POST", "/api/v1/daily", authAlice, "", "Accept-Language", "zh-CN"), 409, paimeng.EAlreadyClaimed)
	if !strings.Contains(e.Message, "签到") {
		t.Fatalf("zh message %q", e.Message)
	}
	if h.be.balance(alice) != 105 {
		t.Fatalf("balance %d", h.be.balance(alice))
	}
}

func TestRedeem(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	h.be.addCode("GIFT-1", 50, time.Time{})
	h.be.addCode("OLD", 50, time.Now().Add(-time.Hour))
	wantError(t, h.call("POST", "/api/v1/redeem", "", `{"code":"GIFT-1"}`), 401, paimeng.EUNAUTH)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, `{"code":"NOPE"}`), 404, paimeng.ECodeInvalid)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, `{"code":"OLD"}`), 410, paimeng.ECodeExpired)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, ""), 400, paimeng.EINVALID)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, `{"code":"  "}`), 400, paimeng.EINVALID)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, `{"code":`), 400, paimeng.EINVALID)
	wantError(t, h.call("POST", "/api/v1/redeem", authAlice, `{"code":"`+strings.Repeat("x", maxJSONBytes)+`"}`), 400, paimeng.EINVALID)

	res := h.call("POST", "/api/v1/redeem", authAlice, `{"code":" GIFT-1 "}`)
	wantStatus(t, res, 200)
	if c := decode[claimView](t, res); c.Amount != 50 || c.Balance != 150 {
		t.Fatalf("claim %+v", c)
	}
	wantError(t, h.call("POST", "/api/v1/redeem", authBob, `{"code":"GIFT-1"}`), 409, paimeng.ECodeUsed)
	if h.be.balance(bob) != 100 {
		t.Fatalf("bob balance %d", h.be.balance(bob))
	}
}

func TestLinkAndUnlink(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	wantError(t, h.call("POST", "/api/v1/link", "", ""), 401, paimeng.EUNAUTH)
	res := h.call("POST", "/api/v1/link", authAlice, "")
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	if keys(t, b) != "code,expires_at" {
		t.Fatalf("link %s", b)
	}
	var lc linkCodeView
	_ = json.Unmarshal(b, &lc)
	if lc.Code == "" || !lc.ExpiresAt.After(time.Now()) {
		t.Fatalf("link code %+v", lc)
	}

	wantError(t, h.call("POST", "/api/v1/link/claim", authCarol, `{"code":"L99999"}`), 404, paimeng.ECodeInvalid)
	wantError(t, h.call("POST", "/api/v1/link/claim", authCarol, `{}`), 400, paimeng.EINVALID)
	res = h.call("POST", "/api/v1/link/claim", authCarol, `{"code":"`+lc.Code+`"}`)
	wantStatus(t, res, 200)
	b, _ = io.ReadAll(res.Body)
	if keys(t, b) != "balance" || !strings.Contains(string(b), `"balance":200`) {
		t.Fatalf("claim %s", b)
	}
	if me := decode[meView](t, h.call("GET", "/api/v1/me", authAlice, "")); me.Balance != 200 {
		t.Fatalf("alice after link %+v", me)
	}
	wantError(t, h.call("POST", "/api/v1/link/claim", authCarol, `{"code":"`+lc.Code+`"}`), 404, paimeng.ECodeInvalid)
	again := decode[linkCodeView](t, h.call("POST", "/api/v1/link", authAlice, ""))
	wantError(t, h.call("POST", "/api/v1/link/claim", authCarol, `{"code":"`+again.Code+`"}`), 409, paimeng.EAlreadyLinked)

	// A linked identity owns the account's jobs.
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Authorization", authAlice))
	wantStatus(t, h.call("GET", "/api/v1/jobs/"+job.ID, authCarol, ""), 200)

	res = h.call("POST", "/api/v1/unlink", authCarol, "")
	wantStatus(t, res, 200)
	if v := decode[balanceView](t, res); v.Balance != 0 {
		t.Fatalf("unlinked balance %d", v.Balance)
	}
	wantError(t, h.call("GET", "/api/v1/jobs/"+job.ID, authCarol, ""), 404, paimeng.ENOTFOUND)
	wantError(t, h.call("POST", "/api/v1/unlink", authCarol, ""), 409, paimeng.ENotLinked)
	wantError(t, h.call("POST", "/api/v1/unlink", "", ""), 401, paimeng.EUNAUTH)
}

func TestQueueAndCancel(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	a1 := decode[jobView](t, h.submit(form{prompt: "一"}, "Authorization", authAlice))
	decode[jobView](t, h.submit(form{prompt: "二"}, "Authorization", authBob))
	a2 := decode[jobView](t, h.submit(form{prompt: "三", mode: "pro"}, "Authorization", authAlice))
	h.be.update(a1.ID, func(j *paimeng.Job) { j.Status = paimeng.JobRunning })

	wantError(t, h.call("GET", "/api/v1/queue", "", ""), 401, paimeng.EUNAUTH)
	res := h.call("GET", "/api/v1/queue", authAlice, "")
	wantStatus(t, res, 200)
	q := decode[queueView](t, res)
	if len(q.Jobs) != 2 || q.Jobs[0].ID != a1.ID || q.Jobs[0].Status != paimeng.JobRunning || q.Jobs[0].QueuePosition != 0 ||
		q.Jobs[1].ID != a2.ID || q.Jobs[1].QueuePosition != 2 || q.Jobs[1].Mode != paimeng.ModePro {
		t.Fatalf("queue %+v", q)
	}
	if q := decode[queueView](t, h.call("GET", "/api/v1/queue", authCarol, "")); q.Jobs == nil || len(q.Jobs) != 0 {
		t.Fatalf("empty queue %+v", q)
	}

	wantError(t, h.call("POST", "/api/v1/jobs/"+a2.ID+"/cancel", authBob, ""), 404, paimeng.ENOTFOUND)
	wantError(t, h.call("POST", "/api/v1/jobs/"+a1.ID+"/cancel", authAlice, ""), 409, paimeng.ENotCancelable)
	wantError(t, h.call("POST", "/api/v1/jobs/"+a2.ID+"/cancel", "", ""), 401, paimeng.EUNAUTH)
	before := h.be.balance(alice)
	res = h.call("POST", "/api/v1/jobs/"+a2.ID+"/cancel", authAlice, "")
	wantStatus(t, res, 200)
	if v := decode[jobView](t, res); v.ID != a2.ID || v.Status != paimeng.JobCanceled || v.QueuePosition != 0 {
		t.Fatalf("canceled %+v", v)
	}
	if got := h.be.balance(alice); got != before+a2.Price {
		t.Fatalf("balance %d, want %d", got, before+a2.Price)
	}
	wantError(t, h.call("POST", "/api/v1/jobs/"+a2.ID+"/cancel", authAlice, ""), 409, paimeng.ENotCancelable)
	if q := decode[queueView](t, h.call("GET", "/api/v1/queue", authAlice, "")); len(q.Jobs) != 1 {
		t.Fatalf("queue after cancel %+v", q)
	}
}

func TestLikeAndPrivate(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	id := finishedJob(t, h, []byte("clip"))
	like := "/api/v1/jobs/" + id + "/like"

	wantError(t, h.call("POST", like, "", ""), 401, paimeng.EUNAUTH)
	res := h.call("POST", like, authBob, "")
	wantStatus(t, res, 200)
	b, _ := io.ReadAll(res.Body)
	if keys(t, b) != "added,likes" || string(b) != `{"added":true,"likes":1}`+"\n" {
		t.Fatalf("like %s", b)
	}
	if v := decode[likeView](t, h.call("POST", like, authBob, "")); v.Added || v.Likes != 1 {
		t.Fatalf("second like %+v", v)
	}
	if v := decode[likeView](t, h.call("POST", like, authCarol, "")); !v.Added || v.Likes != 2 {
		t.Fatalf("carol like %+v", v)
	}
	wantError(t, h.call("POST", like, authAlice, ""), 403, paimeng.EForbidden)
	wantError(t, h.call("POST", "/api/v1/jobs/nope/like", authBob, ""), 404, paimeng.ENOTFOUND)

	priv := "/api/v1/jobs/" + id + "/private"
	wantError(t, h.call("PUT", priv, "", `{"private":true}`), 401, paimeng.EUNAUTH)
	wantError(t, h.call("PUT", priv, authBob, `{"private":true}`), 404, paimeng.ENOTFOUND)
	wantError(t, h.call("PUT", priv, authAlice, `{}`), 400, paimeng.EINVALID)
	wantError(t, h.call("PUT", priv, authAlice, `{"private":"yes"}`), 400, paimeng.EINVALID)
	wantError(t, h.call("POST", priv, authAlice, `{"private":true}`), 404, paimeng.ENOTFOUND) // wrong method
	res = h.call("PUT", priv, authAlice, `{"private":true}`)
	wantStatus(t, res, 204)
	if b, _ := io.ReadAll(res.Body); len(b) != 0 {
		t.Fatalf("204 body %q", b)
	}
	if v := decode[jobView](t, h.call("GET", "/api/v1/jobs/"+id, authAlice, "")); !v.Private {
		t.Fatalf("job %+v", v)
	}
	wantError(t, h.call("POST", like, authBob, ""), 404, paimeng.ENOTFOUND)

	wantStatus(t, h.call("PUT", priv, authAlice, `{"private":false}`), 204)
	if v := decode[jobView](t, h.call("GET", "/api/v1/jobs/"+id, authAlice, "")); v.Private {
		t.Fatalf("job %+v", v)
	}
}

func TestPrivateMedia(t *testing.T) {
	for _, tc := range []struct {
		name  string
		blobs paimeng.BlobStore
	}{{"file", nil}, {"stream", &memBlobs{}}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, tc.blobs)
			id := finishedJob(t, h, []byte("0123456789"))
			video, poster := "/media/"+id+"/video.mp4", "/media/"+id+"/poster.jpg"
			for _, p := range []string{video, poster} {
				res := h.do("GET", p, nil)
				wantStatus(t, res, 200)
				if res.Header.Get("Vary") != "" {
					t.Fatalf("public media varies: %v", res.Header)
				}
			}
			wantStatus(t, h.call("PUT", "/api/v1/jobs/"+id+"/private", authAlice, `{"private":true}`), 204)

			for _, p := range []string{video, poster} {
				wantError(t, h.do("GET", p, nil), 404, paimeng.ENOTFOUND)
				wantError(t, h.call("GET", p, authBob, ""), 404, paimeng.ENOTFOUND)
				wantError(t, h.call("GET", p, "Bearer forged", ""), 404, paimeng.ENOTFOUND)
				res := h.call("GET", p, authAlice, "")
				wantStatus(t, res, 200)
				if res.Header.Get("Cache-Control") != "private, no-cache" || !strings.Contains(res.Header.Get("Vary"), "Authorization") {
					t.Fatalf("private media headers %v", res.Header)
				}
			}
			if b, _ := io.ReadAll(h.call("GET", video, authAlice, "").Body); string(b) != "0123456789" {
				t.Fatalf("owner video %q", b)
			}
			// Another identity of the owner's account sees it too.
			lc := decode[linkCodeView](t, h.call("POST", "/api/v1/link", authAlice, ""))
			wantStatus(t, h.call("POST", "/api/v1/link/claim", authCarol, `{"code":"`+lc.Code+`"}`), 200)
			wantStatus(t, h.call("GET", video, authCarol, ""), 200)

			wantStatus(t, h.call("PUT", "/api/v1/jobs/"+id+"/private", authAlice, `{"private":false}`), 204)
			wantStatus(t, h.do("GET", video, nil), 200)
		})
	}
}

func TestPrivateMediaPlayground(t *testing.T) {
	h := newHarness(t, Config{Playground: true}, nil)
	res := h.do("GET", "/api/v1/me", nil)
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == playgroundCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	job := decode[jobView](t, h.submit(form{prompt: "推近"}, "Cookie", cookie))
	h.be.update(job.ID, func(j *paimeng.Job) {
		j.Status, j.VideoKey, j.Private = paimeng.JobSucceeded, "v/"+j.ID+".mp4", true
		now := time.Now()
		j.FinishedAt = &now
	})
	if err := h.blobs.Put(t.Context(), "v/"+job.ID+".mp4", strings.NewReader("clip")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.do("GET", "/media/"+job.ID+"/video.mp4", nil, "Cookie", cookie), 200)
	// A stranger is not issued a user by a media request, and sees nothing.
	res = h.do("GET", "/media/"+job.ID+"/video.mp4", nil)
	wantError(t, res, 404, paimeng.ENOTFOUND)
	if len(res.Cookies()) != 0 {
		t.Fatal("media request issued a cookie")
	}
	// The cookie user can like others' videos from the gallery page.
	other := finishedJob(t, h, []byte("clip"))
	if v := decode[likeView](t, h.do("POST", "/api/v1/jobs/"+other+"/like", nil, "Cookie", cookie)); !v.Added || v.Likes != 1 {
		t.Fatalf("like %+v", v)
	}
	// A first-time visitor gets a cookie user by liking.
	res = h.do("POST", "/api/v1/jobs/"+other+"/like", nil)
	wantStatus(t, res, 200)
	if len(res.Cookies()) != 1 {
		t.Fatal("no cookie user issued")
	}
}

func TestLeaderboard(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	decode[jobView](t, h.submit(form{prompt: "x", name: "Alice"}, "Authorization", authAlice))
	a := finishedJob(t, h, []byte("a"))
	finishedJob(t, h, []byte("b"))
	b := func() string {
		job := decode[jobView](t, h.submit(form{prompt: "y", seconds: "10"}, "Authorization", authCarol))
		h.be.update(job.ID, func(j *paimeng.Job) {
			j.Status, j.VideoKey = paimeng.JobSucceeded, "v/x.mp4"
			now := time.Now()
			j.FinishedAt = &now
		})
		return job.ID
	}()
	decode[likeView](t, h.call("POST", "/api/v1/jobs/"+b+"/like", authAlice, ""))
	decode[likeView](t, h.call("POST", "/api/v1/jobs/"+b+"/like", authBob, ""))
	decode[likeView](t, h.call("POST", "/api/v1/jobs/"+a+"/like", authBob, ""))

	// Public, with defaults.
	res := h.do("GET", "/api/v1/leaderboard", nil)
	wantStatus(t, res, 200)
	raw, _ := io.ReadAll(res.Body)
	if keys(t, raw) != "board,period,rows" {
		t.Fatalf("board %s", raw)
	}
	var v leaderboardView
	_ = json.Unmarshal(raw, &v)
	if v.Board != paimeng.BoardGenerations || v.Period != paimeng.PeriodWeek || len(v.Rows) != 2 {
		t.Fatalf("board %s", raw)
	}
	if r := v.Rows[0]; r.Rank != 1 || r.Name != "Alice" || r.Score != 2 || len(r.Platforms) != 1 || r.Platforms[0] != paimeng.PlatformWeb {
		t.Fatalf("first row %+v", r)
	}
	if !strings.Contains(string(raw), `"platforms":["web"]`) || !strings.Contains(string(raw), `"rank":2`) {
		t.Fatalf("row shape %s", raw)
	}
	if got := h.be.lastBoard; got != [3]any{paimeng.BoardGenerations, paimeng.PeriodWeek, defaultBoardLimit} {
		t.Fatalf("store asked for %v", got)
	}

	v = decode[leaderboardView](t, h.do("GET", "/api/v1/leaderboard?board=likes&period=month&limit=1", nil))
	if v.Board != paimeng.BoardLikes || v.Period != paimeng.PeriodMonth || len(v.Rows) != 1 || v.Rows[0].Score != 2 ||
		v.Rows[0].Name != "member #2" || v.Rows[0].Platforms[0] != paimeng.PlatformTelegram {
		t.Fatalf("likes board %+v", v)
	}
	v = decode[leaderboardView](t, h.do("GET", "/api/v1/leaderboard?board=spent&period=all", nil))
	if v.Rows[0].Score != 20 || v.Rows[1].Score != 20 {
		t.Fatalf("spent board %+v", v)
	}
	if h.be.lastBoard[1] != paimeng.PeriodAll {
		t.Fatalf("period %v", h.be.lastBoard)
	}
	e := wantError(t, h.do("GET", "/api/v1/leaderboard?board=richest", nil, "Accept-Language", "en"), 400, paimeng.EINVALID)
	if e.Message != messageFor(paimeng.EINVALID, paimeng.LangEN) {
		t.Fatalf("message %q", e.Message)
	}
	wantError(t, h.do("GET", "/api/v1/leaderboard?period=year", nil), 400, paimeng.EINVALID)
	wantError(t, h.do("GET", "/api/v1/leaderboard?limit=0", nil), 400, paimeng.EINVALID)
	wantError(t, h.do("GET", "/api/v1/leaderboard?limit=1000", nil), 400, paimeng.EINVALID)
	if res := h.do("GET", "/api/v1/leaderboard", nil); len(res.Cookies()) != 0 {
		t.Fatal("public route issued a cookie")
	}

	// An empty board is an empty list, not null.
	h = newHarness(t, Config{}, nil)
	if res := h.do("GET", "/api/v1/leaderboard", nil); !strings.Contains(string(mustRead(t, res)), `"rows":[]`) {
		t.Fatal("empty rows not []")
	}
}

func mustRead(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGallery(t *testing.T) {
	h := newHarness(t, Config{PublicURL: "https://paimeng.example/"}, nil)
	decode[jobView](t, h.submit(form{prompt: "x", name: "阿丽"}, "Authorization", authAlice))
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		id := finishedJob(t, h, []byte("clip"))
		h.be.update(id, func(j *paimeng.Job) {
			at := base.Add(time.Duration(i) * time.Minute)
			j.FinishedAt = &at
		})
		ids = append(ids, id)
	}
	hidden := finishedJob(t, h, []byte("clip"))
	wantStatus(t, h.call("PUT", "/api/v1/jobs/"+hidden+"/private", authAlice, `{"private":true}`), 204)
	queued := decode[jobView](t, h.submit(form{prompt: "z"}, "Authorization", authAlice))
	decode[likeView](t, h.call("POST", "/api/v1/jobs/"+ids[2]+"/like", authBob, ""))

	res := h.do("GET", "/api/v1/gallery?limit=2", nil)
	wantStatus(t, res, 200)
	if len(res.Cookies()) != 0 {
		t.Fatal("public route issued a cookie")
	}
	raw := mustRead(t, res)
	if keys(t, raw) != "items,next" {
		t.Fatalf("gallery %s", raw)
	}
	var g galleryView
	_ = json.Unmarshal(raw, &g)
	if len(g.Items) != 2 || g.Items[0].ID != ids[2] || g.Items[1].ID != ids[1] || g.Next == nil {
		t.Fatalf("page 1 %s", raw)
	}
	var first map[string]json.RawMessage
	var items struct{ Items []json.RawMessage }
	_ = json.Unmarshal(raw, &items)
	_ = json.Unmarshal(items.Items[0], &first)
	for _, k := range []string{"id", "name", "prompt", "poster_url", "video_url", "likes", "finished_at"} {
		if _, ok := first[k]; !ok {
			t.Errorf("item lacks %q: %s", k, items.Items[0])
		}
	}
	it := g.Items[0]
	if it.Name != "阿丽" || it.Prompt != "推近" || it.Likes != 1 || it.VideoURL != "/media/"+ids[2]+"/video.mp4" ||
		it.PosterURL == nil || *it.PosterURL != "/media/"+ids[2]+"/poster.jpg" ||
		it.ShareURL != "https://paimeng.example/media/"+ids[2]+"/video.mp4" || !it.FinishedAt.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("item %+v", it)
	}
	// The listed media plays for anyone.
	wantStatus(t, h.do("GET", it.VideoURL, nil), 200)
	wantStatus(t, h.do("GET", *it.PosterURL, nil), 200)

	g = decode[galleryView](t, h.do("GET", "/api/v1/gallery?limit=2&before="+*g.Next, nil))
	if len(g.Items) != 1 || g.Items[0].ID != ids[0] || g.Next != nil {
		t.Fatalf("page 2 %+v", g)
	}
	g = decode[galleryView](t, h.do("GET", "/api/v1/gallery", nil))
	for _, it := range g.Items {
		if it.ID == hidden || it.ID == queued.ID {
			t.Fatalf("gallery lists %s", it.ID)
		}
	}
	if len(g.Items) != 3 {
		t.Fatalf("%d items", len(g.Items))
	}
	wantError(t, h.do("GET", "/api/v1/gallery?before=yesterday", nil), 400, paimeng.EINVALID)
	wantError(t, h.do("GET", "/api/v1/gallery?limit=-1", nil), 400, paimeng.EINVALID)
	wantError(t, h.do("GET", "/api/v1/gallery?limit=500", nil), 400, paimeng.EINVALID)

	// A community service without a gallery falls back to the job
	// service's; with neither the route is not found.
	for _, tc := range []struct {
		jobs   paimeng.JobService
		status int
	}{
		{h.be, 200},
		{struct{ paimeng.JobService }{h.be}, 404},
	} {
		s := New(Config{Logger: h.srv.cfg.Logger}, h.be, tc.jobs, struct{ paimeng.Community }{h.be}, nil, h.blobs)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/gallery", nil))
		if rec.Code != tc.status {
			t.Fatalf("gallery from %T: %d, want %d", tc.jobs, rec.Code, tc.status)
		}
	}
}

func TestTopPage(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.do("GET", "/top", nil)
	wantStatus(t, res, 200)
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("headers %v", res.Header)
	}
	if len(res.Cookies()) != 0 {
		t.Fatal("page issued a cookie")
	}
	page := string(mustRead(t, res))
	for _, want := range []string{
		"排行榜", "Leaderboard", "视频广场", "Gallery", "本周", "This week", "本月", "总榜", "All time",
		"生成数", "消费积分", "获赞", "登录后点赞", "Sign in to like", "playground",
		"/api/v1/leaderboard", "/api/v1/gallery", "/like", "board=", "period=", "before=",
		`href="/"`, `name="viewport"`, `el("video")`, "localStorage", "navigator.language",
		`id="boards"`, `id="periods"`, `id="gallery"`, `id="more"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("top page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "cdn", "innerHTML"} {
		if strings.Contains(page, bad) {
			t.Errorf("top page has %q", bad)
		}
	}
}

func TestPlaygroundPageControls(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	page := string(mustRead(t, h.do("GET", "/", nil)))
	for _, want := range []string{
		`id="mode"`, `value="std"`, `value="pro"`, `id="relax"`, `id="price"`, "/api/v1/price",
		`id="daily"`, "/api/v1/daily", `id="code"`, `id="redeem"`, "/api/v1/redeem",
		`id="linkCode"`, "/api/v1/link", "/api/v1/link/claim", `id="cancel"`, "/cancel", `id="private"`, "/private",
		`href="/top"`, `fd.append("mode"`, `fd.append("lane"`, `fd.append("name"`,
		"每日签到", "Daily check-in", "兑换", "Redeem", "获取绑定码", "Get a link code", "慢速", "Relax",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Every element the browser check drives is still on the page.
	script, err := os.ReadFile("../../scripts/playground-check.js")
	if err != nil {
		t.Skipf("no browser check script: %v", err)
	}
	sels := regexp.MustCompile(`'#([A-Za-z][\w-]*)`).FindAllStringSubmatch(string(script), -1)
	if len(sels) < 5 {
		t.Fatalf("found only %d selectors in playground-check.js", len(sels))
	}
	for _, m := range sels {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("page lacks #%s used by playground-check.js", m[1])
		}
	}
}
