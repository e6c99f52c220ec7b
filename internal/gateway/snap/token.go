package snap

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/gopay-miniapp/bff/internal/seal"
)

// tokenCache keeps the B2B access token (900 s, no refresh token) where every instance sees it:
// in Redis, with a copy in memory. Renewal happens renewBefore its expiry, and at most one
// renewal is in flight: singleflight within an instance, a Redis lock across instances (the
// losers wait for the winner's token rather than fetch their own).
type tokenCache struct {
	rdb         redis.UniversalClient
	sealer      seal.Sealer
	key, lock   string
	renewBefore time.Duration
	fetch       func(ctx context.Context) (token string, ttl time.Duration, err error)
	now         func() time.Time

	sf    singleflight.Group
	mu    sync.Mutex
	local cachedToken
}

// tokenAAD binds the sealed token to its use.
const tokenAAD = "snap.b2b_token" //nolint:gosec // associated data naming the value, not a credential

// decode opens a value read from Redis; anything that does not open or parse is no token.
func (c *tokenCache) decode(raw []byte) (cachedToken, bool) {
	var t cachedToken
	plain, err := c.sealer.Open(raw, tokenAAD, c.key)
	if err != nil || json.Unmarshal(plain, &t) != nil {
		return cachedToken{}, false
	}
	return t, true
}

type cachedToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (t cachedToken) usable(now time.Time, margin time.Duration) bool {
	return t.Token != "" && now.Add(margin).Before(t.ExpiresAt)
}

// Get returns a token valid for at least renewBefore.
func (c *tokenCache) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	local := c.local
	c.mu.Unlock()
	if local.usable(c.now(), c.renewBefore) {
		return local.Token, nil
	}
	v, err, _ := c.sf.Do("b2b", func() (any, error) { return c.shared(context.WithoutCancel(ctx)) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// shared reads the token from Redis, or renews it under the cross-instance lock.
func (c *tokenCache) shared(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if t, ok := c.read(ctx); ok {
			return t, nil
		}
		owner := randomID()
		got, err := c.rdb.SetNX(ctx, c.lock, owner, 15*time.Second).Result()
		if err != nil {
			// Redis is down: renew for this instance alone. One token per instance for the
			// outage beats failing every SNAP call (card bindings, refreshes) for Redis's sake.
			return c.renew(ctx)
		}
		if got {
			defer func() { _ = deleteIfEqual.Run(context.WithoutCancel(ctx), c.rdb, []string{c.lock}, owner).Err() }()
			if t, ok := c.read(ctx); ok { // renewed between our read and our lock
				return t, nil
			}
			return c.renew(ctx)
		}
		// Another instance is renewing: wait for its token.
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (c *tokenCache) read(ctx context.Context) (string, bool) {
	raw, err := c.rdb.Get(ctx, c.key).Bytes()
	if err != nil {
		return "", false
	}
	t, ok := c.decode(raw)
	if !ok || !t.usable(c.now(), c.renewBefore) {
		return "", false
	}
	c.setLocal(t)
	return t.Token, true
}

func (c *tokenCache) renew(ctx context.Context) (string, error) {
	token, ttl, err := c.fetch(ctx)
	if err != nil {
		return "", err
	}
	t := cachedToken{Token: token, ExpiresAt: c.now().Add(ttl)}
	plain, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	raw, err := c.sealer.Seal(plain, tokenAAD, c.key)
	if err != nil {
		return "", err
	}
	c.setLocal(t)
	// Shared for the other instances when Redis takes it; when it does not, this instance keeps
	// its copy and the others renew their own.
	_ = c.rdb.Set(ctx, c.key, raw, ttl).Err()
	return token, nil
}

func (c *tokenCache) setLocal(t cachedToken) {
	c.mu.Lock()
	c.local = t
	c.mu.Unlock()
}

// Invalidate drops token everywhere, unless it was already replaced by a newer one.
func (c *tokenCache) Invalidate(ctx context.Context, token string) error {
	c.mu.Lock()
	if c.local.Token == token {
		c.local = cachedToken{}
	}
	c.mu.Unlock()
	raw, err := c.rdb.Get(ctx, c.key).Bytes()
	if err != nil {
		// Nothing shared, or Redis is down: the local copy is gone, which is what this call
		// needs; an instance still holding the refused token drops it on its own 401.
		return nil //nolint:nilerr // deliberately not an error, as said above
	}
	if t, ok := c.decode(raw); ok && t.Token == token {
		return deleteIfEqual.Run(ctx, c.rdb, []string{c.key}, string(raw)).Err()
	}
	return nil
}

// deleteIfEqual deletes a key only while it holds the given value: releases our lock, or drops
// the token we were refused, but never a newer one.
var deleteIfEqual = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
