package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/queue"
)

// inputs counts the input images in the harness's blob store.
func (h *harness) inputs() int {
	h.t.Helper()
	m, err := filepath.Glob(filepath.Join(h.blobs.Root(), "jobs", "*", "input"))
	if err != nil {
		h.t.Fatal(err)
	}
	return len(m)
}

// Thirty members submit at once, each more jobs than their balance covers:
// exactly the affordable ones are accepted, no balance goes negative, and
// the ledger agrees with every balance.
func TestConcurrentSubmitsNeverOverdraw(t *testing.T) {
	const (
		members = 30
		tries   = 5  // jobs each member submits at once
		signup  = 25 // covers two 10-credit jobs
		price   = 10
	)
	credittest.ForEachDB(t, credits.Options{SignupCredits: signup, MaxQueued: tries}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{deleteBlobs: true})
		img := pngImage(t, 128, 96)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			accepted = map[string]int{}
			codes    = map[string]int{}
		)
		for m := range members {
			for i := range tries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user := fmt.Sprintf("m%02d", m)
					r := request(t, user, fmt.Sprintf("web:%s:%d", user, i))
					r.Image = img
					_, err := h.sub.Submit(ctx, r)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						accepted[user]++
					} else {
						codes[paimeng.ErrorCode(err)]++
					}
				}()
			}
		}
		wg.Wait()

		total := 0
		for m := range members {
			user := fmt.Sprintf("m%02d", m)
			if accepted[user] != signup/price {
				t.Errorf("%s: %d accepted, %d affordable", user, accepted[user], signup/price)
			}
			if b := h.balance(user); b != signup%price {
				t.Errorf("%s: balance %d", user, b)
			}
			total += accepted[user]
		}
		if want := members * (tries - signup/price); codes[paimeng.EInsufficient] != want || len(codes) != 1 {
			t.Fatalf("refusals %v, want %d %s", codes, want, paimeng.EInsufficient)
		}
		// Refused submits leave no image behind.
		if n := h.inputs(); n != total {
			t.Fatalf("%d input images for %d jobs", n, total)
		}
		h.audit()
	})
}

// A platform redelivering one message many times at once makes one job
// and one charge.
func TestReplayedSubmitChargesOnce(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{deleteBlobs: true})
		img := pngImage(t, 128, 96)
		const n = 10
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := request(t, "ann", "telegram:bot:chat:42")
				r.Image = img
				j, err := h.sub.Submit(ctx, r)
				if err == nil {
					ids[i] = j.ID
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("submit %d: %s %v (first %s)", i, ids[i], errs[i], ids[0])
			}
		}
		jobs, err := store.RecentJobs(ctx, web("ann"), 100)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs %d %v", len(jobs), err)
		}
		if h.balance("ann") != 90 || h.entries("ann", credits.KindHold, "") != 1 {
			t.Fatalf("balance %d, holds %d", h.balance("ann"), h.entries("ann", credits.KindHold, ""))
		}
		if n := h.inputs(); n != 1 {
			t.Fatalf("%d input images for one job", n)
		}
		h.once(1)
		h.once(0)
		h.audit()
	})
}

// Two job:finished events for one job handled at the same moment (asynq
// delivers at least once; the reconciler may resend) settle it once.
func TestRacingFinishedEvents(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{maxRunning: -1, ahead: 5})
		event := func(o paimeng.Outcome) *asynq.Task {
			b, err := json.Marshal(queue.FinishedPayload{Outcome: o})
			if err != nil {
				t.Fatal(err)
			}
			return asynq.NewTask(queue.TypeJobFinished, b)
		}
		race := func(tasks ...*asynq.Task) {
			var wg sync.WaitGroup
			for _, task := range tasks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := h.fin.ProcessTask(ctx, task); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}

		t.Run("two successes", func(t *testing.T) {
			j := h.submit("ann", "web:ann:1", "")
			h.once(1)
			ok := event(paimeng.Outcome{JobID: j.ID, OK: true, VideoKey: queue.VideoKey(j.ID), PosterKey: queue.PosterKey(j.ID)})
			race(ok, ok)
			if got := h.job(j.ID); got.Status != paimeng.JobSucceeded || got.DeliveredAt == nil {
				t.Fatalf("job %+v", got)
			}
			if h.balance("ann") != 90 || h.entries("ann", credits.KindCapture, j.ID) != 1 || h.entries("ann", credits.KindRelease, j.ID) != 0 {
				t.Fatalf("balance %d captures %d", h.balance("ann"), h.entries("ann", credits.KindCapture, j.ID))
			}
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
		})

		t.Run("success against failure", func(t *testing.T) {
			j := h.submit("bob", "web:bob:1", "")
			h.once(1)
			ok := event(paimeng.Outcome{JobID: j.ID, OK: true, VideoKey: queue.VideoKey(j.ID), PosterKey: queue.PosterKey(j.ID)})
			fail := event(paimeng.Outcome{JobID: j.ID, ErrorCode: paimeng.EEngineFailed})
			race(ok, fail, ok, fail)
			got := h.job(j.ID)
			captures, releases := h.entries("bob", credits.KindCapture, j.ID), h.entries("bob", credits.KindRelease, j.ID)
			switch got.Status {
			case paimeng.JobSucceeded:
				if captures != 1 || releases != 0 || h.balance("bob") != 90 {
					t.Fatalf("succeeded: captures %d releases %d balance %d", captures, releases, h.balance("bob"))
				}
			case paimeng.JobFailed:
				if captures != 0 || releases != 1 || h.balance("bob") != 100 {
					t.Fatalf("failed: captures %d releases %d balance %d", captures, releases, h.balance("bob"))
				}
			default:
				t.Fatalf("job %+v", got)
			}
			if n := h.front.count(j.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
			h.audit()
		})
	})
}
