package linkcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// links is a LinkStore that counts reads and can run a hook inside one.
type links struct {
	service.LinkStore // nil: only what the tests call is implemented
	mu                sync.Mutex
	reads             int
	status            domain.LinkStatus
	duringRead        func()
	failWrites        bool
}

func (l *links) WithOptions(_ context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	l.mu.Lock()
	l.reads++
	hook, status := l.duringRead, l.status
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	return domain.GoPayLink{UserID: userID, Status: status}, []domain.PaymentOption{{Name: "GOPAY_WALLET", Token: "t"}}, nil
}

func (l *links) SetStatus(_ context.Context, _ uuid.UUID, status domain.LinkStatus) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failWrites {
		return errors.New("connection reset (the write may have committed)")
	}
	l.status = status
	return nil
}

func (l *links) count() int { l.mu.Lock(); defer l.mu.Unlock(); return l.reads }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Unix(1_800_000_000, 0)} }
func events() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"outcome"})
}
func read(t *testing.T, s *Store, u uuid.UUID) domain.GoPayLink {
	t.Helper()
	l, _, err := s.WithOptions(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// newStore starts a Store on the test's Redis channel (prefix) and waits until it follows it.
func newStore(t *testing.T, next service.LinkStore, prefix string, ttl time.Duration, maxEntries int, c *clock) *Store {
	t.Helper()
	_, rdb, _ := testenv.Redis(t)
	s := New(next, Options{TTL: ttl, MaxEntries: maxEntries, Redis: rdb, KeyPrefix: prefix, Events: events(), Log: zap.NewNop()})
	if c != nil {
		s.now = c.now
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if ttl > 0 {
		testenv.Eventually(t, s.live.Load, "the subscription")
	}
	return s
}

func TestServedFromMemoryForAtMostTTL(t *testing.T) {
	t.Parallel()
	_, _, prefix := testenv.Redis(t)
	c, l := newClock(), &links{}
	s := newStore(t, l, prefix, time.Second, 10, c)
	u := uuid.New()
	read(t, s, u)
	c.add(999 * time.Millisecond)
	read(t, s, u)
	if l.count() != 1 {
		t.Fatalf("%d reads reached the store within the TTL, want 1", l.count())
	}
	c.add(time.Millisecond)
	read(t, s, u)
	if l.count() != 2 {
		t.Fatalf("%d reads reached the store once the TTL passed, want 2", l.count())
	}
}

func TestAWriteOnAnotherInstanceDropsTheEntry(t *testing.T) {
	t.Parallel()
	_, _, prefix := testenv.Redis(t)
	shared := &links{status: domain.LinkActive}
	here := newStore(t, shared, prefix, time.Hour, 10, nil)
	there := newStore(t, shared, prefix, time.Hour, 10, nil)
	u := uuid.New()
	if read(t, here, u).Status != domain.LinkActive {
		t.Fatal("first read")
	}
	if err := there.SetStatus(context.Background(), u, domain.LinkInactive); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, func() bool { return read(t, here, u).Status == domain.LinkInactive }, "here to see there's write")
}

func TestAFailedWriteStillDropsTheEntry(t *testing.T) {
	t.Parallel()
	_, _, prefix := testenv.Redis(t)
	l := &links{status: domain.LinkActive}
	s := newStore(t, l, prefix, time.Hour, 10, nil)
	u := uuid.New()
	read(t, s, u)
	l.failWrites = true
	if err := s.SetStatus(context.Background(), u, domain.LinkInactive); err == nil {
		t.Fatal("want the store's error")
	}
	read(t, s, u)
	if l.count() != 2 {
		t.Fatalf("%d reads reached the store, want 2: a write that reported failure may have committed", l.count())
	}
}

// A read that started before another instance's write may carry what the write replaced; it is
// answered but not kept.
func TestAReadOverlappingAWriteIsNotKept(t *testing.T) {
	t.Parallel()
	_, _, prefix := testenv.Redis(t)
	l := &links{}
	s := newStore(t, l, prefix, time.Hour, 10, nil)
	u := uuid.New()
	l.duringRead = func() { s.forget(uuid.New()) } // as when a message arrives mid-read
	read(t, s, u)
	l.duringRead = nil
	read(t, s, u)
	if l.count() != 2 {
		t.Fatalf("%d reads reached the store, want 2: the overlapping read was kept", l.count())
	}
	read(t, s, u)
	if l.count() != 2 {
		t.Fatalf("%d reads reached the store, want 2: a quiet read was not kept", l.count())
	}
}

func TestOffOrNotYetSubscribedPassesEveryReadThrough(t *testing.T) {
	t.Parallel()
	_, rdb, prefix := testenv.Redis(t)
	l := &links{}
	off := newStore(t, l, prefix, 0, 10, nil)
	notRunning := New(l, Options{TTL: time.Hour, MaxEntries: 10, Redis: rdb, KeyPrefix: prefix, Events: events(), Log: zap.NewNop()})
	u := uuid.New()
	for range 3 {
		read(t, off, u)
		read(t, notRunning, u)
	}
	if l.count() != 6 {
		t.Fatalf("%d reads reached the store, want all 6", l.count())
	}
}

func TestEntriesAreBounded(t *testing.T) {
	t.Parallel()
	_, _, prefix := testenv.Redis(t)
	c, l := newClock(), &links{}
	s := newStore(t, l, prefix, time.Second, 3, c)
	for range 50 {
		read(t, s, uuid.New())
		c.add(10 * time.Millisecond)
	}
	s.mu.Lock()
	n := len(s.entries)
	s.mu.Unlock()
	if n > 3 {
		t.Fatalf("%d entries kept, want at most 3", n)
	}
}
