// Package coalesce runs one piece of work for a key at a time across every instance: callers
// that arrive while it runs (here or on another instance sharing the Redis) wait for it and
// share its outcome instead of doing the work again. Within an instance singleflight joins the
// callers; across instances a Redis lock elects the runner, which publishes its outcome for the
// instances that waited.
package coalesce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// Group coalesces work by key.
type Group struct {
	rdb     redis.UniversalClient
	prefix  string
	lockTTL time.Duration // how long a dead runner blocks its key
	sf      singleflight.Group
	events  *prometheus.CounterVec // role: ran, joined_local, joined_remote
}

func New(rdb redis.UniversalClient, prefix string, lockTTL time.Duration, events *prometheus.CounterVec) *Group {
	if rdb == nil || lockTTL <= 0 || events == nil {
		panic("coalesce.New: missing dependency")
	}
	return &Group{rdb: rdb, prefix: prefix + "coalesce:", lockTTL: lockTTL, events: events}
}

// outcome is what a runner publishes: its error, as the domain error it was (or none).
type outcome struct {
	OK      bool   `json:"ok"`
	Kind    int    `json:"kind"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Do runs fn for key, or waits for the run already under way and returns its outcome. name
// labels the metric (e.g. "payment_options").
func (g *Group) Do(ctx context.Context, name, key string, fn func(context.Context) error) error {
	led := false // only the leader's own closure runs, so only the leader sees this set
	_, err, _ := g.sf.Do(key, func() (any, error) {
		led = true
		return nil, g.acrossInstances(ctx, name, key, fn)
	})
	if !led {
		g.events.WithLabelValues(name, "joined_local").Inc()
	}
	return err
}

func (g *Group) acrossInstances(ctx context.Context, name, key string, fn func(context.Context) error) error {
	// One hash tag for the lock and the results, so in a Redis Cluster they live on one node
	// and finish's pipeline keeps its order (outcome written before the lock goes).
	lock, results := g.prefix+"{"+key+"}:lock", g.prefix+"{"+key+"}:result:"
	for {
		owner := randomID()
		ok, err := g.rdb.SetNX(ctx, lock, owner, g.lockTTL).Result()
		if err != nil {
			// Redis is down: coalesce within this instance only (singleflight already joined
			// its callers). Sharing across instances saves upstream calls; it is not worth
			// failing reads for.
			g.events.WithLabelValues(name, "ran_without_redis").Inc()
			runCtx, cancel := detached(ctx)
			defer cancel()
			return fn(runCtx)
		}
		if ok {
			g.events.WithLabelValues(name, "ran").Inc()
			runCtx, cancel := detached(ctx)
			t := &tail{}
			runErr := fn(context.WithValue(runCtx, tailKey{}, t))
			cancel()
			g.finish(context.WithoutCancel(ctx), lock, owner, results+owner, runErr, t)
			return runErr
		}
		holder, err := g.rdb.Get(ctx, lock).Result()
		if errors.Is(err, redis.Nil) {
			continue // released between our SET NX and GET: try to run it ourselves
		}
		if err != nil {
			continue // Redis failed: the next SET NX tells whether to run here alone
		}
		if err := g.waitFor(ctx, lock, holder); err != nil {
			return err
		}
		raw, err := g.rdb.Get(ctx, results+holder).Bytes()
		if err != nil {
			continue // the runner died without publishing: run it ourselves
		}
		g.events.WithLabelValues(name, "joined_remote").Inc()
		return decodeOutcome(raw)
	}
}

// decodeOutcome turns a published outcome back into the runner's result. What Redis hands
// back is checked like any outside input: an outcome that does not parse, or names a kind or
// code we do not have, is an internal error rather than a status nobody mapped.
func decodeOutcome(raw []byte) error {
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		return fmt.Errorf("coalesce: unreadable outcome: %w", err)
	}
	if o.OK {
		return nil
	}
	if !domain.Kind(o.Kind).Valid() || o.Code == "" {
		return fmt.Errorf("coalesce: outcome with unknown kind %d or no code", o.Kind)
	}
	return &domain.Error{Kind: domain.Kind(o.Kind), Code: o.Code, Message: o.Message, Field: o.Field,
		Err: errors.New("outcome of a coalesced run on another instance")}
}

// waitFor polls until the holder's lock is gone.
func (g *Group) waitFor(ctx context.Context, lock, holder string) error {
	t := time.NewTicker(15 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cur, err := g.rdb.Get(ctx, lock).Result()
		if errors.Is(err, redis.Nil) || (err == nil && cur != holder) {
			return nil
		}
		if err != nil {
			return nil // Redis failed while we waited: stop waiting; the caller tries again
		}
	}
}

// finish publishes the run's outcome, sends what the run deferred (Defer), then releases the
// lock if it is still ours, in one round trip (a pipeline runs in order: waiters see the lock
// go only after the outcome is there).
func (g *Group) finish(ctx context.Context, lock, owner, resultKey string, err error, t *tail) {
	o := outcome{OK: err == nil}
	if err != nil {
		e := domain.As(err)
		o.Kind, o.Code, o.Message, o.Field = int(e.Kind), e.Code, e.Message, e.Field
	}
	raw, _ := json.Marshal(o)
	t.mu.Lock()
	deferred := t.cmds
	t.cmds, t.closed = nil, true // a Defer from a goroutine the run left behind sends its own
	t.mu.Unlock()
	var after []func()
	_, _ = g.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, resultKey, raw, time.Minute)
		for _, f := range deferred {
			if a := f(p); a != nil {
				after = append(after, a)
			}
		}
		release.Eval(ctx, p, []string{lock}, owner) // EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT
		return nil
	})
	for _, a := range after {
		a()
	}
}

// A run's work can hand Redis commands it would otherwise send in a round trip of their own
// (a cache invalidation after a write, say) to the runner's closing pipeline: one round trip
// fewer per run, and the commands still go out before anyone sees the run end.
type tailKey struct{}

type tail struct {
	mu     sync.Mutex
	cmds   []func(redis.Pipeliner) func()
	closed bool
}

// Defer queues f for the closing pipeline of the coalesced run that ctx belongs to and
// reports true; outside a run (or once its pipeline has gone) it does nothing and reports
// false, and the caller sends its commands itself. f adds commands to p; the func it returns,
// if not nil, runs after the pipeline, to look at their results.
func Defer(ctx context.Context, f func(p redis.Pipeliner) (after func())) bool {
	t, ok := ctx.Value(tailKey{}).(*tail)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.cmds = append(t.cmds, f)
	return true
}

// detached keeps ctx's values and deadline but not its cancellation: others wait on this run,
// so the caller that started it going away must not cancel it, yet it ends when the request
// budget it started with does (REQUEST_TIMEOUT).
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, deadline)
	}
	return d, func() {}
}

var release = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
