package credits

import (
	"context"
	"time"
)

// Entry is one ledger row: a single change to one account's balance.
type Entry struct {
	ID             int64
	AccountID      int64
	Kind           string // KindSignup, KindGrant, KindHold…
	Amount         int64  // signed change
	BalanceAfter   int64
	Reason         string
	Actor          string
	JobID          string // "" when not about a job
	HoldID         int64  // 0 when not about a hold
	IdempotencyKey string // "" when none
	CreatedAt      time.Time
}

// Ledger returns up to limit entries of an account, newest first.
func (s *Store) Ledger(ctx context.Context, accountID int64, limit int) ([]Entry, error) {
	var rows []ledgerRow
	err := s.db.WithContext(ctx).Where("account_id = ?", accountID).
		Order("id DESC").Limit(limitOr(limit)).Find(&rows).Error
	if err != nil {
		return nil, wrap("ledger", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{
			ID: r.ID, AccountID: r.AccountID, Kind: r.Kind, Amount: r.Amount,
			BalanceAfter: r.BalanceAfter, Reason: r.Reason, Actor: r.Actor,
			CreatedAt: r.CreatedAt.UTC(),
		}
		if r.JobID != nil {
			out[i].JobID = *r.JobID
		}
		if r.HoldID != nil {
			out[i].HoldID = *r.HoldID
		}
		if r.IdempotencyKey != nil {
			out[i].IdempotencyKey = *r.IdempotencyKey
		}
	}
	return out, nil
}

// Drift is an account whose stored balance disagrees with its ledger.
type Drift struct {
	AccountID int64
	Balance   int64 // stored in accounts
	LedgerSum int64 // sum of its ledger amounts
	LastAfter int64 // balance_after of its newest ledger entry (0 when none)
}

// Audit recomputes every balance from the ledger and returns the accounts
// whose stored balance differs from the sum of their entries or from the
// balance recorded by their newest entry. A healthy database has none.
func (s *Store) Audit(ctx context.Context) ([]Drift, error) {
	var out []Drift
	err := s.db.WithContext(ctx).Raw(`
SELECT account_id, balance, ledger_sum, last_after FROM (
    SELECT a.id AS account_id, a.balance AS balance,
        CAST(COALESCE((SELECT SUM(l.amount) FROM ledger_entries l WHERE l.account_id = a.id), 0) AS BIGINT) AS ledger_sum,
        COALESCE((SELECT l.balance_after FROM ledger_entries l WHERE l.account_id = a.id
            ORDER BY l.id DESC LIMIT 1), 0) AS last_after
    FROM accounts a
) d
WHERE balance <> ledger_sum OR balance <> last_after
ORDER BY account_id`).Scan(&out).Error
	if err != nil {
		return nil, wrap("audit", err)
	}
	return out, nil
}
