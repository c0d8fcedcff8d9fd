package credits

import (
	"context"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/migrations"
)

// linkCodeLen is the length of a /link code.
const linkCodeLen = 6

// usedBySuperseded marks a link code replaced by a newer one of the same
// identity, or dropped when the identity left its account.
const usedBySuperseded = "superseded"

// NewLinkCode issues a one-time code that joins another identity to id's
// account, valid for Options.LinkCodeTTL. Earlier unused codes of id stop
// working. The account is created on first sight.
func (s *Store) NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	var out paimeng.LinkCode
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		acct, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		t := now()
		if err := supersedeLinkCodes(tx, id, t); err != nil {
			return err
		}
		exp := t.Add(s.opt.LinkCodeTTL)
		for range codeAttempts {
			code, err := randomCode(linkCodeLen)
			if err != nil {
				return err
			}
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&linkCodeRow{
				Code: code, AccountID: acct.ID, Platform: string(id.Platform), UserID: id.UserID,
				CreatedAt: t, ExpiresAt: exp,
			})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				out = paimeng.LinkCode{Code: code, ExpiresAt: exp}
				return nil
			}
		}
		return paimeng.Errorf(paimeng.ECONFLICT, "no free link code found; try again")
	})
	if err != nil {
		return nil, wrap("new link code", err)
	}
	return &out, nil
}

// supersedeLinkCodes retires the unused link codes issued by id.
func supersedeLinkCodes(tx *gorm.DB, id paimeng.Identity, t time.Time) error {
	return tx.Model(&linkCodeRow{}).
		Where("platform = ? AND user_id = ? AND used_at IS NULL", string(id.Platform), id.UserID).
		Updates(map[string]any{"used_at": t, "used_by": usedBySuperseded}).Error
}

// normalizeLinkCode returns the stored form of a link code as typed, or ""
// when it cannot be one.
func normalizeLinkCode(s string) string {
	c := squeeze(s)
	if len(c) != linkCodeLen {
		return ""
	}
	for i := 0; i < len(c); i++ {
		if strings.IndexByte(codeAlphabet, c[i]) < 0 {
			return ""
		}
	}
	return c
}

// Link joins id to the account that issued code and returns that account.
//
// An identity seen for the first time is simply added to it, with no
// signup grant: free credits are paid once per member. Otherwise id's own
// account is merged into it in one transaction: its balance moves through
// a pair of ledger entries (kind "link"), and its identities, jobs, holds
// (open ones then resolve into the joined account) and likes follow. The
// merged account stays behind, empty, pointing to the survivor.
//
// Errors: ECodeInvalid, ECodeUsed, ECodeExpired for the code; EAlreadyLinked
// when id is on that account already; EBanned when either account is banned.
// On error nothing changes and the code stays usable.
func (s *Store) Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	c := normalizeLinkCode(code)
	if c == "" {
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "%q is not a link code", code)
	}
	var out *accountRow
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		t := now()
		res := tx.Model(&linkCodeRow{}).
			Where("code = ? AND used_at IS NULL AND expires_at > ?", c, t).
			Updates(map[string]any{"used_at": t, "used_by": id.String()})
		if res.Error != nil {
			return res.Error
		}
		var codes []linkCodeRow
		if err := tx.Where("code = ?", c).Limit(1).Find(&codes).Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return linkRefusal(codes, c, t)
		}
		targetID, err := survivor(tx, codes[0].AccountID)
		if err != nil {
			return err
		}

		var idents []identityRow
		if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
			Limit(1).Find(&idents).Error; err != nil {
			return err
		}
		if len(idents) == 0 {
			// First sight: join the target directly.
			target, err := lockAccount(tx, targetID, t)
			if err != nil {
				return err
			}
			if target.BannedAt != nil {
				return paimeng.Errorf(paimeng.EBanned, "account %d is banned", target.ID)
			}
			ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&identityRow{
				Platform: string(id.Platform), UserID: id.UserID, AccountID: target.ID, CreatedAt: t,
			})
			if ins.Error != nil {
				return ins.Error
			}
			if ins.RowsAffected == 1 {
				out = target
				return nil
			}
			// Registered meanwhile by another transaction: merge instead.
			if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
				Limit(1).Find(&idents).Error; err != nil {
				return err
			}
			if len(idents) == 0 {
				return errMerged // vanished again; run once more
			}
		}
		sourceID := idents[0].AccountID
		if sourceID == targetID {
			return paimeng.Errorf(paimeng.EAlreadyLinked, "%s is on account %d already", id, targetID)
		}
		target, err := s.merge(tx, id, sourceID, targetID, t)
		if err != nil {
			return err
		}
		out = target
		return nil
	})
	if err != nil {
		return nil, wrap("link", err)
	}
	return toAccount(out), nil
}

// linkRefusal says why the link code c (rows: its row, if any) could not
// be claimed at t.
func linkRefusal(rows []linkCodeRow, c string, t time.Time) error {
	switch {
	case len(rows) == 0:
		return paimeng.Errorf(paimeng.ECodeInvalid, "no link code %s", c)
	case rows[0].UsedAt != nil:
		return paimeng.Errorf(paimeng.ECodeUsed, "link code %s was used already", c)
	case !rows[0].ExpiresAt.After(t):
		return paimeng.Errorf(paimeng.ECodeExpired, "link code %s expired", c)
	}
	return paimeng.Errorf(paimeng.ECONFLICT, "link code %s could not be claimed", c)
}

// survivor follows merged_into from account id to the account that is
// still in use.
func survivor(tx *gorm.DB, id int64) (int64, error) {
	for range 64 {
		a, err := accountByID(tx, id)
		if err != nil {
			return 0, err
		}
		if a.MergedInto == nil {
			return a.ID, nil
		}
		id = *a.MergedInto
	}
	return 0, paimeng.Errorf(paimeng.EINTERNAL, "account %d: merge chain too long", id)
}

// merge joins account src into dst for id (the identity asking) and
// returns dst as it ends.
//
// Lock order: rows of src's jobs and holds first, then both accounts in id
// order. FinishJob takes job, hold, then account, so a concurrent finish of
// one of src's jobs either completes before the merge reaches its job or
// waits for the merge and then resolves the hold into dst. Jobs that src
// created between the first pass and its account lock are moved by a
// second pass once the lock is held (CreateJob debits under that lock); a
// row of those held by a finish makes the merge give way and run again.
func (s *Store) merge(tx *gorm.DB, id paimeng.Identity, src, dst int64, t time.Time) (*accountRow, error) {
	if err := moveOwned(tx, src, dst); err != nil {
		return nil, err
	}
	first, second := src, dst
	if dst < src {
		first, second = dst, src
	}
	locked := map[int64]*accountRow{}
	for _, aid := range []int64{first, second} {
		a, err := lockAccount(tx, aid, t)
		if err != nil {
			return nil, err
		}
		locked[aid] = a
	}
	source, target := locked[src], locked[dst]
	// The identity may have moved before the locks were taken.
	var idents []identityRow
	if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
		Limit(1).Find(&idents).Error; err != nil {
		return nil, err
	}
	if len(idents) == 0 || idents[0].AccountID != src {
		return nil, errMerged
	}
	if source.BannedAt != nil || target.BannedAt != nil {
		banned := source.ID
		if target.BannedAt != nil {
			banned = target.ID
		}
		return nil, paimeng.Errorf(paimeng.EBanned, "account %d is banned", banned)
	}
	if s.dialect == migrations.DialectPostgres {
		// Jobs or holds of src locked by someone else now belong to a
		// finish that waits for src's lock, held here: back off and run
		// again (lock_not_available) rather than deadlock.
		for _, table := range []string{"jobs", "holds"} {
			if err := tx.Exec("SELECT id FROM "+table+" WHERE account_id = ? FOR UPDATE NOWAIT", src).Error; err != nil {
				return nil, err
			}
		}
	}
	if err := moveOwned(tx, src, dst); err != nil {
		return nil, err
	}

	srcKey, dstKey := strconv.FormatInt(src, 10), strconv.FormatInt(dst, 10)
	amount := source.Balance
	if _, ok, err := addBalance(tx, src, -amount); err != nil {
		return nil, err
	} else if !ok {
		return nil, paimeng.Errorf(paimeng.EINTERNAL, "account %d balance changed under its lock", src)
	}
	if err := appendLedger(tx, &ledgerRow{
		AccountID: src, Kind: KindLink, Amount: -amount, BalanceAfter: 0,
		Reason: "linked into account " + dstKey, Actor: id.String(),
		IdempotencyKey: ptr(KindLink + ":" + srcKey + ":out"), CreatedAt: t,
	}); err != nil {
		return nil, err
	}
	bal, ok, err := addBalance(tx, dst, amount)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, paimeng.Errorf(paimeng.EINTERNAL, "account %d vanished during link", dst)
	}
	if err := appendLedger(tx, &ledgerRow{
		AccountID: dst, Kind: KindLink, Amount: amount, BalanceAfter: bal,
		Reason: "linked from account " + srcKey, Actor: id.String(),
		IdempotencyKey: ptr(KindLink + ":" + srcKey + ":in:" + dstKey), CreatedAt: t,
	}); err != nil {
		return nil, err
	}
	if err := s.carryDaily(tx, src, dst, bal, id.String(), t); err != nil {
		return nil, err
	}

	// Identities, likes and pending link codes follow the member.
	if err := tx.Model(&identityRow{}).Where("account_id = ?", src).Update("account_id", dst).Error; err != nil {
		return nil, err
	}
	// One like per member per video: drop src's likes the target already
	// has, and likes that became likes of the member's own videos.
	if err := tx.Exec(`DELETE FROM likes WHERE account_id = ? AND job_id IN (SELECT job_id FROM likes WHERE account_id = ?)`,
		src, dst).Error; err != nil {
		return nil, err
	}
	if err := tx.Exec(`DELETE FROM likes WHERE account_id IN (?, ?) AND job_id IN (SELECT id FROM jobs WHERE account_id = ?)`,
		src, dst, dst).Error; err != nil {
		return nil, err
	}
	if err := tx.Exec("UPDATE likes SET account_id = ? WHERE account_id = ?", dst, src).Error; err != nil {
		return nil, err
	}
	if err := tx.Exec("UPDATE link_codes SET account_id = ? WHERE account_id = ? AND used_at IS NULL", dst, src).Error; err != nil {
		return nil, err
	}
	// The merged member keeps its place in the fair-share order.
	if source.LastDispatchedAt.After(target.LastDispatchedAt) {
		if err := tx.Exec("UPDATE accounts SET last_dispatched_at = ? WHERE id = ?",
			source.LastDispatchedAt.UTC(), dst).Error; err != nil {
			return nil, err
		}
	}
	if err := tx.Exec("UPDATE accounts SET merged_into = ?, updated_at = ? WHERE id = ?", dst, t, src).Error; err != nil {
		return nil, err
	}
	return accountByID(tx, dst)
}

// moveOwned repoints src's jobs and holds (open or resolved) to dst.
func moveOwned(tx *gorm.DB, src, dst int64) error {
	if err := tx.Exec("UPDATE jobs SET account_id = ? WHERE account_id = ?", dst, src).Error; err != nil {
		return err
	}
	return tx.Exec("UPDATE holds SET account_id = ? WHERE account_id = ?", dst, src).Error
}

// Unlink gives id an account of its own again, with no credits: the
// balance, past jobs and open holds stay with the account it leaves. A ban
// on that account applies to the new one too. An identity alone on its
// account fails with ENotLinked.
func (s *Store) Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	var out *accountRow
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		var idents []identityRow
		if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
			Limit(1).Find(&idents).Error; err != nil {
			return err
		}
		if len(idents) == 0 {
			return paimeng.Errorf(paimeng.ENotLinked, "%s has no linked account", id)
		}
		t := now()
		old, err := lockAccount(tx, idents[0].AccountID, t)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&identityRow{}).Where("account_id = ?", old.ID).Count(&n).Error; err != nil {
			return err
		}
		if n <= 1 {
			return paimeng.Errorf(paimeng.ENotLinked, "%s is alone on account %d", id, old.ID)
		}
		acct := accountRow{
			BannedAt: old.BannedAt, BanReason: old.BanReason,
			LastDispatchedAt: old.LastDispatchedAt.UTC(), CreatedAt: t, UpdatedAt: t,
		}
		if acct.BannedAt != nil {
			acct.BannedAt = ptr(acct.BannedAt.UTC())
		}
		if err := tx.Create(&acct).Error; err != nil {
			return err
		}
		res := tx.Model(&identityRow{}).
			Where("platform = ? AND user_id = ? AND account_id = ?", string(id.Platform), id.UserID, old.ID).
			Update("account_id", acct.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errMerged // moved by a concurrent link; run again
		}
		if err := supersedeLinkCodes(tx, id, t); err != nil {
			return err
		}
		if err := s.carryDaily(tx, old.ID, acct.ID, 0, id.String(), t); err != nil {
			return err
		}
		out = &acct
		return nil
	})
	if err != nil {
		return nil, wrap("unlink", err)
	}
	return toAccount(out), nil
}
