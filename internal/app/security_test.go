package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
