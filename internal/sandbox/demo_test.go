package sandbox

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The demo is served from embedded files, and GoPay's linking page hands an auth code only to
// a path on its own origin.
func TestDemoAndLinkingPage(t *testing.T) {
	s, srv, _ := newSandbox(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	if r := get("/"); r.StatusCode != http.StatusFound || r.Header.Get("Location") != DemoPath {
		t.Fatalf("root: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for path, ctype := range map[string]string{DemoPath: "text/html", DemoPath + "app.js": "text/javascript",
		DemoPath + "style.css": "text/css", DemoPath + "config.json": "application/json"} {
		if r := get(path); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	body, _ := io.ReadAll(get(DemoPath + "config.json").Body)
	if !strings.Contains(string(body), `"api_base_url":"http://127.0.0.1:8080"`) {
		t.Errorf("config: %s", body)
	}

	if r := get("/sandbox/gopay-linking?phone_number=81234567890&return_url=" + url.QueryEscape("/demo/")); r.StatusCode != 200 {
		t.Fatalf("linking page: %d", r.StatusCode)
	}
	for _, back := range []string{"https://evil.example/", "//evil.example/", `/\evil.example`, "javascript:alert(1)"} {
		if r := get("/sandbox/gopay-linking?phone_number=81234567890&return_url=" + url.QueryEscape(back)); r.StatusCode != http.StatusBadRequest {
			t.Errorf("return_url %q: %d, want 400", back, r.StatusCode)
		}
	}

	decide := func(decision, back string) *http.Response {
		t.Helper()
		resp, err := noFollow.PostForm(srv.URL+"/sandbox/gopay-linking",
			url.Values{"phone_number": {"81234567890"}, "return_url": {back}, "decision": {decision}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	r := decide("approve", "/demo/")
	loc, _ := url.Parse(r.Header.Get("Location"))
	code := loc.Query().Get("gopay_auth_code")
	if r.StatusCode != http.StatusSeeOther || loc.Path != "/demo/" || code == "" || loc.Query().Get("phone_number") != "81234567890" {
		t.Fatalf("approve: %d %q", r.StatusCode, loc)
	}
	s.mu.Lock()
	_, minted := s.snapAuthCodes[code]
	s.mu.Unlock()
	if !minted {
		t.Fatal("the code handed back is not one SNAP account binding accepts")
	}
	if r := decide("decline", "/demo/"); !strings.Contains(r.Header.Get("Location"), "gopay_link_error=declined") {
		t.Fatalf("decline: %q", r.Header.Get("Location"))
	}
	if r := decide("approve", "https://evil.example/"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("approve to another origin: %d", r.StatusCode)
	}
}
