// Package ratelimit bounds how often a caller may do something, across every instance: the
// counters live in Redis (GCRA, go-redis/redis_rate), so three instances behind a balancer
// share one budget per subject. It also keeps failure budgets for lockouts: after repeated
// failures a subject is refused outright until the budget refills.
//
// When Redis cannot be reached the limiter fails open (the request is allowed, the event is
// counted and logged): a limit protects GoPay and our credentials from abuse, and refusing
// every sign-in while Redis restarts would be an outage of its own.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/logging"
)

// Limit is a budget: Rate events per Period, all of which may come at once. A zero Rate
// disables the policy.
type Limit struct {
	Rate   int
	Period time.Duration
}

func (l Limit) String() string {
	if l.Rate == 0 {
		return "off"
	}
	return strconv.Itoa(l.Rate) + "/" + l.Period.String()
}

// ParseLimit reads "N/duration", e.g. "120/1m" or "5/15m"; "0" or "off" disables.
func ParseLimit(s string) (Limit, error) {
	if s == "0" || s == "off" {
		return Limit{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	rate, err := strconv.Atoi(n)
	if !ok || err != nil || rate < 1 {
		return Limit{}, fmt.Errorf("want N/duration such as 120/1m, or off; got %q", s)
	}
	period, err := time.ParseDuration(d)
	if err != nil || period < time.Second {
		return Limit{}, fmt.Errorf("want N/duration with a duration of 1s or more; got %q", s)
	}
	return Limit{Rate: rate, Period: period}, nil
}

// UnmarshalText parses a Limit as ParseLimit does, so a configuration can hold one directly.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

func (l Limit) gcra() redis_rate.Limit {
	return redis_rate.Limit{Rate: l.Rate, Burst: l.Rate, Period: l.Period}
}

// interval is the time one spent event takes to come back.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// Policy is a named limit; the name is the metric label and part of the Redis key.
type Policy struct {
	Name  string
	Limit Limit
}

// Outcomes, the values of the metric's outcome label.
const (
	OutcomeLimited          = "limited"           // over the rate: 429
	OutcomeLockedOut        = "locked_out"        // failure budget spent: 429 until it refills
	OutcomeFailure          = "failure"           // a failure spent from a failure budget
	OutcomeStoreUnavailable = "store_unavailable" // Redis unreachable: allowed (fail open)
)

// Limiter checks policies against Redis.
type Limiter struct {
	gcra   *redis_rate.Limiter
	events *prometheus.CounterVec // policy, outcome
	log    *zap.Logger
	// lastWarned is when "store unavailable" was last logged (unix ns): during an outage every
	// request hits it, so the log says it once per warnEvery and the metric counts each.
	lastWarned atomic.Int64
}

const warnEvery = 10 * time.Second

// New returns a limiter whose keys all live under prefix.
func New(rdb redis.UniversalClient, prefix string, events *prometheus.CounterVec, log *zap.Logger) *Limiter {
	if rdb == nil || events == nil || log == nil {
		panic("ratelimit.New: missing dependency")
	}
	return &Limiter{gcra: redis_rate.NewLimiter(prefixed{rdb, prefix}), events: events, log: log}
}

// Subject turns what identifies a caller into a key part: hashed, so a secret (an auth code)
// or a personal value (an address) never sits in a Redis key name, and any length fits.
func Subject(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Allow spends one event of subject's budget under p. It reports whether the event may go
// ahead, and if not, how long until it could.
func (l *Limiter) Allow(ctx context.Context, p Policy, subject string) (retryAfter time.Duration, ok bool) {
	if p.Limit.Rate == 0 {
		return 0, true
	}
	res, err := l.gcra.Allow(ctx, p.Name+":"+subject, p.Limit.gcra())
	if err != nil {
		l.unavailable(ctx, p, err)
		return 0, true
	}
	if res.Allowed == 0 {
		l.events.WithLabelValues(p.Name, OutcomeLimited).Inc()
		return res.RetryAfter, false
	}
	return 0, true
}

// LockedOut reports whether subject has spent its failure budget under p, without spending
// anything, and how long until one more attempt is allowed.
func (l *Limiter) LockedOut(ctx context.Context, p Policy, subject string) (retryAfter time.Duration, locked bool) {
	if p.Limit.Rate == 0 {
		return 0, false
	}
	res, err := l.gcra.AllowN(ctx, p.Name+":"+subject, p.Limit.gcra(), 0)
	if err != nil {
		l.unavailable(ctx, p, err)
		return 0, false
	}
	// With nothing spent, ResetAfter is when the whole budget is back; one more event fits
	// once all but one interval of it has passed.
	wait := res.ResetAfter - time.Duration(p.Limit.Rate-1)*p.Limit.interval()
	if wait <= 0 {
		return 0, false
	}
	l.events.WithLabelValues(p.Name, OutcomeLockedOut).Inc()
	return wait, true
}

// Failed spends one failure of subject's budget under p.
func (l *Limiter) Failed(ctx context.Context, p Policy, subject string) {
	if p.Limit.Rate == 0 {
		return
	}
	if _, err := l.gcra.Allow(ctx, p.Name+":"+subject, p.Limit.gcra()); err != nil {
		l.unavailable(ctx, p, err)
		return
	}
	l.events.WithLabelValues(p.Name, OutcomeFailure).Inc()
}

func (l *Limiter) unavailable(ctx context.Context, p Policy, err error) {
	l.events.WithLabelValues(p.Name, OutcomeStoreUnavailable).Inc()
	if errors.Is(err, context.Canceled) {
		return
	}
	now, last := time.Now().UnixNano(), l.lastWarned.Load()
	if now-last < int64(warnEvery) || !l.lastWarned.CompareAndSwap(last, now) {
		return
	}
	logging.From(ctx, l.log).Warn("rate limits not enforced: store unavailable (logged at most every 10s; "+
		"bff_rate_limit_events_total{outcome=\"store_unavailable\"} counts each)", zap.String("policy", p.Name), zap.Error(err))
}

// prefixed hands redis_rate a client whose keys live under our prefix: redis_rate names its
// keys "rate:<key>" and has no option for a prefix of its own.
type prefixed struct {
	redis.UniversalClient
	prefix string
}

func (p prefixed) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.prefix + k
	}
	return out
}

func (p prefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.Eval(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalSha(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalRO(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalShaRO(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.UniversalClient.Del(ctx, p.keys(keys)...)
}
