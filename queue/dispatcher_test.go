package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/queue"
)

// submit sends a request through the Submitter and fails the test on error.
func (h *harness) submit(user, key string, lane paimeng.Lane) *paimeng.Job {
	h.t.Helper()
	r := request(h.t, user, key)
	r.Lane = lane
	j, err := h.sub.Submit(context.Background(), r)
	if err != nil {
		h.t.Fatalf("submit %s: %v", key, err)
	}
	return j
}

// finishOK settles a job as a worker's success would.
func (h *harness) finishOK(id string) {
	h.t.Helper()
	err := h.fin.Finish(context.Background(), paimeng.Outcome{JobID: id, OK: true, VideoKey: queue.VideoKey(id), PosterKey: queue.PosterKey(id)})
	if err != nil {
		h.t.Fatal(err)
	}
}

// take removes a pending task from qname and settles its job, as a worker
// that picked it up and finished would.
func (h *harness) take(qname, id string) {
	h.t.Helper()
	if err := h.inspector.DeleteTask(qname, id); err != nil {
		h.t.Fatalf("take %s from %s: %v", id, qname, err)
	}
	h.finishOK(id)
}

func (h *harness) once(want int) {
	h.t.Helper()
	n, err := h.disp.Once(context.Background())
	if err != nil || n != want {
		h.t.Fatalf("dispatched %d (%v), want %d", n, err, want)
	}
}

func TestDispatcherFairShare(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		h := newHarness(t, store, setup{ahead: 1, maxRunning: 1})
		// Ann queues three jobs before Bob queues one.
		a1 := h.submit("ann", "web:ann:1", "")
		a2 := h.submit("ann", "web:ann:2", "")
		a3 := h.submit("ann", "web:ann:3", "")
		b1 := h.submit("bob", "web:bob:1", "")
		if h.kicks.Load() != 4 {
			t.Fatalf("%d kicks for 4 jobs", h.kicks.Load())
		}

		// A worker that renders nothing: it records the order in which
		// tasks arrive and reports success.
		var (
			mu    sync.Mutex
			order []string
		)
		mux := asynq.NewServeMux()
		mux.HandleFunc(queue.TypeGenVideo, func(ctx context.Context, task *asynq.Task) error {
			var p queue.GenPayload
			if err := json.Unmarshal(task.Payload(), &p); err != nil {
				return err
			}
			mu.Lock()
			order = append(order, p.JobID)
			mu.Unlock()
			return h.fin.Finish(ctx, paimeng.Outcome{JobID: p.JobID, OK: true, VideoKey: queue.VideoKey(p.JobID), PosterKey: queue.PosterKey(p.JobID)})
		})
		h.serve(mux, 1, queue.WorkerQueues(0, 0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.disp.Run(ctx) }()
		defer func() { cancel(); <-done }()

		for _, j := range []*paimeng.Job{a1, a2, a3, b1} {
			h.wait(j.ID)
		}
		mu.Lock()
		got := fmt.Sprint(order)
		mu.Unlock()
		if want := fmt.Sprint([]string{a1.ID, b1.ID, a2.ID, a3.ID}); got != want {
			t.Fatalf("order %s, want %s (ann, bob, ann, ann)", got, want)
		}
		if h.balance("ann") != 70 || h.balance("bob") != 90 {
			t.Fatalf("balances %d %d", h.balance("ann"), h.balance("bob"))
		}
		h.audit()
	})
}

func TestDispatcherLimits(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()

		t.Run("one running job per member", func(t *testing.T) {
			h := newHarness(t, store, setup{ahead: 5, maxRunning: 1})
			c1 := h.submit("cal", "web:cal:1", "")
			c2 := h.submit("cal", "web:cal:2", "")
			h.once(1)
			if st := h.taskState(queue.QueueFast, c1.ID); st != "pending" {
				t.Fatalf("first job's task %q", st)
			}
			h.once(0) // room in Redis, but cal is at the limit
			if h.job(c2.ID).DispatchedAt != nil {
				t.Fatal("second job dispatched while the first runs")
			}
			h.take(queue.QueueFast, c1.ID)
			h.once(1)
			if st := h.taskState(queue.QueueFast, c2.ID); st != "pending" {
				t.Fatalf("second job's task %q", st)
			}
			h.take(queue.QueueFast, c2.ID)
		})

		t.Run("a higher limit lets more go at once", func(t *testing.T) {
			h := newHarness(t, store, setup{ahead: 5, maxRunning: 2})
			for i := range 3 {
				h.submit("dee", fmt.Sprintf("web:dee:%d", i), "")
			}
			h.once(2)
			h.once(0)
		})

		t.Run("at most Ahead tasks wait in a lane queue", func(t *testing.T) {
			h := newHarness(t, store, setup{ahead: 2, maxRunning: 1})
			var ids []string
			for _, u := range []string{"eve", "fay", "gus"} {
				ids = append(ids, h.submit(u, "web:"+u+":1", "").ID)
			}
			h.once(2)
			info, err := h.inspector.GetQueueInfo(queue.QueueFast)
			if err != nil || info.Pending != 2 {
				t.Fatalf("pending %+v %v", info, err)
			}
			if h.job(ids[2]).DispatchedAt != nil {
				t.Fatal("third job dispatched past Ahead")
			}
			h.take(queue.QueueFast, ids[0])
			h.once(1)
			if h.job(ids[2]).DispatchedAt == nil {
				t.Fatal("third job still waiting")
			}
		})

		t.Run("relax waits while fast work is waiting", func(t *testing.T) {
			h := newHarness(t, store, setup{ahead: 1, maxRunning: 1})
			f1 := h.submit("hal", "web:hal:1", paimeng.LaneFast)
			f2 := h.submit("ida", "web:ida:1", paimeng.LaneFast)
			r1 := h.submit("joe", "web:joe:1", paimeng.LaneRelax)
			if r1.Price != 5 {
				t.Fatalf("relax price %d", r1.Price)
			}
			h.once(1) // f1 fills the fast queue: relax yields
			if h.job(r1.ID).DispatchedAt != nil || h.taskState(queue.QueueRelax, r1.ID) != "" {
				t.Fatal("relax job dispatched while fast work waits")
			}
			h.take(queue.QueueFast, f1.ID)
			h.once(1) // f2
			if h.job(r1.ID).DispatchedAt != nil {
				t.Fatal("relax job dispatched while fast work waits")
			}
			h.take(queue.QueueFast, f2.ID)
			h.once(1) // no fast job left: relax goes
			if st := h.taskState(queue.QueueRelax, r1.ID); st != "pending" {
				t.Fatalf("relax task %q", st)
			}
			// New fast work goes ahead of a relax job that waits.
			f3 := h.submit("kim", "web:kim:1", paimeng.LaneFast)
			r2 := h.submit("lee", "web:lee:1", paimeng.LaneRelax)
			h.take(queue.QueueRelax, r1.ID)
			h.once(1) // f3 fills fast again; r2 waits
			h.take(queue.QueueFast, f3.ID)
			h.once(1)
			if st := h.taskState(queue.QueueRelax, r2.ID); st != "pending" {
				t.Fatalf("second relax task %q", st)
			}
			h.take(queue.QueueRelax, r2.ID)
			h.audit()
		})

		t.Run("kicks wake the loop", func(t *testing.T) {
			h := newHarness(t, store, setup{ahead: 1})
			// A long interval: only the submit's kick can dispatch in time.
			disp := queue.NewDispatcher(queue.DispatcherConfig{
				Store: store, Client: h.client, Inspector: h.inspector, Interval: time.Hour,
			})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); disp.Run(runCtx) }()
			defer func() { cancel(); <-done }()
			time.Sleep(50 * time.Millisecond) // the first pass finds nothing
			j := h.submit("max", "web:max:1", "")
			for range 3 {
				disp.Kick() // never blocks
			}
			deadline := time.Now().Add(10 * time.Second)
			for h.taskState(queue.QueueFast, j.ID) == "" {
				if time.Now().After(deadline) {
					t.Fatal("kick did not dispatch")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	})
}
