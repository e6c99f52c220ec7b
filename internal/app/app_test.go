package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gopay-miniapp/bff/internal/app"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// The whole journey of one user, as the README walks it: session, link, relink, list, delete.
func TestLinkBankAccountFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()

	code := sandboxPost(t, sb, "/sandbox/auth-codes", `{"user_id":"alice"}`, "auth_code")
	sess := in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`)
	if sess.status != http.StatusCreated || sess.json(t)["token_type"] != "Bearer" {
		t.Fatalf("session: %d %s", sess.status, sess.body)
	}
	sessionToken := sess.json(t)["session_token"].(string)
	auth := "Bearer " + sessionToken

	t.Run("AuthCodeIsSingleUse", func(t *testing.T) {
		problem(t, in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`), 422, "auth_code_invalid", "auth_code")
	})

	token := accountToken(t, sb, "9876543210123")
	link := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+token+`"}`, "Authorization", auth)
	if link.status != http.StatusCreated {
		t.Fatalf("link: %d %s", link.status, link.body)
	}
	acct := link.json(t)
	if acct["masked_account_number"] != "******0123" || acct["bank_code"] != "jago" || acct["bank_account_name"] != "Rafa refa" {
		t.Fatalf("linked account: %s", link.body)
	}
	if bytes.Contains(link.body, []byte("9876543210123")) {
		t.Fatal("the full account number reached a response")
	}

	t.Run("RelinkSameAccountKeepsOneRow", func(t *testing.T) {
		again := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "9876543210123")+`"}`, "Authorization", auth)
		if again.status != http.StatusOK || again.json(t)["id"] != acct["id"] {
			t.Fatalf("relink: %d %s, want 200 with id %v", again.status, again.body, acct["id"])
		}
	})

	list := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth)
	if data := list.json(t)["data"].([]any); list.status != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != acct["id"] {
		t.Fatalf("list: %d %s", list.status, list.body)
	}

	t.Run("StoredSealed", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), e.directDB())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var dump string
		err = conn.QueryRow(context.Background(),
			`SELECT (SELECT string_agg(t::text, '|') FROM bank_accounts t) || (SELECT string_agg(u::text, '|') FROM users u)`).Scan(&dump)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump, "9876543210123") || strings.Contains(dump, hexOf("9876543210123")) {
			t.Fatal("the account number is stored in clear")
		}
		if !strings.Contains(dump, "0123") {
			t.Fatal("the last four digits should be kept for display")
		}
	})

	del := in.do("DELETE", "/v1/bank-accounts/"+acct["id"].(string), "", "Authorization", auth)
	if del.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	problem(t, in.do("DELETE", "/v1/bank-accounts/"+acct["id"].(string), "", "Authorization", auth), 404, "not_found", "")
	if data := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth).json(t)["data"].([]any); len(data) != 0 {
		t.Fatalf("account still listed after delete: %v", data)
	}

	in.assertNoSecretsInLogs("9876543210123", token, code, sessionToken, e["GOPAY_CLIENT_SECRET"])
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

func TestUserCannotSeeOrChangeAnothersAccount(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	alice, bob := in.login(sb, "alice"), in.login(sb, "bob")
	link := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "1111222233")+`"}`, "Authorization", alice)
	id := link.json(t)["id"].(string)

	if data := in.do("GET", "/v1/bank-accounts", "", "Authorization", bob).json(t)["data"].([]any); len(data) != 0 {
		t.Fatalf("bob sees alice's accounts: %v", data)
	}
	problem(t, in.do("DELETE", "/v1/bank-accounts/"+id, "", "Authorization", bob), 404, "not_found", "")
	if data := in.do("GET", "/v1/bank-accounts", "", "Authorization", alice).json(t)["data"].([]any); len(data) != 1 {
		t.Fatal("bob's delete removed alice's account")
	}
	// The same key used by two users is two operations: keys are scoped per user.
	k := "shared-key-0001"
	a := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "5555666677")+`"}`, "Authorization", alice, "Request-Id", k)
	b := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "5555666677")+`"}`, "Authorization", bob, "Request-Id", k)
	if a.status != 201 || b.status != 201 || a.json(t)["id"] == b.json(t)["id"] {
		t.Fatalf("per-user key scope broken: %d %s / %d %s", a.status, a.body, b.status, b.body)
	}
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "carol")
	body := `{"account_token":"` + accountToken(t, sb, "4444333322") + `"}`

	first := in.do("POST", "/v1/bank-accounts", body, "Authorization", auth, "Request-Id", "replay-key-1")
	second := in.do("POST", "/v1/bank-accounts", body, "Authorization", auth, "Idempotency-Key", "replay-key-1")
	if first.status != 201 || second.status != 201 || !bytes.Equal(first.body, second.body) {
		t.Fatalf("replay differs: %d %s / %d %s", first.status, first.body, second.status, second.body)
	}
	if second.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("Idempotent-Replayed header wrong")
	}
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 1 {
		t.Fatalf("upstream called %d times, want 1", n)
	}

	t.Run("ChangedBody422", func(t *testing.T) {
		other := `{"account_token":"` + accountToken(t, sb, "4444333322") + `"}`
		problem(t, in.do("POST", "/v1/bank-accounts", other, "Authorization", auth, "Request-Id", "replay-key-1"),
			422, "idempotency_key_reused", "header.Request-Id")
	})
	t.Run("ErrorAnswersReplayToo", func(t *testing.T) {
		bad := `{"account_token":"never-minted"}`
		r1 := in.do("POST", "/v1/bank-accounts", bad, "Authorization", auth, "Request-Id", "replay-key-2")
		r2 := in.do("POST", "/v1/bank-accounts", bad, "Authorization", auth, "Request-Id", "replay-key-2")
		problem(t, r1, 422, "account_token_not_found", "account_token")
		// The body names its request id, which differs per request; everything else is identical.
		if r2.status != 422 || r2.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r1.body, r2.body) {
			t.Fatalf("error answer not replayed: %s / %s", r1.body, r2.body)
		}
	})
	metrics := string(in.admin("/metrics").body)
	for _, want := range []string{`bff_idempotency_events_total{event="replayed"} 2`, `bff_idempotency_events_total{event="mismatch"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestConcurrentDuplicateGets409(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "dave")
	in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{LatencyMS: 400})
	body := `{"account_token":"` + accountToken(t, sb, "7777888899") + `"}`

	var wg sync.WaitGroup
	results := make([]response, 2)
	for i := range results {
		wg.Go(func() {
			if i == 1 {
				waitFor(t, func() bool { return in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) == 1 })
			}
			results[i] = in.do("POST", "/v1/bank-accounts", body, "Authorization", auth, "Request-Id", "concurrent-1")
		})
	}
	wg.Wait()
	if results[0].status != 201 {
		t.Fatalf("first: %d %s", results[0].status, results[0].body)
	}
	problem(t, results[1], 409, "request_in_progress", "")
}

// Fifty identical requests over two instances sharing Postgres and Redis: one upstream call,
// one row, identical successes, the rest 409.
func TestFiftyConcurrentDuplicatesOverTwoInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	one := start(t, e)
	two := start(t, e.upstreamsAt(one.app.SandboxURL())) // shares one's sandbox as its upstreams
	sb := one.app.SandboxURL()
	auth := one.login(sb, "erin")
	one.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{LatencyMS: 300})
	body := `{"account_token":"` + accountToken(t, sb, "1212343456") + `"}`

	results := make([]response, 50)
	var wg sync.WaitGroup
	for i := range results {
		in := []*instance{one, two}[i%2]
		wg.Go(func() {
			// As a client would: a 503 (the claim fails closed when Redis is slow, as a Redis
			// Cluster on a loaded CI machine can be) is retried with the same Request-Id.
			for try := 0; ; try++ {
				results[i] = in.do("POST", "/v1/bank-accounts", body, "Authorization", auth, "Request-Id", "fifty-dupes-1")
				if results[i].status != 503 || try == 20 {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	var ok []response
	conflicts := 0
	for _, r := range results {
		switch r.status {
		case 201:
			ok = append(ok, r)
		case 409:
			conflicts++
		default:
			t.Fatalf("unexpected %d %s", r.status, r.body)
		}
	}
	if len(ok) == 0 || len(ok)+conflicts != 50 {
		t.Fatalf("%d successes, %d conflicts", len(ok), conflicts)
	}
	for _, r := range ok[1:] {
		if !bytes.Equal(r.body, ok[0].body) {
			t.Fatalf("successes differ: %s / %s", ok[0].body, r.body)
		}
	}
	if n := one.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 1 {
		t.Fatalf("%d upstream bank-details calls, want 1", n)
	}
	if data := two.do("GET", "/v1/bank-accounts", "", "Authorization", auth).json(t)["data"].([]any); len(data) != 1 {
		t.Fatalf("%d rows stored, want 1", len(data))
	}
	t.Logf("50 concurrent duplicates over 2 instances: %d x 201 (identical), %d x 409, 1 upstream call", len(ok), conflicts)
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	// Its subtests inject failure after failure; the circuit breaker (TestCircuitBreakerPerUpstreamOperation)
	// would open and answer them all alike, so here it stays out of the way.
	e := newEnv(t).with("GOPAY_MAX_ATTEMPTS", "3", "GOPAY_TIMEOUT", "300ms", "UPSTREAM_BREAKER_MIN_REQUESTS", "1000")
	in := start(t, e)
	sb := in.app.SandboxURL()
	auth := in.login(sb, "frank")
	link := func(key string) response {
		return in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "3030303030")+`"}`,
			"Authorization", auth, "Request-Id", key)
	}
	rows := func() int {
		return len(in.do("GET", "/v1/bank-accounts", "", "Authorization", auth).json(t)["data"].([]any))
	}
	// Cases run in order on one sandbox; each resets faults and counts from the current total.
	t.Run("5xxRetriedIntoSuccess", func(t *testing.T) {
		before := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails)
		in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{FailNext: 2, Status: 502})
		defer in.app.Sandbox.ClearFaults()
		if r := link("retry-into-ok"); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) - before; n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
		m := string(in.admin("/metrics").body)
		if !strings.Contains(m, `bff_upstream_requests_total{operation="bank_details",outcome="server_error",upstream="gopay"} 2`) {
			t.Fatalf("upstream metrics missing the failed attempts:\n%s", grep(m, "bff_upstream_requests_total"))
		}
	})
	in.do("DELETE", "/v1/bank-accounts/"+in.do("GET", "/v1/bank-accounts", "", "Authorization", auth).json(t)["data"].([]any)[0].(map[string]any)["id"].(string), "", "Authorization", auth)

	t.Run("AlwaysFailingEndsIn503AndStoresNothing", func(t *testing.T) {
		before := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails)
		in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{ErrorRate: 1})
		problem(t, link("always-fails"), 503, "upstream_unavailable", "")
		if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) - before; n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
		if rows() != 0 {
			t.Fatal("a row was stored although the exchange failed")
		}
		// A 5xx releases the key: the client's retry with the same key runs again and succeeds.
		in.app.Sandbox.ClearFaults()
		if r := link("always-fails"); r.status != 201 {
			t.Fatalf("retry after recovery: %d %s", r.status, r.body)
		}
	})
	t.Run("HangEndsIn504", func(t *testing.T) {
		in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{Hang: true})
		defer in.app.Sandbox.ClearFaults()
		problem(t, link("hangs-forever"), 504, "upstream_timeout", "")
	})
	t.Run("TokenNotFound", func(t *testing.T) {
		n := rows()
		problem(t, in.do("POST", "/v1/bank-accounts", `{"account_token":"unknown"}`, "Authorization", auth),
			422, "account_token_not_found", "account_token")
		if rows() != n {
			t.Fatal("a row was stored for an unknown token")
		}
	})
}

// Wrong GoPay credentials are our misconfiguration: 502, logged for the operator, and the
// client learns nothing about them.
func TestUpstreamRejectsOurCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := start(t, e)
	bad := start(t, e.upstreamsAt(good.app.SandboxURL()).with("GOPAY_CLIENT_SECRET", "wrong-secret-value"))
	code := sandboxPost(t, good.app.SandboxURL(), "/sandbox/auth-codes", `{}`, "auth_code")
	r := bad.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`)
	problem(t, r, 502, "upstream_rejected", "")
	if bytes.Contains(r.body, []byte("wrong-secret-value")) || bytes.Contains(r.body, []byte("GOPAY_CLIENT")) {
		t.Fatalf("credentials leaked to the client: %s", r.body)
	}
	if bad.logs.FilterMessageSnippet("refused our credentials").Len() == 0 {
		t.Fatal("the operator was not told")
	}
	bad.assertNoSecretsInLogs("wrong-secret-value", code)
}

// Without Redis no POST can be made safe: they fail closed with 503, reads keep working.
func TestRedisDownFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProxy(t, hostOf(t, e["REDIS_URL"]))
	in := start(t, e.with("REDIS_URL", throughProxy(t, e["REDIS_URL"], p)))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "gina")
	p.Close()
	r := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "9090909090")+`"}`,
		"Authorization", auth, "Request-Id", "redis-down-1")
	problem(t, r, 503, "idempotency_store_unavailable", "")
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 0 {
		t.Fatalf("upstream called %d times with the store down", n)
	}
	if list := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth); list.status != 200 {
		t.Fatalf("reads must keep working: %d %s", list.status, list.body)
	}
	// Reported, but the instance stays ready: it serves without Redis, and a store every
	// instance shares must not take the whole fleet out of the load balancer.
	if ready := in.do("GET", "/readyz", ""); ready.status != 200 || ready.json(t)["checks"].(map[string]any)["redis"] != "unavailable" {
		t.Fatalf("readyz should report redis down and stay ready: %d %s", ready.status, ready.body)
	}
}

func TestBadInputGetsNamed4xx(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("HTTP_MAX_BODY_BYTES", "1024"))
	auth := in.login(in.app.SandboxURL(), "hank")
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, field              string
	}{
		{"NoSession", "GET", "/v1/bank-accounts", "", nil, 401, "unauthenticated", ""},
		{"ForgedSession", "GET", "/v1/bank-accounts", "", []string{"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}, 401, "unauthenticated", ""},
		{"MissingField", "POST", "/v1/bank-accounts", `{}`, []string{"Authorization", auth}, 400, "invalid_request", "account_token"},
		{"EmptyField", "POST", "/v1/bank-accounts", `{"account_token":""}`, []string{"Authorization", auth}, 400, "invalid_request", "account_token"},
		{"WrongType", "POST", "/v1/bank-accounts", `{"account_token":42}`, []string{"Authorization", auth}, 400, "invalid_request", "account_token"},
		{"NotJSON", "POST", "/v1/bank-accounts", `{"account_token":`, []string{"Authorization", auth}, 400, "invalid_request", "body"},
		{"BadKey", "POST", "/v1/bank-accounts", `{"account_token":"x"}`, []string{"Authorization", auth, "Request-Id", "short"}, 400, "invalid_request", "header.Request-Id"},
		{"KeysDiffer", "POST", "/v1/bank-accounts", `{"account_token":"x"}`, []string{"Authorization", auth, "Request-Id", "aaaaaaaa1", "Idempotency-Key", "bbbbbbbb2"}, 400, "invalid_request", "header.Idempotency-Key"},
		{"TooLarge", "POST", "/v1/bank-accounts", `{"account_token":"` + strings.Repeat("a", 2000) + `"}`, []string{"Authorization", auth}, 413, "request_too_large", ""},
		{"BadID", "DELETE", "/v1/bank-accounts/not-a-uuid", "", []string{"Authorization", auth}, 400, "invalid_request", "path.id"},
		{"SessionMissingCode", "POST", "/v1/sessions", `{"auth_code":""}`, nil, 400, "invalid_request", "auth_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problem(t, in.do(tt.method, tt.path, tt.body, tt.headers...), tt.status, tt.code, tt.field)
		})
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	if r := in.do("GET", "/healthz", ""); r.status != 200 || r.json(t)["status"] != "ok" {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	r := in.do("GET", "/readyz", "")
	checks := r.json(t)["checks"].(map[string]any)
	if r.status != 200 || checks["postgres"] != "ok" || checks["redis"] != "ok" || checks["migrations"] != "ok" {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	in.do("GET", "/v1/bank-accounts", "")
	m := string(in.admin("/metrics").body)
	for _, want := range []string{
		`bff_http_requests_total{method="GET",route="/v1/bank-accounts",status="401"} 1`,
		`bff_http_request_duration_seconds_bucket{method="GET",route="/readyz"`,
		"go_goroutines",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on responses")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		sleep()
	}
	t.Fatal("condition never met")
}

// missingDatabase is a URL on the test's PostgreSQL naming a database that does not exist.
func missingDatabase(t *testing.T, databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/bfftest_missing_db"
	return u.String()
}

// When a dependency is down the service refuses to start and says exactly what to do.
func TestStartupNamesTheFixForMissingDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ name, key, value, want string }{
		{"Postgres", "DATABASE_URL", "postgres://postgres@127.0.0.1:1/x?sslmode=disable", "pg_ctlcluster --skip-systemctl-redirect"},
		{"Redis", "REDIS_URL", "redis://127.0.0.1:1/0", "redis-server --daemonize yes"},
		// PostgreSQL answers but the database is missing (upstream mode never creates it): the fix
		// is to create it, not to start PostgreSQL.
		{"MissingDatabase", "DATABASE_URL", missingDatabase(t, e.directDB()), "create the database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := e.with(tt.key, tt.value)
			if tt.name == "MissingDatabase" {
				env = env.upstreamsAt("http://127.0.0.1:1")
			}
			cfg, err := config.Load(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			_, err = app.New(context.Background(), cfg, zap.NewNop())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want the fix %q", err, tt.want)
			}
			if tt.name == "MissingDatabase" && strings.Contains(err.Error(), "pg_ctlcluster") {
				t.Fatalf("told to start a PostgreSQL that runs: %v", err)
			}
		})
	}
	t.Run("NoInternalClientsWarnsInUpstreamMode", func(t *testing.T) {
		cfg, err := config.Load(func(k string) string {
			return e.upstreamsAt("http://127.0.0.1:1").with("INTERNAL_CLIENTS", "", "HTTP_ADDR", "127.0.0.1:0")[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.WarnLevel)
		a, err := app.New(context.Background(), cfg, zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = a.Serve(ctx)
		if logs.FilterMessageSnippet("NO INTERNAL CLIENTS").Len() != 1 {
			t.Fatal("no loud warning about missing internal clients")
		}
	})
}

// Shutdown drains: a request in flight when the signal comes still gets its answer.
func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	in := &instance{t: t, app: a, base: "http://" + a.Addr(), client: testenv.ContractClient(t)}
	waitReady(t, in)
	auth := in.login(a.SandboxURL(), "ivy")
	token := accountToken(t, a.SandboxURL(), "2468024680")
	a.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{LatencyMS: 500})

	result := make(chan response, 1)
	go func() {
		result <- in.do("POST", "/v1/bank-accounts", `{"account_token":"`+token+`"}`, "Authorization", auth)
	}()
	waitFor(t, func() bool { return a.Sandbox.Calls(sandbox.OpGoPayBankDetails) == 1 })
	cancel() // SIGTERM arrives while the upstream call is in flight
	if r := <-result; r.status != http.StatusCreated {
		t.Fatalf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(in.base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
