package service

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// cachedLinks is a link store whose cached read still holds the link as it was before another
// instance's refresh (its invalidation has not arrived), while a fresh read sees the refresh.
type cachedLinks struct {
	LinkStore // unused methods panic
	before    domain.GoPayLink
	after     domain.GoPayLink
	opts      []domain.PaymentOption
}

func (c cachedLinks) WithOptions(context.Context, uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	return c.before, nil, nil
}

func (c cachedLinks) WithOptionsFresh(context.Context, uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	return c.after, c.opts, nil
}

// follower is a coalescer for which another instance ran the work: it waits, runs nothing.
type follower struct{}

func (follower) Do(context.Context, string, string, func(context.Context) error) error { return nil }

// A caller that waited for another instance's refresh answers what that refresh wrote, not
// what its own instance's cache still holds (found under load by
// TestConcurrentRefreshesCoalesceAcrossInstances: an answer with no options).
func TestFollowerReadsPastTheCache(t *testing.T) {
	now := time.Now()
	before := domain.GoPayLink{ID: 1, Status: domain.LinkActive} // never refreshed: a refresh is due
	after := before
	after.OptionsRefreshedAt = now
	opts := []domain.PaymentOption{{Name: "GOPAY_WALLET", Active: true, Balance: "10.00", Currency: "IDR", Token: "t"}}
	g := NewGoPayLinks(nilSNAP{}, nilCore{}, cachedLinks{before: before, after: after, opts: opts}, follower{}, time.Minute, time.Hour)
	o, err := g.PaymentOptions(context.Background(), uuid.New(), "d", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Options) != 1 || o.Stale || !o.RefreshedAt.Equal(now) {
		t.Fatalf("answered %+v; want the refreshed options", o)
	}
}

type nilSNAP struct{ SNAP }
type nilCore struct{ CoreAPI }
