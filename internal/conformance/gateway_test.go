package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/cardreg/cardregtest"
	"github.com/gopay-miniapp/bff/internal/conformance"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/coreapi"
	"github.com/gopay-miniapp/bff/internal/gateway/gopay"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// captured is a request as it crossed the wire.
type captured struct {
	call   string
	method string
	path   string
	query  url.Values
	header http.Header
	body   []byte
}

// recorder is a reverse proxy in front of the sandbox that keeps every request, labelled with
// the call being made (the B2B token request, made on the way, is labelled by its path).
type recorder struct {
	mu      sync.Mutex
	current string
	got     []captured
}

func (r *recorder) label(call string) {
	r.mu.Lock()
	r.current = call
	r.mu.Unlock()
}

func (r *recorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		call := r.current
		if req.URL.Path == "/v1.0/access-token/b2b" {
			call = "snap.access_token"
		}
		r.got = append(r.got, captured{call: call, method: req.Method, path: req.URL.Path, query: req.URL.Query(),
			header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	})
}

// transportHeaders are added by Go's HTTP client, not by the gateway: no contract defines them.
var transportHeaders = map[string]bool{"Accept-Encoding": true, "User-Agent": true, "Content-Length": true}

// TestGatewaysSpeakTheContract captures every upstream request our gateways make, over real
// HTTP, and checks it against the call's conformance file: every mandatory header, query
// parameter and body field present, with the documented type, length, values and pattern, and
// nothing the contract does not define.
func TestGatewaysSpeakTheContract(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	front := httptest.NewServer(rec.handler(e.url))
	t.Cleanup(front.Close)
	up := func(name string) *upstream.Client {
		return upstream.New(upstream.Options{Name: name, Timeout: 5 * time.Second, MaxAttempts: 1, Metrics: metrics.New(), Log: zap.NewNop()})
	}
	_, rdb, prefix := testenv.Redis(t)
	snapClient, err := snap.New(snap.Options{BaseURL: front.URL, ClientKey: snapClientKey, ClientSecret: snapClientSecret,
		PrivateKey: privateKey(t), PartnerID: "P1", ChannelID: "95221", MerchantID: "G12345", Upstream: up("snap"),
		Redis: rdb, KeyPrefix: prefix, Sealer: testenv.Keyring(t), Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	gopayClient := gopay.New(up("gopay"), front.URL, gopayID, gopaySecret, zap.NewNop())
	coreClient := coreapi.New(up("coreapi"), front.URL, serverKey, zap.NewNop())
	ctx := context.Background()

	var customer, walletToken string
	steps := []struct {
		call string
		run  func() error
	}{
		{"gopay.auth_token", func() error {
			code, _ := e.sb.MintAuthCode("gateway-user")
			_, err := gopayClient.ExchangeAuthCode(ctx, code, "conformance-request-1")
			return err
		}},
		{"gopay.bank_details", func() error {
			_, err := gopayClient.BankDetails(ctx, e.sb.MintAccountToken("", "", ""), "conformance-request-2")
			return err
		}},
		{"snap.binding", func() (err error) {
			customer, err = snapClient.Bind(ctx, e.sb.MintGoPayAuthCode("81234500001"), "device-1")
			return err
		}},
		{"snap.inquiry", func() error {
			inq, err := snapClient.Inquire(ctx, customer, "device-1")
			for _, o := range inq.Options {
				if o.Name == "GOPAY_WALLET" {
					walletToken = o.Token
				}
			}
			return err
		}},
		{"snap.debit", func() error {
			charge := func(ref string, amount int64) error {
				_, err := snapClient.Charge(ctx, snap.Charge{PartnerReferenceNo: ref, ExternalID: ref, CustomerToken: customer,
					DeviceID: "device-1", PayOption: "GOPAY_WALLET", OptionToken: walletToken, Amount: amount, Currency: "IDR",
					ReturnURL: "https://shop.example/back", ValidUpTo: time.Now().Add(15 * time.Minute), Description: "conformance",
					Items: []domain.PaymentItem{{ID: "sku-1", Name: "item", Price: amount, Quantity: 1}}})
				return err
			}
			// One that settles at once, one that waits for the customer's PIN (to cancel).
			return errors.Join(charge("conformancepay1", 1500000), charge("conformancepay2", 150000000))
		}},
		{"snap.debit_status", func() error {
			st, err := snapClient.DebitStatus(ctx, "conformancepay1", "conformancepay1")
			if err == nil && st.State != domain.PaymentSucceeded {
				err = fmt.Errorf("status %+v", st)
			}
			return err
		}},
		{"snap.debit_refund", func() error {
			ref := e.sb.Debits()["conformancepay1"].ReferenceNo
			_, err := snapClient.RefundDebit(ctx, snap.RefundRequest{PartnerReferenceNo: "conformancepay1", ReferenceNo: ref,
				PartnerRefundNo: "conformancerefund1", ExternalID: "conformancerefund1", Amount: 500000, Currency: "IDR", Reason: "test"})
			return err
		}},
		{"snap.debit_cancel", func() error { return snapClient.CancelDebit(ctx, "conformancepay2", "conformancepay2", "test") }},
		{"snap.inquiry_swap", func() error { _, err := snapClient.SwapLegacy(ctx, "enabled-gateway-1", "device-1"); return err }},
		{"snap.unbinding", func() error { return snapClient.Unbind(ctx, customer, "device-1") }},
		{"snap.oauth_code", func() error {
			_, err := snapClient.GetOAuthCode(ctx, snap.CardOptions{BaseURL: front.URL, ClientID: cardClientID, MerchantID: "G12345"},
				cardregtest.ValidRequest())
			return err
		}},
		{"coreapi.create_account", func() error {
			_, err := coreClient.Create(ctx, "81212345678", "62", "https://bff.example/back", "conformance-create-1")
			return err
		}},
		{"coreapi.account_status", func() error { _, err := coreClient.Status(ctx, "enabled-gateway-2"); return err }},
		{"coreapi.unbind", func() error {
			_, err := coreClient.Unbind(ctx, "pending-gateway-3", "conformance-unbind-1")
			return err
		}},
	}
	for _, s := range steps {
		rec.label(s.call)
		if err := s.run(); err != nil {
			t.Errorf("%s through the gateway: %v", s.call, err) // its request is still checked below
		}
	}

	calls, err := conformance.Calls()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, req := range rec.got {
		seen[req.call]++
	}
	for _, c := range calls {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] == 0 {
				t.Fatalf("the gateway never made this call")
			}
			for _, req := range rec.got {
				if req.call == c.Name {
					checkRequest(t, c, req)
				}
			}
		})
	}
}

func checkRequest(t *testing.T, c conformance.Call, req captured) {
	t.Helper()
	pathRE := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(c.Path), `[^/]+`) + "$")
	if req.method != c.Method || !pathRE.MatchString(req.path) {
		t.Errorf("%s %s, want %s %s", req.method, req.path, c.Method, c.Path)
	}
	// Headers: the table's, and only the table's.
	declared := map[string]conformance.Field{}
	for _, f := range c.Headers {
		declared[http.CanonicalHeaderKey(f.Name)] = f
		v := req.header.Get(f.Name)
		if v == "" {
			if f.Mandatory {
				t.Errorf("mandatory header %s missing", f.Name)
			}
			continue
		}
		checkValue(t, "header "+f.Name, f, v)
	}
	for name := range req.header {
		if _, ok := declared[name]; !ok && !transportHeaders[name] {
			t.Errorf("header %s is not in the contract", name)
		}
	}
	// Query parameters likewise.
	declaredQ := map[string]bool{}
	for _, f := range c.Query {
		declaredQ[f.Name] = true
		v := req.query.Get(f.Name)
		if v == "" {
			if f.Mandatory {
				t.Errorf("mandatory query parameter %s missing", f.Name)
			}
			continue
		}
		checkValue(t, "query "+f.Name, f, v)
	}
	for name := range req.query {
		if !declaredQ[name] {
			t.Errorf("query parameter %s is not in the contract", name)
		}
	}
	// Body members: each declared one as documented, and none undeclared (the contents of a
	// declared object without declared members, such as additionalInfo, are free-form).
	if len(c.Body) == 0 {
		if trimmed := bytes.TrimSpace(req.body); len(trimmed) > 0 && string(trimmed) != "{}" {
			t.Errorf("a body the contract does not define: %s", req.body)
		}
		return
	}
	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, req.body)
	}
	fields := map[string]conformance.Field{}
	for _, f := range c.Body {
		fields[f.Name] = f
		v, ok := lookup(body, f.Name)
		if !ok {
			if f.Mandatory {
				t.Errorf("mandatory body field %s missing", f.Name)
			}
			continue
		}
		checkType(t, f, v)
	}
	for _, p := range paths(body, "") {
		if _, ok := fields[p]; ok {
			continue
		}
		if !freeForm(fields, p) {
			t.Errorf("body field %s is not in the contract", p)
		}
	}
}

func checkValue(t *testing.T, what string, f conformance.Field, v string) {
	t.Helper()
	n := utf8.RuneCountInString(v)
	if f.Min > 0 && n < f.Min || f.Max > 0 && n > f.Max {
		t.Errorf("%s is %d characters, want %d to %d: %q", what, n, f.Min, f.Max, v)
	}
	if len(f.Enum) > 0 {
		ok := false
		for _, e := range f.Enum {
			ok = ok || v == e
		}
		if !ok {
			t.Errorf("%s is %q, want one of %v", what, v, f.Enum)
		}
	}
	if f.Pattern != "" && !regexp.MustCompile(f.Pattern).MatchString(v) {
		t.Errorf("%s %q does not match %s", what, v, f.Pattern)
	}
}

func checkType(t *testing.T, f conformance.Field, v any) {
	t.Helper()
	switch f.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			t.Errorf("body field %s is %T, want a string", f.Name, v)
			return
		}
		checkValue(t, "body field "+f.Name, f, s)
	case "object":
		if _, ok := v.(map[string]any); !ok {
			t.Errorf("body field %s is %T, want an object", f.Name, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			t.Errorf("body field %s is %T, want a number", f.Name, v)
		}
	case "array":
		if _, ok := v.([]any); !ok {
			t.Errorf("body field %s is %T, want an array", f.Name, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("body field %s is %T, want a boolean", f.Name, v)
		}
	}
}

// lookup finds a dotted path in a decoded JSON object.
func lookup(m map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// paths lists every member's dotted path, nested ones included.
func paths(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		p := prefix + k
		out = append(out, p)
		if child, ok := v.(map[string]any); ok {
			out = append(out, paths(child, p+".")...)
		}
	}
	sort.Strings(out)
	return out
}

// freeForm reports whether p lies inside a declared object that declares no members of its own.
func freeForm(fields map[string]conformance.Field, p string) bool {
	for i := strings.LastIndex(p, "."); i > 0; i = strings.LastIndex(p[:i], ".") {
		parent := p[:i]
		f, ok := fields[parent]
		if !ok || f.Type != "object" {
			continue
		}
		for name := range fields {
			if strings.HasPrefix(name, parent+".") {
				return false
			}
		}
		return true
	}
	return false
}
