// Package linkcache keeps each user's GoPay link and payment options, as last read from
// PostgreSQL, in this instance's memory for a short time, so a burst of payment-option reads
// for one user costs one query instead of one each.
//
// Coherence across instances: every write through the cache drops the user's entry here and
// publishes the user's id on a Redis channel; every instance drops the entry when the message
// arrives, usually within a millisecond of the write. Messages can be lost (Redis restarts, a
// dropped subscription), so no entry is ever served more than TTL after it was read: TTL is
// the bound on staleness whatever the network does, and the channel makes it rare.
//
// Staleness is harmless for what reads do with these values: option tokens stay valid for the
// freshness window the service already allows (PAYMENT_OPTIONS_MAX_AGE), and a payment, or a
// caller that asks for refresh=true, refreshes from GoPay and writes through the cache.
package linkcache

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/coalesce"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/service"
)

// Store is a service.LinkStore that serves WithOptions from memory for up to TTL.
type Store struct {
	service.LinkStore // reads other than WithOptions pass through

	ttl     time.Duration
	max     int
	rdb     redis.UniversalClient
	channel string
	origin  string                 // this instance, so it skips its own messages (it already forgot)
	events  *prometheus.CounterVec // outcome: hit, miss, invalidated, publish_failed
	log     *zap.Logger
	now     func() time.Time

	mu      sync.Mutex
	entries map[uuid.UUID]entry
	swept   time.Time // when makeRoomLocked last dropped expired entries
	// gen counts invalidations seen. A read that began before one is not kept: it may hold
	// what the write replaced.
	gen atomic.Uint64
	// live is set once the channel is subscribed. Before that (or with TTL 0) nothing is kept.
	live atomic.Bool
}

type entry struct {
	link   domain.GoPayLink
	opts   []domain.PaymentOption
	readAt time.Time
}

// Options configure a Store.
type Options struct {
	TTL        time.Duration // 0: pass every read through
	MaxEntries int           // users kept; when full, expired entries go first, then any
	Redis      redis.UniversalClient
	KeyPrefix  string
	Events     *prometheus.CounterVec
	Log        *zap.Logger
}

func New(next service.LinkStore, o Options) *Store {
	if next == nil || o.Redis == nil || o.Events == nil || o.Log == nil || o.TTL < 0 || o.MaxEntries <= 0 {
		panic("linkcache.New: missing dependency")
	}
	return &Store{LinkStore: next, ttl: o.TTL, max: o.MaxEntries, rdb: o.Redis, channel: o.KeyPrefix + "links:changed",
		origin: uuid.NewString(), events: o.Events, log: o.Log, now: time.Now, entries: map[uuid.UUID]entry{}}
}

// Run follows other instances' writes until ctx ends. Until it has subscribed, the Store
// keeps nothing; after each (re)subscription it forgets everything, since messages sent
// while it was not subscribed are lost.
func (s *Store) Run(ctx context.Context) {
	if s.ttl == 0 {
		return
	}
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer func() { _ = ps.Close() }()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			s.live.Store(false)
			return
		case m, ok := <-ch:
			if !ok {
				s.live.Store(false)
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				s.forgetAll()
				s.live.Store(m.Kind == "subscribe")
			case *redis.Message:
				origin, user, _ := strings.Cut(m.Payload, " ")
				if id, err := uuid.Parse(user); err == nil && origin != s.origin {
					s.forget(id)
				}
			}
		}
	}
}

// WithOptions serves the user's link and options from memory when read less than TTL ago.
func (s *Store) WithOptions(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	if !s.live.Load() {
		return s.LinkStore.WithOptions(ctx, userID)
	}
	s.mu.Lock()
	e, ok := s.entries[userID]
	s.mu.Unlock()
	if ok && s.now().Sub(e.readAt) < s.ttl {
		s.events.WithLabelValues("hit").Inc()
		return e.link, slices.Clip(e.opts), nil
	}
	s.events.WithLabelValues("miss").Inc()
	gen, readAt := s.gen.Load(), s.now()
	l, opts, err := s.LinkStore.WithOptions(ctx, userID)
	if err != nil {
		return l, opts, err
	}
	s.mu.Lock()
	if s.gen.Load() == gen {
		if len(s.entries) >= s.max {
			s.makeRoomLocked(readAt)
		}
		s.entries[userID] = entry{link: l, opts: opts, readAt: readAt}
	}
	s.mu.Unlock()
	return l, slices.Clip(opts), nil
}

// WithOptionsFresh drops this instance's entry and reads through, for a caller that must see
// a write another instance just made (its invalidation message may not have arrived yet).
func (s *Store) WithOptionsFresh(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	s.forget(userID)
	return s.WithOptions(ctx, userID)
}

func (s *Store) Save(ctx context.Context, l domain.GoPayLink) (domain.GoPayLink, error) {
	defer s.changed(ctx, l.UserID)
	return s.LinkStore.Save(ctx, l)
}

func (s *Store) SetStatus(ctx context.Context, userID uuid.UUID, status domain.LinkStatus) error {
	defer s.changed(ctx, userID)
	return s.LinkStore.SetStatus(ctx, userID, status)
}

func (s *Store) Activate(ctx context.Context, userID uuid.UUID, customerToken string) error {
	defer s.changed(ctx, userID)
	return s.LinkStore.Activate(ctx, userID, customerToken)
}

func (s *Store) ReplaceOptions(ctx context.Context, userID uuid.UUID, linkID int64, opts []domain.PaymentOption, refreshedAt time.Time) error {
	defer s.changed(ctx, userID)
	return s.LinkStore.ReplaceOptions(ctx, userID, linkID, opts, refreshedAt)
}

// changed runs after every write, whether or not it reported success: a write whose answer
// was lost may still have committed. It drops the entry here and tells the other instances
// ("<origin> <user id>").
func (s *Store) changed(ctx context.Context, userID uuid.UUID) {
	if s.ttl == 0 {
		return
	}
	s.forget(userID)
	ctx, msg := context.WithoutCancel(ctx), s.origin+" "+userID.String()
	// A refresh writes inside a coalesced run, which ends with a Redis round trip of its own:
	// the message rides on it.
	if coalesce.Defer(ctx, func(p redis.Pipeliner) func() {
		cmd := p.Publish(ctx, s.channel, msg)
		return func() { s.published(cmd.Err()) }
	}) {
		return
	}
	s.published(s.rdb.Publish(ctx, s.channel, msg).Err())
}

func (s *Store) published(err error) {
	if err != nil {
		// Other instances keep what they read for at most TTL; that is the bound, not this message.
		s.events.WithLabelValues("publish_failed").Inc()
		s.log.Debug("linkcache: publish failed", zap.Error(err))
	}
}

func (s *Store) forget(userID uuid.UUID) {
	s.mu.Lock()
	s.gen.Add(1)
	if _, ok := s.entries[userID]; ok {
		delete(s.entries, userID)
		s.events.WithLabelValues("invalidated").Inc()
	}
	s.mu.Unlock()
}

func (s *Store) forgetAll() {
	s.mu.Lock()
	s.gen.Add(1)
	clear(s.entries)
	s.mu.Unlock()
}

// makeRoomLocked frees a place for a new entry: entries past TTL first (swept at most once a
// TTL, so a full cache of live entries does not scan on every miss), else any one entry.
func (s *Store) makeRoomLocked(now time.Time) {
	if now.Sub(s.swept) >= s.ttl {
		s.swept = now
		for id, e := range s.entries {
			if now.Sub(e.readAt) >= s.ttl {
				delete(s.entries, id)
			}
		}
	}
	for id := range s.entries {
		if len(s.entries) < s.max {
			return
		}
		delete(s.entries, id)
	}
}
