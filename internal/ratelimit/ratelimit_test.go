package ratelimit

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/testenv"
)

func newLimiter(t *testing.T) (*Limiter, *prometheus.CounterVec, redis.UniversalClient, string) {
	t.Helper()
	_, rdb, prefix := testenv.Redis(t)
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events"}, []string{"policy", "outcome"})
	return New(rdb, prefix, events, zap.NewNop()), events, rdb, prefix
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]Limit{"120/1m": {120, time.Minute}, "5/15m": {5, 15 * time.Minute}, "off": {}, "0": {}} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "10", "x/1m", "-1/1m", "10/fast", "10/10ms", "0/1m"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) accepted", bad)
		}
	}
}

func TestAllowSpendsTheBudgetThenRefuses(t *testing.T) {
	t.Parallel()
	l, events, rdb, prefix := newLimiter(t)
	ctx := context.Background()
	p := Policy{Name: "test_allow", Limit: Limit{Rate: 3, Period: time.Minute}}
	for i := range 3 {
		if _, ok := l.Allow(ctx, p, "alice"); !ok {
			t.Fatalf("event %d refused within the budget", i+1)
		}
	}
	wait, ok := l.Allow(ctx, p, "alice")
	if ok || wait <= 0 || wait > 20*time.Second+time.Second {
		t.Fatalf("4th event: ok=%v wait=%v (want refused, about 20s)", ok, wait)
	}
	if _, ok := l.Allow(ctx, p, "bob"); !ok {
		t.Fatal("another subject shares the budget")
	}
	if got := testutil.ToFloat64(events.WithLabelValues("test_allow", OutcomeLimited)); got != 1 {
		t.Fatalf("limited events %v", got)
	}
	// Every key lives under our prefix (redis_rate's own "rate:" included), so tests and
	// deployments sharing a Redis never meet, and cleanup finds them.
	keys, err := testenv.Keys(ctx, rdb, prefix+"*")
	if err != nil || len(keys) != 2 || !strings.HasPrefix(keys[0], prefix+"rate:test_allow:") {
		t.Fatalf("keys %v (%v)", keys, err)
	}
	if stray, _ := testenv.Keys(ctx, rdb, "rate:test_allow:*"); len(stray) != 0 {
		t.Fatalf("keys outside the prefix: %v", stray)
	}
	if _, ok := l.Allow(ctx, Policy{Name: "off"}, "alice"); !ok {
		t.Fatal("a disabled policy refused")
	}
}

func TestFailuresLockOut(t *testing.T) {
	t.Parallel()
	l, events, _, _ := newLimiter(t)
	ctx := context.Background()
	p := Policy{Name: "test_lockout", Limit: Limit{Rate: 5, Period: 15 * time.Minute}}
	for i := range 5 {
		if _, locked := l.LockedOut(ctx, p, "client|ip"); locked {
			t.Fatalf("locked out after %d failures", i)
		}
		l.Failed(ctx, p, "client|ip")
	}
	wait, locked := l.LockedOut(ctx, p, "client|ip")
	// 5 per 15 minutes: one failure comes back every 3 minutes.
	if !locked || wait <= 2*time.Minute || wait > 3*time.Minute+time.Second {
		t.Fatalf("after 5 failures: locked=%v wait=%v (want about 3m)", locked, wait)
	}
	if _, locked := l.LockedOut(ctx, p, "client|other-ip"); locked {
		t.Fatal("the lockout spread to another subject")
	}
	if got := testutil.ToFloat64(events.WithLabelValues("test_lockout", OutcomeFailure)); got != 5 {
		t.Fatalf("failure events %v", got)
	}
}

// Without Redis the limiter lets requests through and says so in its metric.
func TestStoreDownFailsOpen(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events"}, []string{"policy", "outcome"})
	l := New(rdb, "x:", events, zap.NewNop())
	p := Policy{Name: "down", Limit: Limit{Rate: 1, Period: time.Minute}}
	for range 3 {
		if _, ok := l.Allow(context.Background(), p, "s"); !ok {
			t.Fatal("refused with the store down")
		}
	}
	if _, locked := l.LockedOut(context.Background(), p, "s"); locked {
		t.Fatal("locked out with the store down")
	}
	if got := testutil.ToFloat64(events.WithLabelValues("down", OutcomeStoreUnavailable)); got != 4 {
		t.Fatalf("store_unavailable events %v", got)
	}
}
