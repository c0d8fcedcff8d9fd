package credits

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
)

// Account returns the wallet of id, creating it and paying the signup
// grant on first sight. Concurrent first calls create one account and pay
// the grant once.
func (s *Store) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	if a, found, err := s.lookupAccount(s.db.WithContext(ctx), id); err != nil || found {
		return a, wrap("account", err)
	}
	var acct *accountRow
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		acct, err = s.ensureAccount(tx, id)
		return err
	})
	if err != nil {
		return nil, wrap("account", err)
	}
	return toAccount(acct), nil
}

// SetDisplayName sets the name shown for id on leaderboards, creating the
// account on first sight.
func (s *Store) SetDisplayName(ctx context.Context, id paimeng.Identity, name string) error {
	if err := validIdentity(id); err != nil {
		return err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.ensureAccount(tx, id); err != nil {
			return err
		}
		return tx.Model(&identityRow{}).
			Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
			Update("display_name", name).Error
	})
	return wrap("set display name", err)
}

// Grant adds amount credits to id's wallet (ledger kind "grant"). A
// negative amount takes credits away (kind "adjust") and fails with
// EInsufficient rather than going below zero.
func (s *Store) Grant(ctx context.Context, id paimeng.Identity, amount int64, reason, actor string) (*paimeng.Account, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	if amount == 0 {
		return nil, paimeng.Errorf(paimeng.EINVALID, "grant of zero credits")
	}
	kind := KindGrant
	if amount < 0 {
		kind = KindAdjust
	}
	var acct *accountRow
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		a, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		bal, ok, err := liveCredit(tx, a.ID, amount)
		if err != nil {
			return err
		}
		if !ok {
			return paimeng.Errorf(paimeng.EInsufficient, "account %d has %d credits, cannot take %d", a.ID, bal, -amount)
		}
		if err := appendLedger(tx, &ledgerRow{
			AccountID: a.ID, Kind: kind, Amount: amount, BalanceAfter: bal,
			Reason: reason, Actor: actor,
		}); err != nil {
			return err
		}
		a.Balance = bal
		acct = a
		return nil
	})
	if err != nil {
		return nil, wrap("grant", err)
	}
	return toAccount(acct), nil
}

// lookupAccount reads the account of id without creating it.
func (s *Store) lookupAccount(db *gorm.DB, id paimeng.Identity) (*paimeng.Account, bool, error) {
	var rows []accountRow
	err := db.Table("accounts").Select("accounts.*").
		Joins("JOIN identities ON identities.account_id = accounts.id").
		Where("identities.platform = ? AND identities.user_id = ?", string(id.Platform), id.UserID).
		Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	return toAccount(&rows[0]), true, nil
}

// ensureAccount returns the account of id inside tx, creating account,
// identity and signup grant when id is new.
func (s *Store) ensureAccount(tx *gorm.DB, id paimeng.Identity) (*accountRow, error) {
	a, _, err := s.ensureIdentity(tx, id, "")
	return a, err
}

// ensureIdentity returns the account and identity rows of id inside tx,
// creating account, identity (named name) and signup grant when id is
// new. The identity's primary key decides races: a loser removes its own
// account and reads the winner's.
func (s *Store) ensureIdentity(tx *gorm.DB, id paimeng.Identity, name string) (*accountRow, *identityRow, error) {
	var idents []identityRow
	err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
		Limit(1).Find(&idents).Error
	if err != nil {
		return nil, nil, err
	}
	if len(idents) == 1 {
		a, err := accountByID(tx, idents[0].AccountID)
		return a, &idents[0], err
	}

	t := now()
	acct := accountRow{Balance: s.opt.SignupCredits, CreatedAt: t, UpdatedAt: t}
	if err := tx.Create(&acct).Error; err != nil {
		return nil, nil, err
	}
	ident := identityRow{
		Platform: string(id.Platform), UserID: id.UserID, AccountID: acct.ID,
		DisplayName: name, CreatedAt: t,
	}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ident)
	if res.Error != nil {
		return nil, nil, res.Error
	}
	if res.RowsAffected == 0 {
		// Another transaction registered the identity first.
		if err := tx.Delete(&accountRow{}, acct.ID).Error; err != nil {
			return nil, nil, err
		}
		if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
			Limit(1).Find(&idents).Error; err != nil {
			return nil, nil, err
		}
		if len(idents) == 0 {
			return nil, nil, paimeng.Errorf(paimeng.ECONFLICT, "identity %s vanished during signup", id)
		}
		a, err := accountByID(tx, idents[0].AccountID)
		return a, &idents[0], err
	}
	err = appendLedger(tx, &ledgerRow{
		AccountID: acct.ID, Kind: KindSignup, Amount: s.opt.SignupCredits,
		BalanceAfter: acct.Balance, Reason: "signup", Actor: id.String(),
		IdempotencyKey: ptr(KindSignup + ":" + strconv.FormatInt(acct.ID, 10)),
	})
	if err != nil {
		return nil, nil, err
	}
	return &acct, &ident, nil
}

func accountByID(tx *gorm.DB, id int64) (*accountRow, error) {
	var rows []accountRow
	if err := tx.Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFound("account", strconv.FormatInt(id, 10))
	}
	return &rows[0], nil
}

// addBalance adds delta to the account's balance unless the result would be
// negative, in which case nothing changes and ok is false. It returns the
// new balance.
func addBalance(tx *gorm.DB, accountID, delta int64) (balance int64, ok bool, err error) {
	var out []int64
	err = tx.Raw(
		"UPDATE accounts SET balance = balance + ?, updated_at = ? WHERE id = ? AND balance >= ? RETURNING balance",
		delta, now(), accountID, -delta,
	).Scan(&out).Error
	if err != nil || len(out) == 0 {
		return 0, false, err
	}
	return out[0], true, nil
}

func appendLedger(tx *gorm.DB, e *ledgerRow) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	return tx.Create(e).Error
}

// errMerged rolls back a transaction that read an account which another
// transaction has since joined into a different one; it is run again and
// then finds the identity on the surviving account.
var errMerged = errors.New("account was merged")

// maxAttempts bounds how often retryTx runs a transaction.
const maxAttempts = 6

// retryTx runs fn in one transaction, again (up to maxAttempts in all) when
// it fails with errMerged or a PostgreSQL deadlock, serialization or
// lock-not-available error; lock conflicts wait a little, growing, first.
func (s *Store) retryTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := range maxAttempts {
		err = s.tx(ctx, fn)
		if !retryable(err) {
			return err
		}
		if errors.Is(err, errMerged) {
			continue
		}
		wait := time.Duration(attempt+1)*5*time.Millisecond + time.Duration(mrand.Int64N(int64(5*time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	if errors.Is(err, errMerged) {
		return paimeng.Errorf(paimeng.ECONFLICT, "account changed while in use; try again")
	}
	return err
}

func retryable(err error) bool {
	if errors.Is(err, errMerged) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return true
		}
	}
	return false
}

// liveCredit is addBalance for an account read before it was locked: when
// the account turns out to have been merged into another meanwhile, it
// fails with errMerged instead of touching it.
func liveCredit(tx *gorm.DB, accountID, delta int64) (balance int64, ok bool, err error) {
	var out []int64
	err = tx.Raw(
		"UPDATE accounts SET balance = balance + ?, updated_at = ? WHERE id = ? AND balance >= ? AND merged_into IS NULL RETURNING balance",
		delta, now(), accountID, -delta,
	).Scan(&out).Error
	if err != nil {
		return 0, false, err
	}
	if len(out) == 1 {
		return out[0], true, nil
	}
	a, err := accountByID(tx, accountID)
	if err != nil {
		return 0, false, err
	}
	if a.MergedInto != nil {
		return 0, false, errMerged
	}
	return a.Balance, false, nil
}

// lockAccount takes the write lock of a live account (a no-op on SQLite,
// whose transactions are serial) and reads it afterwards. A merged account
// fails with errMerged.
func lockAccount(tx *gorm.DB, accountID int64, t time.Time) (*accountRow, error) {
	res := tx.Exec("UPDATE accounts SET updated_at = ? WHERE id = ? AND merged_into IS NULL", t, accountID)
	if res.Error != nil {
		return nil, res.Error
	}
	a, err := accountByID(tx, accountID)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 || a.MergedInto != nil {
		return nil, errMerged
	}
	return a, nil
}
