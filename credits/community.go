package credits

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
)

// Daily pays the daily check-in (Options.DailyCredits) to id's account,
// once per account per calendar day in Options.Location: identities linked
// to one account share the day's check-in. A second claim fails with
// EAlreadyClaimed and writes nothing.
func (s *Store) Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	if s.opt.DailyCredits <= 0 {
		return nil, paimeng.Errorf(paimeng.EINVALID, "daily check-in is off")
	}
	var claim paimeng.Claim
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		acct, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		t := now()
		key := s.dailyKey(acct.ID, t)
		claimed, err := ledgerKeyExists(tx, key)
		if err != nil {
			return err
		}
		if claimed {
			return alreadyClaimed(acct.ID, key)
		}
		bal, ok, err := liveCredit(tx, acct.ID, s.opt.DailyCredits)
		if err != nil {
			return err
		}
		if !ok {
			return paimeng.Errorf(paimeng.EINTERNAL, "account %d vanished during check-in", acct.ID)
		}
		// A concurrent claim that committed first owns the key: this insert
		// then does nothing and the transaction rolls back.
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "idempotency_key"}},
			DoNothing: true,
		}).Create(&ledgerRow{
			AccountID: acct.ID, Kind: KindDaily, Amount: s.opt.DailyCredits, BalanceAfter: bal,
			Reason: "daily check-in", Actor: id.String(), IdempotencyKey: ptr(key), CreatedAt: t,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return alreadyClaimed(acct.ID, key)
		}
		claim = paimeng.Claim{Amount: s.opt.DailyCredits, Balance: bal}
		return nil
	})
	if err != nil {
		return nil, wrap("daily", err)
	}
	return &claim, nil
}

// dailyKey is the idempotency key of an account's check-in on the
// community's calendar day of t.
func (s *Store) dailyKey(accountID int64, t time.Time) string {
	return KindDaily + ":" + strconv.FormatInt(accountID, 10) + ":" + t.In(s.opt.Location).Format(time.DateOnly)
}

func alreadyClaimed(accountID int64, key string) error {
	return paimeng.Errorf(paimeng.EAlreadyClaimed, "account %d checked in already (%s)", accountID, key)
}

func ledgerKeyExists(tx *gorm.DB, key string) (bool, error) {
	var n int64
	err := tx.Model(&ledgerRow{}).Where("idempotency_key = ?", key).Limit(1).Count(&n).Error
	return n > 0, err
}

// carryDaily keeps today's check-in with a member whose identities move
// from account from to account to (link, unlink): when from has checked in
// today and to has not, to gets a zero-amount check-in entry, so moving
// identities between accounts never pays a second check-in on one day.
// balance is to's balance at this point of the transaction.
func (s *Store) carryDaily(tx *gorm.DB, from, to, balance int64, actor string, t time.Time) error {
	done, err := ledgerKeyExists(tx, s.dailyKey(from, t))
	if err != nil || !done {
		return err
	}
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "idempotency_key"}},
		DoNothing: true,
	}).Create(&ledgerRow{
		AccountID: to, Kind: KindDaily, Amount: 0, BalanceAfter: balance,
		Reason: "checked in today on account " + strconv.FormatInt(from, 10), Actor: actor,
		IdempotencyKey: ptr(s.dailyKey(to, t)), CreatedAt: t,
	}).Error
}

// Ban stops target's account (every identity linked to it) from
// submitting jobs, creating the account on first sight. Banning a banned
// account replaces the reason and keeps the original time.
func (s *Store) Ban(ctx context.Context, target paimeng.Identity, reason, actor string) error {
	if err := validIdentity(target); err != nil {
		return err
	}
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		a, err := s.ensureAccount(tx, target)
		if err != nil {
			return err
		}
		t := now()
		return setBan(tx, a.ID, "banned_at = COALESCE(banned_at, ?), ban_reason = ?, updated_at = ?", t, reason, t)
	})
	return wrap("ban", err)
}

// Unban lifts the ban on target's account, creating the account on first
// sight.
func (s *Store) Unban(ctx context.Context, target paimeng.Identity, actor string) error {
	if err := validIdentity(target); err != nil {
		return err
	}
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		a, err := s.ensureAccount(tx, target)
		if err != nil {
			return err
		}
		return setBan(tx, a.ID, "banned_at = NULL, ban_reason = '', updated_at = ?", now())
	})
	return wrap("unban", err)
}

// setBan applies set to a live account; errMerged when it was merged away
// after it was read.
func setBan(tx *gorm.DB, accountID int64, set string, args ...any) error {
	args = append(args, accountID)
	res := tx.Exec("UPDATE accounts SET "+set+" WHERE id = ? AND merged_into IS NULL", args...)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errMerged
	}
	return nil
}

// Identities lists the identities of an account, oldest first. An unknown
// account has none.
func (s *Store) Identities(ctx context.Context, accountID int64) ([]paimeng.Identity, error) {
	var rows []identityRow
	err := s.db.WithContext(ctx).Where("account_id = ?", accountID).
		Order("created_at, platform, user_id").Find(&rows).Error
	if err != nil {
		return nil, wrap("identities", err)
	}
	out := make([]paimeng.Identity, len(rows))
	for i, r := range rows {
		out[i] = paimeng.Identity{Platform: paimeng.Platform(r.Platform), UserID: r.UserID}
	}
	return out, nil
}

// checkSubmitLimits refuses a new job of an account that has
// Options.MaxQueued unfinished jobs (ETooManyJobs) or created
// Options.RateLimit jobs in the last Options.RateWindow (ERateLimited).
// CreateJob calls it holding the account's lock.
func (s *Store) checkSubmitLimits(tx *gorm.DB, accountID int64, t time.Time) error {
	var active int64
	err := tx.Model(&jobRow{}).
		Where("account_id = ? AND status IN ?", accountID, activeStatuses).
		Count(&active).Error
	if err != nil {
		return err
	}
	if active >= int64(s.opt.MaxQueued) {
		return paimeng.Errorf(paimeng.ETooManyJobs, "account %d has %d unfinished jobs (limit %d)",
			accountID, active, s.opt.MaxQueued)
	}
	if s.opt.RateLimit <= 0 {
		return nil
	}
	var recent int64
	err = tx.Model(&jobRow{}).
		Where("account_id = ? AND created_at > ?", accountID, t.Add(-s.opt.RateWindow).UTC()).
		Count(&recent).Error
	if err != nil {
		return err
	}
	if recent >= int64(s.opt.RateLimit) {
		return paimeng.Errorf(paimeng.ERateLimited, "account %d submitted %d jobs in %s (limit %d)",
			accountID, recent, s.opt.RateWindow, s.opt.RateLimit)
	}
	return nil
}

// duplicateOr returns errDuplicate when a job under key has been committed
// by a concurrent submit, and refusal otherwise: a repeated submit gets its
// job back even when a fresh one would be refused.
func duplicateOr(tx *gorm.DB, key string, refusal error) error {
	var n int64
	if err := tx.Model(&jobRow{}).Where("idempotency_key = ?", key).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return errDuplicate
	}
	return refusal
}

// setDisplayName stores name on the identity row ident when it is set and
// differs from the stored one.
func setDisplayName(tx *gorm.DB, ident *identityRow, name string) error {
	if name == "" || ident == nil || ident.DisplayName == name {
		return nil
	}
	ident.DisplayName = name
	return tx.Model(&identityRow{}).
		Where("platform = ? AND user_id = ?", ident.Platform, ident.UserID).
		Update("display_name", name).Error
}

// RefundJob gives the price of a succeeded (so captured) job back to the
// account that owns it now, once per job (ledger kind "refund"). Only
// admins call it, for a video that disappointed. A second refund of the
// same job fails with ECONFLICT and writes nothing.
func (s *Store) RefundJob(ctx context.Context, jobID, reason, actor string) (*paimeng.Account, error) {
	var out *accountRow
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		job, err := jobByID(tx, jobID)
		if err != nil {
			return err
		}
		if job.Status != string(paimeng.JobSucceeded) {
			return paimeng.Errorf(paimeng.EINVALID, "job %s is %s: only succeeded jobs were charged", jobID, job.Status)
		}
		if job.Price == 0 {
			return paimeng.Errorf(paimeng.EINVALID, "job %s was free", jobID)
		}
		key := KindRefund + ":" + job.ID
		done, err := ledgerKeyExists(tx, key)
		if err != nil {
			return err
		}
		if done {
			return paimeng.Errorf(paimeng.ECONFLICT, "job %s was refunded already", jobID)
		}
		bal, ok, err := liveCredit(tx, job.AccountID, job.Price)
		if err != nil {
			return err
		}
		if !ok {
			return paimeng.Errorf(paimeng.EINTERNAL, "account %d vanished during refund", job.AccountID)
		}
		if reason == "" {
			reason = "refund of job " + job.ID
		}
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "idempotency_key"}},
			DoNothing: true,
		}).Create(&ledgerRow{
			AccountID: job.AccountID, Kind: KindRefund, Amount: job.Price, BalanceAfter: bal,
			Reason: reason, Actor: actor, JobID: ptr(job.ID), IdempotencyKey: ptr(key),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return paimeng.Errorf(paimeng.ECONFLICT, "job %s was refunded already", jobID)
		}
		out, err = accountByID(tx, job.AccountID)
		return err
	})
	if err != nil {
		return nil, wrap("refund job", err)
	}
	return toAccount(out), nil
}
