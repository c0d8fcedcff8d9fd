package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/blob"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
	"github.com/paimeng/paimeng/queue"
)

// redisURL returns this package's own flushed test Redis database.
func redisURL(t *testing.T) string { return testenv.RedisURL(t, 5) }

var (
	rendererOnce sync.Once
	realRenderer paimeng.Renderer
	rendererErr  error
)

// renderer returns the real camera engine behind the real encoder.
func renderer(t *testing.T) paimeng.Renderer {
	t.Helper()
	rendererOnce.Do(func() {
		if rendererErr = inference.InitORT(testenv.ORTLibrary(t)); rendererErr != nil {
			return
		}
		cam, err := inference.NewCameraEngine(inference.CameraOptions{MaxSide: 160})
		if err != nil {
			rendererErr = err
			return
		}
		realRenderer = media.NewRenderer(map[string]paimeng.Engine{cam.Name(): cam}, cam.Name(), media.EncodeOptions{Preset: "ultrafast"})
	})
	if rendererErr != nil {
		t.Fatal(rendererErr)
	}
	return realRenderer
}

// flaky fails the first n renders with code, then renders for real.
type flaky struct {
	inner paimeng.Renderer
	calls atomic.Int32

	mu   sync.Mutex
	n    int
	code string
	// seen holds what each job's last render was asked for, by job id.
	seen map[string]paimeng.RenderInput
}

func (f *flaky) fail(n int, code string) {
	f.mu.Lock()
	f.n, f.code = n, code
	f.mu.Unlock()
	f.calls.Store(0)
}

func (f *flaky) Render(ctx context.Context, in *paimeng.RenderInput, p func(paimeng.Progress)) (*paimeng.Rendered, error) {
	f.calls.Add(1)
	f.mu.Lock()
	fail, code := f.n > 0, f.code
	f.n--
	if f.seen == nil {
		f.seen = map[string]paimeng.RenderInput{}
	}
	// The worker renders into a folder named paimeng-<job id>-<random>.
	if id, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(in.OutDir), "paimeng-"), "-"); ok {
		f.seen[id] = *in
	}
	f.mu.Unlock()
	if fail {
		return nil, paimeng.Errorf(code, "injected failure")
	}
	return f.inner.Render(ctx, in, p)
}

// recorder is a front end that records deliveries.
type recorder struct {
	mu        sync.Mutex
	delivered map[string]int
	progress  map[string]int
	final     map[string]*paimeng.Job
	failFirst int
}

func newRecorder() *recorder {
	return &recorder{delivered: map[string]int{}, progress: map[string]int{}, final: map[string]*paimeng.Job{}}
}

func (r *recorder) Platform() paimeng.Platform { return paimeng.PlatformWeb }
func (r *recorder) Progress(_ context.Context, j *paimeng.Job, p paimeng.Progress) error {
	r.mu.Lock()
	r.progress[j.ID]++
	r.mu.Unlock()
	return nil
}
func (r *recorder) Deliver(_ context.Context, j *paimeng.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failFirst > 0 {
		r.failFirst--
		return fmt.Errorf("platform down")
	}
	r.delivered[j.ID]++
	r.final[j.ID] = j
	return nil
}
func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[id]
}

type harness struct {
	t         *testing.T
	store     *credits.Store
	blobs     *blob.Dir
	client    *asynq.Client
	inspector *asynq.Inspector
	sub       *queue.Submitter
	disp      *queue.Dispatcher
	fin       *queue.Finisher
	front     *recorder
	render    *flaky
	rdb       *redis.Client
	ropt      asynq.RedisConnOpt
	task      queue.TaskOptions
	log       *slog.Logger
	kicks     atomic.Int32
}

// setup chooses what a harness runs besides the stores and clients.
type setup struct {
	worker   bool // the real worker and the finisher's event server
	dispatch bool // the dispatcher's loop, every 20 ms and on kicks
	// Dispatcher limits; zero takes the defaults.
	ahead, maxRunning int
	// deleteBlobs gives the Submitter's blob store a Delete method.
	deleteBlobs bool
	// shot is the Submitter's prompt camera parser; nil leaves it unset.
	shot func(prompt string) paimeng.Shot
	// engines are the Submitter's engines; nil leaves the default.
	engines []string
	// workers is the Dispatcher's worker registry; nil leaves it unset.
	workers *queue.Registry
}

// deletingDir is a blob.Dir that can also delete, which the Submitter uses
// when a store has it to drop the image of a refused submit.
type deletingDir struct{ *blob.Dir }

func (d deletingDir) Delete(_ context.Context, key string) error { return os.Remove(d.Path(key)) }

// blockedWord is refused by the harness's prompt check.
const blockedWord = "违禁词"

func checkPrompt(p string) error {
	if strings.Contains(p, blockedWord) {
		return paimeng.Errorf(paimeng.EPromptBlocked, "blocked term")
	}
	return nil
}

func newHarness(t *testing.T, store *credits.Store, cfg setup) *harness {
	t.Helper()
	url := redisURL(t)
	ropt, _ := asynq.ParseRedisURI(url)
	gopt, _ := redis.ParseURL(url)
	h := &harness{t: t, store: store, front: newRecorder(), ropt: ropt}
	var err error
	if h.blobs, err = blob.NewDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	h.client = asynq.NewClient(ropt)
	h.inspector = asynq.NewInspector(ropt)
	h.rdb = redis.NewClient(gopt)
	t.Cleanup(func() { h.client.Close(); h.inspector.Close(); h.rdb.Close() })
	h.task = queue.TaskOptions{Timeout: time.Minute, MaxRetry: 2}
	h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.disp = queue.NewDispatcher(queue.DispatcherConfig{
		Store: store, Client: h.client, Inspector: h.inspector, Task: h.task,
		MaxRunning: cfg.maxRunning, Ahead: cfg.ahead, Interval: 20 * time.Millisecond, Logger: h.log,
		Workers: cfg.workers,
	})
	kick := func() { h.kicks.Add(1); h.disp.Kick() }
	var blobs paimeng.BlobStore = h.blobs
	if cfg.deleteBlobs {
		blobs = deletingDir{h.blobs}
	}
	h.sub, err = queue.NewSubmitter(queue.SubmitterConfig{
		Store: store, Blobs: blobs, Prices: paimeng.NewPrices(10),
		CheckImage: media.CheckImage, CheckPrompt: checkPrompt, Kick: kick, Logger: h.log,
		Shot: cfg.shot, Engines: cfg.engines,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Front ends are built after the finisher in the app (they need the
	// community service, which needs the finisher).
	h.fin = queue.NewFinisher(store, h.log)
	h.fin.AddDeliverers(h.front)
	h.fin.OnSettle(kick)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	if cfg.worker {
		h.render = &flaky{inner: renderer(t)}
		w, err := queue.NewWorker(queue.WorkerConfig{Renderer: h.render, Blobs: h.blobs, Client: h.client, Redis: h.rdb, ProgressEvery: time.Millisecond, Logger: h.log})
		if err != nil {
			t.Fatal(err)
		}
		mux := asynq.NewServeMux()
		w.Register(mux)
		h.fin.Register(mux)
		queues := queue.WorkerQueues(0, 0)
		queues[queue.QueueEvents] = 1
		h.serve(mux, 2, queues)
		wg.Add(1)
		go func() { defer wg.Done(); h.fin.ListenProgress(ctx, h.rdb) }()
	}
	if cfg.dispatch {
		wg.Add(1)
		go func() { defer wg.Done(); h.disp.Run(ctx) }()
	}
	return h
}

// serve runs an asynq server over mux until the test ends.
func (h *harness) serve(mux *asynq.ServeMux, concurrency int, queues map[string]int) {
	h.t.Helper()
	srv := asynq.NewServer(h.ropt, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   queues,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		TaskCheckInterval:        10 * time.Millisecond,
		LogLevel:                 asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(srv.Shutdown)
}

func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func request(t *testing.T, user, key string) *paimeng.Request {
	return &paimeng.Request{
		Identity:       paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user},
		IdempotencyKey: key,
		Image:          pngImage(t, 128, 96),
		Prompt:         "镜头缓慢推近",
		Seed:           7,
	}
}

// wait polls until the job is final and delivered.
func (h *harness) wait(id string) *paimeng.Job {
	h.t.Helper()
	return h.waitFor(id, 90*time.Second)
}

// waitFor is wait with a limit of d.
func (h *harness) waitFor(id string, d time.Duration) *paimeng.Job {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		j, err := h.store.Job(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if j.Status.Final() && j.DeliveredAt != nil {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("job %s not delivered in time", id)
	return nil
}

func (h *harness) balance(user string) int64 {
	h.t.Helper()
	a, err := h.store.Account(context.Background(), paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user})
	if err != nil {
		h.t.Fatal(err)
	}
	return a.Balance
}

func (h *harness) audit() {
	h.t.Helper()
	d, err := h.store.Audit(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if len(d) != 0 {
		h.t.Fatalf("ledger drift: %+v", d)
	}
}

func TestJobLifecycle(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 10}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{worker: true, dispatch: true})

		t.Run("success charges once and delivers once", func(t *testing.T) {
			j, err := h.sub.Submit(ctx, request(t, "ann", "web:ann:1"))
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != paimeng.JobQueued || j.Price != 10 || j.Seconds != 5 || j.Mode != paimeng.ModeStd || j.Lane != paimeng.LaneFast {
				t.Fatalf("submitted job %+v", j)
			}
			// The same request again (a platform retry) changes nothing.
			again, err := h.sub.Submit(ctx, request(t, "ann", "web:ann:1"))
			if err != nil || again.ID != j.ID {
				t.Fatalf("duplicate submit: %v %v", again, err)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobSucceeded || done.VideoKey != queue.VideoKey(j.ID) || done.DispatchedAt == nil {
				t.Fatalf("finished job %+v", done)
			}
			// The task went through the fast lane under the job's id.
			if info, err := h.inspector.GetTaskInfo(queue.QueueFast, j.ID); err != nil || info.State != asynq.TaskStateCompleted {
				t.Fatalf("task of %s in %s: %+v %v", j.ID, queue.QueueFast, info, err)
			}
			if got := h.balance("ann"); got != 90 {
				t.Fatalf("balance %d, want 90", got)
			}
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
			info, err := media.Probe(h.blobs.Path(done.VideoKey))
			if err != nil {
				t.Fatal(err)
			}
			if info.Codec != "h264" || info.Duration < 4.8 || info.Duration > 5.2 {
				t.Fatalf("video %+v", info)
			}
			h.front.mu.Lock()
			progress := h.front.progress[j.ID]
			h.front.mu.Unlock()
			if progress == 0 {
				t.Fatal("no progress relayed")
			}

			// A replayed finished event moves no money and delivers nothing new.
			if err := h.fin.Finish(ctx, paimeng.Outcome{JobID: j.ID, OK: false, ErrorCode: paimeng.EEngineFailed}); err != nil {
				t.Fatal(err)
			}
			if got := h.balance("ann"); got != 90 {
				t.Fatalf("balance after replay %d", got)
			}
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times after replay", n)
			}
			h.audit()
		})

		t.Run("pro mode in the relax lane", func(t *testing.T) {
			r := request(t, "amy", "web:amy:1")
			r.Mode, r.Lane, r.DisplayName = paimeng.ModePro, paimeng.LaneRelax, "Amy"
			want, err := h.sub.Price("", paimeng.ModePro, 5, paimeng.LaneRelax)
			if err != nil || want != 9 { // 10 × 1.75 for pro, halved for relax
				t.Fatalf("price %d %v", want, err)
			}
			j, err := h.sub.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if j.Mode != paimeng.ModePro || j.Lane != paimeng.LaneRelax || j.Price != want {
				t.Fatalf("submitted job %+v", j)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobSucceeded {
				t.Fatalf("finished job %+v", done)
			}
			if _, err := h.inspector.GetTaskInfo(queue.QueueRelax, j.ID); err != nil {
				t.Fatalf("task not in the relax queue: %v", err)
			}
			if got := h.balance("amy"); got != 100-want {
				t.Fatalf("balance %d", got)
			}
			info, err := media.Probe(h.blobs.Path(done.VideoKey))
			if err != nil || info.Codec != "h264" {
				t.Fatalf("video %+v %v", info, err)
			}
		})

		t.Run("bad input is refused with no charge", func(t *testing.T) {
			cases := []struct {
				code   string
				mutate func(r *paimeng.Request)
			}{
				{paimeng.ENoImage, func(r *paimeng.Request) { r.Image = nil }},
				{paimeng.EImageFormat, func(r *paimeng.Request) { r.Image = []byte("GIF89a not really") }},
				{paimeng.EImageTooSmall, func(r *paimeng.Request) { r.Image = pngImage(t, 32, 32) }},
				{paimeng.EPromptTooLong, func(r *paimeng.Request) { r.Prompt = strings.Repeat("梦", paimeng.MaxPromptRunes+1) }},
				{paimeng.EBadOption, func(r *paimeng.Request) { r.Seconds = 7 }},
				{paimeng.EBadOption, func(r *paimeng.Request) { r.Mode = "ultra" }},
				{paimeng.EBadOption, func(r *paimeng.Request) { r.Lane = "slow" }},
				{paimeng.EUnknownEngine, func(r *paimeng.Request) { r.Engine = "sora" }},
				{paimeng.EPromptBlocked, func(r *paimeng.Request) { r.Prompt = "一段" + blockedWord + "提示" }},
			}
			for i, c := range cases {
				r := request(t, "bob", fmt.Sprintf("web:bob:%d", i))
				c.mutate(r)
				_, err := h.sub.Submit(ctx, r)
				if got := paimeng.ErrorCode(err); got != c.code {
					t.Errorf("case %d: got %q (%v), want %s", i, got, err, c.code)
				}
				if _, err := h.store.JobByIdempotencyKey(ctx, r.IdempotencyKey); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
					t.Errorf("case %d: a job was written", i)
				}
			}
			if got := h.balance("bob"); got != 100 {
				t.Fatalf("balance %d, want 100", got)
			}
		})

		t.Run("insufficient credits", func(t *testing.T) {
			r := request(t, "cat", "web:cat:big")
			r.Seconds = 10
			var ids []string
			for i := 0; i < 5; i++ {
				r.IdempotencyKey = fmt.Sprintf("web:cat:%d", i)
				j, err := h.sub.Submit(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, j.ID)
			}
			r.IdempotencyKey = "web:cat:last"
			_, err := h.sub.Submit(ctx, r)
			if paimeng.ErrorCode(err) != paimeng.EInsufficient {
				t.Fatalf("got %v", err)
			}
			if got := h.balance("cat"); got != 0 {
				t.Fatalf("balance %d", got)
			}
			for _, id := range ids {
				h.wait(id)
			}
		})

		t.Run("transient failures are retried and charged once", func(t *testing.T) {
			h.render.fail(2, paimeng.EINTERNAL)
			j, err := h.sub.Submit(ctx, request(t, "dan", "web:dan:1"))
			if err != nil {
				t.Fatal(err)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobSucceeded {
				t.Fatalf("status %s (%s)", done.Status, done.ErrorDetail)
			}
			if c := h.render.calls.Load(); c != 3 {
				t.Fatalf("rendered %d times, want 3", c)
			}
			if got := h.balance("dan"); got != 90 {
				t.Fatalf("balance %d", got)
			}
		})

		t.Run("bad input found by the worker is not retried and costs nothing", func(t *testing.T) {
			h.render.fail(1, paimeng.EImageFormat)
			j, err := h.sub.Submit(ctx, request(t, "eve", "web:eve:1"))
			if err != nil {
				t.Fatal(err)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobFailed || done.ErrorCode != paimeng.EImageFormat {
				t.Fatalf("job %+v", done)
			}
			if c := h.render.calls.Load(); c != 1 {
				t.Fatalf("rendered %d times, want 1", c)
			}
			if got := h.balance("eve"); got != 100 {
				t.Fatalf("balance %d, want 100 after release", got)
			}
			h.front.mu.Lock()
			final := h.front.final[j.ID]
			h.front.mu.Unlock()
			if final == nil || final.ErrorCode != paimeng.EImageFormat {
				t.Fatalf("delivered %+v", final)
			}
			h.audit()
		})

		t.Run("retries exhausted release the hold", func(t *testing.T) {
			h.render.fail(10, paimeng.EEngineFailed)
			j, err := h.sub.Submit(ctx, request(t, "fay", "web:fay:1"))
			if err != nil {
				t.Fatal(err)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobFailed || done.ErrorCode != paimeng.EEngineFailed {
				t.Fatalf("job %+v", done)
			}
			if c := h.render.calls.Load(); c != 3 {
				t.Fatalf("rendered %d times, want 1 + 2 retries", c)
			}
			if got := h.balance("fay"); got != 100 {
				t.Fatalf("balance %d", got)
			}
			h.render.fail(0, "")
		})

		t.Run("delivery retried until the platform answers", func(t *testing.T) {
			h.front.mu.Lock()
			h.front.failFirst = 2
			h.front.mu.Unlock()
			j, err := h.sub.Submit(ctx, request(t, "gus", "web:gus:1"))
			if err != nil {
				t.Fatal(err)
			}
			h.wait(j.ID)
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
			if got := h.balance("gus"); got != 90 {
				t.Fatalf("balance %d", got)
			}
		})
	})
}

// createJob writes a queued job straight into the store, as if submitted.
// Each edit changes the job before it is written.
func (h *harness) createJob(user, key string, lane paimeng.Lane, edits ...func(*paimeng.Job)) *paimeng.Job {
	h.t.Helper()
	ctx := context.Background()
	id := paimeng.NewJobID()
	imgKey := "jobs/" + id + "/input"
	if err := h.blobs.Put(ctx, imgKey, bytes.NewReader(pngImage(h.t, 128, 96))); err != nil {
		h.t.Fatal(err)
	}
	job := &paimeng.Job{
		ID:       id,
		Identity: paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user},
		Prompt:   "pull back", Seconds: 5, Seed: 3, Engine: "camera", Price: 10, ImageKey: imgKey,
		Mode: paimeng.ModeStd, Lane: lane,
	}
	for _, e := range edits {
		e(job)
	}
	j, _, err := h.store.CreateJob(ctx, job, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) job(id string) *paimeng.Job {
	h.t.Helper()
	j, err := h.store.Job(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// taskState returns the state of job id's task in qname, or "" when there is none.
func (h *harness) taskState(qname, id string) string {
	h.t.Helper()
	info, err := h.inspector.GetTaskInfo(qname, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return ""
	} else if err != nil {
		h.t.Fatal(err)
	}
	return info.State.String()
}

func TestReconciler(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		// The dispatcher does not run: each case dispatches by hand.
		h := newHarness(t, store, setup{worker: true})
		rec := queue.NewReconciler(queue.ReconcilerConfig{
			Store: store, Client: h.client, Inspector: h.inspector, Finisher: h.fin,
			Task: h.task, Grace: time.Nanosecond, Deadline: time.Hour,
		})

		t.Run("a dispatched job whose task vanished is enqueued again", func(t *testing.T) {
			// Claimed by a dispatcher that died before enqueueing.
			j := h.createJob("hal", "web:hal:1", paimeng.LaneFast)
			claimed, err := store.NextDispatch(ctx, paimeng.LaneFast, 1)
			if err != nil || claimed.ID != j.ID {
				t.Fatalf("claimed %+v %v", claimed, err)
			}
			rep, err := rec.Once(ctx, time.Now().Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requeued != 1 {
				t.Fatalf("report %+v", rep)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobSucceeded || h.balance("hal") != 90 {
				t.Fatalf("job %+v balance %d", done, h.balance("hal"))
			}
			// Nothing left to do for a settled job.
			rep, err = rec.Once(ctx, time.Now().Add(time.Second))
			if err != nil || rep != (queue.Report{}) {
				t.Fatalf("second pass %+v %v", rep, err)
			}
		})

		t.Run("an undispatched job is left to the dispatcher", func(t *testing.T) {
			j := h.createJob("ivy", "web:ivy:1", paimeng.LaneFast)
			rep, err := rec.Once(ctx, time.Now().Add(time.Second))
			if err != nil || rep != (queue.Report{}) {
				t.Fatalf("report %+v %v", rep, err)
			}
			if got := h.job(j.ID); got.Status != paimeng.JobQueued || got.DispatchedAt != nil {
				t.Fatalf("job %+v", got)
			}
			if st := h.taskState(queue.QueueFast, j.ID); st != "" {
				t.Fatalf("task enqueued behind the dispatcher's back: %s", st)
			}
			if n, err := h.disp.Once(ctx); err != nil || n != 1 {
				t.Fatalf("dispatched %d %v", n, err)
			}
			if done := h.wait(j.ID); done.Status != paimeng.JobSucceeded {
				t.Fatalf("job %+v", done)
			}
		})

		t.Run("an undispatched job past its deadline is failed and released", func(t *testing.T) {
			j := h.createJob("ida", "web:ida:1", paimeng.LaneRelax)
			if h.balance("ida") != 90 {
				t.Fatal("hold not taken")
			}
			rep, err := rec.Once(ctx, time.Now().Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Expired != 1 {
				t.Fatalf("report %+v", rep)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobFailed || done.ErrorCode != paimeng.EJobTimeout || h.balance("ida") != 100 {
				t.Fatalf("job %+v balance %d", done, h.balance("ida"))
			}
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
			// The dispatcher no longer sees it.
			if n, err := h.disp.Once(ctx); err != nil || n != 0 {
				t.Fatalf("dispatched %d %v", n, err)
			}
			h.audit()
		})

		t.Run("an expired job's waiting task is deleted", func(t *testing.T) {
			if err := h.inspector.PauseQueue(queue.QueueFast); err != nil {
				t.Fatal(err)
			}
			defer h.inspector.UnpauseQueue(queue.QueueFast)
			j := h.createJob("joe", "web:joe:1", paimeng.LaneFast)
			if n, err := h.disp.Once(ctx); err != nil || n != 1 {
				t.Fatalf("dispatched %d %v", n, err)
			}
			if st := h.taskState(queue.QueueFast, j.ID); st != "pending" {
				t.Fatalf("task state %q", st)
			}
			rep, err := rec.Once(ctx, time.Now().Add(2*time.Hour))
			if err != nil || rep.Expired != 1 {
				t.Fatalf("report %+v %v", rep, err)
			}
			if st := h.taskState(queue.QueueFast, j.ID); st != "" {
				t.Fatalf("task still there: %s", st)
			}
			done := h.wait(j.ID)
			if done.ErrorCode != paimeng.EJobTimeout || h.balance("joe") != 100 {
				t.Fatalf("job %+v balance %d", done, h.balance("joe"))
			}
			h.audit()
		})
	})
}

func TestLanes(t *testing.T) {
	if queue.LaneQueue(paimeng.LaneFast) != queue.QueueFast || queue.LaneQueue("") != queue.QueueFast ||
		queue.LaneQueue(paimeng.LaneRelax) != queue.QueueRelax {
		t.Fatal("lane queues")
	}
	w := queue.WorkerQueues(0, 0)
	if w[queue.QueueFast] != 6 || w[queue.QueueRelax] != 1 || w[queue.QueueGen] != 6 || len(w) != 3 {
		t.Fatalf("default weights %v", w)
	}
	if w := queue.WorkerQueues(3, 2); w[queue.QueueFast] != 3 || w[queue.QueueRelax] != 2 || w[queue.QueueGen] != 3 {
		t.Fatalf("weights %v", w)
	}
}
