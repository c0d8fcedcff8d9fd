package credits_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

var alice = paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "1001"}

func newJob(id paimeng.Identity, price int64) *paimeng.Job {
	return &paimeng.Job{
		Identity: id, Lang: paimeng.LangEN, Prompt: "push in", Seconds: 5,
		Seed: 42, Engine: "camera", Price: price, ImageKey: "in/x.jpg",
	}
}

// mustAudit fails the test when any balance drifts from its ledger.
func mustAudit(t *testing.T, s *credits.Store) {
	t.Helper()
	drift, err := s.Audit(context.Background())
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if len(drift) != 0 {
		t.Fatalf("audit drift: %+v", drift)
	}
}

func mustAccount(t *testing.T, s *credits.Store, id paimeng.Identity) *paimeng.Account {
	t.Helper()
	a, err := s.Account(context.Background(), id)
	if err != nil {
		t.Fatalf("account %s: %v", id, err)
	}
	return a
}

func kinds(t *testing.T, s *credits.Store, accountID int64) map[string]int {
	t.Helper()
	entries, err := s.Ledger(context.Background(), accountID, 1000)
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	out := map[string]int{}
	for _, e := range entries {
		out[e.Kind]++
		if e.BalanceAfter < 0 {
			t.Errorf("ledger entry %d has negative balance_after %d", e.ID, e.BalanceAfter)
		}
	}
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := paimeng.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrationsUpDownUp(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{"sqlite3", "postgres"} {
		t.Run(d, func(t *testing.T) {
			s, err := credits.Open(ctx, credittest.DSN(t, d), credits.Options{SignupCredits: 5})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Dialect() != d {
				t.Fatalf("dialect = %q, want %q", s.Dialect(), d)
			}
			var buf bytes.Buffer
			if err := s.MigrateStatus(ctx, &buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "pending") || !strings.Contains(buf.String(), "00001_init.sql") {
				t.Fatalf("status before up:\n%s", buf.String())
			}
			if _, err := s.Account(ctx, alice); err == nil {
				t.Fatal("account before migrating: want error")
			}

			for i := 0; i < 2; i++ {
				if err := s.Migrate(ctx); err != nil {
					t.Fatalf("up %d: %v", i, err)
				}
				if err := s.Migrate(ctx); err != nil { // no-op when current
					t.Fatalf("up again %d: %v", i, err)
				}
				if a := mustAccount(t, s, alice); a.Balance != 5 {
					t.Fatalf("balance = %d, want 5", a.Balance)
				}
				if _, _, err := s.CreateJob(ctx, newJob(alice, 1), "k"); err != nil {
					t.Fatal(err)
				}
				tok, err := s.CreateToken(ctx, alice, "cli")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.IdentityForToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
				mustAudit(t, s)
				buf.Reset()
				if err := s.MigrateStatus(ctx, &buf); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(buf.String(), "applied") {
					t.Fatalf("status after up:\n%s", buf.String())
				}
				if err := s.MigrateDown(ctx); err != nil {
					t.Fatalf("down %d: %v", i, err)
				}
				if err := s.MigrateDownTo(ctx, 0); err != nil {
					t.Fatalf("down to 0 %d: %v", i, err)
				}
				if _, err := s.Account(ctx, alice); err == nil {
					t.Fatal("account after down: want error")
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if a := mustAccount(t, s, alice); a.Balance != 5 {
				t.Fatalf("balance after up/down/up = %d, want 5 (fresh schema)", a.Balance)
			}
		})
	}
}

func TestSignupOnceConcurrent(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 50}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		// Several rounds: later ones run on a warm connection pool, where
		// the first calls truly overlap.
		for round := range 3 {
			who := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: fmt.Sprint("signup", round)}
			const n = 20
			ids := make([]int64, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					<-start
					a, err := s.Account(ctx, who)
					if err != nil {
						errs <- err
						return
					}
					if a.Balance != 50 {
						errs <- fmt.Errorf("balance %d, want 50", a.Balance)
					}
					ids[i] = a.ID
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("accounts differ: %v", ids)
				}
			}
			if k := kinds(t, s, ids[0]); k[credits.KindSignup] != 1 || len(k) != 1 {
				t.Fatalf("ledger kinds = %v, want one signup", k)
			}
			if a := mustAccount(t, s, who); a.ID != ids[0] || a.Balance != 50 || a.CreatedAt.Location() != time.UTC {
				t.Fatalf("account = %+v", a)
			}
		}
		if err := s.SetDisplayName(ctx, alice, "Alice"); err != nil {
			t.Fatal(err)
		}
		if a := mustAccount(t, s, alice); a.Balance != 50 {
			t.Fatalf("account made by SetDisplayName: %+v", a)
		}
		if _, err := s.Account(ctx, paimeng.Identity{Platform: "web"}); paimeng.ErrorCode(err) != paimeng.EINVALID {
			t.Fatalf("zero identity: %v", err)
		}
		mustAudit(t, s)
	})
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		acct := mustAccount(t, s, alice)

		stop := make(chan struct{})
		var polls sync.WaitGroup
		var negative atomic.Bool
		polls.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if a, err := s.Account(ctx, alice); err == nil && a.Balance < 0 {
					negative.Store(true)
				}
			}
		})

		const n = 30
		var ok, short atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				j, created, err := s.CreateJob(ctx, newJob(alice, 10), fmt.Sprintf("telegram:bot:chat:%d", i))
				switch {
				case err == nil && created && j.Status == paimeng.JobQueued:
					ok.Add(1)
				case paimeng.ErrorCode(err) == paimeng.EInsufficient:
					short.Add(1)
				default:
					errs <- fmt.Errorf("job %d: created=%v err=%v", i, created, err)
				}
			})
		}
		wg.Wait()
		close(stop)
		polls.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if ok.Load() != 10 || short.Load() != 20 {
			t.Fatalf("created %d, insufficient %d; want 10 and 20", ok.Load(), short.Load())
		}
		if negative.Load() {
			t.Fatal("balance went negative")
		}
		if a := mustAccount(t, s, alice); a.Balance != 0 {
			t.Fatalf("balance = %d, want 0", a.Balance)
		}
		if k := kinds(t, s, acct.ID); k[credits.KindHold] != 10 || k[credits.KindSignup] != 1 || len(k) != 2 {
			t.Fatalf("ledger kinds = %v, want 1 signup + 10 holds", k)
		}
		jobs, err := s.RecentJobs(ctx, alice, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 10 {
			t.Fatalf("%d jobs stored, want 10", len(jobs))
		}
		mustAudit(t, s)
	})
}

func TestSameIdempotencyKeyChargesOnce(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		for round := range 3 {
			who := paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: fmt.Sprint("same", round)}
			if round > 0 {
				// Round 0 races the signup too; later rounds race only the key.
				mustAccount(t, s, who)
			}
			key := fmt.Sprintf("discord:%d:msg", round)
			jobs := submitSameKey(t, s, who, key, 10)
			for _, j := range jobs {
				if j.Price != 30 || j.Status != paimeng.JobQueued {
					t.Fatalf("job %+v", j)
				}
			}
			a := mustAccount(t, s, who)
			if a.Balance != 70 {
				t.Fatalf("balance = %d, want 70", a.Balance)
			}
			if k := kinds(t, s, a.ID); k[credits.KindHold] != 1 || k[credits.KindSignup] != 1 || len(k) != 2 {
				t.Fatalf("ledger kinds = %v", k)
			}
			got, err := s.JobByIdempotencyKey(ctx, key)
			if err != nil || got.ID != jobs[0].ID {
				t.Fatalf("by key: %v %v", got, err)
			}
		}
		mustAudit(t, s)
	})
}

// submitSameKey submits a 30-credit job for who under key from n
// goroutines at once, checks that exactly one call created it and that all
// got the same job and hold, and returns what each call got.
func submitSameKey(t *testing.T, s *credits.Store, who paimeng.Identity, key string, n int) []*paimeng.Job {
	t.Helper()
	ctx := context.Background()
	jobs := make([]*paimeng.Job, n)
	var created atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			j, c, err := s.CreateJob(ctx, newJob(who, 30), key)
			if err != nil {
				errs <- err
				return
			}
			if c {
				created.Add(1)
			}
			jobs[i] = j
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if created.Load() != 1 {
		t.Fatalf("created %d times, want 1", created.Load())
	}
	for _, j := range jobs {
		if j.ID != jobs[0].ID || j.HoldID != jobs[0].HoldID {
			t.Fatalf("jobs differ: %+v vs %+v", j, jobs[0])
		}
	}
	return jobs
}

func TestFinishJobRaces(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		win, _, err := s.CreateJob(ctx, newJob(alice, 25), "a")
		if err != nil {
			t.Fatal(err)
		}
		lose, _, err := s.CreateJob(ctx, newJob(alice, 40), "b")
		if err != nil {
			t.Fatal(err)
		}
		if a := mustAccount(t, s, alice); a.Balance != 35 {
			t.Fatalf("balance after holds = %d, want 35", a.Balance)
		}
		if _, err := s.MarkRunning(ctx, win.ID); err != nil {
			t.Fatal(err)
		}

		outcomes := []paimeng.Outcome{
			{JobID: win.ID, OK: true, VideoKey: "out/v.mp4", PosterKey: "out/p.jpg"},
			{JobID: win.ID, OK: true, VideoKey: "out/v.mp4", PosterKey: "out/p.jpg"},
			{JobID: lose.ID, ErrorCode: paimeng.EEngineFailed, ErrorDetail: "boom"},
			{JobID: lose.ID, ErrorCode: paimeng.EEngineFailed, ErrorDetail: "boom"},
		}
		var changed [2]atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, len(outcomes))
		for i, o := range outcomes {
			wg.Go(func() {
				j, c, err := s.FinishJob(ctx, o)
				if err != nil {
					errs <- err
					return
				}
				if !j.Status.Final() || j.FinishedAt == nil {
					errs <- fmt.Errorf("job %s status %s finished %v", j.ID, j.Status, j.FinishedAt)
				}
				if c {
					changed[i/2].Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if changed[0].Load() != 1 || changed[1].Load() != 1 {
			t.Fatalf("changed = %d/%d, want 1/1", changed[0].Load(), changed[1].Load())
		}

		a := mustAccount(t, s, alice)
		if a.Balance != 75 {
			t.Fatalf("balance = %d, want 75 (100 - 25 captured, 40 released)", a.Balance)
		}
		k := kinds(t, s, a.ID)
		if k[credits.KindCapture] != 1 || k[credits.KindRelease] != 1 || k[credits.KindHold] != 2 {
			t.Fatalf("ledger kinds = %v", k)
		}
		w, err := s.Job(ctx, win.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w.Status != paimeng.JobSucceeded || w.VideoKey != "out/v.mp4" || w.PosterKey != "out/p.jpg" || w.StartedAt == nil {
			t.Fatalf("winner = %+v", w)
		}
		l, err := s.Job(ctx, lose.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Status != paimeng.JobFailed || l.ErrorCode != paimeng.EEngineFailed || l.ErrorDetail != "boom" {
			t.Fatalf("loser = %+v", l)
		}

		// A late opposite outcome changes nothing.
		if _, c, err := s.FinishJob(ctx, paimeng.Outcome{JobID: win.ID}); err != nil || c {
			t.Fatalf("late failure: changed=%v err=%v", c, err)
		}
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: "nope", OK: true}); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
			t.Fatalf("unknown job: %v", err)
		}
		if a2 := mustAccount(t, s, alice); a2.Balance != 75 {
			t.Fatalf("balance = %d after late outcome", a2.Balance)
		}
		mustAudit(t, s)
	})
}

func TestFailureCancelAndTimeoutRefund(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 60}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		j, _, err := s.CreateJob(ctx, newJob(alice, 20), "fail")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.MarkRunning(ctx, j.ID); err != nil || !ok {
			t.Fatalf("mark running: %v %v", ok, err)
		}
		if ok, err := s.MarkRunning(ctx, j.ID); err != nil || ok {
			t.Fatalf("mark running twice: %v %v", ok, err)
		}
		if _, err := s.MarkRunning(ctx, "missing"); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
			t.Fatalf("mark running missing: %v", err)
		}
		// A running job cannot be canceled.
		if _, ok, err := s.CancelJob(ctx, j.ID, "canceled"); err != nil || ok {
			t.Fatalf("cancel running: %v %v", ok, err)
		}
		f, ok, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, ErrorDetail: "oom"})
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		if f.Status != paimeng.JobFailed || f.ErrorCode != paimeng.EEngineFailed {
			t.Fatalf("failed job = %+v", f)
		}
		if a := mustAccount(t, s, alice); a.Balance != 60 {
			t.Fatalf("balance after refund = %d, want 60", a.Balance)
		}

		c, _, err := s.CreateJob(ctx, newJob(alice, 20), "cancel")
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.CancelJob(ctx, c.ID, "user_canceled")
		if err != nil || !ok || got.Status != paimeng.JobCanceled || got.ErrorCode != "user_canceled" {
			t.Fatalf("cancel: %+v %v %v", got, ok, err)
		}
		if _, ok, err := s.CancelJob(ctx, c.ID, "again"); err != nil || ok {
			t.Fatalf("cancel twice: %v %v", ok, err)
		}

		tj, _, err := s.CreateJob(ctx, newJob(alice, 20), "timeout")
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err = s.FailJob(ctx, tj.ID, paimeng.EJobTimeout, "queued for 2h")
		if err != nil || !ok || got.Status != paimeng.JobFailed || got.ErrorCode != paimeng.EJobTimeout {
			t.Fatalf("fail job: %+v %v %v", got, ok, err)
		}

		a := mustAccount(t, s, alice)
		if a.Balance != 60 {
			t.Fatalf("balance = %d, want 60", a.Balance)
		}
		if k := kinds(t, s, a.ID); k[credits.KindRelease] != 3 || k[credits.KindHold] != 3 || k[credits.KindCapture] != 0 {
			t.Fatalf("ledger kinds = %v", k)
		}
		mustAudit(t, s)
	})
}

func TestJobQueries(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		var ids []string
		for i := range 3 {
			who := alice
			if i == 1 {
				who = bob
			}
			j := newJob(who, 5)
			j.Reply = []byte{0, 1, 2}
			got, created, err := s.CreateJob(ctx, j, fmt.Sprintf("q%d", i))
			if err != nil || !created {
				t.Fatal(err)
			}
			if got != j || len(j.ID) != 10 || j.AccountID == 0 || j.HoldID == 0 || j.CreatedAt.IsZero() {
				t.Fatalf("created job not filled in: %+v", j)
			}
			ids = append(ids, j.ID)
		}
		for i, id := range ids {
			if p, err := s.QueuePosition(ctx, id); err != nil || p != i+1 {
				t.Fatalf("position of %d = %d, %v", i, p, err)
			}
		}
		if _, err := s.MarkRunning(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.QueuePosition(ctx, ids[0]); p != 0 {
			t.Fatalf("running position = %d", p)
		}
		if p, _ := s.QueuePosition(ctx, ids[2]); p != 2 {
			t.Fatalf("position = %d, want 2", p)
		}
		if _, err := s.QueuePosition(ctx, "missing"); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
			t.Fatalf("missing: %v", err)
		}

		if err := s.SetReply(ctx, ids[1], []byte("chat=9")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.SetReply(ctx, "missing", nil), paimeng.ENOTFOUND)
		j, err := s.Job(ctx, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if string(j.Reply) != "chat=9" || j.Identity != bob || j.Lang != paimeng.LangEN || j.Seed != 42 || j.Engine != "camera" || j.ImageKey != "in/x.jpg" {
			t.Fatalf("job = %+v", j)
		}
		_, err = s.Job(ctx, "missing")
		wantCode(t, err, paimeng.ENOTFOUND)
		_, err = s.JobByIdempotencyKey(ctx, "missing")
		wantCode(t, err, paimeng.ENOTFOUND)

		future := time.Now().Add(time.Hour)
		queued, err := s.JobsByStatus(ctx, paimeng.JobQueued, future, 10)
		if err != nil || len(queued) != 2 || queued[0].ID != ids[1] || queued[1].ID != ids[2] {
			t.Fatalf("queued = %v, %v", queued, err)
		}
		if old, _ := s.JobsByStatus(ctx, paimeng.JobQueued, time.Now().Add(-time.Hour), 10); len(old) != 0 {
			t.Fatalf("old queued = %v", old)
		}

		// Delivery: only final jobs, once.
		_, err = s.MarkDelivered(ctx, ids[2])
		wantCode(t, err, paimeng.ECONFLICT)
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: ids[0], OK: true, VideoKey: "v"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CancelJob(ctx, ids[2], "user_canceled"); err != nil {
			t.Fatal(err)
		}
		und, err := s.Undelivered(ctx, time.Now().Add(time.Minute), 10)
		if err != nil || len(und) != 2 || und[0].ID != ids[0] || und[1].ID != ids[2] {
			t.Fatalf("undelivered = %v, %v", und, err)
		}
		if ok, err := s.MarkDelivered(ctx, ids[0]); err != nil || !ok {
			t.Fatalf("deliver: %v %v", ok, err)
		}
		if ok, err := s.MarkDelivered(ctx, ids[0]); err != nil || ok {
			t.Fatalf("deliver twice: %v %v", ok, err)
		}
		_, err = s.MarkDelivered(ctx, "missing")
		wantCode(t, err, paimeng.ENOTFOUND)
		und, _ = s.Undelivered(ctx, time.Now().Add(time.Minute), 10)
		if len(und) != 1 || und[0].ID != ids[2] {
			t.Fatalf("undelivered after delivery = %v", und)
		}
		if j, _ := s.Job(ctx, ids[0]); j.DeliveredAt == nil || j.FinishedAt == nil || j.DeliveredAt.Before(*j.FinishedAt) {
			t.Fatalf("delivered job = %+v", j)
		}

		recent, err := s.RecentJobs(ctx, alice, 10)
		if err != nil || len(recent) != 2 || recent[0].ID != ids[2] || recent[1].ID != ids[0] {
			t.Fatalf("recent = %v, %v", recent, err)
		}
		if none, err := s.RecentJobs(ctx, paimeng.Identity{Platform: "web", UserID: "nobody"}, 10); err != nil || len(none) != 0 {
			t.Fatalf("recent for unknown = %v, %v", none, err)
		}

		// Bad input.
		_, _, err = s.CreateJob(ctx, newJob(alice, 5), "")
		wantCode(t, err, paimeng.EINVALID)
		_, _, err = s.CreateJob(ctx, newJob(alice, -1), "neg")
		wantCode(t, err, paimeng.EINVALID)
		mustAudit(t, s)
	})
}

func TestGrantAndLedger(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		a, err := s.Grant(ctx, alice, 30, "welcome back", "admin:root")
		if err != nil || a.Balance != 30 {
			t.Fatalf("grant: %+v %v", a, err)
		}
		_, _, err = s.CreateJob(ctx, newJob(alice, 31), "too much")
		wantCode(t, err, paimeng.EInsufficient)
		_, err = s.Grant(ctx, alice, -31, "abuse", "admin:root")
		wantCode(t, err, paimeng.EInsufficient)
		if a, err = s.Grant(ctx, alice, -10, "abuse", "admin:root"); err != nil || a.Balance != 20 {
			t.Fatalf("take back: %+v %v", a, err)
		}
		_, err = s.Grant(ctx, alice, 0, "", "")
		wantCode(t, err, paimeng.EINVALID)

		entries, err := s.Ledger(ctx, a.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			kind          string
			amount, after int64
		}{{credits.KindAdjust, -10, 20}, {credits.KindGrant, 30, 30}, {credits.KindSignup, 0, 0}}
		if len(entries) != len(want) {
			t.Fatalf("entries = %+v", entries)
		}
		for i, w := range want {
			e := entries[i]
			if e.Kind != w.kind || e.Amount != w.amount || e.BalanceAfter != w.after || e.AccountID != a.ID {
				t.Fatalf("entry %d = %+v, want %+v", i, e, w)
			}
		}
		if entries[1].Reason != "welcome back" || entries[1].Actor != "admin:root" || entries[1].CreatedAt.Location() != time.UTC {
			t.Fatalf("grant entry = %+v", entries[1])
		}
		mustAudit(t, s)
	})
}

func TestTokens(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 3}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		tok, err := s.CreateToken(ctx, bob, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "pm_") || len(tok) != 3+32 {
			t.Fatalf("token %q", tok)
		}
		tok2, err := s.CreateToken(ctx, bob, "phone")
		if err != nil || tok2 == tok {
			t.Fatalf("second token %q %v", tok2, err)
		}
		if a := mustAccount(t, s, bob); a.Balance != 3 {
			t.Fatalf("account made by token: %+v", a)
		}
		for _, tk := range []string{tok, tok2} {
			id, err := s.IdentityForToken(ctx, tk)
			if err != nil || id != bob {
				t.Fatalf("identity for token: %v %v", id, err)
			}
		}
		for _, bad := range []string{"", "pm_", tok + "x", strings.TrimPrefix(tok, "pm_"), "pm_" + strings.Repeat("a", 32)} {
			_, err := s.IdentityForToken(ctx, bad)
			wantCode(t, err, paimeng.EUNAUTH)
		}
		mustAudit(t, s)
	})
}
