package credits

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
)

// codeAlphabet is what codes are written in: digits and capitals without
// the look-alikes 0 O 1 I L, so a code read aloud or retyped survives.
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Redemption codes look like PM-7KQ4-X9TB: a prefix and two groups of four.
const (
	redeemPrefix    = "PM"
	redeemGroup     = 4
	redeemRandLen   = 2 * redeemGroup
	maxCodesPerCall = 10000
	codeInsertBatch = 500
	codeAttempts    = 5
)

// errCodeCollision rolls back a batch of codes when one already exists.
var errCodeCollision = errors.New("code collision")

// randomCode returns n characters drawn uniformly from codeAlphabet.
func randomCode(n int) (string, error) {
	const limit = 256 - 256%len(codeAlphabet) // reject bytes that would bias the draw
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, codeAlphabet[int(b)%len(codeAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

func newRedeemCode() (string, error) {
	r, err := randomCode(redeemRandLen)
	if err != nil {
		return "", err
	}
	return redeemPrefix + "-" + r[:redeemGroup] + "-" + r[redeemGroup:], nil
}

// squeeze upper-cases s, folds full-width letters and digits to ASCII and
// drops spaces, dashes and underscores, so "pm 7kq4 x9tb" and "PM7KQ4X9TB"
// read the same.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '\uff01' && r <= '\uff5e' { // full-width forms typed with a CJK keyboard
			r = r - '\uff01' + '!'
		}
		switch r {
		case ' ', '\t', '\n', '\r', '-', '_', '\u3000', '\u2014', '\u2013':
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, strings.TrimSpace(s))
}

// normalizeRedeemCode returns the stored form of a code as a member typed
// it, or "" when it cannot be one.
func normalizeRedeemCode(s string) string {
	c := squeeze(s)
	if len(c) == redeemRandLen {
		c = redeemPrefix + c
	}
	if len(c) != len(redeemPrefix)+redeemRandLen || !strings.HasPrefix(c, redeemPrefix) {
		return ""
	}
	r := c[len(redeemPrefix):]
	for i := 0; i < len(r); i++ {
		if strings.IndexByte(codeAlphabet, r[i]) < 0 {
			return ""
		}
	}
	return redeemPrefix + "-" + r[:redeemGroup] + "-" + r[redeemGroup:]
}

// CreateCodes makes count new redemption codes worth credits each, valid
// until expires (nil: forever), labelled with batch and created by actor.
// All of them are written in one transaction.
func (s *Store) CreateCodes(ctx context.Context, credits int64, count int, expires *time.Time, batch, actor string) ([]string, error) {
	switch {
	case credits <= 0:
		return nil, paimeng.Errorf(paimeng.EINVALID, "code value %d must be positive", credits)
	case count < 1 || count > maxCodesPerCall:
		return nil, paimeng.Errorf(paimeng.EINVALID, "code count %d not in 1..%d", count, maxCodesPerCall)
	}
	var exp *time.Time
	if expires != nil {
		e := expires.UTC().Truncate(time.Microsecond)
		exp = &e
	}
	for attempt := 0; ; attempt++ {
		codes := make([]string, 0, count)
		seen := make(map[string]bool, count)
		for len(codes) < count {
			c, err := newRedeemCode()
			if err != nil {
				return nil, wrap("create codes", err)
			}
			if !seen[c] {
				seen[c] = true
				codes = append(codes, c)
			}
		}
		t := now()
		rows := make([]redeemCodeRow, len(codes))
		for i, c := range codes {
			rows[i] = redeemCodeRow{
				Code: c, Credits: credits, Batch: batch, CreatedBy: actor,
				CreatedAt: t, ExpiresAt: exp,
			}
		}
		err := s.tx(ctx, func(tx *gorm.DB) error {
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, codeInsertBatch)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != int64(len(rows)) {
				return errCodeCollision
			}
			return nil
		})
		switch {
		case err == nil:
			return codes, nil
		case errors.Is(err, errCodeCollision) && attempt+1 < codeAttempts:
			continue
		}
		return nil, wrap("create codes", err)
	}
}

// Redeem claims a redemption code for id's account: exactly one claim of a
// code succeeds, however many members try at once. Unknown codes fail with
// ECodeInvalid, claimed ones with ECodeUsed, expired ones with ECodeExpired.
func (s *Store) Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
	if err := validIdentity(id); err != nil {
		return nil, err
	}
	c := normalizeRedeemCode(code)
	if c == "" {
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "%q is not a redemption code", code)
	}
	var claim paimeng.Claim
	// retryTx: a link may merge the account away while this waits for its
	// row; liveCredit then refuses it and the claim runs again on the
	// account that survived.
	err := s.retryTx(ctx, func(tx *gorm.DB) error {
		acct, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		t := now()
		// The claim is one conditional update: concurrent claims of the
		// same code wait on its row and then find it redeemed.
		var credits []int64
		err = tx.Raw(`UPDATE redeem_codes SET redeemed_by = ?, redeemed_identity = ?, redeemed_at = ?
WHERE code = ? AND redeemed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
RETURNING credits`, acct.ID, id.String(), t, c, t).Scan(&credits).Error
		if err != nil {
			return err
		}
		if len(credits) == 0 {
			return redeemRefusal(tx, c, t)
		}
		bal, ok, err := liveCredit(tx, acct.ID, credits[0])
		if err != nil {
			return err
		}
		if !ok {
			return paimeng.Errorf(paimeng.EINTERNAL, "account %d vanished while redeeming %s", acct.ID, c)
		}
		if err := appendLedger(tx, &ledgerRow{
			AccountID: acct.ID, Kind: KindRedeem, Amount: credits[0], BalanceAfter: bal,
			Reason: "code " + c, Actor: id.String(),
			IdempotencyKey: ptr(KindRedeem + ":" + c), CreatedAt: t,
		}); err != nil {
			return err
		}
		claim = paimeng.Claim{Amount: credits[0], Balance: bal}
		return nil
	})
	if err != nil {
		return nil, wrap("redeem", err)
	}
	return &claim, nil
}

// redeemRefusal says why code could not be claimed at t.
func redeemRefusal(tx *gorm.DB, code string, t time.Time) error {
	var rows []redeemCodeRow
	if err := tx.Where("code = ?", code).Limit(1).Find(&rows).Error; err != nil {
		return err
	}
	switch {
	case len(rows) == 0:
		return paimeng.Errorf(paimeng.ECodeInvalid, "no redemption code %s", code)
	case rows[0].RedeemedAt != nil:
		return paimeng.Errorf(paimeng.ECodeUsed, "code %s was redeemed already", code)
	case rows[0].ExpiresAt != nil && !rows[0].ExpiresAt.After(t):
		return paimeng.Errorf(paimeng.ECodeExpired, "code %s expired at %s", code, rows[0].ExpiresAt.UTC().Format(time.RFC3339))
	}
	return paimeng.Errorf(paimeng.ECONFLICT, "code %s could not be claimed", code)
}
