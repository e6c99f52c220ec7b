package snap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// ExternalIDPolicy says whether a retry of one logical operation may send the same
// X-EXTERNAL-ID. SNAP keeps ids unique per merchant per (Jakarta) day, and upstreams differ on
// a reused id: linking calls (binding, inquiry, unbinding: the registration-* family) answer
// 409xx00, so every attempt needs a fresh id; payment calls replay their first answer, so a
// retry must reuse its id to stay one payment.
type ExternalIDPolicy int

const (
	FreshPerAttempt   ExternalIDPolicy = iota // linking calls
	ReusePerOperation                         // payment-like calls: one id per logical operation
)

// externalIDs hands out X-EXTERNAL-IDs: 32 hex characters (alphanumeric, under SNAP's 36) of
// 128 random bits, so two attempts never share one, on any instance, any day: the chance that
// a billion ids in one day hold a repeat is about 1e-21, far below any failure Redis could
// guard against. Ids of logical operations (ReusePerOperation) are remembered in Redis until
// the Jakarta day is over, so every retry of the operation, on any instance, sends its id.
// (Fresh ids were once also registered in Redis: a round trip on every inquiry, about 5% of a
// refresh's CPU, for no added guarantee; docs/performance.md.)
type externalIDs struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// dayLeft is how long until the Jakarta day ends, plus an hour for clock skew.
func (e *externalIDs) dayLeft() (string, time.Duration) {
	now := e.now().In(snapsig.WIB)
	y, m, d := now.Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, snapsig.WIB)
	return now.Format("20060102"), end.Sub(now) + time.Hour
}

// Fresh returns a new id.
func (e *externalIDs) Fresh() string { return randomID() }

// ForOperation returns the id of a logical operation (same key, same id all day), taking a
// fresh one the first time.
func (e *externalIDs) ForOperation(ctx context.Context, operationKey string) (string, error) {
	day, ttl := e.dayLeft()
	key := e.prefix + "snap:extop:" + day + ":" + operationKey
	if id, err := e.rdb.Get(ctx, key).Result(); err == nil {
		return id, nil
	}
	id := e.Fresh()
	ok, err := e.rdb.SetNX(ctx, key, id, ttl).Result()
	if err != nil {
		return "", fmt.Errorf("snap: external id store: %w", err)
	}
	if !ok { // a concurrent attempt of the same operation won: use its id
		return e.rdb.Get(ctx, key).Result()
	}
	return id, nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
