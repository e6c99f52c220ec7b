// Package upstream is the HTTP plumbing every gateway shares: a timeout on each attempt, the
// caller's context honoured, retries only where they are safe (5xx or a network error, with
// the very same request and so the same idempotency key) with exponential backoff and jitter,
// a metric per attempt, and errors that never carry the URL (it may hold a token).
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/tracing"
)

// maxResponseBytes caps what is read of an upstream answer.
const maxResponseBytes = 1 << 20

// Client calls one upstream.
type Client struct {
	name        string
	http        *http.Client
	timeout     time.Duration
	maxAttempts int
	metrics     *metrics.Metrics
	log         *zap.Logger
	// backoff returns a fresh policy per call; tests shorten it.
	backoff  func() backoff.BackOff
	breakers *breakers
}

// Options configures a Client.
type Options struct {
	Name        string        // the upstream label, e.g. "gopay"
	Timeout     time.Duration // per attempt
	MaxAttempts int
	Metrics     *metrics.Metrics
	Log         *zap.Logger
	Transport   http.RoundTripper // nil: a dedicated transport with TLS verification on
	// InitialBackoff is the first retry delay (default 100ms); later ones double, with ±50% jitter.
	InitialBackoff time.Duration
	// Breaker opens an operation's circuit after repeated failures (zero: DefaultBreaker).
	Breaker BreakerSettings
}

func New(o Options) *Client {
	if o.Name == "" || o.Timeout <= 0 || o.MaxAttempts < 1 || o.Metrics == nil || o.Log == nil {
		panic("upstream.New: incomplete options")
	}
	if o.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		o.Transport = t
	}
	if o.Breaker == (BreakerSettings{}) {
		o.Breaker = DefaultBreaker
	}
	initial := o.InitialBackoff
	if initial <= 0 {
		initial = 100 * time.Millisecond
	}
	return &Client{
		name:        o.Name,
		http:        &http.Client{Transport: o.Transport, CheckRedirect: noRedirects},
		timeout:     o.Timeout,
		maxAttempts: o.MaxAttempts,
		metrics:     o.Metrics,
		log:         o.Log,
		breakers: &breakers{upstream: o.Name, settings: o.Breaker, metrics: o.Metrics, log: o.Log,
			ops: map[string]*gobreaker.CircuitBreaker[*Response]{}},
		backoff: func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval = initial
			b.MaxInterval = 2 * time.Second
			b.RandomizationFactor = 0.5
			return b
		},
	}
}

// An API answers; it does not redirect. Following a redirect could send credentials elsewhere.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Request is one logical upstream call. Every attempt sends exactly these bytes and headers,
// plus what Prepare sets.
type Request struct {
	Operation string // metric label, e.g. "bank_details"
	Method    string
	URL       string
	Header    http.Header
	Body      []byte
	// Prepare, if set, completes each attempt's headers (a copy of Header): a fresh timestamp
	// and signature, or a fresh external id where the upstream forbids reusing one. An error
	// ends the call without sending.
	Prepare func(ctx context.Context, h http.Header) error
}

// Response is the final answer of a call.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req and returns the first non-5xx answer, whatever its status. After the last
// attempt fails it returns a domain error: KindTimeout when the upstream did not answer in
// time, KindUnavailable otherwise.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	attempt := 0
	op := func() (*Response, error) {
		attempt++
		resp, outcome, err := c.guard(ctx, req, attempt)
		var pe *prepareError
		if errors.As(err, &pe) {
			return nil, backoff.Permanent(err)
		}
		if err == nil && resp.Status < 500 {
			return resp, nil
		}
		if err == nil {
			if resp.Status == http.StatusGatewayTimeout {
				outcome = metrics.OutcomeTimeout // the upstream's own gateway gave up waiting
			}
			err = fmt.Errorf("status %d", resp.Status)
		}
		if ctx.Err() != nil {
			return nil, backoff.Permanent(&attemptError{outcome: outcome, err: ctx.Err()})
		}
		logging.From(ctx, c.log).With(zap.String("upstream", c.name)).Warn("upstream attempt failed", zap.String("operation", req.Operation),
			zap.Int("attempt", attempt), zap.String("outcome", outcome), zap.Error(err))
		return nil, &attemptError{outcome: outcome, err: err}
	}
	resp, err := backoff.Retry(ctx, op, backoff.WithBackOff(budgeted{BackOff: c.backoff(), ctx: ctx, attempt: c.timeout}), backoff.WithMaxTries(uint(c.maxAttempts)),
		backoff.WithMaxElapsedTime(0))
	if err == nil {
		return resp, nil
	}
	var pe *prepareError
	if errors.As(err, &pe) {
		return nil, pe.err
	}
	var ae *attemptError
	kind, code, msg := domain.KindUnavailable, domain.CodeUpstreamUnavailable, "the payment provider is unavailable; retry later"
	if errors.As(err, &ae) && ae.outcome == metrics.OutcomeTimeout || errors.Is(err, context.DeadlineExceeded) {
		kind, code, msg = domain.KindTimeout, domain.CodeUpstreamTimeout, "the payment provider did not answer in time; retry later"
	}
	return nil, domain.E(kind, code, msg, fmt.Errorf("%s %s after %d attempts: %w", c.name, req.Operation, attempt, err))
}

// budgeted stops retrying when the request's deadline could not fit the wait and one more
// whole attempt: a retry that will be cut short only holds the client longer, and the answer
// (503 or 504) is better given while there is time to give it.
type budgeted struct {
	backoff.BackOff
	ctx     context.Context //nolint:containedctx // the deadline of the call it paces
	attempt time.Duration
}

func (b budgeted) NextBackOff() time.Duration {
	next := b.BackOff.NextBackOff()
	if deadline, ok := b.ctx.Deadline(); ok && next != backoff.Stop && time.Until(deadline)-next < b.attempt {
		return backoff.Stop
	}
	return next
}

type attemptError struct {
	outcome string
	err     error
}

func (e *attemptError) Error() string { return e.outcome + ": " + e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// prepareError ends a call before anything is sent, for good: Prepare failed, or the
// operation's circuit is open (breaker.go). Retrying now would not help.
type prepareError struct{ err error }

func (e *prepareError) Error() string { return "prepare: " + e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }

func (c *Client) attempt(ctx context.Context, req Request, number int) (resp *Response, outcome string, err error) {
	start := time.Now()
	// One span per attempt, named by upstream and operation. Its attributes are those labels,
	// the attempt number and the outcome: never the URL (a query may hold a token) or a header.
	ctx, span := tracing.Tracer().Start(ctx, "upstream "+c.name+" "+req.Operation, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("upstream", c.name), attribute.String("operation", req.Operation), attribute.Int("attempt", number)))
	defer func() {
		c.metrics.UpstreamRequests.WithLabelValues(c.name, req.Operation, outcome).Inc()
		c.metrics.UpstreamDuration.WithLabelValues(c.name, req.Operation, outcome).Observe(time.Since(start).Seconds())
		span.SetAttributes(attribute.String("outcome", outcome))
		if resp != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.Status))
		}
		if outcome != metrics.OutcomeOK && outcome != metrics.OutcomeClientError {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
	}()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, metrics.OutcomeNetworkError, errors.New("cannot build request")
	}
	for k, vs := range req.Header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	if req.Prepare != nil {
		if err := req.Prepare(ctx, hreq.Header); err != nil {
			return nil, metrics.OutcomeNetworkError, &prepareError{err: err}
		}
	}
	// W3C traceparent, so the provider's traces (and ours) join up. No upstream signs it.
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(hreq.Header))
	hres, err := c.http.Do(hreq)
	if err != nil {
		return nil, classify(ctx, err), redact(err)
	}
	defer func() { _ = hres.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(hres.Body, maxResponseBytes))
	if err != nil {
		return nil, classify(ctx, err), redact(err)
	}
	resp = &Response{Status: hres.StatusCode, Header: hres.Header, Body: body}
	switch {
	case resp.Status >= 500:
		return resp, metrics.OutcomeServerError, nil
	case resp.Status >= 400:
		return resp, metrics.OutcomeClientError, nil
	}
	return resp, metrics.OutcomeOK, nil
}

func classify(ctx context.Context, err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return metrics.OutcomeTimeout
	}
	return metrics.OutcomeNetworkError
}

// redact drops the URL that net/http puts in its errors: a query may carry a token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
