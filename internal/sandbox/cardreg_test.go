package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/cardreg/cardregtest"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// oauth sends a correctly signed Get OAuth Code for req with headers hdr (signature, token and
// timestamp are filled in), so only the rule under test can fail.
func (c *snapClient) oauth(req cardreg.Request, hdr cardreg.Headers) (int, map[string]any) {
	c.t.Helper()
	q := url.Values{}
	if raw, err := req.Query(); err == nil {
		for k, v := range raw {
			q.Set(k, v)
		}
	}
	if req.Lang == "" {
		q.Del("lang")
	}
	path := "/v1.0/get-auth-code?" + q.Encode()
	ts := hdr.Timestamp
	sts, _ := snapsig.SymmetricStringToSign("GET", path, c.b2b, nil, ts)
	h := map[string]string{"Accept": hdr.Accept, "X-TIMESTAMP": ts, "X-CLIENT-KEY": hdr.ClientKey, "X-PARTNER-ID": hdr.PartnerID,
		"X-EXTERNAL-ID": hdr.ExternalID, "CHANNEL-ID": hdr.ChannelID, "Authorization": "Bearer " + c.b2b,
		"X-SIGNATURE": snapsig.SignSymmetric("cs", sts)}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	return c.raw("GET", path, "", h)
}

// uniqueHeaders are valid headers with this sandbox's client id and a fresh external id.
func uniqueHeaders(n int) cardreg.Headers {
	h := cardregtest.ValidHeaders()
	h.ClientKey = cardClientID
	h.ExternalID = fmt.Sprintf("%032d", n)
	return h
}

// Every seed 003 rule at its boundaries, answered by the sandbox with 2003000, 4003001
// (malformed) or 4003002 (missing).
func TestGetOAuthCodeRules(t *testing.T) {
	c := newSNAP(t)
	// The cases' timestamps are fixed (2024-03-19T07:30:00Z): hold the sandbox clock there.
	fixed := time.Date(2024, 3, 19, 7, 30, 0, 0, time.UTC)
	c.sb.mu.Lock()
	c.sb.opts.Now = func() time.Time { return fixed }
	c.sb.mu.Unlock()
	n := 0
	for _, tt := range cardregtest.RuleCases {
		t.Run("Query"+tt.Name, func(t *testing.T) {
			n++
			req := cardregtest.ValidRequest()
			tt.Mutate(&req)
			st, m := c.oauth(req, uniqueHeaders(n))
			want := "2003000"
			if tt.Field != "" {
				want = map[bool]string{true: "4003002", false: "4003001"}[tt.Missing]
			}
			if m["responseCode"] != want {
				t.Fatalf("HTTP %d %v, want %s", st, m, want)
			}
			if want != "2003000" && !strings.Contains(m["responseMessage"].(string), tt.Field) {
				t.Fatalf("the answer does not name %s: %v", tt.Field, m)
			}
		})
	}
	for _, tt := range cardregtest.HeaderCases {
		t.Run("Header"+tt.Name, func(t *testing.T) {
			n++
			h := uniqueHeaders(n)
			tt.Mutate(&h)
			st, m := c.oauth(cardregtest.ValidRequest(), h)
			code, _ := m["responseCode"].(string)
			switch {
			case tt.Field == "" && code != "2003000":
				t.Fatalf("HTTP %d %v, want success", st, m)
			case tt.Field != "" && !strings.HasPrefix(code, "40030"):
				t.Fatalf("HTTP %d %v, want 4003001/4003002 for %s", st, m, tt.Field)
			case tt.Field != "" && !strings.Contains(m["responseMessage"].(string), tt.Field):
				t.Fatalf("the answer does not name %s: %v", tt.Field, m)
			}
		})
	}
	t.Run("WebviewRedirectsWithState", func(t *testing.T) {
		req := cardregtest.ValidRequest()
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		// A slice, not a map: the order is fixed, and each outcome opens the webview with an auth
		// code of its own (the webview is single-use, so sharing one made the second step fail
		// whenever map iteration put "failure" first).
		for _, tc := range []struct{ outcome, want string }{
			{"success", req.RedirectURL}, {"failure", req.FailureRedirectURL},
		} {
			outcome, want := tc.outcome, tc.want
			n++
			_, m := c.oauth(req, uniqueHeaders(n))
			resp, err := noFollow.Get(c.srv.URL + "/sandbox/card-webview?authCode=" + url.QueryEscape(m["authCode"].(string)) + "&outcome=" + outcome)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, want+"?") || !strings.Contains(loc, "state="+req.State) {
				t.Fatalf("%s: %d %s", outcome, resp.StatusCode, loc)
			}
		}
	})
}
