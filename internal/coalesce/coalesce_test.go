package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

func newGroups(t *testing.T, n int) ([]*Group, *prometheus.CounterVec) {
	t.Helper()
	_, rdb, prefix := testenv.Redis(t)
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"operation", "role"})
	var gs []*Group
	for range n {
		gs = append(gs, New(rdb, prefix, 5*time.Second, events))
	}
	return gs, events
}

// Callers on several "instances" (groups sharing Redis) overlapping one run share it, error
// included, and the counts say who ran and who joined.
func TestOneRunAcrossInstances(t *testing.T) {
	gs, events := newGroups(t, 3)
	var runs atomic.Int32
	want := domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable, "down", nil)
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Go(func() {
			errs[i] = gs[i%3].Do(context.Background(), "op", "k", func(context.Context) error {
				runs.Add(1)
				time.Sleep(200 * time.Millisecond)
				return want
			})
		})
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("%d runs, want 1", runs.Load())
	}
	for _, err := range errs {
		if e := domain.As(err); e.Code != domain.CodeUpstreamUnavailable || e.Kind != domain.KindUnavailable {
			t.Fatalf("outcome not shared: %v", err)
		}
	}
	ran := testutil.ToFloat64(events.WithLabelValues("op", "ran"))
	local := testutil.ToFloat64(events.WithLabelValues("op", "joined_local"))
	if ran != 1 || local != 27 {
		t.Fatalf("ran %v joined_local %v (want 1 and 27: one leader per instance, the rest join locally)", ran, local)
	}
}

// A run that is over does not answer later callers: they run again.
func TestSequentialCallsRunAgain(t *testing.T) {
	gs, _ := newGroups(t, 1)
	var runs atomic.Int32
	for range 3 {
		if err := gs[0].Do(context.Background(), "op", "k", func(context.Context) error { runs.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != 3 {
		t.Fatalf("%d runs, want 3", runs.Load())
	}
}

// A runner that dies without publishing (its lock expires) does not strand the waiters.
func TestWaitersRecoverFromADeadRunner(t *testing.T) {
	_, rdb, prefix := testenv.Redis(t)
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"operation", "role"})
	g := New(rdb, prefix, 5*time.Second, events)
	// A dead instance's lock, with 300 ms left.
	if err := rdb.Set(context.Background(), prefix+"coalesce:{k}:lock", "dead", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	ran := false
	err := g.Do(context.Background(), "op", "k", func(context.Context) error { ran = true; return errors.New("x") })
	if !ran || err == nil {
		t.Fatalf("the waiter should have run it itself: ran=%v err=%v", ran, err)
	}
}

// FuzzDecodeOutcome reads back whatever Redis could hold under an outcome key: nil, one of our
// domain errors of a real kind, or a plain (internal) error, never a panic.
func FuzzDecodeOutcome(f *testing.F) {
	for _, s := range []string{`{"ok":true}`, `{"ok":false,"kind":7,"code":"upstream_unavailable","message":"m"}`,
		`{"ok":false,"kind":99,"code":"x"}`, `{"ok":false,"kind":-1,"code":"x"}`, `{"ok":false}`, `null`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := decodeOutcome(raw)
		var de *domain.Error
		if errors.As(err, &de) && (!de.Kind.Valid() || de.Code == "") {
			t.Fatalf("invalid domain error from %q: %+v", raw, de)
		}
	})
}

// Commands a run defers go out in the runner's closing round trip: they are sent once the run
// returns (not before), their results reach the run's after funcs, and outside a run Defer
// refuses so the caller sends them itself.
func TestDeferredCommandsRideOnTheClosingRoundTrip(t *testing.T) {
	_, rdb, prefix := testenv.Redis(t)
	g := New(rdb, prefix, 5*time.Second, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"operation", "role"}))
	ctx := context.Background()
	key := prefix + "deferred"
	var sentDuringRun bool
	var result string
	err := g.Do(ctx, "op", "k", func(ctx context.Context) error {
		ok := Defer(ctx, func(p redis.Pipeliner) func() {
			cmd := p.Set(ctx, key, "v", time.Minute)
			return func() { result = cmd.Val() }
		})
		if !ok {
			t.Error("Defer inside a run refused")
		}
		sentDuringRun = rdb.Exists(ctx, key).Val() != 0
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sentDuringRun {
		t.Error("the deferred command went out before the run ended")
	}
	if got := rdb.Get(ctx, key).Val(); got != "v" {
		t.Errorf("deferred SET not sent: %q", got)
	}
	if result != "OK" {
		t.Errorf("after func saw %q, want the command's result OK", result)
	}
	if Defer(ctx, func(redis.Pipeliner) func() { return nil }) {
		t.Error("Defer outside a run accepted a command nobody will send")
	}
}
