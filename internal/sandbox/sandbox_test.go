package sandbox

import (
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/testenv"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

// cardClientID is the 32-character X-CLIENT-KEY of Get OAuth Code in these tests.
const cardClientID = "CARDCLIENT0123456789012345678901"

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSandbox(t *testing.T) (*Sandbox, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	s := New(Options{GoPayClientID: "id", GoPayClientSecret: "secret", SNAPClientKey: "ck", SNAPClientSecret: "cs",
		SNAPPublicKey: &testKey(t).PublicKey, MidtransServerKey: "sk", CardClientID: cardClientID, Now: clk.Now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, clk
}

// testKey is one RSA key for the package's tests.
func testKey(t *testing.T) *rsa.PrivateKey { return testenv.RSAKey(t) }

func call(t *testing.T, srv *httptest.Server, path, body, user, pass, requestID string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if requestID != "" {
		req.Header.Set("Request-Id", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func errCode(m map[string]any) any { return m["error"].(map[string]any)["code"] }

func TestBankDetails(t *testing.T) {
	s, srv, _ := newSandbox(t)
	tok := s.MintAccountToken("bca", "Budi", "1234567890")
	path := "/v1/mini-apps/bank-details?account_token=" + tok

	t.Run("WrongCredentials401", func(t *testing.T) {
		if st, _ := call(t, srv, path, "", "id", "nope", ""); st != 401 {
			t.Fatalf("status %d", st)
		}
		if st, _ := call(t, srv, path, "", "", "", ""); st != 401 {
			t.Fatalf("no credentials: status %d", st)
		}
	})
	t.Run("MissingToken400", func(t *testing.T) {
		if st, _ := call(t, srv, "/v1/mini-apps/bank-details", "", "id", "secret", ""); st != 400 {
			t.Fatalf("status %d", st)
		}
	})
	st, m := call(t, srv, path, "", "id", "secret", "rid-1")
	data, _ := m["data"].(map[string]any)
	if st != 200 || m["success"] != true || data["bank_account_number"] != "1234567890" || data["bank_code"] != "bca" {
		t.Fatalf("%d %v", st, m)
	}
	t.Run("SameRequestIDSameAnswerOneEffect", func(t *testing.T) {
		st2, m2 := call(t, srv, path, "", "id", "secret", "rid-1")
		if st2 != 200 || m2["data"].(map[string]any)["bank_account_number"] != "1234567890" {
			t.Fatalf("replay: %d %v", st2, m2)
		}
	})
	t.Run("UsedToken900", func(t *testing.T) {
		st3, m3 := call(t, srv, path, "", "id", "secret", "rid-2")
		if st3 != 404 || m3["success"] != false || errCode(m3) != float64(900) {
			t.Fatalf("used token: %d %v", st3, m3)
		}
	})
	t.Run("UnknownToken900", func(t *testing.T) {
		st4, m4 := call(t, srv, "/v1/mini-apps/bank-details?account_token=nope", "", "id", "secret", "")
		if st4 != 404 || errCode(m4) != float64(900) {
			t.Fatalf("unknown token: %d %v", st4, m4)
		}
	})
}

func TestAuthCodeExchange(t *testing.T) {
	s, srv, clk := newSandbox(t)
	code, _ := s.MintAuthCode("alice")
	st, m := call(t, srv, "/v1/mini-apps/authorizations/token", `{"auth_code":"`+code+`"}`, "id", "secret", "")
	first := m["data"].(map[string]any)
	if st != 200 || first["gopay_account_id"] == "" || first["auth_token"] == "" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _ := call(t, srv, "/v1/mini-apps/authorizations/token", `{"auth_code":"`+code+`"}`, "id", "secret", ""); st != 400 {
		t.Fatalf("reused code: %d", st)
	}
	again, _ := s.MintAuthCode("alice")
	_, m = call(t, srv, "/v1/mini-apps/authorizations/token", `{"auth_code":"`+again+`"}`, "id", "secret", "")
	if m["data"].(map[string]any)["gopay_account_id"] != first["gopay_account_id"] {
		t.Fatal("the same user must keep the same GoPay account id")
	}
	expired, _ := s.MintAuthCode("alice")
	clk.Add(5*time.Minute + time.Second)
	if st, _ := call(t, srv, "/v1/mini-apps/authorizations/token", `{"auth_code":"`+expired+`"}`, "id", "secret", ""); st != 400 {
		t.Fatalf("expired code: %d", st)
	}
}

func TestFaultsAndCounts(t *testing.T) {
	s, srv, _ := newSandbox(t)
	path := "/v1/mini-apps/bank-details?account_token=" + s.MintAccountToken("", "", "")
	s.SetFault(OpGoPayBankDetails, Fault{FailNext: 2})
	for i, want := range []int{503, 503, 200} {
		if st, _ := call(t, srv, path, "", "id", "secret", "same"); st != want {
			t.Fatalf("call %d: %d, want %d", i, st, want)
		}
	}
	if n := s.Calls(OpGoPayBankDetails); n != 3 {
		t.Fatalf("calls %d", n)
	}
	// The HTTP control endpoints do the same as the Go API.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/sandbox/faults/"+OpGoPayBankDetails, strings.NewReader(`{"error_rate":1,"status":500}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("put fault: %v", err)
	}
	if st, _ := call(t, srv, path, "", "id", "secret", "other"); st != 500 {
		t.Fatalf("error_rate 1: %d", st)
	}
	resp, _ := http.Get(srv.URL + "/sandbox/calls")
	var calls map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	resp.Body.Close()
	if calls[OpGoPayBankDetails] != 4 {
		t.Fatalf("calls endpoint: %v", calls)
	}
	s.SetFault(OpGoPayBankDetails, Fault{LatencyMS: 100})
	start := time.Now()
	call(t, srv, path, "", "id", "secret", "same")
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("latency not injected")
	}
}
