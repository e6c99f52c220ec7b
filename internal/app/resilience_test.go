package app_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

// An upstream operation that keeps failing opens its circuit: callers get 503 with Retry-After
// at once and nothing reaches the upstream; after UPSTREAM_BREAKER_OPEN_FOR one probe goes
// through and, answered, closes it. The circuit is per operation, and its state is a metric.
func TestCircuitBreakerPerUpstreamOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("UPSTREAM_BREAKER_MIN_REQUESTS", "4").with("UPSTREAM_BREAKER_OPEN_FOR", "700ms")
	in := start(t, e)
	sb := in.app.SandboxURL()
	auth := in.login(sb, "breaker")
	state := func(upstream, op string) float64 {
		return testutil.ToFloat64(in.app.Metrics.UpstreamCircuit.WithLabelValues(upstream, op))
	}
	link := func(number string) response {
		return in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, number)+`"}`, "Authorization", auth)
	}

	in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{ErrorRate: 1})
	problem(t, link("5550000001"), 503, "upstream_unavailable", "") // 3 failed attempts
	problem(t, link("5550000002"), 503, "upstream_unavailable", "") // the 4th failure opens it
	if s := state("gopay", "bank_details"); s != 2 {
		t.Fatalf("circuit state %v after repeated failures, want 2 (open)", s)
	}
	calls := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails)
	began := time.Now()
	r := link("5550000003")
	if took := time.Since(began); took > 300*time.Millisecond {
		t.Fatalf("an open circuit took %v to answer; it must fail fast", took)
	}
	problem(t, r, 503, "upstream_unavailable", "")
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1 (the open period rounded up)", r.header.Get("Retry-After"))
	}
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) - calls; n != 0 {
		t.Fatalf("%d calls reached GoPay while the circuit was open", n)
	}
	// Another operation of the same upstream is not affected: signing in still works.
	if in.login(sb, "breaker-2") == "" {
		t.Fatal("sign-in failed while only bank_details was open")
	}
	if s := state("gopay", "auth_token"); s != 0 {
		t.Fatalf("auth_token circuit %v, want 0 (closed)", s)
	}

	in.app.Sandbox.ClearFaults()
	time.Sleep(800 * time.Millisecond) // past the open period: the next call is the probe
	if r := link("5550000004"); r.status != 201 {
		t.Fatalf("probe after recovery: %d %s", r.status, r.body)
	}
	if s := state("gopay", "bank_details"); s != 0 {
		t.Fatalf("circuit state %v after a good probe, want 0 (closed)", s)
	}
}

// While the inquiry's circuit is open, a payment-options read that needs a refresh serves the
// stored options marked stale (the stale policy), at once.
func TestOpenInquiryCircuitServesStaleOptions(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("UPSTREAM_BREAKER_MIN_REQUESTS", "3").with("UPSTREAM_BREAKER_OPEN_FOR", "1m"))
	auth := in.login(in.app.SandboxURL(), "breaker-stale")
	uid := userID(t, auth)
	if r := in.linkSNAP(auth, "81299990000"); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	ia := in.internalAuth()
	read := func() response {
		return in.do("GET", "/internal/v1/users/"+uid+"/payment-options?refresh=true", "", ia...)
	}
	if r := read(); r.status != 200 || r.json(t)["stale"] != false {
		t.Fatalf("first read: %d %s", r.status, r.body)
	}
	in.app.Sandbox.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ErrorRate: 1})
	for range 2 {
		if r := read(); r.status != 200 || r.json(t)["stale"] != true {
			t.Fatalf("a failed refresh must serve stale options: %d %s", r.status, r.body)
		}
	}
	calls := in.app.Sandbox.Calls(sandbox.OpSNAPInquiry)
	began := time.Now()
	r := read()
	if r.status != 200 || r.json(t)["stale"] != true || r.json(t)["stale_reason"] != "upstream_unavailable" {
		t.Fatalf("with the circuit open: %d %s", r.status, r.body)
	}
	if took := time.Since(began); took > 300*time.Millisecond {
		t.Fatalf("stale options took %v with the circuit open", took)
	}
	if n := in.app.Sandbox.Calls(sandbox.OpSNAPInquiry) - calls; n != 0 {
		t.Fatalf("%d inquiries reached GoPay with the circuit open", n)
	}
}
