package credits

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paimeng/paimeng"
)

// tokenPrefix starts every API token.
const tokenPrefix = "pm_"

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// CreateToken issues a new API token acting as id, creating the account on
// first sight. Only the token's SHA-256 is stored: the token cannot be shown
// again.
func (s *Store) CreateToken(ctx context.Context, id paimeng.Identity, name string) (string, error) {
	if err := validIdentity(id); err != nil {
		return "", err
	}
	var raw [20]byte // 160 bits: 32 base32 characters
	if _, err := rand.Read(raw[:]); err != nil {
		return "", wrap("create token", err)
	}
	token := tokenPrefix + strings.ToLower(tokenEncoding.EncodeToString(raw[:]))
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.ensureAccount(tx, id); err != nil {
			return err
		}
		return tx.Create(&tokenRow{
			TokenHash: hashToken(token), Platform: string(id.Platform), UserID: id.UserID,
			Name: name, CreatedAt: now(),
		}).Error
	})
	if err != nil {
		return "", wrap("create token", err)
	}
	return token, nil
}

// IdentityForToken returns the identity a token acts as and records its
// use (at most once a minute, to spare writes). An unknown token fails with
// EUNAUTH.
func (s *Store) IdentityForToken(ctx context.Context, token string) (paimeng.Identity, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "malformed API token")
	}
	db := s.db.WithContext(ctx)
	var rows []tokenRow
	if err := db.Where("token_hash = ?", hashToken(token)).Limit(1).Find(&rows).Error; err != nil {
		return paimeng.Identity{}, wrap("identity for token", err)
	}
	if len(rows) == 0 {
		return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "unknown API token")
	}
	r := rows[0]
	t := now()
	err := db.Model(&tokenRow{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", r.ID, t.Add(-time.Minute)).
		Update("last_used_at", t).Error
	if err != nil {
		return paimeng.Identity{}, wrap("identity for token", err)
	}
	return paimeng.Identity{Platform: paimeng.Platform(r.Platform), UserID: r.UserID}, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
