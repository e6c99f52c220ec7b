package app_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A link request sent with a W3C traceparent becomes one trace: the HTTP server span, the
// GoPay attempt under it, and the PostgreSQL and Redis calls; the request's log lines carry
// the trace id; and no span attribute carries a token, an account number or an auth code.
func TestLinkRequestTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	in := start(t, newEnv(t).with("TRACING", "on")) // no OTLP endpoint here: the test's provider records
	sb := in.app.SandboxURL()
	auth := in.login(sb, "traced")
	number := "4455667788"
	token := accountToken(t, sb, number)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+token+`"}`, "Authorization", auth,
		"Request-Id", "traced-link-0001", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	var spans []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			spans = append(spans, s)
		}
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
		for _, a := range s.Attributes {
			v := a.Value.String()
			for _, secret := range []string{token, number, strings.TrimPrefix(auth, "Bearer ")} {
				if strings.Contains(v, secret) {
					t.Errorf("span %q attribute %s carries a secret", s.Name, a.Key)
				}
			}
		}
	}
	server, ok := byName["POST /v1/bank-accounts"]
	if !ok || server.SpanKind != trace.SpanKindServer {
		t.Fatalf("no server span for the route among %d spans: %v", len(spans), names(spans))
	}
	up, ok := byName["upstream gopay bank_details"]
	if !ok || up.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Fatalf("no GoPay attempt span under the server span: %v", names(spans))
	}
	var db, cache bool
	for _, s := range spans {
		for _, a := range s.Attributes {
			db = db || a.Key == "db.system" && a.Value.String() == "postgresql" || string(a.Key) == "db.system.name" && a.Value.String() == "postgresql"
			cache = cache || (a.Key == "db.system" || a.Key == "db.system.name") && a.Value.String() == "redis"
		}
	}
	if !db || !cache {
		t.Errorf("PostgreSQL span %v, Redis span %v: want both in the trace (%v)", db, cache, names(spans))
	}
	found := false
	for _, e := range in.logs.All() {
		if e.Message == "request" && e.ContextMap()["trace_id"] == traceID {
			found = true
		}
	}
	if !found {
		t.Error("the request's log line does not carry its trace id")
	}
}

func names(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
