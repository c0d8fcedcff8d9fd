package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/queue"
)

func web(user string) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user}
}

// entries counts id's ledger entries of kind about job (any job when "").
func (h *harness) entries(user, kind, job string) int {
	h.t.Helper()
	ctx := context.Background()
	a, err := h.store.Account(ctx, web(user))
	if err != nil {
		h.t.Fatal(err)
	}
	es, err := h.store.Ledger(ctx, a.ID, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Kind == kind && (job == "" || e.JobID == job) {
			n++
		}
	}
	return n
}

func (h *harness) community() *queue.Community {
	return queue.NewCommunity(queue.CommunityConfig{
		Store: h.store, Inspector: h.inspector, Finisher: h.fin,
		Kick: func() { h.kicks.Add(1); h.disp.Kick() }, Logger: h.log,
	})
}

func TestCommunityCancel(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 5}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{ahead: 1, maxRunning: 1})
		c := h.community()
		ann := web("ann")

		j1 := h.submit("ann", "web:ann:1", "")
		j2 := h.submit("ann", "web:ann:2", "")
		j3 := h.submit("ann", "web:ann:3", "")
		h.once(1) // j1 waits in Redis; j2 and j3 in the database
		if st := h.taskState(queue.QueueFast, j1.ID); st != "pending" {
			t.Fatalf("task %q", st)
		}
		if h.balance("ann") != 70 {
			t.Fatalf("balance %d", h.balance("ann"))
		}
		jobs, err := c.MemberJobs(ctx, ann)
		if err != nil || len(jobs) != 3 {
			t.Fatalf("member jobs %+v %v", jobs, err)
		}

		t.Run("a dispatched job: task deleted, refunded once, delivered", func(t *testing.T) {
			kicks := h.kicks.Load()
			got, err := c.Cancel(ctx, ann, j1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != paimeng.JobCanceled {
				t.Fatalf("job %+v", got)
			}
			if st := h.taskState(queue.QueueFast, j1.ID); st != "" {
				t.Fatalf("task still %s", st)
			}
			if h.balance("ann") != 80 || h.entries("ann", credits.KindRelease, j1.ID) != 1 {
				t.Fatalf("balance %d, releases %d", h.balance("ann"), h.entries("ann", credits.KindRelease, j1.ID))
			}
			if n := h.front.count(j1.ID); n != 1 {
				t.Fatalf("delivered %d times", n)
			}
			h.front.mu.Lock()
			final := h.front.final[j1.ID]
			h.front.mu.Unlock()
			if final.Status != paimeng.JobCanceled {
				t.Fatalf("delivered %+v", final)
			}
			if h.job(j1.ID).DeliveredAt == nil {
				t.Fatal("not marked delivered")
			}
			if h.kicks.Load() == kicks {
				t.Fatal("dispatcher not kicked")
			}
			// Again: refused, nothing moves.
			if _, err := c.Cancel(ctx, ann, j1.ID); paimeng.ErrorCode(err) != paimeng.ENotCancelable {
				t.Fatalf("second cancel: %v", err)
			}
			if h.balance("ann") != 80 || h.entries("ann", credits.KindRelease, j1.ID) != 1 || h.front.count(j1.ID) != 1 {
				t.Fatal("second cancel moved something")
			}
			// The freed slot goes to the next job.
			h.once(1)
			if st := h.taskState(queue.QueueFast, j2.ID); st != "pending" {
				t.Fatalf("next task %q", st)
			}
		})

		t.Run("an undispatched job", func(t *testing.T) {
			got, err := c.Cancel(ctx, ann, j3.ID)
			if err != nil || got.Status != paimeng.JobCanceled || got.DispatchedAt != nil {
				t.Fatalf("job %+v %v", got, err)
			}
			if h.balance("ann") != 90 || h.front.count(j3.ID) != 1 {
				t.Fatalf("balance %d delivered %d", h.balance("ann"), h.front.count(j3.ID))
			}
			h.once(0) // j2 still holds ann's slot; nothing else waits
		})

		t.Run("another member's job", func(t *testing.T) {
			if _, err := c.Cancel(ctx, web("bob"), j2.ID); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
				t.Fatalf("got %v", err)
			}
			if h.job(j2.ID).Status != paimeng.JobQueued || h.taskState(queue.QueueFast, j2.ID) != "pending" {
				t.Fatal("someone else's cancel touched the job")
			}
		})

		t.Run("a finished job", func(t *testing.T) {
			h.take(queue.QueueFast, j2.ID)
			if _, err := c.Cancel(ctx, ann, j2.ID); paimeng.ErrorCode(err) != paimeng.ENotCancelable {
				t.Fatalf("got %v", err)
			}
			if h.balance("ann") != 90 {
				t.Fatalf("balance %d", h.balance("ann"))
			}
			h.audit()
		})
	})
}

func TestCommunityAdmin(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{})
		clock := time.Now()
		c := queue.NewCommunity(queue.CommunityConfig{Store: store, Finisher: h.fin, Now: func() time.Time { return clock }})
		admin, bob := web("root"), web("bob")

		a, err := c.Grant(ctx, admin, bob, 50, "contest prize")
		if err != nil || a.Balance != 150 {
			t.Fatalf("grant %+v %v", a, err)
		}
		es, err := store.Ledger(ctx, a.ID, 1)
		if err != nil || len(es) != 1 || es[0].Kind != credits.KindGrant || es[0].Actor != admin.String() || es[0].Amount != 50 {
			t.Fatalf("ledger %+v %v", es, err)
		}

		if err := c.Ban(ctx, admin, bob, "spam"); err != nil {
			t.Fatal(err)
		}
		if a, err := c.Account(ctx, bob); err != nil || !a.Banned || a.BanReason != "spam" {
			t.Fatalf("account %+v %v", a, err)
		}
		if _, err := h.sub.Submit(ctx, request(t, "bob", "web:bob:1")); paimeng.ErrorCode(err) != paimeng.EBanned {
			t.Fatalf("banned submit: %v", err)
		}
		if err := c.Unban(ctx, admin, bob); err != nil {
			t.Fatal(err)
		}
		j, err := h.sub.Submit(ctx, request(t, "bob", "web:bob:2"))
		if err != nil {
			t.Fatal(err)
		}
		h.once(1)
		h.take(queue.QueueFast, j.ID)
		rows, err := c.Leaderboard(ctx, paimeng.BoardGenerations, paimeng.PeriodWeek, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Score != 1 || rows[0].AccountID != a.ID {
			t.Fatalf("leaderboard %+v", rows)
		}
		// The week is the one around Now.
		clock = clock.AddDate(0, 0, 14)
		if rows, err := c.Leaderboard(ctx, paimeng.BoardGenerations, paimeng.PeriodWeek, 10); err != nil || len(rows) != 0 {
			t.Fatalf("leaderboard two weeks on %+v %v", rows, err)
		}
		h.audit()
	})
}
