package queue_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
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
	fin       *queue.Finisher
	front     *recorder
	render    *flaky
	rdb       *redis.Client
	task      queue.TaskOptions
}

func newHarness(t *testing.T, store *credits.Store) *harness {
	t.Helper()
	url := redisURL(t)
	ropt, _ := asynq.ParseRedisURI(url)
	gopt, _ := redis.ParseURL(url)
	h := &harness{t: t, store: store, front: newRecorder()}
	var err error
	if h.blobs, err = blob.NewDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	h.client = asynq.NewClient(ropt)
	h.inspector = asynq.NewInspector(ropt)
	h.rdb = redis.NewClient(gopt)
	t.Cleanup(func() { h.client.Close(); h.inspector.Close(); h.rdb.Close() })
	h.task = queue.TaskOptions{Timeout: time.Minute, MaxRetry: 2}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.sub, err = queue.NewSubmitter(queue.SubmitterConfig{
		Store: store, Client: h.client, Blobs: h.blobs, Pricing: queue.PerFiveSeconds(10),
		CheckImage: media.CheckImage, Task: h.task, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.render = &flaky{inner: renderer(t)}
	w, err := queue.NewWorker(queue.WorkerConfig{Renderer: h.render, Blobs: h.blobs, Client: h.client, Redis: h.rdb, ProgressEvery: time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.fin = queue.NewFinisher(store, log, h.front)

	mux := asynq.NewServeMux()
	w.Register(mux)
	h.fin.Register(mux)
	srv := asynq.NewServer(ropt, asynq.Config{
		Concurrency:              2,
		Queues:                   map[string]int{queue.QueueGen: 1, queue.QueueEvents: 1},
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		LogLevel:                 asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.fin.ListenProgress(ctx, h.rdb)
	t.Cleanup(func() { cancel(); srv.Shutdown() })
	return h
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
	deadline := time.Now().Add(90 * time.Second)
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
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store)

		t.Run("success charges once and delivers once", func(t *testing.T) {
			j, err := h.sub.Submit(ctx, request(t, "ann", "web:ann:1"))
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != paimeng.JobQueued || j.Price != 10 || j.Seconds != 5 {
				t.Fatalf("submitted job %+v", j)
			}
			if _, err := h.inspector.GetTaskInfo(queue.QueueGen, j.ID); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Fatalf("task id is not the job id: %v", err)
			}
			// The same request again (a platform retry) changes nothing.
			again, err := h.sub.Submit(ctx, request(t, "ann", "web:ann:1"))
			if err != nil || again.ID != j.ID {
				t.Fatalf("duplicate submit: %v %v", again, err)
			}
			done := h.wait(j.ID)
			if done.Status != paimeng.JobSucceeded || done.VideoKey != queue.VideoKey(j.ID) {
				t.Fatalf("finished job %+v", done)
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

		t.Run("bad input is refused with no charge", func(t *testing.T) {
			cases := map[string]func(r *paimeng.Request){
				paimeng.ENoImage:       func(r *paimeng.Request) { r.Image = nil },
				paimeng.EImageFormat:   func(r *paimeng.Request) { r.Image = []byte("GIF89a not really") },
				paimeng.EImageTooSmall: func(r *paimeng.Request) { r.Image = pngImage(t, 32, 32) },
				paimeng.EPromptTooLong: func(r *paimeng.Request) { r.Prompt = strings.Repeat("梦", paimeng.MaxPromptRunes+1) },
				paimeng.EBadOption:     func(r *paimeng.Request) { r.Seconds = 7 },
			}
			for code, mutate := range cases {
				r := request(t, "bob", "web:bob:"+code)
				mutate(r)
				_, err := h.sub.Submit(ctx, r)
				if got := paimeng.ErrorCode(err); got != code {
					t.Errorf("%s: got %q (%v)", code, got, err)
				}
				if _, err := h.store.JobByIdempotencyKey(ctx, r.IdempotencyKey); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
					t.Errorf("%s: a job was written", code)
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

func TestReconciler(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store)
		rec := queue.NewReconciler(queue.ReconcilerConfig{
			Store: store, Client: h.client, Inspector: h.inspector, Finisher: h.fin,
			Task: h.task, Grace: time.Nanosecond, Deadline: time.Hour,
		})

		t.Run("a vanished task is enqueued again", func(t *testing.T) {
			// A job row written while Redis lost its task: create it directly.
			img := pngImage(t, 128, 96)
			if err := h.blobs.Put(ctx, "jobs/lost/input", bytes.NewReader(img)); err != nil {
				t.Fatal(err)
			}
			j, _, err := store.CreateJob(ctx, &paimeng.Job{
				Identity: paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "hal"},
				Prompt:   "pull back", Seconds: 5, Seed: 3, Engine: "camera", Price: 10, ImageKey: "jobs/lost/input",
			}, "web:hal:1")
			if err != nil {
				t.Fatal(err)
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

		t.Run("a job past its deadline is failed and released", func(t *testing.T) {
			j, _, err := store.CreateJob(ctx, &paimeng.Job{
				Identity: paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "ida"},
				Prompt:   "x", Seconds: 5, Seed: 3, Engine: "camera", Price: 10, ImageKey: "jobs/none/input",
			}, "web:ida:1")
			if err != nil {
				t.Fatal(err)
			}
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
			h.audit()
		})
	})
}

func TestPricing(t *testing.T) {
	p := queue.PerFiveSeconds(10)
	if p("camera", 5) != 10 || p("camera", 10) != 20 {
		t.Fatal("price table")
	}
}
