package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gopay-miniapp/bff/internal/app"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/repo"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/testenv"
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
	if n := testutil.ToFloat64(in.app.Metrics.StaleOptions.WithLabelValues("upstream_unavailable", "internal")); n != 3 {
		t.Fatalf("bff_payment_options_stale_served_total %v, want 3", n)
	}
}

// With Redis down, a request that needs it fails at once, and the reads the README promises
// keep working: bank accounts, payment options (a due refresh coalesces within the instance)
// and card bindings (the B2B token is kept in process).
func TestRedisDownFailsFastAndReadsKeepWorking(t *testing.T) {
	t.Parallel()
	redisURL, stopRedis := testenv.PrivateRedis(t)
	in := start(t, newEnv(t).with("REDIS_URL", redisURL).with("PAYMENT_OPTIONS_MAX_AGE", "0"))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "redis-down")
	uid := userID(t, auth)
	if r := in.linkSNAP(auth, "81288887777"); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	link := `{"account_token":"` + accountToken(t, sb, "7770001111") + `"}`
	if r := in.do("POST", "/v1/bank-accounts", link, "Authorization", auth); r.status != 201 {
		t.Fatalf("bank account: %d %s", r.status, r.body)
	}
	ia := in.internalAuth()

	stopRedis()

	began := time.Now()
	r := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "7770002222")+`"}`,
		"Authorization", auth, "Request-Id", "redis-down-key-1")
	took := time.Since(began)
	problem(t, r, 503, "idempotency_store_unavailable", "")
	if took > 100*time.Millisecond {
		t.Fatalf("a keyed POST took %v to learn Redis is down, want well under 100 ms", took)
	}
	if r := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth); r.status != 200 {
		t.Fatalf("bank accounts without Redis: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/gopay-link/payment-options"} {
		if r := in.do("GET", path, "", "Authorization", auth); r.status != 200 || r.json(t)["stale"] != false {
			t.Fatalf("%s without Redis: %d %s", path, r.status, r.body)
		}
	}
	if r := in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...); r.status != 200 || r.json(t)["stale"] != false {
		t.Fatalf("internal payment options without Redis: %d %s", r.status, r.body)
	}
	if n := testutil.ToFloat64(in.app.Metrics.Coalesced.WithLabelValues("payment_options", "ran_without_redis")); n < 2 {
		t.Fatalf("ran_without_redis %v, want the two refreshes counted", n)
	}
	if r := in.do("POST", "/v1/card-bindings", `{"mobile_number":"081234567890"}`, "Authorization", auth); r.status != 201 {
		t.Fatalf("card binding without Redis: %d %s", r.status, r.body)
	}
}

// On SIGTERM the instance first answers /readyz 503 while it still serves everything else for
// SHUTDOWN_DELAY, so a load balancer stops sending before the listener closes; then it drains.
func TestShutdownTurnsNotReadyBeforeItStopsServing(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("SHUTDOWN_DELAY", "1s"))
	auth := in.login(in.app.SandboxURL(), "draining")
	began := time.Now()
	in.stop()
	testenv.Eventually(t, func() bool { return in.plain("GET", "/readyz", "").status == 503 }, "/readyz to fail")
	r := in.plain("GET", "/readyz", "")
	if checks := r.json(t)["checks"].(map[string]any); checks["accepting"] != "unavailable" || checks["postgres"] != "ok" {
		t.Fatalf("readiness while draining: %s", r.body)
	}
	if r := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth); r.status != 200 {
		t.Fatalf("a request during the delay: %d %s", r.status, r.body)
	}
	<-in.finished
	if took := time.Since(began); took < time.Second {
		t.Fatalf("stopped %v after SIGTERM, before SHUTDOWN_DELAY (1s)", took)
	}
}

// MIGRATE_ON_START=false (upstream mode) leaves migrations to `server migrate up`: the instance
// starts, is not ready until the database is migrated, and is ready once it is.
func TestMigrateOnStartOff(t *testing.T) {
	t.Parallel()
	upstreams := start(t, newEnv(t))
	e := newEnv(t).upstreamsAt(upstreams.app.SandboxURL()).with("MIGRATE_ON_START", "false")
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("start without migrations: %v", err)
	}
	finished := make(chan error, 1)
	go func() { finished <- a.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-finished })
	readyz := func() response {
		return (&instance{t: t, base: "http://" + a.Addr(), client: http.DefaultClient}).plain("GET", "/readyz", "")
	}
	testenv.Eventually(t, func() bool { return readyz().status != 0 }, "the listener")
	if r := readyz(); r.status != 503 || r.json(t)["checks"].(map[string]any)["migrations"] != "unavailable" {
		t.Fatalf("unmigrated database: %d %s", r.status, r.body)
	}
	pool, err := repo.Open(ctx, e["DATABASE_URL"], 1, repo.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := repo.Migrate(pool, "up"); err != nil { // what `server migrate up` runs
		t.Fatal(err)
	}
	if r := readyz(); r.status != 200 {
		t.Fatalf("after migrate up: %d %s", r.status, r.body)
	}
}

// Operators' endpoints live on the admin listener only: /metrics (with the build, pool and
// runtime collectors, OpenMetrics when asked) and /debug/pprof. The public listener has neither.
func TestAdminListener(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if r := in.plain("GET", path, ""); r.status != 404 {
			t.Errorf("public %s: %d, want 404", path, r.status)
		}
	}
	m := in.admin("/metrics")
	for _, want := range []string{"go_build_info", "pgxpool_acquire_count", "bff_redis_pool_hits_total", "process_cpu_seconds_total",
		"go_goroutines", "bff_http_requests_total"} {
		if m.status != 200 || !strings.Contains(string(m.body), want) {
			t.Errorf("admin /metrics lacks %s (%d)", want, m.status)
		}
	}
	if r := in.admin("/debug/pprof/"); r.status != 200 || !strings.Contains(string(r.body), "goroutine") {
		t.Errorf("admin /debug/pprof/: %d", r.status)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+in.app.AdminAddr()+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("OpenMetrics with gzip: Content-Type %q, Content-Encoding %q", ct, resp.Header.Get("Content-Encoding"))
	}
}
