package upstream

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/metrics"
)

// BreakerSettings decide when an upstream operation's circuit opens: when at least MinRequests
// attempts in the last Window failed in a FailureRatio or more (5xx, network errors, timeouts;
// a 4xx is an answer, not a failure). Open, the operation fails at once with 503
// upstream_unavailable and Retry-After for OpenFor; then one probe is let through, and its
// outcome closes the circuit or opens it again.
type BreakerSettings struct {
	MinRequests  uint32
	FailureRatio float64
	Window       time.Duration
	OpenFor      time.Duration
}

// DefaultBreaker is used when Options.Breaker is zero.
var DefaultBreaker = BreakerSettings{MinRequests: 10, FailureRatio: 0.5, Window: 30 * time.Second, OpenFor: 10 * time.Second}

// breakers holds one circuit per operation of one upstream: a dead inquiry endpoint must not
// stop bindings, and the other way round.
type breakers struct {
	upstream string
	settings BreakerSettings
	metrics  *metrics.Metrics
	log      *zap.Logger

	mu  sync.Mutex
	ops map[string]*gobreaker.CircuitBreaker[*Response]
}

// errServerStatus makes a 5xx answer count as a failure; the answer itself is still returned.
var errServerStatus = errors.New("upstream answered 5xx")

// notCounted wraps an attempt that ended because our caller's request ended (it went away or
// its budget ran out): that says nothing about the upstream.
type notCounted struct{ err error }

func (e *notCounted) Error() string { return e.err.Error() }
func (e *notCounted) Unwrap() error { return e.err }

func (b *breakers) get(op string) *gobreaker.CircuitBreaker[*Response] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.ops[op]; ok {
		return cb
	}
	s := b.settings
	state := b.metrics.UpstreamCircuit.WithLabelValues(b.upstream, op)
	state.Set(0)
	cb := gobreaker.NewCircuitBreaker[*Response](gobreaker.Settings{
		Name:         b.upstream + "." + op,
		MaxRequests:  1,
		Interval:     s.Window,
		BucketPeriod: s.Window / 6, // a rolling window, not one that empties every Window
		Timeout:      s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(c.Requests)
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded: func(err error) bool {
			var nc *notCounted
			var pe *prepareError
			return errors.As(err, &nc) || errors.As(err, &pe)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			state.Set(float64(circuitValue(to)))
			b.log.Warn("upstream circuit "+to.String(), zap.String("upstream", b.upstream), zap.String("operation", op),
				zap.String("from", from.String()), zap.String("to", to.String()))
		},
	})
	b.ops[op] = cb
	return cb
}

// circuitValue is the gauge's value: 0 closed, 1 half-open, 2 open.
func circuitValue(s gobreaker.State) int {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// guard runs one attempt through the operation's circuit. An open circuit answers at once
// with a permanent 503 that carries Retry-After.
func (c *Client) guard(ctx context.Context, req Request, number int) (*Response, string, error) {
	var outcome string
	resp, err := c.breakers.get(req.Operation).Execute(func() (*Response, error) {
		r, o, err := c.attempt(ctx, req, number)
		outcome = o
		switch {
		case err != nil && ctx.Err() != nil:
			return r, &notCounted{err: err}
		case err == nil && r.Status >= 500:
			return r, errServerStatus
		}
		return r, err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		c.metrics.UpstreamRequests.WithLabelValues(c.name, req.Operation, metrics.OutcomeCircuitOpen).Inc()
		e := domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable, "the payment provider is unavailable; retry later",
			errors.New(c.name+" "+req.Operation+": circuit open"))
		e.RetryAfter = c.breakers.settings.OpenFor
		return nil, metrics.OutcomeCircuitOpen, &prepareError{err: e} // permanent: nothing was sent
	}
	var nc *notCounted
	if errors.As(err, &nc) {
		err = nc.err
	}
	if errors.Is(err, errServerStatus) {
		err = nil
	}
	return resp, outcome, err
}
