package queue_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/queue"
)

func TestEngineQueueNames(t *testing.T) {
	for _, c := range []struct {
		lane   paimeng.Lane
		engine string
		want   string
	}{
		{"", "", queue.QueueFast},
		{paimeng.LaneFast, "camera", queue.QueueFast},
		{paimeng.LaneRelax, "camera", queue.QueueRelax},
		{paimeng.LaneFast, "svd", "fast:svd"},
		{paimeng.LaneRelax, "svd", "relax:svd"},
	} {
		if got := queue.EngineQueue(c.lane, c.engine); got != c.want {
			t.Errorf("EngineQueue(%q, %q) = %q, want %q", c.lane, c.engine, got, c.want)
		}
	}
	w := queue.WorkerQueues(0, 0, "svd")
	if len(w) != 2 || w["fast:svd"] != 6 || w["relax:svd"] != 1 {
		t.Fatalf("svd worker queues %v", w)
	}
	w = queue.WorkerQueues(3, 2, "camera", "svd")
	if len(w) != 5 || w[queue.QueueFast] != 3 || w[queue.QueueRelax] != 2 || w[queue.QueueGen] != 3 || w["fast:svd"] != 3 || w["relax:svd"] != 2 {
		t.Fatalf("camera+svd worker queues %v", w)
	}
	if w := queue.WorkerQueues(0, 0); len(w) != 3 || w[queue.QueueGen] != 6 {
		t.Fatalf("default worker queues %v", w)
	}
}

// engineWorker serves queues and records the jobs it takes.
type engineWorker struct {
	mu   sync.Mutex
	took []string
}

func (w *engineWorker) jobs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.took)
}

func (h *harness) engineWorker(engines ...string) *engineWorker {
	w := &engineWorker{}
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeGenVideo, func(ctx context.Context, task *asynq.Task) error {
		var p queue.GenPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			return err
		}
		w.mu.Lock()
		w.took = append(w.took, p.JobID)
		w.mu.Unlock()
		return nil
	})
	h.serve(mux, 1, queue.WorkerQueues(0, 0, engines...))
	return w
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestJobsGoToTheirEngineQueue(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{ahead: 2, engines: []string{"camera", "svd"}})
		c1 := h.submit("cam", "web:cam:1", "")
		r := request(t, "sv", "web:sv:1")
		r.Engine = "svd"
		r.Lane = paimeng.LaneRelax
		s1, err := h.sub.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if c1.Engine != "camera" || s1.Engine != "svd" {
			t.Fatalf("engines %q %q", c1.Engine, s1.Engine)
		}
		h.once(2)
		if st := h.taskState(queue.QueueFast, c1.ID); st != "pending" {
			t.Fatalf("camera job in fast: %q", st)
		}
		if st := h.taskState("relax:svd", s1.ID); st != "pending" {
			t.Fatalf("svd job in relax:svd: %q", st)
		}
		if st := h.taskState(queue.QueueRelax, s1.ID); st != "" {
			t.Fatalf("svd job in relax: %q", st)
		}

		// A task a version before lanes left in the gen queue.
		legacy := h.createJob("old", "web:old:1", "")
		b, _ := json.Marshal(queue.GenPayload{JobID: legacy.ID, ImageKey: legacy.ImageKey, Prompt: "x", Seconds: 5, Seed: 1})
		if _, err := h.client.Enqueue(asynq.NewTask(queue.TypeGenVideo, b, asynq.TaskID(legacy.ID), asynq.Queue(queue.QueueGen))); err != nil {
			t.Fatal(err)
		}

		cam := h.engineWorker("camera")
		waitUntil(t, "the camera worker", func() bool { return len(cam.jobs()) == 2 })
		time.Sleep(300 * time.Millisecond)
		if got := cam.jobs(); !slices.Contains(got, c1.ID) || !slices.Contains(got, legacy.ID) || len(got) != 2 {
			t.Fatalf("camera worker took %v, want %s and %s", got, c1.ID, legacy.ID)
		}
		if st := h.taskState("relax:svd", s1.ID); st != "pending" {
			t.Fatalf("svd job taken by a camera-only worker: %q", st)
		}

		svd := h.engineWorker("svd")
		waitUntil(t, "the svd worker", func() bool { return len(svd.jobs()) == 1 })
		if got := svd.jobs(); got[0] != s1.ID {
			t.Fatalf("svd worker took %v", got)
		}
		if got := cam.jobs(); len(got) != 2 {
			t.Fatalf("camera worker took %v", got)
		}

		waitUntil(t, "the svd task to complete", func() bool { return h.taskState("relax:svd", s1.ID) == "completed" })
	})
}

func TestUnknownEngineRefusedWithoutCharge(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		h := newHarness(t, store, setup{engines: []string{"camera", "svd"}})
		h.submit("ann", "web:ann:0", "") // the member exists
		before := h.balance("ann")
		r := request(t, "ann", "web:ann:1")
		r.Engine = "nope"
		if _, err := h.sub.Submit(context.Background(), r); paimeng.ErrorCode(err) != paimeng.EUnknownEngine {
			t.Fatalf("unknown engine: %v", err)
		}
		if _, err := h.sub.Price("nope", "", 0, ""); paimeng.ErrorCode(err) != paimeng.EUnknownEngine {
			t.Fatalf("price of unknown engine: %v", err)
		}
		if after := h.balance("ann"); after != before {
			t.Fatalf("balance %d → %d", before, after)
		}
		if n := h.inputs(); n != 1 {
			t.Fatalf("%d input images, want 1", n)
		}
	})
}

func TestWorkerRegistry(t *testing.T) {
	ctx := context.Background()
	opt, _ := redis.ParseURL(redisURL(t))
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	reg := queue.NewRegistry(rdb)
	reg.Heartbeat = 100 * time.Millisecond
	reg.TTL = time.Second

	engines := func() map[string]int {
		t.Helper()
		m, err := reg.Engines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := engines(); len(m) != 0 {
		t.Fatalf("no workers yet: %v", m)
	}
	a, err := reg.Register(ctx, "host-1", []string{"camera"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := reg.Register(ctx, "", []string{"camera", "svd"})
	if err != nil {
		t.Fatal(err)
	}
	if m := engines(); m["camera"] != 2 || m["svd"] != 1 || len(m) != 2 {
		t.Fatalf("engines %v", m)
	}
	ws, err := reg.Workers(ctx)
	if err != nil || len(ws) != 2 || ws[0].Host == "" || ws[0].Started.IsZero() {
		t.Fatalf("workers %+v %v", ws, err)
	}
	// The heartbeat keeps both alive past the TTL.
	time.Sleep(1500 * time.Millisecond)
	if m := engines(); m["camera"] != 2 || m["svd"] != 1 {
		t.Fatalf("after the TTL: %v", m)
	}
	// A clean stop removes the worker at once.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if m := engines(); m["camera"] != 1 || m["svd"] != 0 {
		t.Fatalf("after a stop: %v", m)
	}

	// A worker that dies without a word is forgotten after the TTL.
	dead := queue.NewRegistry(rdb)
	dead.TTL = time.Second
	dead.Heartbeat = time.Hour
	d, err := dead.Register(ctx, "dead-1", []string{"svd"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if m := engines(); m["svd"] != 1 {
		t.Fatalf("dead worker not registered: %v", m)
	}
	waitUntil(t, "the silent worker's key to expire", func() bool { return engines()["svd"] == 0 })
	if m := engines(); m["camera"] != 1 {
		t.Fatalf("live worker lost: %v", m)
	}
}

// Tasks waiting for an engine no live worker serves do not hold back the
// engines that have workers, and the wait is logged once a minute.
func TestDispatcherSkipsEnginesWithoutWorkers(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		reg := queue.NewRegistry(nil)
		h := newHarness(t, store, setup{ahead: 1, engines: []string{"camera", "svd"}})
		*reg = *queue.NewRegistry(h.rdb)
		var logs testenv.LogBuffer
		disp := queue.NewDispatcher(queue.DispatcherConfig{
			Store: store, Client: h.client, Inspector: h.inspector, Task: h.task, Ahead: 1,
			Workers: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		})
		w, err := reg.Register(ctx, "cam-1", []string{"camera"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()

		r := request(t, "sv", "web:sv:1")
		r.Engine = "svd"
		s1, err := h.sub.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		c1 := h.submit("cam", "web:cam:1", "")
		c2 := h.submit("cal", "web:cal:1", "")
		if n, err := disp.Once(ctx); err != nil || n != 2 {
			t.Fatalf("first pass dispatched %d (%v), want the svd job and one camera job", n, err)
		}
		if st := h.taskState("fast:svd", s1.ID); st != "pending" {
			t.Fatalf("svd task %q", st)
		}
		// The camera queue holds Ahead tasks: the second camera job waits.
		if n, err := disp.Once(ctx); err != nil || n != 0 {
			t.Fatalf("second pass dispatched %d (%v)", n, err)
		}
		if st1, st2 := h.taskState(queue.QueueFast, c1.ID), h.taskState(queue.QueueFast, c2.ID); st1 != "pending" || st2 != "" {
			t.Fatalf("camera tasks %q %q", st1, st2)
		}
		if got := strings.Count(logs.String(), "no live worker serves"); got != 1 {
			t.Fatalf("%d wait warnings, want 1:\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "engine=svd") {
			t.Fatalf("warning does not name the engine:\n%s", logs.String())
		}
	})
}
