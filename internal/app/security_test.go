package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

// forgetRedis deletes every key of the test's prefix: what a Redis restart, or the replay
// window passing, does to stored answers.
func forgetRedis(t *testing.T, e env) {
	t.Helper()
	opts, err := redis.ParseURL(e["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
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

// subject reads the user id out of a session token (the test trusts it: the service signed it).
func subject(t *testing.T, bearer string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(bearer, "Bearer "), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", bearer)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub == "" {
		t.Fatalf("no subject in %s", raw)
	}
	return claims.Sub
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
	if subject(t, mallory) == subject(t, alice) {
		t.Fatal("the second user was signed in as the first")
	}
	if list := in.do("GET", "/v1/bank-accounts", "", "Authorization", mallory); strings.Contains(string(list.body), "1111") {
		t.Fatalf("the second user sees the first user's account: %s", list.body)
	}

	// While the first answer is still stored, the second user's key does not meet it either:
	// an unauthenticated request is scoped by the credential it presents.
	bob := open("bob-takeover")
	carol := open("carol-takeover")
	if subject(t, bob) == subject(t, carol) {
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
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(in.do("GET", "/v1/bank-accounts", "", "Authorization", auth).body, &list); err != nil || len(list.Data) != 2 {
		t.Fatalf("want both accounts linked, got %+v (%v)", list.Data, err)
	}
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails); n != 2 {
		t.Fatalf("%d bank-details calls, want 2", n)
	}
}

// throughProxy rewrites a database URL to go through p.
func throughProxy(t *testing.T, databaseURL string, p *proxy) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
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
	p := newProxy(t, "127.0.0.1:5432")
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
	var got struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(in.do("GET", "/v1/bank-accounts", "", "Authorization", auth).body, &got); err != nil || len(got.Data) != 2 {
		t.Fatalf("want both accounts stored, got %+v (%v)", got.Data, err)
	}
	metrics := string(in.do("GET", "/metrics", "").body)
	if strings.Contains(metrics, `status="500"`) {
		t.Fatalf("a store blip answered 500:\n%s", grepLines(metrics, `status="500"`))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
