package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/metrics"
)

// Each attempt is a client span carrying upstream, operation, attempt and outcome (never the
// URL), and the request carries W3C traceparent with the caller's trace.
func TestAttemptsAreSpansAndPropagateTheTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
		if len(got) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := New(Options{Name: "gopay", Timeout: time.Second, MaxAttempts: 2, Metrics: metrics.New(), Log: zap.NewNop(), InitialBackoff: time.Millisecond})
	ctx, parent := otel.Tracer("test").Start(context.Background(), "request")
	if _, err := c.Do(ctx, Request{Operation: "bank_details", Method: "POST", URL: srv.URL + "/v1/x?token=secret-in-query"}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	trace := parent.SpanContext().TraceID().String()
	if len(got) != 2 || !strings.Contains(got[0], trace) || !strings.Contains(got[1], trace) {
		t.Fatalf("traceparent sent %q, want the caller's trace %s on every attempt", got, trace)
	}
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "upstream gopay bank_details" {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(attempts))
	}
	for i, s := range attempts {
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
			if strings.Contains(a.Value.String(), "secret-in-query") {
				t.Errorf("span attribute %s carries the URL's query", a.Key)
			}
		}
		want := map[int]string{0: "server_error", 1: "ok"}[i]
		if attrs["upstream"] != "gopay" || attrs["operation"] != "bank_details" || attrs["outcome"] != want || s.Parent().TraceID().String() != trace {
			t.Errorf("attempt %d span: %v (parent %s)", i+1, attrs, s.Parent().TraceID())
		}
	}
}
