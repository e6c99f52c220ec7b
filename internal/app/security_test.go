package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

// testRedis is a client of the test's Redis (its keys live under e["REDIS_KEY_PREFIX"]).
func testRedis(t *testing.T, e env) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(e["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// forgetRedis deletes every key of the test's prefix: what a Redis restart, or the replay
// window passing, does to stored answers.
func forgetRedis(t *testing.T, e env) {
	t.Helper()
	rdb := testRedis(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, e["REDIS_KEY_PREFIX"]+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// Issue 7 §1: once the stored answer is gone, a second user who sends the first user's
// Request-Id with their own auth code must be signed in as themselves. The upstream Request-Id
// used to be derived from scope and key only, so GoPay replayed the first user's answer.
func TestSameRequestIDNeverSignsInAnotherUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()
	open := func(user string) string {
		code := sandboxPost(t, sb, "/sandbox/auth-codes", `{"user_id":"`+user+`"}`, "auth_code")
		r := in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`, "Request-Id", "shared-key-0001")
		if r.status != 201 {
			t.Fatalf("%s: %d %s", user, r.status, r.body)
		}
		return "Bearer " + r.json(t)["session_token"].(string)
	}
	alice := open("alice-takeover")
	link := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "5550001111")+`"}`, "Authorization", alice)
	if link.status != 201 {
		t.Fatalf("link: %d %s", link.status, link.body)
	}

	forgetRedis(t, e) // a Redis restart, or the replay window passing
	mallory := open("mallory-takeover")
	if userID(t, mallory) == userID(t, alice) {
		t.Fatal("the second user was signed in as the first")
	}
	if list := in.do("GET", "/v1/bank-accounts", "", "Authorization", mallory); strings.Contains(string(list.body), "1111") {
		t.Fatalf("the second user sees the first user's account: %s", list.body)
	}

	// While the first answer is still stored, the second user's key does not meet it either:
	// an unauthenticated request is scoped by the credential it presents.
	bob := open("bob-takeover")
	carol := open("carol-takeover")
	if userID(t, bob) == userID(t, carol) {
		t.Fatal("two users with one Request-Id share a session")
	}
}

// Issue 7 §1, within one user: a key reused after the replay window with a new account token
// is a new link, not a silent 200 with the old account.
func TestReusedKeyWithNewTokenLinksTheNewAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()
	auth := in.login(sb, "dina")
	first := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "1000000001")+`"}`,
		"Authorization", auth, "Request-Id", "reused-key-0001")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	forgetRedis(t, e)
	auth = in.login(sb, "dina") // the session is stateless; a new one only to be sure nothing rides on Redis
	second := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "2000000002")+`"}`,
		"Authorization", auth, "Request-Id", "reused-key-0001")
	if second.status != 201 || !strings.Contains(string(second.body), "0002") {
		t.Fatalf("the new token was not linked: %d %s", second.status, second.body)
	}
	if n := in.accounts(auth); n != 2 {
		t.Fatalf("%d accounts linked, want both", n)
	}
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 2 {
		t.Fatalf("%d bank-details calls, want 2", n)
	}
}

// throughProxy rewrites a database URL to go through p.
func throughProxy(t *testing.T, storeURL string, p *proxy) string {
	t.Helper()
	u, err := url.Parse(storeURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

// hostOf is the host:port a store URL names: the test's own servers (TEST_DATABASE_URL,
// TEST_REDIS_URL), never an assumed default.
func hostOf(t *testing.T, storeURL string) string {
	t.Helper()
	u, err := url.Parse(storeURL)
	if err != nil || u.Host == "" {
		t.Fatalf("no host in %q", storeURL)
	}
	return u.Host
}

// untilNot503 repeats a request while the service says a store is still coming back, as a
// client honouring Retry-After would (the pool may hand out a connection that died in the cut).
func untilNot503(t *testing.T, send func() response) response {
	t.Helper()
	var r response
	for range 20 {
		if r = send(); r.status != 503 {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r
}

// Issue 7 §2 and §3: PostgreSQL going away is a 503 store_unavailable with Retry-After, never
// a 500; and a link whose upstream exchange succeeded while the insert failed is not lost: the
// client's retry (with or without a Request-Id) is replayed by GoPay and stored.
func TestPostgresBlipIs503AndLosesNoLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProxy(t, hostOf(t, e["DATABASE_URL"]))
	in := start(t, e.with("DATABASE_URL", throughProxy(t, e["DATABASE_URL"], p)))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "erin")
	keyless := accountToken(t, sb, "3000000003")
	keyed := accountToken(t, sb, "4000000004")

	p.Cut()
	list := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth)
	problem(t, list, 503, "store_unavailable", "")
	if ra := list.header.Get("Retry-After"); ra == "" {
		t.Fatal("503 without Retry-After")
	}
	code := sandboxPost(t, sb, "/sandbox/auth-codes", `{"user_id":"erin"}`, "auth_code")
	problem(t, in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`), 503, "store_unavailable", "")
	// The exchanges succeed upstream (the tokens are consumed), the inserts fail.
	problem(t, in.do("POST", "/v1/bank-accounts", `{"account_token":"`+keyless+`"}`, "Authorization", auth), 503, "store_unavailable", "")
	problem(t, in.do("POST", "/v1/bank-accounts", `{"account_token":"`+keyed+`"}`, "Authorization", auth,
		"Request-Id", "blip-key-0001"), 503, "store_unavailable", "")
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 2 {
		t.Fatalf("%d bank-details calls, want 2", n)
	}

	p.Restore()
	r := untilNot503(t, func() response {
		return in.do("POST", "/v1/bank-accounts", `{"account_token":"`+keyless+`"}`, "Authorization", auth)
	})
	if r.status != 201 || !strings.Contains(string(r.body), "0003") {
		t.Fatalf("keyless retry after a failed insert: %d %s", r.status, r.body)
	}
	r = untilNot503(t, func() response {
		return in.do("POST", "/v1/bank-accounts", `{"account_token":"`+keyed+`"}`, "Authorization", auth, "Request-Id", "blip-key-0001")
	})
	if r.status != 201 || !strings.Contains(string(r.body), "0004") {
		t.Fatalf("keyed retry after a failed insert: %d %s", r.status, r.body)
	}
	if n := in.accounts(auth); n != 2 {
		t.Fatalf("%d accounts stored, want both", n)
	}
	metrics := string(in.admin("/metrics").body)
	if strings.Contains(metrics, `status="500"`) {
		t.Fatalf("a store blip answered 500:\n%s", grep(metrics, `status="500"`))
	}
}

// onlyReader hides a reader's length, so the client sends the body chunked.
type onlyReader struct{ io.Reader }

// Issue 7 §4: what the body parsers used to accept or mis-answer.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()
	auth := in.login(sb, "frank")
	calls := func() int { return in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) }

	send := func(body io.Reader, headers ...string) response {
		req, err := http.NewRequest("POST", in.base+"/v1/bank-accounts", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}

	t.Run("ChunkedOverLimitIs413", func(t *testing.T) {
		big := `{"account_token":"` + strings.Repeat("a", 70000) + `"}`
		problem(t, send(onlyReader{strings.NewReader(big)}), 413, "request_too_large", "")
		ok := send(onlyReader{strings.NewReader(`{"account_token":"` + accountToken(t, sb, "6000000006") + `"}`)})
		if ok.status != 201 {
			t.Fatalf("a chunked body under the limit: %d %s", ok.status, ok.body)
		}
	})
	t.Run("MediaTypeAndSchemeAreCaseInsensitive", func(t *testing.T) {
		r := send(strings.NewReader(`{"account_token":"`+accountToken(t, sb, "6000000007")+`"}`),
			"Content-Type", "APPLICATION/JSON; Charset=UTF-8", "Authorization", "bearer "+strings.TrimPrefix(auth, "Bearer "))
		if r.status != 201 {
			t.Fatalf("APPLICATION/JSON and bearer: %d %s", r.status, r.body)
		}
		problem(t, send(strings.NewReader(`{"account_token":"x"}`), "Content-Type", "application/json; charset=latin1"),
			415, "unsupported_media_type", "header.Content-Type")
	})
	before := calls()
	for _, tc := range []struct{ name, body, field string }{
		{"TrailingData", `{"account_token":"abc"} {"account_token":"def"}`, "body"},
		{"TrailingGarbage", `{"account_token":"abc"}]`, "body"},
		{"InvalidUTF8", "{\"account_token\":\"ab\xffcd\"}", "account_token"},
		{"LoneSurrogate", `{"account_token":"ab\udc00"}`, "account_token"},
		{"RepeatedMember", `{"account_token":"abc","account_token":"def"}`, "account_token"},
		{"RepeatedMemberOtherCase", `{"account_token":"abc","Account_Token":"def"}`, "Account_Token"},
		{"TooDeep", `{"account_token":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "account_token.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problem(t, send(strings.NewReader(tc.body)), 400, "invalid_request", tc.field)
		})
	}
	if n := calls() - before; n != 0 {
		t.Fatalf("%d refused bodies reached GoPay", n)
	}
}

// redisValues returns every string value under the test's prefix, keyed by name.
func redisValues(t *testing.T, e env) map[string]string {
	t.Helper()
	rdb := testRedis(t, e)
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, e["REDIS_KEY_PREFIX"]+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if v, err := rdb.Get(ctx, iter.Val()).Result(); err == nil {
			out[iter.Val()] = v
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 7 §6: Redis holds no secret in clear: not the shared B2B token, not the session and
// access tokens inside stored replays, not the bank details inside a stored link answer. Replays
// still answer byte for byte, with Cache-Control: no-store.
func TestRedisHoldsNoSecretInClear(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()

	code := sandboxPost(t, sb, "/sandbox/auth-codes", `{"user_id":"hana"}`, "auth_code")
	open := func() response {
		return in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`, "Request-Id", "session-key-0001")
	}
	first := open()
	if first.status != 201 || first.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("session: %d %v %s", first.status, first.header, first.body)
	}
	replay := open()
	if replay.header.Get("Idempotent-Replayed") != "true" || string(replay.body) != string(first.body) ||
		replay.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("replay: %v %s", replay.header, replay.body)
	}
	sessionToken := first.json(t)["session_token"].(string)
	auth := "Bearer " + sessionToken

	link := in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "7700112233")+`"}`,
		"Authorization", auth, "Request-Id", "link-key-0001")
	if link.status != 201 {
		t.Fatalf("link: %d %s", link.status, link.body)
	}
	token := func() response {
		req := `{"grant_type":"client_credentials"}`
		return in.do("POST", "/internal/v1/access-token", req, "Authorization", basic("payments", internalSecret),
			"Request-Id", "token-key-0001")
	}
	issued := token()
	if issued.status != 200 || issued.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("access token: %d %v", issued.status, issued.header)
	}
	if again := token(); string(again.body) != string(issued.body) {
		t.Fatal("the access-token replay differs")
	}
	accessToken := issued.json(t)["access_token"].(string)
	if r := in.linkSNAP(auth, "81299990000"); r.status != 201 { // makes the shared B2B token
		t.Fatalf("gopay link: %d %s", r.status, r.body)
	}
	b2b := in.app.Sandbox.IssuedB2BTokens()
	if len(b2b) == 0 {
		t.Fatal("no B2B token was issued")
	}

	values := redisValues(t, e)
	if len(values) == 0 {
		t.Fatal("nothing in Redis to check")
	}
	secrets := map[string]string{"session token": sessionToken, "access token": accessToken, "account number": "7700112233",
		"account name": "Rafa refa", "auth code": code}
	for i, tok := range b2b {
		secrets[fmt.Sprintf("B2B token %d", i)] = tok
	}
	for key, v := range values {
		for what, secret := range secrets {
			if strings.Contains(v, secret) {
				t.Errorf("%s in clear in Redis under %s", what, key)
			}
		}
	}
}

// accounts counts the user's linked bank accounts.
func (in *instance) accounts(auth string) int {
	in.t.Helper()
	var list struct {
		Data []map[string]any `json:"data"`
	}
	r := in.do("GET", "/v1/bank-accounts", "", "Authorization", auth)
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 {
		in.t.Fatalf("list: %d %s", r.status, r.body)
	}
	return len(list.Data)
}

// Issue 7 §6: the smaller exposures.
func TestSmallExposures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProxy(t, hostOf(t, e["DATABASE_URL"]))
	in := start(t, e.with("DATABASE_URL", throughProxy(t, e["DATABASE_URL"], p)))

	t.Run("JunkMethodsDoNotGrowMetrics", func(t *testing.T) {
		before := len(in.admin("/metrics").body)
		for i := range 200 {
			in.plain(fmt.Sprintf("JUNK%04d", i), "/v1/bank-accounts", "")
		}
		m := string(in.admin("/metrics").body)
		if strings.Contains(m, "JUNK") || !strings.Contains(m, `method="OTHER"`) {
			t.Fatalf("junk methods reached the labels:\n%s", grep(m, "JUNK"))
		}
		if grown := len(m) - before; grown > 4096 {
			t.Fatalf("metrics grew by %d bytes for 200 junk methods", grown)
		}
	})
	t.Run("WrongMethodIs405WithAllow", func(t *testing.T) {
		r := in.plain("PUT", "/v1/bank-accounts", "")
		if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "GET") || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Fatalf("PUT /v1/bank-accounts: %d Allow=%q %s", r.status, r.header.Get("Allow"), r.body)
		}
		if r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("405 is not a problem: %s", r.header.Get("Content-Type"))
		}
		if r := in.plain("GET", "/v1/nothing-here", ""); r.status != 404 {
			t.Fatalf("unknown path: %d", r.status)
		}
	})
	t.Run("HeadHealthz", func(t *testing.T) {
		if r := in.do("HEAD", "/healthz", ""); r.status != 200 {
			t.Fatalf("HEAD /healthz: %d", r.status)
		}
	})
	t.Run("UnauthorizedNamesTheScheme", func(t *testing.T) {
		if r := in.do("GET", "/v1/bank-accounts", ""); r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Fatalf("session route: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		r := in.do("POST", "/internal/v1/access-token", `{"grant_type":"client_credentials"}`, "Authorization", basic("payments", "wrong"))
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("client-credentials route: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("ReadyzKeepsDetailsForTheLog", func(t *testing.T) {
		p.Cut()
		defer p.Restore()
		r := in.do("GET", "/readyz", "")
		checks, _ := r.json(t)["checks"].(map[string]any)
		if r.status != 503 || checks["postgres"] != "unavailable" {
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		for _, detail := range []string{"127.0.0.1", p.Addr(), "postgres@", "bfftest_", "dial", "connect"} {
			if strings.Contains(string(r.body), detail) {
				t.Fatalf("readyz tells anyone %q: %s", detail, r.body)
			}
		}
		if in.logs.FilterMessage("readiness check failed").Len() == 0 {
			t.Fatal("the operator's log does not say why")
		}
	})
}

// Issue 9: a client that goes away mid-request is counted as 499, not logged as a 500 that pages
// someone.
func TestClientThatLeavesIs499(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "leaver")
	in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{LatencyMS: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", in.base+"/v1/bank-accounts",
		strings.NewReader(`{"account_token":"`+accountToken(t, sb, "4990000001")+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered; the client should have gone first")
	}
	waitFor(t, func() bool {
		return strings.Contains(string(in.admin("/metrics").body), `method="POST",route="/v1/bank-accounts",status="499"`)
	})
	m := string(in.admin("/metrics").body)
	if strings.Contains(m, `status="500"`) {
		t.Fatalf("a client leaving was counted as 500:\n%s", grep(m, `status="500"`))
	}
	if in.logs.FilterMessage("request failed").Len() != 0 {
		t.Fatal("a client leaving was logged as a failure")
	}
}
