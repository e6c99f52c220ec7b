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

// externalIDs hands out X-EXTERNAL-IDs: 32 hex characters (alphanumeric, under SNAP's 36),
// each registered in Redis until the Jakarta day is over, so no instance sends one twice in a
// day, and (for ReusePerOperation) remembering which id belongs to which operation.
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

// Fresh returns an id never handed out today.
func (e *externalIDs) Fresh(ctx context.Context) (string, error) {
	day, ttl := e.dayLeft()
	for range 5 {
		id := randomID()
		ok, err := e.rdb.SetNX(ctx, e.prefix+"snap:extid:"+day+":"+id, 1, ttl).Result()
		if err != nil {
			return "", fmt.Errorf("snap: external id store: %w", err)
		}
		if ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("snap: could not find an unused external id")
}

// ForOperation returns the id of a logical operation (same key, same id all day), taking a
// fresh one the first time.
func (e *externalIDs) ForOperation(ctx context.Context, operationKey string) (string, error) {
	day, ttl := e.dayLeft()
	key := e.prefix + "snap:extop:" + day + ":" + operationKey
	if id, err := e.rdb.Get(ctx, key).Result(); err == nil {
		return id, nil
	}
	id, err := e.Fresh(ctx)
	if err != nil {
		return "", err
	}
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
