package credits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

// queueOpts lets one member hold many unfinished jobs.
var queueOpts = credits.Options{MaxQueued: 1000}

var keySeq atomic.Int64

// submit creates a job of id in lane with a fresh idempotency key, giving
// id the credits it costs first.
func submit(t testing.TB, s *credits.Store, id paimeng.Identity, lane paimeng.Lane) *paimeng.Job {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Grant(ctx, id, 5, "test", "admin:test"); err != nil {
		t.Fatalf("grant %s: %v", id, err)
	}
	j := newJob(id, 5)
	j.Lane = lane
	got, created, err := s.CreateJob(ctx, j, fmt.Sprintf("key-%d", keySeq.Add(1)))
	if err != nil || !created {
		t.Fatalf("create job for %s: %v", id, err)
	}
	return got
}

func member(i int) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: fmt.Sprintf("m%d", i)}
}

func mustDispatch(t *testing.T, s *credits.Store, lane paimeng.Lane, maxRunning int) *paimeng.Job {
	t.Helper()
	j, err := s.NextDispatch(context.Background(), lane, maxRunning)
	if err != nil {
		t.Fatalf("next dispatch %s: %v", lane, err)
	}
	if j.DispatchedAt == nil || j.Status != paimeng.JobQueued || j.Lane != lane {
		t.Fatalf("dispatched job = %+v", j)
	}
	return j
}

func wantNoDispatch(t *testing.T, s *credits.Store, lane paimeng.Lane, maxRunning int) {
	t.Helper()
	j, err := s.NextDispatch(context.Background(), lane, maxRunning)
	if paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
		t.Fatalf("next dispatch %s = %+v, %v; want not_found", lane, j, err)
	}
}

func position(t *testing.T, s *credits.Store, id string) int {
	t.Helper()
	p, err := s.QueuePosition(context.Background(), id)
	if err != nil {
		t.Fatalf("queue position of %s: %v", id, err)
	}
	return p
}

func finish(t testing.TB, s *credits.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if ok, err := s.MarkRunning(ctx, id); err != nil || !ok {
		t.Fatalf("mark running %s: %v %v", id, ok, err)
	}
	if _, changed, err := s.FinishJob(ctx, paimeng.Outcome{JobID: id, OK: true, VideoKey: "out/" + id}); err != nil || !changed {
		t.Fatalf("finish %s: %v %v", id, changed, err)
	}
}

func TestNextDispatchFairShare(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		a, b := member(1), member(2)
		a1 := submit(t, s, a, paimeng.LaneFast)
		a2 := submit(t, s, a, paimeng.LaneFast)
		a3 := submit(t, s, a, paimeng.LaneFast)
		b1 := submit(t, s, b, paimeng.LaneFast)
		want := []string{a1.ID, b1.ID, a2.ID, a3.ID}

		// The estimate predicts the dispatcher's order.
		for i, id := range want {
			if p := position(t, s, id); p != i+1 {
				t.Errorf("position of job %d before dispatch = %d, want %d", i, p, i+1)
			}
		}
		for i, id := range want {
			j := mustDispatch(t, s, paimeng.LaneFast, 3)
			if j.ID != id {
				t.Fatalf("dispatch %d = %s (account %d), want %s", i, j.ID, j.AccountID, id)
			}
			if stored, err := s.Job(ctx, id); err != nil || stored.DispatchedAt == nil || !stored.DispatchedAt.Equal(*j.DispatchedAt) {
				t.Fatalf("stored job = %+v, %v", stored, err)
			}
		}
		wantNoDispatch(t, s, paimeng.LaneFast, 3)
		for i, id := range want {
			if p := position(t, s, id); p != i+1 {
				t.Errorf("position of dispatched job %d = %d, want %d", i, p, i+1)
			}
		}

		// A member at the running limit waits; the others go on.
		c, d := member(3), member(4)
		c1 := submit(t, s, c, paimeng.LaneFast)
		c2 := submit(t, s, c, paimeng.LaneFast)
		d1 := submit(t, s, d, paimeng.LaneFast)
		if j := mustDispatch(t, s, paimeng.LaneFast, 1); j.ID != c1.ID {
			t.Fatalf("first = %s, want c1", j.ID)
		}
		if j := mustDispatch(t, s, paimeng.LaneFast, 1); j.ID != d1.ID {
			t.Fatalf("second = %s, want d1", j.ID)
		}
		wantNoDispatch(t, s, paimeng.LaneFast, 1)
		if _, err := s.MarkRunning(ctx, c1.ID); err != nil {
			t.Fatal(err)
		}
		wantNoDispatch(t, s, paimeng.LaneFast, 1) // running still counts
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: c1.ID, OK: true}); err != nil {
			t.Fatal(err)
		}
		if j := mustDispatch(t, s, paimeng.LaneFast, 1); j.ID != c2.ID {
			t.Fatalf("after finish = %s, want c2", j.ID)
		}

		// Lanes are separate; a waiting relax job is behind waiting fast jobs.
		r1 := submit(t, s, a, paimeng.LaneRelax)
		f1 := submit(t, s, b, paimeng.LaneFast)
		if p := position(t, s, r1.ID); p != 2 {
			t.Fatalf("relax position behind one waiting fast job = %d, want 2", p)
		}
		if j := mustDispatch(t, s, paimeng.LaneRelax, 0); j.ID != r1.ID {
			t.Fatalf("relax dispatch = %s", j.ID)
		}
		if p := position(t, s, r1.ID); p != 1 {
			t.Fatalf("dispatched relax position = %d, want 1", p)
		}
		wantNoDispatch(t, s, paimeng.LaneRelax, 0)
		if j := mustDispatch(t, s, paimeng.LaneFast, 0); j.ID != f1.ID {
			t.Fatalf("fast dispatch = %s", j.ID)
		}

		_, err := s.NextDispatch(ctx, "slow", 1)
		wantCode(t, err, paimeng.EINVALID)
		mustAudit(t, s)
	})
}

// TestQueuePositionMonotone drives a queue through random dispatches (fast
// lane first, as the dispatcher does), starts, finishes and cancels without
// new submissions and checks after every step that no queued job's
// position grew, that the positions of a lane are distinct (1..n for the
// fast lane), and that each dispatch takes the job the estimate put first.
func TestQueuePositionMonotone(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { testQueuePositionMonotone(t, seed) })
	}
}

func testQueuePositionMonotone(t *testing.T, seed uint64) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(seed, 11))
		var jobs []*paimeng.Job
		for round := range 4 {
			for m := range 5 {
				if m <= round+1 { // members with 2 to 5 jobs, interleaved
					lane := paimeng.LaneFast
					if rng.IntN(3) == 0 {
						lane = paimeng.LaneRelax
					}
					jobs = append(jobs, submit(t, s, member(m), lane))
				}
			}
		}

		// check reads every member's active jobs, compares their positions
		// with the previous step's and returns them by state.
		prev := map[string]int{}
		check := func(step string) (waiting, dispatched, running []*paimeng.Job) {
			t.Helper()
			byLane := map[paimeng.Lane][]int{}
			active := map[string]bool{}
			for m := range 5 {
				list, err := s.ActiveJobs(ctx, member(m))
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range list {
					j, p := q.Job, q.Position
					active[j.ID] = true
					if qp := position(t, s, j.ID); qp != p {
						t.Fatalf("%s: QueuePosition(%s) = %d, ActiveJobs says %d", step, j.ID, qp, p)
					}
					if j.Status == paimeng.JobRunning {
						if p != 0 {
							t.Fatalf("%s: running job %s has position %d", step, j.ID, p)
						}
						running = append(running, j)
						continue
					}
					if old, ok := prev[j.ID]; ok && p > old {
						t.Fatalf("%s: position of %s grew from %d to %d", step, j.ID, old, p)
					}
					prev[j.ID] = p
					byLane[j.Lane] = append(byLane[j.Lane], p)
					if j.DispatchedAt == nil {
						waiting = append(waiting, j)
					} else {
						dispatched = append(dispatched, j)
					}
				}
			}
			for id := range prev {
				if !active[id] {
					if p := position(t, s, id); p != 0 {
						t.Fatalf("%s: finished job %s has position %d", step, id, p)
					}
					delete(prev, id)
				}
			}
			// Fast positions are exactly 1..n; relax ones are distinct.
			seen := map[int]bool{}
			for _, p := range byLane[paimeng.LaneFast] {
				if p < 1 || p > len(byLane[paimeng.LaneFast]) || seen[p] {
					t.Fatalf("%s: fast positions %v are not 1..n", step, byLane[paimeng.LaneFast])
				}
				seen[p] = true
			}
			seen = map[int]bool{}
			for _, p := range byLane[paimeng.LaneRelax] {
				if seen[p] {
					t.Fatalf("%s: relax positions %v repeat", step, byLane[paimeng.LaneRelax])
				}
				seen[p] = true
			}
			return waiting, dispatched, running
		}

		waiting, dispatched, running := check("start")
		if len(waiting) != len(jobs) {
			t.Fatalf("%d waiting jobs, want %d", len(waiting), len(jobs))
		}
		for step := 0; len(waiting)+len(dispatched)+len(running) > 0; step++ {
			var name string
			switch k := rng.IntN(10); {
			case k < 5 && len(waiting) > 0:
				// Like the dispatcher: relax jobs once no fast job waits.
				lane := paimeng.LaneRelax
				for _, w := range waiting {
					if w.Lane == paimeng.LaneFast {
						lane = paimeng.LaneFast
					}
				}
				// The job the estimate puts first is the one dispatched.
				firstPos, firstID := 0, ""
				for _, w := range waiting {
					if p := prev[w.ID]; w.Lane == lane && (firstID == "" || p < firstPos) {
						firstPos, firstID = p, w.ID
					}
				}
				j := mustDispatch(t, s, lane, 100)
				if j.ID != firstID {
					t.Fatalf("step %d: dispatched %s, estimate put %s first (position %d)", step, j.ID, firstID, firstPos)
				}
				name = "dispatch " + j.ID
			case k < 7 && len(dispatched) > 0:
				j := dispatched[rng.IntN(len(dispatched))]
				if ok, err := s.MarkRunning(ctx, j.ID); err != nil || !ok {
					t.Fatal(ok, err)
				}
				name = "start " + j.ID
			case k < 9 && len(running) > 0:
				j := running[rng.IntN(len(running))]
				if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: true}); err != nil {
					t.Fatal(err)
				}
				name = "finish " + j.ID
			case k == 9 && len(waiting)+len(dispatched) > 0:
				all := append(waiting, dispatched...)
				j := all[rng.IntN(len(all))]
				if _, err := s.CancelQueued(ctx, j.Identity, j.ID); err != nil {
					t.Fatal(err)
				}
				name = "cancel " + j.ID
			default:
				continue
			}
			waiting, dispatched, running = check(fmt.Sprintf("step %d (%s)", step, name))
		}
		mustAudit(t, s)
	})
}

// TestNextDispatchConcurrent drains 30 jobs of 6 members with 8
// concurrent dispatchers and a running limit of one.
func TestNextDispatchConcurrent(t *testing.T) {
	const members, perMember, dispatchers = 6, 5, 8

	// In rounds: dispatchers race until nothing is eligible, then every
	// claimed job finishes. Nothing finishes during a round, so a second
	// claim for one member in a round would break the limit.
	t.Run("rounds", func(t *testing.T) {
		credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
			ctx := context.Background()
			owner := map[string]int{}
			for range perMember {
				for m := range members {
					owner[submit(t, s, member(m), paimeng.LaneFast).ID] = m
				}
			}
			claimed := map[string]int{}
			for round := 1; len(claimed) < len(owner); round++ {
				if round > perMember {
					t.Fatalf("round %d: %d of %d jobs claimed", round, len(claimed), len(owner))
				}
				var (
					mu        sync.Mutex
					wg        sync.WaitGroup
					thisRound []string
				)
				for range dispatchers {
					wg.Go(func() {
						for {
							j, err := s.NextDispatch(ctx, paimeng.LaneFast, 1)
							if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
								return
							}
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							thisRound = append(thisRound, j.ID)
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				if t.Failed() {
					return
				}
				perAccount := map[int]int{}
				for _, id := range thisRound {
					claimed[id]++
					perAccount[owner[id]]++
				}
				if len(perAccount) != members || len(thisRound) != members {
					t.Fatalf("round %d claimed %d jobs of %d members, want one per member", round, len(thisRound), len(perAccount))
				}
				for m := range members {
					active, err := s.ActiveJobs(ctx, member(m))
					if err != nil {
						t.Fatal(err)
					}
					n := 0
					for _, q := range active {
						if q.Job.DispatchedAt != nil {
							n++
						}
					}
					if n != 1 {
						t.Fatalf("round %d: member %d has %d dispatched jobs", round, m, n)
					}
				}
				for _, id := range thisRound {
					finish(t, s, id)
				}
			}
			for id, n := range claimed {
				if n != 1 {
					t.Fatalf("job %s claimed %d times", id, n)
				}
			}
			mustAudit(t, s)
		})
	})

	// Churn: dispatchers claim, hold and finish jobs while a member cancels
	// its jobs, all at once. Every job is claimed at most once, every job
	// not canceled first is claimed, and the per-member count of claimed,
	// unfinished jobs never passes one.
	t.Run("churn", func(t *testing.T) {
		credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
			ctx := context.Background()
			owner := map[string]int{}
			var victims []*paimeng.Job
			for range perMember {
				for m := range members {
					j := submit(t, s, member(m), paimeng.LaneFast)
					owner[j.ID] = m
					if m == 0 {
						victims = append(victims, j)
					}
				}
			}
			var (
				mu       sync.Mutex
				claimed  = map[string]int{}
				holding  [members]int
				canceled = map[string]bool{}
				wg       sync.WaitGroup
				done     atomic.Bool
			)
			wg.Go(func() {
				for i := len(victims) - 1; i >= 0; i -= 2 {
					j, err := s.CancelQueued(ctx, member(0), victims[i].ID)
					switch paimeng.ErrorCode(err) {
					case "":
						mu.Lock()
						canceled[j.ID] = true
						mu.Unlock()
					case paimeng.ENotCancelable:
					default:
						t.Errorf("cancel: %v", err)
					}
					time.Sleep(time.Millisecond)
				}
			})
			for range dispatchers {
				wg.Go(func() {
					for !done.Load() && !t.Failed() {
						j, err := s.NextDispatch(ctx, paimeng.LaneFast, 1)
						if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
							time.Sleep(time.Millisecond)
							continue
						}
						if err != nil {
							t.Error(err)
							return
						}
						m := owner[j.ID]
						mu.Lock()
						claimed[j.ID]++
						holding[m]++
						if holding[m] > 1 {
							t.Errorf("member %d holds %d dispatched jobs", m, holding[m])
						}
						mu.Unlock()
						time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
						// Released before the job finishes: the database may
						// only hand out the next job once it has finished.
						mu.Lock()
						holding[m]--
						mu.Unlock()
						ok, err := s.MarkRunning(ctx, j.ID)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: true}); err != nil {
								t.Error(err)
								return
							}
						}
					}
				})
			}
			deadline := time.Now().Add(30 * time.Second)
			for !t.Failed() && time.Now().Before(deadline) {
				mu.Lock()
				n := len(claimed)
				for id := range canceled {
					if claimed[id] == 0 {
						n++
					}
				}
				mu.Unlock()
				if n == len(owner) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			done.Store(true)
			wg.Wait()
			for id := range owner {
				if claimed[id] > 1 {
					t.Errorf("job %s claimed %d times", id, claimed[id])
				}
				if claimed[id] == 0 && !canceled[id] {
					t.Errorf("job %s never claimed", id)
				}
			}
			for m := range members {
				if active, err := s.ActiveJobs(ctx, member(m)); err != nil || len(active) != 0 {
					t.Errorf("member %d still has %d active jobs: %v", m, len(active), err)
				}
			}
			mustAudit(t, s)
		})
	})
}

func TestActiveJobsAndCancelQueued(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		j1 := submit(t, s, alice, paimeng.LaneFast)
		b1 := submit(t, s, bob, paimeng.LaneFast)
		j2 := submit(t, s, alice, paimeng.LaneFast)
		j3 := submit(t, s, alice, paimeng.LaneFast)

		active, err := s.ActiveJobs(ctx, alice)
		if err != nil || len(active) != 3 {
			t.Fatalf("active = %v, %v", active, err)
		}
		for i, want := range []struct {
			id  string
			pos int
		}{{j1.ID, 1}, {j2.ID, 3}, {j3.ID, 4}} {
			if active[i].Job.ID != want.id || active[i].Position != want.pos {
				t.Errorf("active[%d] = %s at %d, want %s at %d", i, active[i].Job.ID, active[i].Position, want.id, want.pos)
			}
		}
		none, err := s.ActiveJobs(ctx, paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "nobody"})
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("active of unknown = %#v, %v", none, err)
		}
		if _, err := s.ActiveJobs(ctx, paimeng.Identity{}); paimeng.ErrorCode(err) != paimeng.EINVALID {
			t.Fatalf("active of zero identity: %v", err)
		}

		if _, err := s.MarkRunning(ctx, j1.ID); err != nil {
			t.Fatal(err)
		}
		active, _ = s.ActiveJobs(ctx, alice)
		if len(active) != 3 || active[0].Position != 0 || active[0].Job.Status != paimeng.JobRunning {
			t.Fatalf("active after start = %+v", active)
		}

		// Other members' and unknown jobs are not found; started ones are
		// not cancelable.
		_, err = s.CancelQueued(ctx, bob, j2.ID)
		wantCode(t, err, paimeng.ENOTFOUND)
		_, err = s.CancelQueued(ctx, paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "nobody"}, j2.ID)
		wantCode(t, err, paimeng.ENOTFOUND)
		_, err = s.CancelQueued(ctx, alice, "missing")
		wantCode(t, err, paimeng.ENOTFOUND)
		_, err = s.CancelQueued(ctx, alice, j1.ID)
		wantCode(t, err, paimeng.ENotCancelable)
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j1.ID, OK: true}); err != nil {
			t.Fatal(err)
		}
		_, err = s.CancelQueued(ctx, alice, j1.ID)
		wantCode(t, err, paimeng.ENotCancelable)

		before := mustAccount(t, s, alice).Balance
		got, err := s.CancelQueued(ctx, alice, j2.ID)
		if err != nil || got.ID != j2.ID || got.Status != paimeng.JobCanceled {
			t.Fatalf("cancel = %+v, %v", got, err)
		}
		if after := mustAccount(t, s, alice).Balance; after != before+j2.Price {
			t.Fatalf("balance after cancel = %d, want %d", after, before+j2.Price)
		}
		_, err = s.CancelQueued(ctx, alice, j2.ID)
		wantCode(t, err, paimeng.ENotCancelable)
		if p := position(t, s, b1.ID); p != 1 {
			t.Fatalf("bob's position = %d, want 1", p)
		}

		// A dispatched, not yet started job can be canceled too.
		for {
			j := mustDispatch(t, s, paimeng.LaneFast, 0)
			if j.ID == j3.ID {
				break
			}
		}
		if _, err := s.CancelQueued(ctx, alice, j3.ID); err != nil {
			t.Fatal(err)
		}
		if k := kinds(t, s, mustAccount(t, s, alice).ID); k[credits.KindRelease] != 2 {
			t.Fatalf("ledger kinds = %v, want two releases", k)
		}
		mustAudit(t, s)
	})
}

// TestCancelQueuedRaces cancels jobs while workers start them and while
// other cancels of the same job run: each job is refunded at most once and
// a lost race reads ENotCancelable.
func TestCancelQueuedRaces(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		acct := mustAccount(t, s, alice)
		for i := range 10 {
			j := submit(t, s, alice, paimeng.LaneFast)
			var (
				wg                sync.WaitGroup
				cancels, refusals atomic.Int32
				started           atomic.Bool
			)
			for range 5 {
				wg.Go(func() {
					_, err := s.CancelQueued(ctx, alice, j.ID)
					switch paimeng.ErrorCode(err) {
					case "":
						cancels.Add(1)
					case paimeng.ENotCancelable:
						refusals.Add(1)
					default:
						t.Errorf("cancel: %v", err)
					}
				})
			}
			if i%2 == 0 {
				wg.Go(func() {
					ok, err := s.MarkRunning(ctx, j.ID)
					if err != nil {
						t.Error(err)
					}
					started.Store(ok)
				})
			}
			wg.Wait()
			want := int32(1)
			if started.Load() {
				want = 0
			}
			if cancels.Load() != want || refusals.Load() != 5-want {
				t.Fatalf("job %d: %d cancels, %d refusals, started=%v", i, cancels.Load(), refusals.Load(), started.Load())
			}
			cur, _ := s.Job(ctx, j.ID)
			if started.Load() != (cur.Status == paimeng.JobRunning) {
				t.Fatalf("job %d status %s, started=%v", i, cur.Status, started.Load())
			}
		}
		entries, err := s.Ledger(ctx, acct.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		releases := map[string]int{}
		for _, e := range entries {
			if e.Kind == credits.KindRelease {
				releases[e.JobID]++
			}
		}
		for id, n := range releases {
			if n != 1 {
				t.Fatalf("job %s released %d times", id, n)
			}
		}
		mustAudit(t, s)
	})
}
