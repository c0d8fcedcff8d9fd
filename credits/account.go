package credits

import (
	"context"
	"strconv"

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
	err := s.tx(ctx, func(tx *gorm.DB) error {
		a, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		bal, ok, err := addBalance(tx, a.ID, amount)
		if err != nil {
			return err
		}
		if !ok {
			return paimeng.Errorf(paimeng.EInsufficient, "account %d has %d credits, cannot take %d", a.ID, a.Balance, -amount)
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
// identity and signup grant when id is new. The identity's primary key
// decides races: a loser removes its own account and reads the winner's.
func (s *Store) ensureAccount(tx *gorm.DB, id paimeng.Identity) (*accountRow, error) {
	var idents []identityRow
	err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
		Limit(1).Find(&idents).Error
	if err != nil {
		return nil, err
	}
	if len(idents) == 1 {
		return accountByID(tx, idents[0].AccountID)
	}

	t := now()
	acct := accountRow{Balance: s.opt.SignupCredits, CreatedAt: t, UpdatedAt: t}
	if err := tx.Create(&acct).Error; err != nil {
		return nil, err
	}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&identityRow{
		Platform: string(id.Platform), UserID: id.UserID, AccountID: acct.ID, CreatedAt: t,
	})
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		// Another transaction registered the identity first.
		if err := tx.Delete(&accountRow{}, acct.ID).Error; err != nil {
			return nil, err
		}
		if err := tx.Where("platform = ? AND user_id = ?", string(id.Platform), id.UserID).
			Limit(1).Find(&idents).Error; err != nil {
			return nil, err
		}
		if len(idents) == 0 {
			return nil, paimeng.Errorf(paimeng.ECONFLICT, "identity %s vanished during signup", id)
		}
		return accountByID(tx, idents[0].AccountID)
	}
	err = appendLedger(tx, &ledgerRow{
		AccountID: acct.ID, Kind: KindSignup, Amount: s.opt.SignupCredits,
		BalanceAfter: acct.Balance, Reason: "signup", Actor: id.String(),
		IdempotencyKey: ptr(KindSignup + ":" + strconv.FormatInt(acct.ID, 10)),
	})
	if err != nil {
		return nil, err
	}
	return &acct, nil
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
