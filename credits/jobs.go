package credits

import (
	"context"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
)

// errDuplicate aborts a CreateJob transaction that lost an idempotency race.
var errDuplicate = errors.New("duplicate idempotency key")

var finalStatuses = []string{string(paimeng.JobSucceeded), string(paimeng.JobFailed), string(paimeng.JobCanceled)}

// activeStatuses are the statuses of unfinished jobs.
var activeStatuses = []string{string(paimeng.JobQueued), string(paimeng.JobRunning)}

const defaultLimit = 100

// CreateJob holds job.Price credits from the wallet of job.Identity and
// writes the job as queued, all in one transaction; the account is created
// (with its signup grant) on first sight, and job.DisplayName, when set,
// becomes the identity's display name.
//
// A job already stored under idemKey is returned with created=false and
// nothing is charged; concurrent calls with one key end with one job and one
// charge. Otherwise nothing is written when the account is banned
// (EBanned), the balance is short (EInsufficient), the member has
// Options.MaxQueued unfinished jobs (ETooManyJobs) or submitted
// Options.RateLimit jobs within Options.RateWindow (ERateLimited).
//
// On success job itself is filled in (ID when empty, AccountID, HoldID,
// Status, CreatedAt) and returned.
func (s *Store) CreateJob(ctx context.Context, job *paimeng.Job, idemKey string) (*paimeng.Job, bool, error) {
	switch {
	case job == nil:
		return nil, false, paimeng.Errorf(paimeng.EINVALID, "nil job")
	case idemKey == "":
		return nil, false, paimeng.Errorf(paimeng.EINVALID, "empty idempotency key")
	case job.Price < 0:
		return nil, false, paimeng.Errorf(paimeng.EINVALID, "negative price %d", job.Price)
	}
	if err := validIdentity(job.Identity); err != nil {
		return nil, false, err
	}
	j := *job
	if j.ID == "" {
		j.ID = paimeng.NewJobID()
	}

	var existing *paimeng.Job
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		existing = nil
		acct, ident, err := s.ensureIdentity(tx, j.Identity, j.DisplayName)
		if err != nil {
			return err
		}
		var rows []jobRow
		if err := tx.Where("idempotency_key = ?", idemKey).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 1 {
			existing = toJob(&rows[0])
			return nil
		}
		if acct.BannedAt != nil {
			return paimeng.Errorf(paimeng.EBanned, "account %d is banned: %s", acct.ID, acct.BanReason)
		}

		// The debit also takes the account's row lock (PostgreSQL), so one
		// member's submits run one at a time from here on.
		bal, ok, err := liveCredit(tx, acct.ID, -j.Price)
		if err != nil {
			return err
		}
		if !ok {
			return duplicateOr(tx, idemKey, paimeng.Errorf(paimeng.EInsufficient,
				"account %d has %d credits, job costs %d", acct.ID, bal, j.Price))
		}
		// A ban committed while this waited for the row lock: read again
		// under the lock, so a ban never misses a job being submitted.
		if locked, err := accountByID(tx, acct.ID); err != nil {
			return err
		} else if locked.BannedAt != nil {
			return paimeng.Errorf(paimeng.EBanned, "account %d is banned: %s", acct.ID, locked.BanReason)
		}

		t := now()
		hold := holdRow{
			AccountID: acct.ID, JobID: j.ID, Amount: j.Price, Status: holdOpen,
			IdempotencyKey: idemKey, CreatedAt: t,
		}
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "idempotency_key"}},
			DoNothing: true,
		}).Create(&hold)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errDuplicate
		}
		if err := s.checkSubmitLimits(tx, acct.ID, t); err != nil {
			return err
		}
		if err := setDisplayName(tx, ident, j.DisplayName); err != nil {
			return err
		}

		j.AccountID = acct.ID
		j.HoldID = hold.ID
		j.Status = paimeng.JobQueued
		j.CreatedAt = t
		j.StartedAt, j.FinishedAt, j.DeliveredAt = nil, nil, nil
		if err := tx.Create(fromJob(&j, idemKey)).Error; err != nil {
			return err
		}
		return appendLedger(tx, &ledgerRow{
			AccountID: acct.ID, Kind: KindHold, Amount: -j.Price, BalanceAfter: bal,
			Reason: "job " + j.ID, Actor: j.Identity.String(),
			JobID: ptr(j.ID), HoldID: ptr(hold.ID),
			IdempotencyKey: ptr(KindHold + ":" + strconv.FormatInt(hold.ID, 10)),
			CreatedAt:      t,
		})
	})
	switch {
	case errors.Is(err, errDuplicate):
		// The winner has committed: our conflicting insert waited for it.
		found, err := s.JobByIdempotencyKey(ctx, idemKey)
		return found, false, err
	case err != nil:
		return nil, false, wrap("create job", err)
	case existing != nil:
		return existing, false, nil
	}
	*job = j
	return job, true, nil
}

// Job returns the job with the given id.
func (s *Store) Job(ctx context.Context, id string) (*paimeng.Job, error) {
	row, err := jobByID(s.db.WithContext(ctx), id)
	if err != nil {
		return nil, wrap("job", err)
	}
	return toJob(row), nil
}

// JobByIdempotencyKey returns the job submitted under key.
func (s *Store) JobByIdempotencyKey(ctx context.Context, key string) (*paimeng.Job, error) {
	var rows []jobRow
	err := s.db.WithContext(ctx).Where("idempotency_key = ?", key).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, wrap("job by idempotency key", err)
	}
	if len(rows) == 0 {
		return nil, notFound("job with idempotency key", key)
	}
	return toJob(&rows[0]), nil
}

// SetReply replaces the front-end state stored with job id.
func (s *Store) SetReply(ctx context.Context, id string, reply []byte) error {
	db := s.db.WithContext(ctx)
	res := db.Model(&jobRow{}).Where("id = ?", id).Update("reply", reply)
	if res.Error != nil {
		return wrap("set reply", res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := jobByID(db, id); err != nil {
			return wrap("set reply", err)
		}
	}
	return nil
}

// MarkRunning moves job id from queued to running. It reports false when
// the job was not queued (already running, final or canceled).
func (s *Store) MarkRunning(ctx context.Context, id string) (bool, error) {
	db := s.db.WithContext(ctx)
	res := db.Model(&jobRow{}).
		Where("id = ? AND status = ?", id, string(paimeng.JobQueued)).
		Updates(map[string]any{"status": string(paimeng.JobRunning), "started_at": now()})
	if res.Error != nil {
		return false, wrap("mark running", res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := jobByID(db, id); err != nil {
			return false, wrap("mark running", err)
		}
		return false, nil
	}
	return true, nil
}

// FinishJob records a worker's outcome: a queued or running job becomes
// succeeded (hold captured) or failed (hold released, credits refunded).
// It reports changed=false, and moves no money, when the job was already
// final. A failure without a code is recorded as EEngineFailed.
func (s *Store) FinishJob(ctx context.Context, o paimeng.Outcome) (*paimeng.Job, bool, error) {
	if o.OK {
		return s.finish(ctx, "finish job", o.JobID, paimeng.JobSucceeded,
			activeStatuses,
			map[string]any{"video_key": o.VideoKey, "poster_key": o.PosterKey})
	}
	code := o.ErrorCode
	if code == "" {
		code = paimeng.EEngineFailed
	}
	return s.FailJob(ctx, o.JobID, code, o.ErrorDetail)
}

// FailJob marks a queued or running job failed with code and detail and
// refunds its hold, exactly once. The reconciler uses it with EJobTimeout
// for jobs that can never finish.
func (s *Store) FailJob(ctx context.Context, id, code, detail string) (*paimeng.Job, bool, error) {
	return s.finish(ctx, "fail job", id, paimeng.JobFailed,
		activeStatuses,
		map[string]any{"error_code": code, "error_detail": detail})
}

// CancelJob cancels a job that has not started and refunds its hold. It
// reports false when the job was no longer queued; a running job cannot be
// canceled (see FailJob).
func (s *Store) CancelJob(ctx context.Context, id, code string) (*paimeng.Job, bool, error) {
	return s.finish(ctx, "cancel job", id, paimeng.JobCanceled,
		[]string{string(paimeng.JobQueued)},
		map[string]any{"error_code": code})
}

// finish moves job id from one of from to the final status to, setting the
// extra columns in set, and resolves its hold once: captured when to is
// succeeded, released (refunded) otherwise.
func (s *Store) finish(ctx context.Context, op, id string, to paimeng.JobStatus, from []string, set map[string]any) (*paimeng.Job, bool, error) {
	var (
		out     *jobRow
		changed bool
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := now()
		set["status"] = string(to)
		set["finished_at"] = t
		res := tx.Model(&jobRow{}).Where("id = ? AND status IN ?", id, from).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		row, err := jobByID(tx, id)
		if err != nil {
			return err
		}
		out = row
		if res.RowsAffected == 0 {
			return nil
		}
		changed = true
		return resolveHold(tx, row, to == paimeng.JobSucceeded, t)
	})
	if err != nil {
		return nil, false, wrap(op, err)
	}
	return toJob(out), changed, nil
}

// resolveHold captures or releases the job's hold if it is still open.
func resolveHold(tx *gorm.DB, job *jobRow, capture bool, t time.Time) error {
	status, kind := holdReleased, KindRelease
	if capture {
		status, kind = holdCaptured, KindCapture
	}
	res := tx.Model(&holdRow{}).
		Where("id = ? AND status = ?", job.HoldID, holdOpen).
		Updates(map[string]any{"status": status, "resolved_at": t})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	var hold holdRow
	if err := tx.Where("id = ?", job.HoldID).Take(&hold).Error; err != nil {
		return err
	}
	var delta int64
	if !capture {
		delta = hold.Amount
	}
	bal, ok, err := addBalance(tx, hold.AccountID, delta)
	if err != nil {
		return err
	}
	if !ok {
		return paimeng.Errorf(paimeng.EINTERNAL, "account %d missing while resolving hold %d", hold.AccountID, hold.ID)
	}
	return appendLedger(tx, &ledgerRow{
		AccountID: hold.AccountID, Kind: kind, Amount: delta, BalanceAfter: bal,
		Reason: "job " + job.ID, Actor: "system",
		JobID: ptr(job.ID), HoldID: ptr(hold.ID),
		IdempotencyKey: ptr(kind + ":" + strconv.FormatInt(hold.ID, 10)),
		CreatedAt:      t,
	})
}

// MarkDelivered records that the result of a final job reached the member.
// It reports false when it was already recorded.
func (s *Store) MarkDelivered(ctx context.Context, id string) (bool, error) {
	db := s.db.WithContext(ctx)
	res := db.Model(&jobRow{}).
		Where("id = ? AND delivered_at IS NULL AND status IN ?", id, finalStatuses).
		Update("delivered_at", now())
	if res.Error != nil {
		return false, wrap("mark delivered", res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	row, err := jobByID(db, id)
	if err != nil {
		return false, wrap("mark delivered", err)
	}
	if !paimeng.JobStatus(row.Status).Final() {
		return false, paimeng.Errorf(paimeng.ECONFLICT, "job %s is %s, not final", id, row.Status)
	}
	return false, nil
}

// JobsByStatus returns up to limit jobs in status created before
// createdBefore, oldest first.
func (s *Store) JobsByStatus(ctx context.Context, status paimeng.JobStatus, createdBefore time.Time, limit int) ([]*paimeng.Job, error) {
	var rows []jobRow
	err := s.db.WithContext(ctx).
		Where("status = ? AND created_at < ?", string(status), createdBefore.UTC()).
		Order("created_at, id").Limit(limitOr(limit)).Find(&rows).Error
	if err != nil {
		return nil, wrap("jobs by status", err)
	}
	return toJobs(rows), nil
}

// DispatchedQueued returns up to limit queued jobs created before
// createdBefore that were handed to the workers but have not started,
// oldest first.
func (s *Store) DispatchedQueued(ctx context.Context, createdBefore time.Time, limit int) ([]*paimeng.Job, error) {
	var rows []jobRow
	err := s.db.WithContext(ctx).
		Where("status = ? AND dispatched_at IS NOT NULL AND created_at < ?", string(paimeng.JobQueued), createdBefore.UTC()).
		Order("created_at, id").Limit(limitOr(limit)).Find(&rows).Error
	if err != nil {
		return nil, wrap("dispatched queued", err)
	}
	return toJobs(rows), nil
}

// Undelivered returns up to limit final jobs finished before finishedBefore
// whose result was never marked delivered, oldest first.
func (s *Store) Undelivered(ctx context.Context, finishedBefore time.Time, limit int) ([]*paimeng.Job, error) {
	var rows []jobRow
	err := s.db.WithContext(ctx).
		Where("delivered_at IS NULL AND finished_at < ? AND status IN ?", finishedBefore.UTC(), finalStatuses).
		Order("finished_at, id").Limit(limitOr(limit)).Find(&rows).Error
	if err != nil {
		return nil, wrap("undelivered", err)
	}
	return toJobs(rows), nil
}

// RecentJobs returns up to limit jobs paid from id's wallet (by any of its
// identities), newest first. An unknown identity has none.
func (s *Store) RecentJobs(ctx context.Context, id paimeng.Identity, limit int) ([]*paimeng.Job, error) {
	db := s.db.WithContext(ctx)
	a, found, err := s.lookupAccount(db, id)
	if err != nil || !found {
		return nil, wrap("recent jobs", err)
	}
	var rows []jobRow
	err = db.Where("account_id = ?", a.ID).
		Order("created_at DESC, id DESC").Limit(limitOr(limit)).Find(&rows).Error
	if err != nil {
		return nil, wrap("recent jobs", err)
	}
	return toJobs(rows), nil
}

func jobByID(db *gorm.DB, id string) (*jobRow, error) {
	var rows []jobRow
	if err := db.Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFound("job", id)
	}
	return &rows[0], nil
}

func limitOr(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}
