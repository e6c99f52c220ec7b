package conformance_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/conformance"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/snapsig"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// Credentials the sandbox under test checks.
const (
	gopayID, gopaySecret = "conformance-id", "conformance-secret"
	snapClientKey        = "conformance-client-key"
	snapClientSecret     = "conformance-client-secret"
	serverKey            = "SB-Mid-server-conformance"
	cardClientID         = "CONFORMANCECLIENT000000000000001"
)

// phoneSeq gives each bound customer a phone number of its own.
var phoneSeq atomic.Int64

func privateKey(t testing.TB) *rsa.PrivateKey { return testenv.RSAKey(t) }

// env is a sandbox on real HTTP and what a test needs to call it as a client would.
type env struct {
	t    *testing.T
	sb   *sandbox.Sandbox
	url  string
	pair [2]string // the current example's customer token and its GOPAY_WALLET token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandbox.New(sandbox.Options{GoPayClientID: gopayID, GoPayClientSecret: gopaySecret, SNAPClientKey: snapClientKey,
		SNAPClientSecret: snapClientSecret, SNAPPublicKey: &privateKey(t).PublicKey, MidtransServerKey: serverKey,
		CardClientID: cardClientID})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, sb: sb, url: srv.URL}
}

// request is one call, as a client builds it before signing.
type request struct {
	method, path string
	query        url.Values
	headers      map[string]string
	body         map[string]any // nil: no body
}

// exampleOf builds c's published example with fresh values for its placeholders.
func (e *env) exampleOf(c conformance.Call) request {
	e.t.Helper()
	e.pair = [2]string{}
	r := request{method: c.Method, path: c.Path, query: url.Values{}, headers: map[string]string{}}
	for k, v := range c.Example.PathParams {
		r.path = strings.ReplaceAll(r.path, "{"+k+"}", url.PathEscape(e.fill(v)))
	}
	for k, v := range c.Example.Query {
		r.query.Set(k, e.fill(v))
	}
	for k, v := range c.Example.Headers {
		r.headers[k] = e.fill(v)
	}
	if len(c.Example.Body) > 0 {
		filled := e.fill(string(c.Example.Body))
		if err := json.Unmarshal([]byte(filled), &r.body); err != nil {
			e.t.Fatalf("%s: example body: %v", c.Name, err)
		}
	}
	return r
}

// fill replaces ${name} with a value the sandbox issued just now (codes and tokens are single-use).
func (e *env) fill(s string) string {
	if strings.Contains(s, "${debitCustomerToken}") || strings.Contains(s, "${debitWalletToken}") {
		// A customer and its own option token: minted once per example, whatever part of it
		// (a header, the body) names them.
		if e.pair[0] == "" {
			e.pair[0], e.pair[1] = e.customerWithWallet()
		}
		s = strings.ReplaceAll(strings.ReplaceAll(s, "${debitCustomerToken}", e.pair[0]), "${debitWalletToken}", e.pair[1])
	}
	for name, mint := range map[string]func() string{
		"gopayAuthCode":   func() string { code, _ := e.sb.MintAuthCode("conformance-user"); return code },
		"accountToken":    func() string { return e.sb.MintAccountToken("", "", "") },
		"snapAuthCode":    func() string { return e.sb.MintGoPayAuthCode("81234567890") },
		"customerToken":   e.customerToken,
		"legacyAccountId": func() string { return "enabled-" + randomHex(6) },
		"uniqueRef":       func() string { return randomHex(12) },
		"debitPartnerRef": func() string { return e.debit("15000.00") },
		// At or above 1,000,000.00 IDR the sandbox waits for the customer's PIN: cancelable.
		"pendingDebitPartnerRef": func() string { return e.debit("1500000.00") },
	} {
		for strings.Contains(s, "${"+name+"}") {
			s = strings.Replace(s, "${"+name+"}", mint(), 1)
		}
	}
	return s
}

// customerWithWallet binds a fresh customer and returns its token and GOPAY_WALLET's token.
func (e *env) customerWithWallet() (string, string) {
	customer := e.customerToken()
	r := request{method: http.MethodPost, path: "/v1.0/registration-account-inquiry", query: url.Values{},
		headers: map[string]string{"Content-Type": "application/json", "X-PARTNER-ID": "P1", "X-DEVICE-ID": "d", "CHANNEL-ID": "95221",
			"Authorization-Customer": "Bearer " + customer}, body: map[string]any{}}
	status, m := e.send("snap-service", r, "")
	info, _ := m["additionalInfo"].(map[string]any)
	opts, _ := info["paymentOptions"].([]any)
	for _, o := range opts {
		if o := o.(map[string]any); o["name"] == "GOPAY_WALLET" {
			return customer, o["token"].(string)
		}
	}
	e.t.Fatalf("inquiry for the test: %d %v", status, m)
	return "", ""
}

// debit charges a fresh customer through the sandbox and returns the partnerReferenceNo.
func (e *env) debit(amount string) string {
	customer, wallet := e.customerWithWallet()
	ref := randomHex(12)
	r := request{method: http.MethodPost, path: "/v1.0/debit/payment-host-to-host", query: url.Values{},
		headers: map[string]string{"Content-Type": "application/json", "X-PARTNER-ID": "P1", "X-DEVICE-ID": "d", "CHANNEL-ID": "95221",
			"Authorization-Customer": "Bearer " + customer},
		body: map[string]any{"partnerReferenceNo": ref, "merchantId": "G12345", "payOptionDetails": []any{map[string]any{
			"payMethod": "GOPAY", "payOption": "GOPAY_WALLET", "transAmount": map[string]any{"value": amount, "currency": "IDR"},
			"additionalInfo": map[string]any{"paymentoptiontoken": wallet}}}}}
	if status, m := e.send("snap-service", r, ""); status != 200 {
		e.t.Fatalf("a charge for the test: %d %v", status, m)
	}
	return ref
}

// customerToken binds a fresh customer through the sandbox and returns its token.
func (e *env) customerToken() string {
	r := request{method: http.MethodPost, path: "/v1.0/registration-account-binding", query: url.Values{},
		headers: map[string]string{"Content-Type": "application/json", "X-PARTNER-ID": "P1", "X-DEVICE-ID": "d", "CHANNEL-ID": "95221"},
		body: map[string]any{"partnerReferenceNo": "ref-" + randomHex(8), "merchantId": "G12345",
			"authCode": e.sb.MintGoPayAuthCode(fmt.Sprintf("812%08d", phoneSeq.Add(1))), "grantType": "AUTHORIZATION_CODE"}}
	status, m := e.send("snap-service", r, "")
	info, _ := m["accessTokenInfo"].(map[string]any)
	token, _ := info["accessToken"].(string)
	if status != 200 || token == "" {
		e.t.Fatalf("binding a customer for the test: %d %v", status, m)
	}
	return token
}

// send signs r as auth says and sends it, leaving out the header named drop (if any) after
// signing. It returns the status and the decoded body.
func (e *env) send(auth string, r request, drop string) (int, map[string]any) {
	e.t.Helper()
	var raw []byte
	if r.body != nil {
		var err error
		if raw, err = json.Marshal(r.body); err != nil {
			e.t.Fatal(err)
		}
	}
	target := r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	h := map[string]string{}
	for k, v := range r.headers {
		h[k] = v
	}
	switch auth {
	case "gopay-basic":
		h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(gopayID+":"+gopaySecret))
	case "coreapi-basic":
		h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(serverKey+":"))
	case "snap-b2b":
		ts := snapsig.Timestamp(time.Now())
		sig, err := snapsig.SignAsymmetric(privateKey(e.t), snapsig.AsymmetricStringToSign(snapClientKey, ts))
		if err != nil {
			e.t.Fatal(err)
		}
		h["X-TIMESTAMP"], h["X-CLIENT-KEY"], h["X-SIGNATURE"] = ts, snapClientKey, sig
	case "snap-service", "snap-get":
		token := e.b2bToken()
		ts := snapsig.Timestamp(time.Now())
		if auth == "snap-get" {
			ts = time.Now().UTC().Format("2006-01-02T15:04:05.000Z") // seed 003: 24 to 27 characters
			h["X-CLIENT-KEY"] = cardClientID
		}
		sts, err := snapsig.SymmetricStringToSign(r.method, target, token, raw, ts)
		if err != nil {
			e.t.Fatal(err)
		}
		h["X-TIMESTAMP"], h["Authorization"], h["X-SIGNATURE"] = ts, "Bearer "+token, snapsig.SignSymmetric(snapClientSecret, sts)
		h["X-EXTERNAL-ID"] = randomHex(16)
	default:
		e.t.Fatalf("unknown auth %q", auth)
	}
	delete(h, drop)
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(r.method, e.url+target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// b2bToken gets a B2B token the way the documented call does.
func (e *env) b2bToken() string {
	status, m := e.send("snap-b2b", request{method: http.MethodPost, path: "/v1.0/access-token/b2b", query: url.Values{},
		headers: map[string]string{"Content-Type": "application/json"}, body: map[string]any{"grantType": "client_credentials"}}, "")
	token, _ := m["accessToken"].(string)
	if status != 200 || token == "" {
		e.t.Fatalf("B2B token: %d %v", status, m)
	}
	return token
}

// codeOf reads the provider's code from an answer: SNAP's responseCode, the Core API's
// status_code, GoPay's error.code.
func codeOf(m map[string]any) string {
	if c, ok := m["responseCode"].(string); ok {
		return c
	}
	if c, ok := m["status_code"].(string); ok {
		return c
	}
	if e, ok := m["error"].(map[string]any); ok {
		return fmt.Sprint(e["code"])
	}
	return ""
}

// without returns a deep copy of body with the dotted path removed.
func without(body map[string]any, path string) map[string]any {
	b, _ := json.Marshal(body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	parts := strings.Split(path, ".")
	m := out
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return out
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
