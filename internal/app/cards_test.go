package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

// browser follows redirects within the test's servers and stops at the mini app's return link
// (a custom scheme), reporting where it was sent.
func browser(t *testing.T) *http.Client {
	t.Helper()
	return &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Scheme != "http" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// start begins a card binding and returns its id and webview URL.
func (in *instance) startCard(auth, body string) (id, webview string) {
	in.t.Helper()
	r := in.do("POST", "/v1/card-bindings", body, "Authorization", auth)
	if r.status != 201 {
		in.t.Fatalf("start: %d %s", r.status, r.body)
	}
	m := r.json(in.t)
	if m["status"] != "pending" || !strings.Contains(m["webview_url"].(string), "authCode=") {
		in.t.Fatalf("start: %s", r.body)
	}
	return m["id"].(string), m["webview_url"].(string)
}

// stateOf opens the webview without following its redirect, to read the state it carries.
func stateOf(t *testing.T, webview string) (redirect string) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(webview)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.Header.Get("Location")
}

func TestCardBindingRoundTrip(t *testing.T) {
	t.Parallel()
	// The mini app's deep link, as production configures it (sandbox mode's default is the
	// demo page; TestDemoMiniAppInChromium comes back through it).
	in := start(t, newEnv(t).with("CARD_RETURN_URL", "gopay-miniapp://card-binding"))
	sb := in.app.SandboxURL()
	alice, bob := in.login(sb, "card-alice"), in.login(sb, "card-bob")

	id, webview := in.startCard(alice, `{"mobile_number":"81234567890","bank_code":"014","lang":"EN","additional_info":{"additionalInfo1":"order 42"}}`)
	resp, err := browser(t).Get(webview) // the user opens the webview; it redirects to us; we send them back
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || back.Scheme != "gopay-miniapp" || back.Query().Get("card_binding_id") != id ||
		back.Query().Get("status") != "succeeded" {
		t.Fatalf("not sent back into the mini app: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	list := in.do("GET", "/v1/card-bindings", "", "Authorization", alice).json(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "succeeded" || list[0].(map[string]any)["completed_at"] == nil {
		t.Fatalf("binding not recorded: %v", list)
	}
	if n := len(in.do("GET", "/v1/card-bindings", "", "Authorization", bob).json(t)["data"].([]any)); n != 0 {
		t.Fatalf("bob sees alice's bindings: %d", n)
	}

	t.Run("Failure", func(t *testing.T) {
		_, webview := in.startCard(alice, `{"user_id":"alice-01"}`)
		resp, err := browser(t).Get(webview + "&outcome=failure")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if !strings.Contains(resp.Header.Get("Location"), "status=failed") {
			t.Fatalf("%s", resp.Header.Get("Location"))
		}
	})

	// The attacks. Each redirect is sent straight to our endpoint, as an attacker would.
	bobID, bobWebview := in.startCard(bob, `{"mobile_number":"81299990000"}`)
	bobTarget := stateOf(t, bobWebview)
	bobState := mustQuery(t, bobTarget, "state")
	aliceID, aliceWebview := in.startCard(alice, `{"mobile_number":"81234567890"}`)
	aliceState := mustQuery(t, stateOf(t, aliceWebview), "state")

	t.Run("AnotherUsersState", func(t *testing.T) {
		problem(t, in.do("GET", "/v1/card-bindings/"+aliceID+"/success?state="+bobState, ""), 404, "card_binding_not_found", "state")
		problem(t, in.do("GET", "/v1/card-bindings/"+bobID+"/success?state="+aliceState, ""), 404, "card_binding_not_found", "state")
	})
	t.Run("ForgedState", func(t *testing.T) {
		problem(t, in.do("GET", "/v1/card-bindings/"+bobID+"/success?state="+strings.Repeat("A", 32), ""), 404, "card_binding_not_found", "state")
		problem(t, in.do("GET", "/v1/card-bindings/01a1fe01-0000-7000-8000-000000000000/success?state="+bobState, ""), 404, "card_binding_not_found", "state")
		problem(t, in.do("GET", "/v1/card-bindings/"+bobID+"/success", ""), 400, "invalid_request", "query.state")
	})
	t.Run("ReplayedState", func(t *testing.T) {
		first := in.do("GET", strings.TrimPrefix(bobTarget, in.base), "")
		if first.status != 302 {
			t.Fatalf("genuine redirect: %d %s", first.status, first.body)
		}
		problem(t, in.do("GET", strings.TrimPrefix(bobTarget, in.base), ""), 409, "card_binding_completed", "state")
		problem(t, in.do("GET", "/v1/card-bindings/"+bobID+"/failure?state="+bobState, ""), 409, "card_binding_completed", "state")
		if s := in.do("GET", "/v1/card-bindings", "", "Authorization", bob).json(t)["data"].([]any)[0].(map[string]any)["status"]; s != "succeeded" {
			t.Fatalf("a replay changed the outcome: %v", s)
		}
	})
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get(key) == "" {
		t.Fatalf("no %s in %q", key, raw)
	}
	return u.Query().Get(key)
}

func TestCardBindingExpires(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("CARD_BINDING_TTL", "50ms"))
	auth := in.login(in.app.SandboxURL(), "card-late")
	id, webview := in.startCard(auth, `{"mobile_number":"81234567890"}`)
	target := stateOf(t, webview)
	time.Sleep(100 * time.Millisecond)
	problem(t, in.do("GET", strings.TrimPrefix(target, in.base), ""), 422, "card_binding_expired", "state")
	if s := in.do("GET", "/v1/card-bindings", "", "Authorization", auth).json(t)["data"].([]any)[0].(map[string]any); s["status"] != "expired" || s["id"] != id {
		t.Fatalf("%v", s)
	}
}

// Seed 003's rules are checked before anything is sent upstream, and violations name our field.
func TestCardBindingValidationNamesTheField(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	auth := in.login(in.app.SandboxURL(), "card-invalid")
	before := in.app.Sandbox.Calls(sandbox.OpSNAPOAuthCode)
	for _, tt := range []struct{ body, field string }{
		{`{}`, "mobile_number"},
		{`{"mobile_number":"81234567"}`, "mobile_number"},
		{`{"mobile_number":"81234567890123"}`, "mobile_number"},
		{`{"user_id":"` + strings.Repeat("u", 21) + `"}`, "user_id"},
		{`{"user_id":"a.b"}`, "user_id"},
		{`{"mobile_number":"812345678","bank_code":"01"}`, "bank_code"},
		{`{"mobile_number":"812345678","lang":"FR"}`, "lang"},
		{`{"mobile_number":"812345678","additional_info":{"additionalInfo1":"a#b"}}`, "additional_info.additionalInfo1"},
		{`{"mobile_number":"812345678","additional_info":{"additionalInfo9":"x"}}`, "additional_info"},
		{`{"mobile_number":"812345678","additional_info":{"additionalInfo2":"` + strings.Repeat("y", 101) + `"}}`, "additional_info.additionalInfo2"},
	} {
		problem(t, in.do("POST", "/v1/card-bindings", tt.body, "Authorization", auth), 400, "invalid_request", tt.field)
	}
	if n := in.app.Sandbox.Calls(sandbox.OpSNAPOAuthCode) - before; n != 0 {
		t.Fatalf("%d invalid requests reached the upstream", n)
	}
	// The longest valid values pass.
	in.startCard(auth, `{"mobile_number":"8123456789012","user_id":"ab/cd-ef_gh/ij-kl_mn","bank_code":"014","lang":"ID",`+
		`"additional_info":{"additionalInfo3":"`+strings.Repeat("z", 100)+`"}}`)
}
