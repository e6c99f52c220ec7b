package gopay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/metrics"
)

func newClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	up := upstream.New(upstream.Options{Name: "gopay", Timeout: 300 * time.Millisecond, MaxAttempts: 3,
		Metrics: metrics.New(), Log: zap.NewNop(), InitialBackoff: time.Millisecond})
	return New(up, srv.URL, "id", "secret", zap.NewNop())
}

// Every way GoPay can answer the bank-details call, and what it becomes.
func TestBankDetailsErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind domain.Kind
		wantCode string
	}{
		{"OK", 200, `{"success":true,"data":{"bank_code":"jago","bank_account_name":"Rafa refa","bank_account_number":"11223344456"}}`, -1, ""},
		{"TokenNotFoundNumber", 404, `{"success":false,"error":{"code":900,"description":"Token Not Found"}}`, domain.KindUnprocessable, domain.CodeAccountTokenInvalid},
		{"TokenNotFoundString", 400, `{"success":false,"error":{"code":"900","description":"Token Not Found"}}`, domain.KindUnprocessable, domain.CodeAccountTokenInvalid},
		{"BareNotFound", 404, `<html>404 page not found</html>`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"BadCredentials", 401, `{"success":false,"error":{"code":"401","description":"Unauthorized"}}`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"OtherClientError", 400, `{"success":false,"error":{"code":"400","description":"bad"}}`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"ServerError", 500, `{}`, domain.KindUnavailable, domain.CodeUpstreamUnavailable},
		{"SuccessFalseOn200", 200, `{"success":false}`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"NotJSON", 200, `<html>`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"MissingNumber", 200, `{"success":true,"data":{"bank_code":"jago"}}`, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"TokenNotFoundIn200Envelope", 200, `{"success":false,"error":{"code":"900"}}`, domain.KindUnprocessable, domain.CodeAccountTokenInvalid},
		{"OtherCode404", 404, `{"success":false,"error":{"code":"904"}}`, domain.KindUpstream, domain.CodeUpstreamRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			d, err := c.BankDetails(context.Background(), "tok-secret-123", "rid")
			if tt.wantKind == -1 {
				if err != nil || d.AccountNumber != "11223344456" || d.BankCode != "jago" || d.AccountName != "Rafa refa" {
					t.Fatalf("got %+v, %v", d, err)
				}
				return
			}
			e := domain.As(err)
			if e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Fatalf("got kind %v code %q (%v), want %v %q", e.Kind, e.Code, err, tt.wantKind, tt.wantCode)
			}
			if strings.Contains(err.Error(), "tok-secret-123") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

// The request GoPay receives: Basic credentials, the token as a query parameter, and the
// same Request-Id on every retry.
func TestBankDetailsRequestAndRetries(t *testing.T) {
	var calls atomic.Int32
	var ids []string
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		ids = append(ids, r.Header.Get("Request-Id"))
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/mini-apps/bank-details" || !ok || id != "id" || secret != "secret" ||
			r.URL.Query().Get("account_token") != "a+b/c=" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
		}
		if n < 3 {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(`{"success":true,"data":{"bank_code":"bca","bank_account_name":"N","bank_account_number":"123456"}}`))
	})
	if _, err := c.BankDetails(context.Background(), "a+b/c=", "req-1"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || ids[0] != "req-1" || ids[1] != "req-1" || ids[2] != "req-1" {
		t.Fatalf("calls %d ids %v", calls.Load(), ids)
	}
}

func TestTimeoutAndCancellation(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, err := c.BankDetails(context.Background(), "t", "r")
	if e := domain.As(err); e.Kind != domain.KindTimeout {
		t.Fatalf("hanging upstream: %v, want KindTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err = c.BankDetails(ctx, "t", "r")
	if err == nil || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("a cancelled caller must stop the call at once: %v after %v", err, time.Since(start))
	}
}

func TestNetworkErrorDoesNotLeakURL(t *testing.T) {
	up := upstream.New(upstream.Options{Name: "gopay", Timeout: 200 * time.Millisecond, MaxAttempts: 2,
		Metrics: metrics.New(), Log: zap.NewNop(), InitialBackoff: time.Millisecond})
	c := New(up, "http://127.0.0.1:1", "id", "secret", zap.NewNop())
	_, err := c.BankDetails(context.Background(), "very-secret-token", "r")
	if e := domain.As(err); e.Kind != domain.KindUnavailable {
		t.Fatalf("kind %v: %v", e.Kind, err)
	}
	if strings.Contains(err.Error(), "very-secret-token") || strings.Contains(err.Error(), "account_token") {
		t.Fatalf("error carries the URL: %v", err)
	}
}

func TestExchangeAuthCode(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode string
	}{
		{"OK", 200, `{"success":true,"data":{"gopay_account_id":"g1","auth_token":"at"}}`, ""},
		{"Invalid", 400, `{"success":false,"error":{"code":"902","description":"Auth Code Invalid"}}`, domain.CodeAuthCodeInvalid},
		// The envelope decides before the status: a used code answered 404 in GoPay's envelope is
		// the user's problem, a bare 404 (no envelope: a wrong base URL) the operator's.
		{"UsedCode404InEnvelope", 404, `{"success":false,"error":{"code":900,"description":"Not Found"}}`, domain.CodeAuthCodeInvalid},
		{"UnknownCode404OtherCode", 404, `{"success":false,"error":{"code":"904","description":"Not Found"}}`, domain.CodeAuthCodeInvalid},
		{"InvalidIn200Envelope", 200, `{"success":false,"error":{"code":"902"}}`, domain.CodeAuthCodeInvalid},
		{"Bare404", 404, `404 page not found`, domain.CodeUpstreamRejected},
		{"Unauthorized", 401, `{"success":false,"error":{"code":"401","description":"Unauthorized"}}`, domain.CodeUpstreamRejected},
		{"UnauthorizedCodeOn400", 400, `{"success":false,"error":{"code":"401"}}`, domain.CodeUpstreamRejected},
		{"Forbidden", 403, `{}`, domain.CodeUpstreamRejected},
		{"Redirect", 302, `{"success":true,"data":{"gopay_account_id":"g1","auth_token":"at"}}`, domain.CodeUpstreamRejected},
		{"ServerError", 500, `{"success":false,"error":{"code":"902"}}`, domain.CodeUpstreamUnavailable},
		{"MissingToken", 200, `{"success":true,"data":{"gopay_account_id":"g1"}}`, domain.CodeUpstreamRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/v1/mini-apps/authorizations/token" {
					t.Errorf("unexpected request %s %s", r.URL.Path, r.Header.Get("Content-Type"))
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			a, err := c.ExchangeAuthCode(context.Background(), "code", "rid")
			if tt.wantCode == "" {
				if err != nil || a.GoPayAccountID != "g1" || a.AuthToken != "at" {
					t.Fatalf("%+v %v", a, err)
				}
				return
			}
			if e := domain.As(err); e.Code != tt.wantCode {
				t.Fatalf("code %q (%v), want %q", e.Code, err, tt.wantCode)
			}
		})
	}
}
