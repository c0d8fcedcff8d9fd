package wechat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Access tokens come from the stable-token API and are shared by every
// replica through Redis: one replica refreshes (holding a lock), the
// others wait briefly and read what it stored.
const (
	tokenRefreshBefore = 5 * time.Minute  // refresh this long before expiry
	tokenLockTTL       = 15 * time.Second // one refresher at a time
	tokenWait          = 5 * time.Second  // how long a replica waits for another's refresh
	tokenPoll          = 50 * time.Millisecond
)

// storedToken is an access token as kept in Redis.
type storedToken struct {
	Token     string    `json:"access_token"`
	ExpiresAt time.Time `json:"expires_at"`
	RefreshAt time.Time `json:"refresh_at"`
}

// usable reports whether t can be used at now (unless it is bad); fresh
// additionally says it needs no refresh yet.
func (t *storedToken) usable(now time.Time, bad string) (usable, fresh bool) {
	if t == nil || t.Token == "" || t.Token == bad || !now.Before(t.ExpiresAt) {
		return false, false
	}
	return true, now.Before(t.RefreshAt)
}

var delIfScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// accessToken returns a usable access token. bad is a token the API just
// refused: it is never returned again, and a refresh is forced.
func (b *Bot) accessToken(ctx context.Context, bad string) (string, error) {
	key, lockKey := b.key("token"), b.key("token", "lock")
	deadline := time.Now().Add(tokenWait)
	for {
		cur, rerr := b.readToken(ctx, key)
		now := time.Now()
		usable, fresh := cur.usable(now, bad)
		if fresh {
			return cur.Token, nil
		}
		if rerr != nil {
			// Redis is unavailable: fetch without sharing rather than fail.
			b.log.Warn("token cache unavailable; fetching a token directly", "err", rerr)
			t, err := b.fetchToken(ctx, bad)
			if err != nil {
				return "", err
			}
			return t.Token, nil
		}
		owner := randomID()
		got, err := b.rdb.SetNX(ctx, lockKey, owner, tokenLockTTL).Result()
		if err != nil && usable {
			return cur.Token, nil
		}
		if err == nil && got {
			t, err := b.refreshLocked(ctx, key, bad)
			// Use a fresh context: ctx may be done, the lock must go.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = delIfScript.Run(uctx, b.rdb, []string{lockKey}, owner).Err()
			cancel()
			if err != nil {
				if usable {
					b.log.Warn("access token refresh failed; using the current one", "err", err)
					return cur.Token, nil
				}
				return "", err
			}
			return t.Token, nil
		}
		// Another replica is refreshing: the current token serves until
		// it expires; otherwise wait for the new one.
		if usable {
			return cur.Token, nil
		}
		if now.After(deadline) {
			return "", errors.New("wechat: timed out waiting for another replica's access token refresh")
		}
		t := time.NewTimer(tokenPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// refreshLocked fetches and stores a new token while holding the lock,
// unless another replica stored a fresh one meanwhile.
func (b *Bot) refreshLocked(ctx context.Context, key, bad string) (*storedToken, error) {
	if cur, err := b.readToken(ctx, key); err == nil {
		if _, fresh := cur.usable(time.Now(), bad); fresh {
			return cur, nil
		}
	}
	t, err := b.fetchToken(ctx, bad)
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(t)
	if err := b.rdb.Set(ctx, key, raw, time.Until(t.ExpiresAt)).Err(); err != nil {
		b.log.Warn("storing the access token failed", "err", err)
	}
	return t, nil
}

func (b *Bot) readToken(ctx context.Context, key string) (*storedToken, error) {
	raw, err := b.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t storedToken
	if json.Unmarshal(raw, &t) != nil {
		return nil, nil
	}
	return &t, nil
}

// fetchToken asks the stable-token API for a token. When the answer is
// the token just refused, it asks again with force_refresh.
func (b *Bot) fetchToken(ctx context.Context, bad string) (*storedToken, error) {
	t, err := b.stableToken(ctx, false)
	if err == nil && bad != "" && t.Token == bad {
		b.log.Info("stable token unchanged after a refusal; forcing a refresh")
		t, err = b.stableToken(ctx, true)
	}
	if err != nil {
		return nil, err
	}
	if bad != "" && t.Token == bad {
		return nil, errors.New("wechat: the API keeps returning a refused access token")
	}
	return t, nil
}

func (b *Bot) stableToken(ctx context.Context, force bool) (*storedToken, error) {
	const path = "/cgi-bin/stable_token"
	body, err := jsonPayload(map[string]any{
		"grant_type":    "client_credential",
		"appid":         b.appID,
		"secret":        b.secret,
		"force_refresh": force,
	})
	if err != nil {
		return nil, err
	}
	raw, _, err := b.do(ctx, path, nil, "", body, maxAPIResponse)
	if err != nil {
		return nil, err
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" || out.ExpiresIn <= 0 {
		return nil, fmt.Errorf("wechat: %s: unreadable answer", path)
	}
	now := time.Now()
	life := time.Duration(out.ExpiresIn) * time.Second
	before := min(tokenRefreshBefore, life/2)
	b.log.Info("access token issued", "expires_in", out.ExpiresIn, "forced", force)
	return &storedToken{Token: out.AccessToken, ExpiresAt: now.Add(life), RefreshAt: now.Add(life - before)}, nil
}

// randomID is a random hex string for lock owners.
func randomID() string {
	var buf [12]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}
