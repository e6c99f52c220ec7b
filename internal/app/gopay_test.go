package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// linkSNAP links GoPay for the session's user through the sandbox's linking page.
func (in *instance) linkSNAP(auth, phone string) response {
	in.t.Helper()
	code := sandboxPost(in.t, in.sandboxURL(), "/sandbox/gopay-auth-codes", `{"phone_number":"`+phone+`"}`, "auth_code")
	return in.do("POST", "/v1/gopay-link", `{"auth_code":"`+code+`","phone_number":"`+phone+`","name":"Test User","email":"t@example.com"}`,
		"Authorization", auth)
}

// sandboxURL is the sandbox this instance talks to (its own, or the first instance's).
func (in *instance) sandboxURL() string {
	if in.sandbox != "" {
		return in.sandbox
	}
	return in.app.SandboxURL()
}

// internalAuth returns headers for internal calls: a fresh client-credentials token.
func (in *instance) internalAuth() []string {
	in.t.Helper()
	req, _ := http.NewRequest("POST", in.base+"/internal/v1/access-token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("payments", internalSecret)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.ExpiresIn != 300 {
		in.t.Fatalf("internal token: %d %v %+v", resp.StatusCode, err, tok)
	}
	return []string{"Authorization", "Bearer " + tok.AccessToken, "X-PARTNER-ID", "payments"}
}

// userID reads the user id from a session token's claims.
func userID(t *testing.T, auth string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// counter sums a counter's samples whose labels include all of want, over instances.
func counter(t *testing.T, name string, want map[string]string, instances ...*instance) float64 {
	t.Helper()
	total := 0.0
	for _, in := range instances {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(in.admin("/metrics").body)))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := families[name]
		if !ok {
			continue
		}
	metric:
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metric
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func TestGoPaySNAPLinkFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()
	auth := in.login(sb, "gopay-user")
	uid := userID(t, auth)

	link := in.linkSNAP(auth, "81234567890")
	if link.status != 201 {
		t.Fatalf("link: %d %s", link.status, link.body)
	}
	l := link.json(t)
	if l["status"] != "active" || l["mode"] != "snap" || l["masked_phone_number"] != "******7890" {
		t.Fatalf("link: %s", link.body)
	}
	problem(t, in.linkSNAP(auth, "81234567890"), 409, "gopay_already_linked", "")

	view := in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth)
	if view.status != 200 || bytesContain(view.body, `"token"`) || view.json(t)["stale"] != false {
		t.Fatalf("frontend options must never carry tokens: %d %s", view.status, view.body)
	}
	ia := in.internalAuth()
	first := in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...)
	opts := first.json(t)["payment_options"].([]any)
	if first.status != 200 || len(opts) != 2 || opts[0].(map[string]any)["token"] == "" {
		t.Fatalf("internal options: %d %s", first.status, first.body)
	}
	firstToken := opts[0].(map[string]any)["token"].(string)

	t.Run("TokensRefreshedBeforeEveryPayment", func(t *testing.T) {
		in.app.Sandbox.UpgradeCustomer("81234567890")                                               // GoPay Tabungan upgrade: tokens change
		after := in.do("GET", "/internal/v1/users/"+uid+"/payment-options?refresh=true", "", ia...) // as before a payment
		opts := after.json(t)["payment_options"].([]any)
		if len(opts) != 3 || opts[0].(map[string]any)["token"] == firstToken || opts[2].(map[string]any)["name"] != "GOPAY_SAVINGS" {
			t.Fatalf("stale tokens after an upgrade: %s", after.body)
		}
	})
	t.Run("SealedAtRest", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), e.directDB())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		var dump string
		if err := conn.QueryRow(context.Background(), `SELECT (SELECT string_agg(l::text, '|') FROM gopay_links l) ||
			(SELECT string_agg(o::text, '|') FROM payment_options o)`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"81234567890", firstToken, hexOf("81234567890"), "t@example.com"} {
			if strings.Contains(dump, secret) {
				t.Fatalf("stored in clear: %s", secret[:4])
			}
		}
	})

	if r := in.do("DELETE", "/v1/gopay-link", "", "Authorization", auth); r.status != 204 {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	if r := in.do("GET", "/v1/gopay-link", "", "Authorization", auth); r.json(t)["status"] != "inactive" {
		t.Fatalf("after unlink: %s", r.body)
	}
	problem(t, in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...), 409, "gopay_link_inactive", "")
	if r := in.linkSNAP(auth, "81234567890"); r.status != 201 {
		t.Fatalf("relink after unlink: %d %s", r.status, r.body)
	}
	in.assertNoSecretsInLogs(firstToken, "81234567890", e["SNAP_CLIENT_SECRET"], e["MIDTRANS_SERVER_KEY"], internalSecret)
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

func TestGoPayLegacyFlows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	sb := in.app.SandboxURL()
	legacy := func(auth, id string) response {
		return in.do("POST", "/v1/gopay-link", `{"legacy_account_id":"`+id+`","phone_number":"81200001111"}`, "Authorization", auth)
	}
	t.Run("EnabledIsSwapped", func(t *testing.T) {
		auth := in.login(sb, "legacy-enabled")
		r := legacy(auth, "enabled-abc")
		if r.status != 201 || r.json(t)["status"] != "active" || r.json(t)["mode"] != "legacy" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		v := in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth)
		if v.status != 200 || len(v.json(t)["payment_options"].([]any)) != 2 {
			t.Fatalf("options through the swapped token: %d %s", v.status, v.body)
		}
	})
	t.Run("PendingUntilActivated", func(t *testing.T) {
		auth := in.login(sb, "legacy-pending")
		id, activation := createCoreAccount(t, sb, e["MIDTRANS_SERVER_KEY"], "81298765432")
		r := legacy(auth, id)
		if r.status != 201 || r.json(t)["status"] != "pending" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		problem(t, in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth), 409, "gopay_link_inactive", "")
		if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "pending" {
			t.Fatalf("status %v before activation", s)
		}
		resp, err := http.Get(activation)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "active" {
			t.Fatalf("status %v after activation", s)
		}
		if v := in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth); v.status != 200 {
			t.Fatalf("%d %s", v.status, v.body)
		}
	})
	t.Run("PendingThenInactiveAtGoPay", func(t *testing.T) {
		auth := in.login(sb, "legacy-pending-inactive")
		legacy(auth, "pending-q1")
		// Midtrans now reports the account enabled, but GoPay's linking is inactive (4030818).
		in.app.Sandbox.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ResponseCode: "4030818"})
		defer in.app.Sandbox.ClearFaults()
		in.app.Sandbox.SetLegacyStatus("pending-q1", "ENABLED")
		if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "inactive" {
			t.Fatalf("status %v, want inactive", s)
		}
	})
	t.Run("PendingThenExpiredIsRejected", func(t *testing.T) {
		auth := in.login(sb, "legacy-expiring")
		if r := legacy(auth, "pending-r1"); r.json(t)["status"] != "pending" {
			t.Fatalf("%s", r.body)
		}
		in.app.Sandbox.SetLegacyStatus("pending-r1", "EXPIRED") // the customer never activated it
		if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "rejected" {
			t.Fatalf("status %v, want rejected", s)
		}
	})
	t.Run("CreatedWithExpiringPhone", func(t *testing.T) {
		auth := in.login(sb, "legacy-expired-phone")
		id, _ := createCoreAccount(t, sb, e["MIDTRANS_SERVER_KEY"], "81200000001") // the sandbox expires phones ending 0001
		problem(t, legacy(auth, id), 422, "legacy_account_inactive", "legacy_account_id")
	})
	t.Run("PendingUnlinkUsesCoreAPI", func(t *testing.T) {
		auth := in.login(sb, "legacy-pending-unlink")
		before := in.app.Sandbox.Calls(sandbox.OpCoreUnbind)
		legacy(auth, "pending-xyz")
		if r := in.do("DELETE", "/v1/gopay-link", "", "Authorization", auth); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if in.app.Sandbox.Calls(sandbox.OpCoreUnbind) != before+1 {
			t.Fatal("a pending legacy link must be unbound with the Core API")
		}
	})
	for _, tt := range []struct{ id, code string }{
		{"expired-1", "legacy_account_inactive"}, {"disabled-1", "legacy_account_inactive"},
		{"inactive-1", "legacy_account_inactive"}, {"nosuchaccount", "legacy_account_not_found"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			problem(t, legacy(in.login(sb, "legacy-"+tt.id), tt.id), 422, tt.code, "legacy_account_id")
		})
	}
	t.Run("ExactlyOneOfCodeAndAccount", func(t *testing.T) {
		auth := in.login(sb, "legacy-both")
		problem(t, in.do("POST", "/v1/gopay-link", `{"auth_code":"x","legacy_account_id":"enabled-1","phone_number":"81200001111"}`,
			"Authorization", auth), 400, "invalid_request", "auth_code")
		problem(t, in.do("POST", "/v1/gopay-link", `{"phone_number":"81200001111"}`, "Authorization", auth), 400, "invalid_request", "auth_code")
		problem(t, in.do("POST", "/v1/gopay-link", `{"auth_code":"x","phone_number":"12"}`, "Authorization", auth), 400, "invalid_request", "phone_number")
	})
}

func createCoreAccount(t *testing.T, sandboxURL, serverKey, phone string) (id, activation string) {
	t.Helper()
	req, _ := http.NewRequest("POST", sandboxURL+"/v2/pay/account",
		strings.NewReader(`{"payment_type":"gopay","gopay_partner":{"phone_number":"`+phone+`","country_code":"62"}}`))
	req.SetBasicAuth(serverKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		AccountID string `json:"account_id"`
		Actions   []struct{ Name, URL string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, err)
	}
	return a.AccountID, a.Actions[0].URL
}

// GoPay ended the linking (the customer unlinked in the app): the next refresh finds out,
// marks the link inactive and tells the frontend to link again.
func TestLinkEndedAtGoPay(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	auth := in.login(in.app.SandboxURL(), "ended")
	in.linkSNAP(auth, "81255550000")
	in.app.Sandbox.DeactivateCustomer("81255550000")
	problem(t, in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth), 409, "gopay_link_inactive", "")
	if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "inactive" {
		t.Fatalf("link status %v", s)
	}
	// A phone ending in 9999 binds a customer already inactive at GoPay.
	auth2 := in.login(in.app.SandboxURL(), "born-inactive")
	in.linkSNAP(auth2, "81200009999")
	problem(t, in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth2), 409, "gopay_link_inactive", "")
}

func TestStaleTokensPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("SNAP_TIMEOUT", "300ms")
	in := start(t, e)
	auth := in.login(in.app.SandboxURL(), "stale")
	uid := userID(t, auth)
	in.linkSNAP(auth, "81266667777")
	ia := in.internalAuth()
	if r := in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...); r.json(t)["stale"] != false {
		t.Fatalf("%s", r.body)
	}
	in.app.Sandbox.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ErrorRate: 1})
	r := in.do("GET", "/internal/v1/users/"+uid+"/payment-options?refresh=true", "", ia...)
	m := r.json(t)
	if r.status != 200 || m["stale"] != true || m["stale_reason"] != "upstream_unavailable" || len(m["payment_options"].([]any)) != 2 {
		t.Fatalf("refresh failed: want last tokens marked stale: %d %s", r.status, r.body)
	}
	strict := start(t, e.upstreamsAt(in.app.SandboxURL()).with("STALE_TOKENS_MAX_AGE", "1ms"))
	problem(t, strict.do("GET", "/internal/v1/users/"+uid+"/payment-options?refresh=true", "", strict.internalAuth()...), 503, "upstream_unavailable", "")
}

// 100 concurrent internal requests for one user over two instances: one upstream inquiry.
func TestConcurrentRefreshesCoalesceAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	one := start(t, e)
	two := start(t, e.upstreamsAt(one.app.SandboxURL()))
	two.sandbox = one.app.SandboxURL()
	auth := one.login(one.app.SandboxURL(), "coalesce")
	uid := userID(t, auth)
	one.linkSNAP(auth, "81288887777")
	one.app.Sandbox.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{LatencyMS: 400})
	before := one.app.Sandbox.Calls(sandbox.OpSNAPInquiry)
	inquiriesBefore := counter(t, "bff_upstream_requests_total", map[string]string{"operation": "inquiry"}, one, two)
	auths := [][]string{one.internalAuth(), two.internalAuth()}

	results := make([]response, 100)
	var wg sync.WaitGroup
	for i := range results {
		in := []*instance{one, two}[i%2]
		wg.Go(func() { results[i] = in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", auths[i%2]...) })
	}
	wg.Wait()
	var token string
	for _, r := range results {
		if r.status != 200 || r.json(t)["stale"] != false {
			t.Fatalf("%d %s", r.status, r.body)
		}
		tok := r.json(t)["payment_options"].([]any)[0].(map[string]any)["token"].(string)
		if token != "" && tok != token {
			t.Fatal("instances answered different tokens")
		}
		token = tok
	}
	calls := one.app.Sandbox.Calls(sandbox.OpSNAPInquiry) - before
	metric := counter(t, "bff_upstream_requests_total", map[string]string{"operation": "inquiry"}, one, two) - inquiriesBefore
	if calls != 1 || metric != 1 {
		t.Fatalf("100 concurrent refreshes over 2 instances: %d upstream inquiries (metrics say %v), want 1", calls, metric)
	}
	joined := counter(t, "bff_coalesced_total", map[string]string{"operation": "payment_options", "role": "joined_remote"}, one, two) +
		counter(t, "bff_coalesced_total", map[string]string{"operation": "payment_options", "role": "joined_local"}, one, two)
	t.Logf("100 concurrent internal requests over 2 instances: %d upstream inquiry, %v requests joined another's refresh", calls, joined)
}

// 1,000 internal requests within one token lifetime: one B2B token request, over two instances.
func TestThousandRequestsOneB2BToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	one := start(t, e)
	two := start(t, e.upstreamsAt(one.app.SandboxURL()))
	auth := one.login(one.app.SandboxURL(), "thousand")
	uid := userID(t, auth)
	one.linkSNAP(auth, "81211110000")
	auths := [][]string{one.internalAuth(), two.internalAuth()}

	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	sem := make(chan struct{}, 16)
	for i := range 1000 {
		in := []*instance{one, two}[i%2]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if r := in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", auths[i%2]...); r.status != 200 {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failures > 0 {
		t.Fatalf("%d of 1000 requests failed", failures)
	}
	calls := one.app.Sandbox.Calls(sandbox.OpSNAPAccessToken)
	metric := counter(t, "bff_upstream_requests_total", map[string]string{"upstream": "snap", "operation": "access_token"}, one, two)
	if calls != 1 || metric != 1 {
		t.Fatalf("B2B token requests: sandbox saw %d, metrics say %v; want 1", calls, metric)
	}
	inquiries := one.app.Sandbox.Calls(sandbox.OpSNAPInquiry)
	t.Logf("1000 internal requests over 2 instances: %d B2B token request, %d upstream inquiries", calls, inquiries)
}

func TestInternalAuthAndAccountsListing(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	userAuth := in.login(sb, "listing-0")
	uid := userID(t, userAuth)
	ia := in.internalAuth()
	accept := []string{"Accept", "application/json"}

	t.Run("Boundaries", func(t *testing.T) {
		req, _ := http.NewRequest("POST", in.base+"/internal/v1/access-token", strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("payments", "wrong")
		resp, _ := in.client.Do(req)
		_ = resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("wrong secret: %d", resp.StatusCode)
		}
		problem(t, in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", "Authorization", userAuth, "X-PARTNER-ID", "payments"),
			401, "unauthenticated", "")
		problem(t, in.do("GET", "/v1/gopay-link", "", ia[0], ia[1]), 401, "unauthenticated", "")
		problem(t, in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia[0], ia[1], "X-PARTNER-ID", "other"),
			401, "unauthenticated", "")
		problem(t, in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia[0], ia[1]), 401, "unauthenticated", "")
		problem(t, in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...), 404, "gopay_not_linked", "")
	})

	for i := range 12 {
		auth := in.login(sb, fmt.Sprintf("listing-%d", i+1))
		if r := in.linkSNAP(auth, fmt.Sprintf("8120000%04d", i)); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	page := func(q string) response { return in.do("GET", "/api/v1.0/accounts"+q, "", append(ia, accept...)...) }
	p1 := page("")
	m := p1.json(t)
	pg := m["pagination"].(map[string]any)
	if p1.status != 200 || m["status"] != float64(200) || m["success"] != true || len(m["data"].([]any)) != 10 ||
		pg["total"] != float64(12) || pg["perPage"] != float64(10) || pg["totalPages"] != float64(2) || pg["count"] != float64(10) ||
		pg["links"].(map[string]any)["next"] != "/api/v1.0/accounts?page=2" {
		t.Fatalf("page 1: %s", p1.body)
	}
	item := m["data"].([]any)[0].(map[string]any)
	if item["status"] != "active" || item["phone"] != "6281200000000" || item["name"] != "Test User" || item["email"] != "t@example.com" {
		t.Fatalf("item: %v", item)
	}
	if p2 := page("?page=2").json(t); len(p2["data"].([]any)) != 2 || p2["pagination"].(map[string]any)["links"].(map[string]any)["prev"] == nil {
		t.Fatalf("page 2: %v", p2)
	}
	if p3 := page("?page=3").json(t); len(p3["data"].([]any)) != 0 {
		t.Fatalf("page 3: %v", p3)
	}
	for _, tt := range []struct {
		name    string
		r       response
		status  int
		message string
	}{
		{"PageZero", page("?page=0"), 400, ""},
		{"PageNotNumber", page("?page=two"), 400, ""},
		{"NoToken", in.do("GET", "/api/v1.0/accounts", "", append([]string{"X-PARTNER-ID", "payments"}, accept...)...), 401, ""},
		{"UserSession", in.do("GET", "/api/v1.0/accounts", "", append([]string{"Authorization", userAuth, "X-PARTNER-ID", "payments"}, accept...)...), 401, ""},
		{"NoAccept", in.do("GET", "/api/v1.0/accounts", "", ia...), 406, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.r.json(t)
			if tt.r.status != tt.status || m["success"] != false || m["status"] != float64(tt.status) ||
				m["error"].(map[string]any)["code"] != float64(tt.status) || m["error"].(map[string]any)["message"] == "" {
				t.Fatalf("want seed 004's error shape with %d: %d %s", tt.status, tt.r.status, tt.r.body)
			}
		})
	}
}

// Idempotency keys are scoped to whoever authenticated: two internal clients sending the same
// Request-Id with the same body must each get their own token, never the other's replayed.
func TestIdempotencyKeyScopedToInternalClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e.with("INTERNAL_CLIENTS", e["INTERNAL_CLIENTS"]+",orders:"+config.HashSecret("orders-secret")))
	token := func(client, secret string) (string, string) {
		req, _ := http.NewRequest("POST", in.base+"/internal/v1/access-token", strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Request-Id", "same-key-for-both")
		req.SetBasicAuth(client, secret)
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		parts := strings.Split(tok.AccessToken, ".")
		if resp.StatusCode != 200 || len(parts) != 3 {
			t.Fatalf("%s: %d", client, resp.StatusCode)
		}
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Sub string `json:"sub"`
		}
		_ = json.Unmarshal(claims, &c)
		return c.Sub, resp.Header.Get("Idempotent-Replayed")
	}
	if sub, _ := token("payments", internalSecret); sub != "payments" {
		t.Fatalf("payments got a token for %q", sub)
	}
	if sub, replayed := token("orders", "orders-secret"); sub != "orders" || replayed != "" {
		t.Fatalf("orders was replayed %q's token (Idempotent-Replayed %q)", sub, replayed)
	}
	if sub, replayed := token("payments", internalSecret); sub != "payments" || replayed != "true" {
		t.Fatalf("payments' own retry: sub %q replayed %q", sub, replayed)
	}
}

// Issue 8: a fault with a client-error status is played as asked (it used to become 503), in
// the upstream's own shape, so "GoPay says 401, we answer 502" can be tested end to end.
func TestInjectedClientErrorStatuses(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()
	auth := in.login(sb, "faults")
	link := func() response {
		return in.do("POST", "/v1/bank-accounts", `{"account_token":"`+accountToken(t, sb, "8080808080")+`"}`, "Authorization", auth)
	}
	for _, tc := range []struct {
		status int
		code   string
	}{
		{401, "upstream_rejected"},       // our credentials: the operator's problem
		{403, "upstream_rejected"},       // likewise
		{404, "account_token_not_found"}, // GoPay's envelope says 900
		{409, "upstream_rejected"},
		{503, "upstream_unavailable"},
	} {
		in.app.Sandbox.SetFault(sandbox.OpGoPayBankDetails, sandbox.Fault{FailNext: 3, Status: tc.status})
		r := link()
		in.app.Sandbox.ClearFaults()
		if r.status == 0 {
			continue
		}
		if m := r.json(t); m["code"] != tc.code {
			t.Errorf("GoPay %d: we answered %d %v, want %s", tc.status, r.status, m["code"], tc.code)
		}
	}
	if r := link(); r.status != 201 {
		t.Fatalf("after the faults: %d %s", r.status, r.body)
	}
	resp, err := http.NewRequest("PUT", sb+"/sandbox/faults/"+sandbox.OpGoPayBankDetails, strings.NewReader(`{"status":302}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := http.DefaultClient.Do(resp); err != nil || got.StatusCode != 400 {
		t.Fatalf("a fault status outside 400..599 must be refused: %v %v", got, err)
	}
}

// Issue 8: a pending legacy link shows the activation link Midtrans gave, and its account id
// (which the merchant's SNAP credentials could swap for a customer token) is sealed while
// pending and gone once swapped. The published Get Pay Account answer shows no actions on
// PENDING, so the sandbox plays none; a proxy adds them, as a provider that sends them would.
func TestLegacyActivationURLAndAccountIDAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := start(t, e)
	sb := host.app.SandboxURL()
	target, _ := url.Parse(sb)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		var m map[string]any
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if json.Unmarshal(b, &m) != nil || m["account_status"] != "PENDING" {
			resp.Body = io.NopCloser(bytes.NewReader(b)) // not a PENDING account: pass it on as it came
			return nil                                   //nolint:nilerr // an answer that is not JSON is passed on, not an error
		}
		m["actions"] = []map[string]string{{"name": "activation-link-url", "method": "GET", "url": "https://gopay.example/activate/1"}}
		b, _ = json.Marshal(m)
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	midtrans := httptest.NewServer(rp)
	t.Cleanup(midtrans.Close)
	in := start(t, e.upstreamsAt(sb).with("MIDTRANS_BASE_URL", midtrans.URL))
	in.sandbox = sb

	auth := in.login(sb, "legacy-at-rest")
	const id = "pending-at-rest-7"
	r := in.do("POST", "/v1/gopay-link", `{"legacy_account_id":"`+id+`","phone_number":"81200007777"}`, "Authorization", auth)
	if r.status != 201 || r.json(t)["activation_url"] != "https://gopay.example/activate/1" {
		t.Fatalf("pending link without its activation link: %d %s", r.status, r.body)
	}
	if g := in.do("GET", "/v1/gopay-link", "", "Authorization", auth); g.json(t)["activation_url"] != "https://gopay.example/activate/1" {
		t.Fatalf("GET: %s", g.body)
	}
	dump := func() string {
		conn, err := pgx.Connect(context.Background(), e.directDB())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		var d string
		var sealed bool
		if err := conn.QueryRow(context.Background(), `SELECT l::text, legacy_account_id_sealed IS NOT NULL FROM gopay_links l`).Scan(&d, &sealed); err != nil {
			t.Fatal(err)
		}
		return d + fmt.Sprint(sealed)
	}
	if d := dump(); strings.Contains(d, id) || !strings.HasSuffix(d, "true") {
		t.Fatalf("a pending legacy account id not sealed at rest: %s", d)
	}
	host.app.Sandbox.SetLegacyStatus(id, "ENABLED")
	if s := in.do("GET", "/v1/gopay-link", "", "Authorization", auth).json(t)["status"]; s != "active" {
		t.Fatalf("status %v after activation", s)
	}
	if d := dump(); strings.Contains(d, id) || !strings.HasSuffix(d, "false") || strings.Contains(d, "gopay.example") {
		t.Fatalf("the swapped account id (or its activation link) is still stored: %s", d)
	}
}

// Issue 9: a payment-options read that finds the stored options fresh is served from them, with
// no upstream call (and no write); refresh=true, or options older than PAYMENT_OPTIONS_MAX_AGE,
// refresh first.
func TestFreshPaymentOptionsAreServedWithoutARefresh(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("PAYMENT_OPTIONS_MAX_AGE", "1s"))
	auth := in.login(in.app.SandboxURL(), "fresh")
	uid := userID(t, auth)
	if r := in.linkSNAP(auth, "81255556666"); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	ia := in.internalAuth()
	inquiries := func() int { return in.app.Sandbox.Calls(sandbox.OpSNAPInquiry) }
	get := func(query string) response {
		r := in.do("GET", "/internal/v1/users/"+uid+"/payment-options"+query, "", ia...)
		if r.status != 200 {
			t.Fatalf("payment options: %d %s", r.status, r.body)
		}
		return r
	}
	get("") // never refreshed: the first read refreshes
	base := inquiries()
	if base != 1 {
		t.Fatalf("%d inquiries for the first read, want 1", base)
	}
	for range 20 {
		get("")
		in.do("GET", "/v1/gopay-link/payment-options", "", "Authorization", auth)
	}
	if n := inquiries(); n != base {
		t.Fatalf("%d inquiries for 40 reads of fresh options, want none", n-base)
	}
	get("?refresh=true")
	if n := inquiries(); n != base+1 {
		t.Fatalf("refresh=true made %d inquiries, want 1", n-base)
	}
	time.Sleep(1100 * time.Millisecond) // past PAYMENT_OPTIONS_MAX_AGE
	get("")
	if n := inquiries(); n != base+2 {
		t.Fatalf("a read of options older than the max age made %d inquiries, want 1 more", n-base-1)
	}
}

// Each instance keeps a user's options in memory (PAYMENT_OPTIONS_CACHE_TTL), so a write on
// one instance must reach the others' memory. With a TTL of a minute, only the Redis message
// can explain an instance seeing another's refresh and unlink within the test.
func TestCachedOptionsFollowWritesOnOtherInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("PAYMENT_OPTIONS_CACHE_TTL", "1m")
	one := start(t, e)
	two := start(t, e.upstreamsAt(one.app.SandboxURL()))
	auth := one.login(one.app.SandboxURL(), "cache")
	uid := userID(t, auth)
	if r := one.linkSNAP(auth, "81277778888"); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	tokens := map[*instance][]string{one: one.internalAuth(), two: two.internalAuth()}
	read := func(in *instance, query string) response {
		return in.do("GET", "/internal/v1/users/"+uid+"/payment-options"+query, "", tokens[in]...)
	}
	firstToken := func(r response) string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("payment options: %d %s", r.status, r.body)
		}
		return r.json(t)["payment_options"].([]any)[0].(map[string]any)["token"].(string)
	}
	before := firstToken(read(two, "")) // refreshes (never refreshed) and keeps the result
	hits := func() float64 { return testutil.ToFloat64(two.app.Metrics.LinkCache.WithLabelValues("hit")) }
	testenv.Eventually(t, func() bool { return firstToken(read(two, "")) == before && hits() > 0 }, "two to serve the options from memory")

	one.app.Sandbox.UpgradeCustomer("81277778888") // GoPay Tabungan upgrade: tokens change
	refreshed := firstToken(read(one, "?refresh=true"))
	if refreshed == before {
		t.Fatal("refresh=true on one kept the old token")
	}
	testenv.Eventually(t, func() bool { return firstToken(read(two, "")) == refreshed }, "two to serve one's refreshed token")

	if r := one.do("DELETE", "/v1/gopay-link", "", "Authorization", auth); r.status != 204 {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	testenv.Eventually(t, func() bool { return read(two, "").status == 409 }, "two to stop serving an unlinked user's tokens")
}

// The caller that ran a refresh answers with what it wrote, without reading it back; a later
// read from the database must answer exactly the same.
func TestRefreshAnswerIsWhatIsStored(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("PAYMENT_OPTIONS_CACHE_TTL", "0"))
	auth := in.login(in.app.SandboxURL(), "written")
	uid := userID(t, auth)
	if r := in.linkSNAP(auth, "81266667777"); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	ia := in.internalAuth()
	view := func(r response) string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("payment options: %d %s", r.status, r.body)
		}
		b := r.json(t)
		return fmt.Sprint(b["payment_options"], b["refreshed_at"], b["stale"])
	}
	refreshed := view(in.do("GET", "/internal/v1/users/"+uid+"/payment-options?refresh=true", "", ia...))
	stored := view(in.do("GET", "/internal/v1/users/"+uid+"/payment-options", "", ia...))
	if refreshed != stored {
		t.Fatalf("the refresh answered\n%s\nbut the database holds\n%s", refreshed, stored)
	}
}

// A chain of upstream calls that hang (Core API status, then the swap) shares one request
// budget: the client gets 504 upstream_timeout within REQUEST_TIMEOUT, before the server's write
// timeout could cut the connection, and retries stop once another whole attempt cannot fit.
func TestOneDeadlinePerRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("REQUEST_TIMEOUT", "2s").with("HTTP_WRITE_TIMEOUT", "7s").
		with("MIDTRANS_TIMEOUT", "800ms").with("SNAP_TIMEOUT", "800ms").with("SNAP_MAX_ATTEMPTS", "5")
	in := start(t, e)
	auth := in.login(in.app.SandboxURL(), "deadline")
	for _, op := range []string{sandbox.OpCoreStatus, sandbox.OpSNAPBinding} {
		in.app.Sandbox.SetFault(op, sandbox.Fault{Hang: true})
	}
	calls := func() int {
		return in.app.Sandbox.Calls(sandbox.OpCoreStatus) + in.app.Sandbox.Calls(sandbox.OpSNAPBinding)
	}
	for _, body := range []string{
		`{"legacy_account_id":"enabled-deadline","phone_number":"81200002222"}`,                                                                                                // Core API status hangs
		`{"auth_code":"` + sandboxPost(t, in.app.SandboxURL(), "/sandbox/gopay-auth-codes", `{"phone_number":"81200003333"}`, "auth_code") + `","phone_number":"81200003333"}`, // binding hangs
	} {
		before := calls()
		start := time.Now()
		r := in.do("POST", "/v1/gopay-link", body, "Authorization", auth)
		took := time.Since(start)
		problem(t, r, 504, "upstream_timeout", "")
		if took > 2500*time.Millisecond {
			t.Fatalf("answered after %v, want within REQUEST_TIMEOUT (2s)", took)
		}
		// 5 attempts of 800 ms do not fit in 2 s: the budget allows two.
		if n := calls() - before; n < 1 || n > 2 {
			t.Fatalf("%d attempts within a 2 s budget of 800 ms attempts, want 1 or 2", n)
		}
	}
}
