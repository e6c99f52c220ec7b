package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 12 §2: a mini app page on an allowed origin may call /v1 from a browser and read its
// answers, problems included; other origins, and the internal and seed 004 routes, get no
// CORS headers at all.
func TestCORS(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("CORS_ALLOWED_ORIGINS", "https://miniapp.example.com"))
	demo := in.app.SandboxURL() // sandbox mode adds the demo's origin

	preflight := func(path, origin string) response {
		return in.plain(http.MethodOptions, path, "", "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type,request-id,x-device-id")
	}
	for _, origin := range []string{demo, "https://miniapp.example.com"} {
		r := preflight("/v1/bank-accounts", origin)
		h := r.header
		if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("preflight from %s: %d, allow-origin %q", origin, r.status, h.Get("Access-Control-Allow-Origin"))
		}
		for _, want := range []string{"Request-Id", "Idempotency-Key", "X-Device-Id", "Authorization", "Content-Type"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
				t.Errorf("preflight does not allow %s: %q", want, h.Get("Access-Control-Allow-Headers"))
			}
		}
		if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "DELETE") {
			t.Errorf("allowed methods %q", m)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("credentials allowed: the API takes bearer tokens, never cookies")
		}
	}

	// A problem is readable by the page: it carries the headers, and exposes the request id.
	r := in.plain(http.MethodGet, "/v1/bank-accounts", "", "Origin", demo)
	problem(t, r, 401, "unauthenticated", "")
	if r.header.Get("Access-Control-Allow-Origin") != demo {
		t.Fatalf("a 401 without CORS headers: the page sees a network error instead of the problem")
	}
	for _, want := range []string{"X-Request-Id", "Idempotent-Replayed", "Retry-After"} {
		if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), want) {
			t.Errorf("%s not exposed: %q", want, r.header.Get("Access-Control-Expose-Headers"))
		}
	}

	// Not allowed: another origin, and routes for services rather than browsers.
	for _, c := range []struct{ method, path, origin string }{
		{http.MethodOptions, "/v1/bank-accounts", "https://evil.example"},
		{http.MethodGet, "/v1/bank-accounts", "https://evil.example"},
		{http.MethodGet, "/v1/bank-accounts", "null"},
		{http.MethodOptions, "/internal/v1/access-token", demo},
		{http.MethodPost, "/internal/v1/access-token", demo},
		{http.MethodGet, "/api/v1.0/accounts?page=1", demo},
		{http.MethodGet, "/healthz", demo},
	} {
		var r response
		if c.method == http.MethodOptions {
			r = preflight(c.path, c.origin)
		} else {
			r = in.plain(c.method, c.path, "", "Origin", c.origin)
		}
		for name := range r.header {
			if strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("%s %s from %s answered %s: %q", c.method, c.path, c.origin, name, r.header.Get(name))
			}
		}
	}
}
