package credits

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/migrations"
)

// Fair-share dispatch. A new job waits in the database (status queued,
// dispatched_at NULL) until a dispatcher hands it to the workers. The next
// job of a lane comes from the member (account) who was served least
// recently (accounts.last_dispatched_at), so one member with many jobs
// cannot hold up everyone else; ties go to the older job. A member with
// maxRunning dispatched, unfinished jobs waits until one of them finishes.

var (
	// errDispatchTaken aborts a claim whose job another dispatcher took.
	errDispatchTaken = errors.New("job already dispatched")
	// errDispatchFull aborts a claim whose account reached its limit.
	errDispatchFull = errors.New("account at its running limit")
)

func validDispatchLane(lane paimeng.Lane) error {
	if lane != paimeng.LaneFast && lane != paimeng.LaneRelax {
		return paimeng.Errorf(paimeng.EINVALID, "unknown lane %q", lane)
	}
	return nil
}

// NextDispatch claims the next waiting job of lane in fair-share order and
// returns it with DispatchedAt set; ENOTFOUND when no job is eligible.
// Accounts that already have maxRunning dispatched, unfinished jobs are
// skipped; maxRunning < 1 means no limit per account.
//
// Concurrent callers, in this process or others, claim each job once and
// never let an account exceed maxRunning: the claim marks the job, then
// updates the account's last_dispatched_at (on PostgreSQL this row lock
// serializes the claims of one account) and counts the account's
// dispatched jobs again before committing. The job row is locked before
// the account row, the order in which finishing, canceling and linking
// take them, so a claim racing those does not deadlock.
func (s *Store) NextDispatch(ctx context.Context, lane paimeng.Lane, maxRunning int) (*paimeng.Job, error) {
	jobs, err := s.NextDispatchBatch(ctx, lane, maxRunning, 1)
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}

// NextDispatchBatch claims up to n waiting jobs of lane, as n calls of
// NextDispatch would, in that order; ENOTFOUND when none is eligible. One
// query finds the next job of each of up to n members in fair-share order
// (a member gets one job per round: once served it goes to the back), so a
// long waiting list is sorted once per round rather than once per job.
func (s *Store) NextDispatchBatch(ctx context.Context, lane paimeng.Lane, maxRunning, n int) ([]*paimeng.Job, error) {
	if err := validDispatchLane(lane); err != nil {
		return nil, err
	}
	if n < 1 {
		n = 1
	}
	db := s.db.WithContext(ctx)
	var (
		out       []*paimeng.Job
		full      []int64 // accounts found at their limit during this call
		conflicts int
	)
	// Jobs claimed already are returned even when a later step fails: they
	// are marked dispatched and must reach the queue.
	fail := func(err error) ([]*paimeng.Job, error) {
		if len(out) > 0 {
			return out, nil
		}
		return nil, wrap("next dispatch", err)
	}
	for len(out) < n {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		cands, err := dispatchCandidates(db, lane, maxRunning, full, n-len(out))
		if err != nil {
			return fail(err)
		}
		if len(cands) == 0 {
			break
		}
		for i := range cands {
			job, account, err := s.claimDispatch(ctx, &cands[i], maxRunning)
			switch {
			case errors.Is(err, errDispatchTaken):
				// Another dispatcher took it; the next query skips it.
			case errors.Is(err, errDispatchFull):
				full = append(full, account)
			case retryable(err) && conflicts < maxAttempts:
				// A PostgreSQL deadlock with a concurrent link; look again.
				conflicts++
			case err != nil:
				return fail(err)
			default:
				out = append(out, job)
			}
		}
	}
	if len(out) == 0 {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "no %s job waiting", lane)
	}
	return out, nil
}

// dispatchCandidates returns, in fair-share order, the first waiting job
// of lane of each of up to n accounts that are under maxRunning, not in
// skip and not banned.
func dispatchCandidates(db *gorm.DB, lane paimeng.Lane, maxRunning int, skip []int64, n int) ([]jobRow, error) {
	q := db.Table("jobs").Select("jobs.*").
		Joins("JOIN accounts ON accounts.id = jobs.account_id").
		Where("jobs.lane = ? AND jobs.status = ? AND jobs.dispatched_at IS NULL", string(lane), string(paimeng.JobQueued)).
		Where("accounts.banned_at IS NULL") // a ban cancels waiting jobs; this covers a ban racing a submit
	if maxRunning > 0 {
		// One aggregate over the few jobs with the workers, rather than a
		// count per waiting job: the waiting list may be long.
		q = q.Where("jobs.account_id NOT IN (SELECT r.account_id FROM jobs r"+
			" WHERE r.dispatched_at IS NOT NULL AND r.status IN ? GROUP BY r.account_id HAVING COUNT(*) >= ?)",
			activeStatuses, maxRunning)
	}
	if len(skip) > 0 {
		q = q.Where("jobs.account_id NOT IN ?", skip)
	}
	// Members with several waiting jobs fill some of these rows; a few
	// times n leaves room for n distinct members in the common case, and
	// the caller asks again for the rest.
	var rows []jobRow
	err := q.Order("accounts.last_dispatched_at, jobs.created_at, jobs.id").Limit(4 * n).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	seen := make(map[int64]bool, n)
	for _, r := range rows {
		if !seen[r.AccountID] && len(out) < n {
			seen[r.AccountID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// claimDispatch marks cand dispatched in one transaction, or fails with
// errDispatchTaken or errDispatchFull and changes nothing. It returns the
// job's account, read after the job row is locked (a link may have moved
// the job to another account since cand was read).
func (s *Store) claimDispatch(ctx context.Context, cand *jobRow, maxRunning int) (*paimeng.Job, int64, error) {
	var out *jobRow
	account := cand.AccountID
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := now()
		res := tx.Model(&jobRow{}).
			Where("id = ? AND status = ? AND dispatched_at IS NULL", cand.ID, string(paimeng.JobQueued)).
			Update("dispatched_at", t)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errDispatchTaken
		}
		row, err := jobByID(tx, cand.ID)
		if err != nil {
			return err
		}
		account = row.AccountID
		// Never backwards: a claim that waited for this lock may carry an
		// older time than the one before it.
		err = tx.Exec("UPDATE accounts SET last_dispatched_at = CASE WHEN last_dispatched_at < ? THEN ? ELSE last_dispatched_at END WHERE id = ?",
			t, t, account).Error
		if err != nil {
			return err
		}
		if maxRunning > 0 {
			// Counted under the account's row lock; includes this job.
			var n int64
			err := tx.Model(&jobRow{}).
				Where("account_id = ? AND dispatched_at IS NOT NULL AND status IN ?", account, activeStatuses).
				Count(&n).Error
			if err != nil {
				return err
			}
			if n > int64(maxRunning) {
				return errDispatchFull
			}
		}
		out = row
		return nil
	})
	if err != nil {
		return nil, account, err
	}
	return toJob(out), account, nil
}

// QueuePosition estimates how many queued jobs reach the workers before
// job id, plus one; zero when the job is no longer queued (running or
// final).
//
// A dispatched job counts the jobs of its lane dispatched before it. A
// waiting job counts every dispatched job of its lane, plus its place in
// the order a dispatcher would hand out the waiting jobs: fair share as in
// NextDispatch, one job per member in turn (the member served longest ago
// first), the fast lane drained before the relax lane (so a waiting relax
// job also counts every waiting fast job), and no member at its running
// limit.
//
// While no job is submitted and no member is held back by its running
// limit, the estimate is exact and never grows as jobs are dispatched in
// that order, started, finished or canceled. A member at its limit is
// passed by others, and a new job of a member served long ago goes ahead
// of members served recently; only these move a job back.
func (s *Store) QueuePosition(ctx context.Context, id string) (int, error) {
	var pos int
	err := s.readSnapshot(ctx, func(tx *gorm.DB) error {
		row, err := jobByID(tx, id)
		if err != nil {
			return err
		}
		pos, err = (&queueView{db: tx}).position(row)
		return err
	})
	if err != nil {
		return 0, wrap("queue position", err)
	}
	return pos, nil
}

// queueView computes queue positions on one snapshot, loading the waiting
// jobs once for several positions.
type queueView struct {
	db         *gorm.DB
	loaded     bool
	place      map[string]int   // waiting job id → jobs ahead of it
	dispatched map[string]int64 // lane → dispatched, queued jobs
}

func (v *queueView) position(row *jobRow) (int, error) {
	if row.Status != string(paimeng.JobQueued) {
		return 0, nil
	}
	if row.DispatchedAt != nil {
		var ahead int64
		t := row.DispatchedAt.UTC()
		err := v.db.Model(&jobRow{}).
			Where("lane = ? AND status = ? AND dispatched_at IS NOT NULL", row.Lane, string(paimeng.JobQueued)).
			Where("dispatched_at < ? OR (dispatched_at = ? AND id < ?)", t, t, row.ID).
			Count(&ahead).Error
		return int(ahead) + 1, err
	}
	if err := v.load(); err != nil {
		return 0, err
	}
	place, ok := v.place[row.ID]
	if !ok { // dispatched or finished since row was read
		return 0, nil
	}
	return int(v.dispatched[row.Lane]) + place + 1, nil
}

// waitingRow is a job not yet dispatched, with its account's last dispatch.
type waitingRow struct {
	ID               string    `gorm:"column:id"`
	AccountID        int64     `gorm:"column:account_id"`
	Lane             string    `gorm:"column:lane"`
	CreatedAt        time.Time `gorm:"column:created_at"`
	LastDispatchedAt time.Time `gorm:"column:last_dispatched_at"`
}

func (v *queueView) load() error {
	if v.loaded {
		return nil
	}
	queued := string(paimeng.JobQueued)
	var counts []struct {
		Lane string
		N    int64
	}
	err := v.db.Model(&jobRow{}).Select("lane, COUNT(*) AS n").
		Where("status = ? AND dispatched_at IS NOT NULL", queued).
		Group("lane").Scan(&counts).Error
	if err != nil {
		return err
	}
	v.dispatched = map[string]int64{}
	for _, c := range counts {
		v.dispatched[c.Lane] = c.N
	}
	var rows []waitingRow
	err = v.db.Table("jobs").
		Select("jobs.id, jobs.account_id, jobs.lane, jobs.created_at, accounts.last_dispatched_at").
		Joins("JOIN accounts ON accounts.id = jobs.account_id").
		Where("jobs.status = ? AND jobs.dispatched_at IS NULL", queued).
		Find(&rows).Error
	if err != nil {
		return err
	}
	v.place = fairOrder(rows)
	v.loaded = true
	return nil
}

// fairOrder replays fair-share dispatch over the waiting jobs: the fast
// lane first, then the relax lane, each time taking the oldest job of the
// member with the oldest last dispatch (ties: the older job), after which
// that member counts as served last. It returns, per job, how many waiting
// jobs are handed out before it: for a relax job, every fast job too.
func fairOrder(rows []waitingRow) map[string]int {
	type member struct {
		last   time.Time
		served int // 0: not yet in the replay; then its turn, increasing
		jobs   map[string][]*waitingRow
	}
	members := map[int64]*member{}
	for i := range rows {
		r := &rows[i]
		m := members[r.AccountID]
		if m == nil {
			m = &member{last: r.LastDispatchedAt, jobs: map[string][]*waitingRow{}}
			members[r.AccountID] = m
		}
		m.jobs[r.Lane] = append(m.jobs[r.Lane], r)
	}
	older := func(a, b *waitingRow) bool {
		return a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID)
	}
	for _, m := range members {
		for _, js := range m.jobs {
			sort.Slice(js, func(i, j int) bool { return older(js[i], js[j]) })
		}
	}
	// before reports whether member a is served before member b, given
	// the jobs they would hand out next.
	before := func(a, b *member, ja, jb *waitingRow) bool {
		switch {
		case a.served != b.served && (a.served == 0 || b.served == 0):
			return a.served == 0
		case a.served != b.served:
			return a.served < b.served
		case !a.last.Equal(b.last):
			return a.last.Before(b.last)
		}
		return older(ja, jb)
	}

	place := make(map[string]int, len(rows))
	n, turn := 0, 0
	for _, lane := range []string{string(paimeng.LaneFast), string(paimeng.LaneRelax)} {
		for {
			var best *member
			for _, m := range members {
				if len(m.jobs[lane]) > 0 && (best == nil || before(m, best, m.jobs[lane][0], best.jobs[lane][0])) {
					best = m
				}
			}
			if best == nil {
				break
			}
			place[best.jobs[lane][0].ID] = n
			best.jobs[lane] = best.jobs[lane][1:]
			n++
			turn++
			best.served = turn
		}
	}
	return place
}

// readSnapshot runs read-only fn on one consistent view of the database.
func (s *Store) readSnapshot(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.dialect == migrations.DialectPostgres {
		return s.db.WithContext(ctx).Transaction(fn, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	return s.tx(ctx, fn)
}

// ActiveJobs returns the queued and running jobs of id's account, oldest
// first, with their queue positions (0 when running). An unknown identity
// has none.
func (s *Store) ActiveJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	out := []paimeng.QueuedJob{}
	err := s.readSnapshot(ctx, func(tx *gorm.DB) error {
		a, found, err := s.lookupAccount(tx, id)
		if err != nil || !found {
			return err
		}
		var rows []jobRow
		err = tx.Where("account_id = ? AND status IN ?", a.ID, activeStatuses).
			Order("created_at, id").Find(&rows).Error
		if err != nil {
			return err
		}
		view := &queueView{db: tx}
		for i := range rows {
			pos, err := view.position(&rows[i])
			if err != nil {
				return err
			}
			out = append(out, paimeng.QueuedJob{Job: toJob(&rows[i]), Position: pos})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("active jobs", err)
	}
	return out, nil
}

// memberJob returns job jobID when it belongs to id's account, ENOTFOUND
// otherwise: other members' jobs are not revealed.
func (s *Store) memberJob(db *gorm.DB, id paimeng.Identity, jobID string) (*jobRow, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	a, found, err := s.lookupAccount(db, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("job", jobID)
	}
	row, err := jobByID(db, jobID)
	if err != nil {
		return nil, err
	}
	if row.AccountID != a.ID {
		return nil, notFound("job", jobID)
	}
	return row, nil
}

// CancelQueued cancels a queued job of id's account and refunds its hold
// once. It fails with ENOTFOUND for a job of another account and with
// ENotCancelable once the job has started or finished, including when it
// starts during the call.
func (s *Store) CancelQueued(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	row, err := s.memberJob(s.db.WithContext(ctx), id, jobID)
	if err != nil {
		return nil, wrap("cancel queued", err)
	}
	if row.Status != string(paimeng.JobQueued) {
		return nil, paimeng.Errorf(paimeng.ENotCancelable, "job %s is %s", jobID, row.Status)
	}
	job, changed, err := s.CancelJob(ctx, jobID, "canceled")
	if err != nil {
		return nil, err
	}
	if !changed {
		return nil, paimeng.Errorf(paimeng.ENotCancelable, "job %s is %s", jobID, job.Status)
	}
	return job, nil
}

// SetPrivate hides (private) or shows one of id's videos in the public
// gallery; ENOTFOUND when the job is not id's.
func (s *Store) SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		row, err := s.memberJob(tx, id, jobID)
		if err != nil {
			return err
		}
		return tx.Model(&jobRow{}).Where("id = ?", row.ID).Update("private", private).Error
	})
	return wrap("set private", err)
}
