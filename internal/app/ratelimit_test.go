package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

// count tallies statuses.
func count(rs []response) map[int]int {
	out := map[int]int{}
	for _, r := range rs {
		out[r.status]++
	}
	return out
}

// Issue 7 §5: bogus sign-ins used to be forwarded 1:1 to GoPay with the merchant's credentials.
// The per-address budget is shared by every instance (Redis), and what is over it never leaves.
func TestBogusSignInsAreLimitedAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("RATE_LIMIT_SESSIONS_PER_IP", "10/1m")
	a := start(t, e)
	b := start(t, e.upstreamsAt(a.app.SandboxURL()))
	var got []response
	for i := range 30 {
		in := a
		if i%2 == 1 {
			in = b
		}
		got = append(got, in.do("POST", "/v1/sessions", fmt.Sprintf(`{"auth_code":"bogus-%04d"}`, i)))
	}
	if c := count(got); c[422] != 10 || c[429] != 20 {
		t.Fatalf("statuses %v, want 10 x 422 (GoPay refused the code) and 20 x 429", c)
	}
	if n := a.app.Sandbox.Calls(sandbox.OpGoPayAuthToken); n != 10 {
		t.Fatalf("%d exchanges reached GoPay, want 10", n)
	}
	last := got[len(got)-1]
	problem(t, last, 429, "rate_limited", "")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	m := string(a.admin("/metrics").body)
	if !strings.Contains(m, `bff_rate_limit_events_total{outcome="limited",policy="sessions_per_ip"}`) {
		t.Fatalf("limit not counted:\n%s", grep(m, "rate_limit"))
	}
}

// One auth code may be retried a few times, not tried again and again.
func TestAuthCodeRetriesAreLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("RATE_LIMIT_SESSIONS_PER_AUTH_CODE", "3/1m")
	in := start(t, e)
	var got []response
	for range 5 {
		got = append(got, in.do("POST", "/v1/sessions", `{"auth_code":"one-stolen-code"}`))
	}
	if c := count(got); c[422] != 3 || c[429] != 2 {
		t.Fatalf("statuses %v, want 3 x 422 then 2 x 429", c)
	}
	// Another code from the same address is its own budget.
	if r := in.do("POST", "/v1/sessions", `{"auth_code":"another-code"}`); r.status != 422 {
		t.Fatalf("another code: %d %s", r.status, r.body)
	}
}

// Behind a trusted proxy the client is the right-most untrusted X-Forwarded-For entry; from
// anywhere else X-Forwarded-For is ignored, so writing it does not buy a fresh budget.
func TestClientAddressBehindProxies(t *testing.T) {
	t.Parallel()
	bogus := func(in *instance, xff string) int {
		return in.do("POST", "/v1/sessions", `{"auth_code":"bogus"}`, "X-Forwarded-For", xff).status
	}
	direct := start(t, newEnv(t).with("RATE_LIMIT_SESSIONS_PER_IP", "2/1m"))
	statuses := []int{bogus(direct, "1.1.1.1"), bogus(direct, "2.2.2.2"), bogus(direct, "3.3.3.3")}
	if statuses[2] != 429 {
		t.Fatalf("spoofed X-Forwarded-For bought a fresh budget: %v", statuses)
	}
	proxied := start(t, newEnv(t).with("RATE_LIMIT_SESSIONS_PER_IP", "2/1m", "TRUSTED_PROXIES", "127.0.0.1/32"))
	statuses = []int{bogus(proxied, "1.1.1.1"), bogus(proxied, "1.1.1.1"), bogus(proxied, "1.1.1.1"), bogus(proxied, "9.9.9.9, 2.2.2.2")}
	if statuses[2] != 429 || statuses[3] == 429 {
		t.Fatalf("behind a trusted proxy: %v, want the third from 1.1.1.1 refused and 2.2.2.2 served", statuses)
	}
}

// Issue 7 §5: wrong internal secrets used to get 401 for ever. After a few failures from one
// address the client is locked out there (the right secret too), not from elsewhere.
func TestInternalClientLockout(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("TRUSTED_PROXIES", "127.0.0.1/32", "LOCKOUT_TOKEN_FAILURES_PER_CLIENT_IP", "3/15m"))
	token := func(secret, from string) response {
		return in.do("POST", "/internal/v1/access-token", `{"grant_type":"client_credentials"}`,
			"Authorization", basic("payments", secret), "X-Forwarded-For", from)
	}
	var got []response
	for range 5 {
		got = append(got, token("guess", "6.6.6.6"))
	}
	if c := count(got); c[401] != 3 || c[429] != 2 {
		t.Fatalf("statuses %v, want 3 x 401 then 2 x 429", c)
	}
	locked := token(internalSecret, "6.6.6.6")
	problem(t, locked, 429, "rate_limited", "")
	if locked.header.Get("Retry-After") == "" {
		t.Fatal("lockout without Retry-After")
	}
	if r := token(internalSecret, "7.7.7.7"); r.status != 200 {
		t.Fatalf("the real client from its own address: %d %s", r.status, r.body)
	}
}

// A signed-in user's writes have a budget of their own.
func TestWritesPerUserAreLimited(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("RATE_LIMIT_WRITES_PER_USER", "3/1m"))
	sb := in.app.SandboxURL()
	alice, bob := in.login(sb, "w-alice"), in.login(sb, "w-bob")
	var got []response
	for range 4 {
		got = append(got, in.do("POST", "/v1/bank-accounts", `{"account_token":"not-a-token"}`, "Authorization", alice))
	}
	if c := count(got); c[422] != 3 || c[429] != 1 {
		t.Fatalf("statuses %v, want 3 x 422 then 429", c)
	}
	if r := in.do("POST", "/v1/bank-accounts", `{"account_token":"not-a-token"}`, "Authorization", bob); r.status != 422 {
		t.Fatalf("another user: %d %s", r.status, r.body)
	}
	if r := in.do("GET", "/v1/bank-accounts", "", "Authorization", alice); r.status != 200 {
		t.Fatalf("reads are not writes: %d", r.status)
	}
}

// A 429 from inside a flow (the per-auth-code limit) is not the request's answer for good: its
// idempotency key is released like a 5xx, so the client's retry after Retry-After runs again
// instead of replaying the refusal for a day.
func TestRateLimitedAnswerIsNotReplayed(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("RATE_LIMIT_SESSIONS_PER_AUTH_CODE", "1/1s"))
	body := `{"auth_code":"limited-code"}`
	if r := in.do("POST", "/v1/sessions", body); r.status != 422 {
		t.Fatalf("first try: %d %s", r.status, r.body)
	}
	limited := in.do("POST", "/v1/sessions", body, "Request-Id", "limited-key-0001")
	problem(t, limited, 429, "rate_limited", "")
	time.Sleep(1100 * time.Millisecond) // the budget refills
	again := in.do("POST", "/v1/sessions", body, "Request-Id", "limited-key-0001")
	if again.status != 422 || again.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the retry after Retry-After: %d replayed=%q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
}
