package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/coreapi"
	"github.com/gopay-miniapp/bff/internal/gateway/gopay"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/session"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// fakeGoPay accepts every non-empty token: the fuzz target is our decoding and validation,
// not the upstream.
type fakeGoPay struct{}

func (fakeGoPay) ExchangeAuthCode(_ context.Context, code, _ string) (gopay.Authorization, error) {
	return gopay.Authorization{GoPayAccountID: "g-" + code, AuthToken: "t"}, nil
}

// panicToken makes the fake panic, to test recovery on a real route.
const panicToken = "panic-in-the-gateway"

func (fakeGoPay) BankDetails(_ context.Context, token, _ string) (domain.BankDetails, error) {
	if token == panicToken {
		panic("gateway exploded with secret-detail")
	}
	return domain.BankDetails{BankCode: "jago", AccountName: "N", AccountNumber: "1234567890"}, nil
}

type memStore struct {
	mu   sync.Mutex
	rows map[uuid.UUID]domain.BankAccount
}

func (m *memStore) Upsert(_ context.Context, user uuid.UUID, d domain.BankDetails) (domain.BankAccount, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := domain.BankAccount{ID: uuid.New(), UserID: user, BankCode: d.BankCode, AccountName: d.AccountName,
		Last4: domain.Last4(d.AccountNumber), CreatedAt: time.Now()}
	m.rows[a.ID] = a
	return a, true, nil
}

func (m *memStore) List(context.Context, uuid.UUID) ([]domain.BankAccount, error) { return nil, nil }
func (m *memStore) Delete(context.Context, uuid.UUID, uuid.UUID) error            { return nil }

type memUsers struct{}

func (memUsers) Upsert(_ context.Context, id, _ string) (domain.User, error) {
	return domain.User{ID: uuid.NewSHA1(uuid.Nil, []byte(id))}, nil
}

// unreachable stands in for the GoPay-link dependencies, which the fuzz target never reaches.
type unreachable struct{}

var errUnreachable = domain.NotFound("stub")

func (unreachable) Bind(context.Context, string, string) (string, error) { return "", errUnreachable }
func (unreachable) Inquire(context.Context, string, string) (snap.Inquiry, error) {
	return snap.Inquiry{}, errUnreachable
}
func (unreachable) SwapLegacy(context.Context, string, string) (snap.Inquiry, error) {
	return snap.Inquiry{}, errUnreachable
}
func (unreachable) Unbind(context.Context, string, string) error { return errUnreachable }
func (unreachable) Status(context.Context, string) (coreapi.Account, error) {
	return coreapi.Account{}, errUnreachable
}
func (unreachable) Do(context.Context, string, string, func(context.Context) error) error {
	return errUnreachable
}

type unreachableLinks struct{}

func (unreachableLinks) WithOptionsFresh(context.Context, uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	return domain.GoPayLink{}, nil, errUnreachable
}
func (unreachableLinks) Save(context.Context, domain.GoPayLink) (domain.GoPayLink, error) {
	return domain.GoPayLink{}, errUnreachable
}
func (unreachableLinks) Get(context.Context, uuid.UUID) (domain.GoPayLink, error) {
	return domain.GoPayLink{}, errUnreachable
}
func (unreachableLinks) SetStatus(context.Context, uuid.UUID, domain.LinkStatus) error {
	return errUnreachable
}
func (unreachableLinks) Activate(context.Context, uuid.UUID, string) error { return errUnreachable }
func (unreachableLinks) ReplaceOptions(context.Context, uuid.UUID, int64, []domain.PaymentOption, time.Time) error {
	return errUnreachable
}
func (unreachableLinks) WithOptions(context.Context, uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	return domain.GoPayLink{}, nil, errUnreachable
}
func (unreachableLinks) Page(context.Context, int, int) ([]domain.GoPayLink, int, error) {
	return nil, 0, errUnreachable
}

func (unreachable) GetOAuthCode(context.Context, snap.CardOptions, cardreg.Request) (string, error) {
	return "", errUnreachable
}

type unreachableCards struct{}

func (unreachableCards) Create(context.Context, domain.CardBinding, []byte) error {
	return errUnreachable
}
func (unreachableCards) Get(context.Context, uuid.UUID) (domain.CardBinding, []byte, error) {
	return domain.CardBinding{}, nil, errUnreachable
}
func (unreachableCards) Complete(context.Context, uuid.UUID, domain.CardBindingStatus, time.Time) (bool, error) {
	return false, errUnreachable
}
func (unreachableCards) List(context.Context, uuid.UUID) ([]domain.CardBinding, error) {
	return nil, errUnreachable
}

func (unreachable) Charge(context.Context, snap.Charge) (snap.ChargeResult, error) {
	return snap.ChargeResult{}, errUnreachable
}
func (unreachable) DebitStatus(context.Context, string, string) (snap.Status, error) {
	return snap.Status{}, errUnreachable
}
func (unreachable) CancelDebit(context.Context, string, string, string) error { return errUnreachable }
func (unreachable) RefundDebit(context.Context, snap.RefundRequest) (string, error) {
	return "", errUnreachable
}

// unreachablePayments is a payment store that finds nothing.
type unreachablePayments struct{}

func (unreachablePayments) Create(context.Context, domain.Payment) (domain.Payment, bool, error) {
	return domain.Payment{}, false, errUnreachable
}
func (unreachablePayments) Get(context.Context, uuid.UUID) (domain.Payment, error) {
	return domain.Payment{}, errUnreachable
}
func (unreachablePayments) ByNotification(context.Context, string, string, string) (domain.Payment, error) {
	return domain.Payment{}, errUnreachable
}
func (unreachablePayments) ForUser(context.Context, uuid.UUID, int) ([]domain.Payment, error) {
	return nil, nil
}
func (unreachablePayments) Advance(context.Context, uuid.UUID, domain.PaymentOutcome, time.Time) (domain.Payment, bool, error) {
	return domain.Payment{}, false, errUnreachable
}
func (unreachablePayments) ClaimUnsettled(context.Context, time.Time, time.Time, int) ([]domain.Payment, error) {
	return nil, nil
}
func (unreachablePayments) CountUnsettled(context.Context, time.Time) (int, error) { return 0, nil }
func (unreachablePayments) ReserveRefund(context.Context, domain.Refund) (domain.Refund, bool, error) {
	return domain.Refund{}, false, errUnreachable
}
func (unreachablePayments) FinishRefund(context.Context, domain.Refund, bool, string, time.Time) (bool, error) {
	return false, errUnreachable
}
func (unreachablePayments) Refunds(context.Context, uuid.UUID) ([]domain.Refund, error) {
	return nil, nil
}
func (unreachablePayments) FirstNotification(context.Context, string, uuid.UUID, string, time.Time) (bool, error) {
	return false, errUnreachable
}

type unreachableCore struct{ unreachable }

func (unreachableCore) Unbind(context.Context, string, string) (coreapi.Account, error) {
	return coreapi.Account{}, errUnreachable
}

func newTestServer(tb testing.TB) (*echo.Echo, string) {
	tb.Helper()
	_, rdb, prefix := testenv.Redis(tb)
	keys, _ := seal.ParseKeys(seal.NewKeySpec("k", 32), 32)
	signer, _ := session.NewSigner(keys, time.Hour, session.AudienceMiniApp, nil)
	internal, _ := session.NewSigner(keys, time.Hour, session.AudienceInternal, nil)
	gopayLinks := service.NewGoPayLinks(unreachable{}, unreachableCore{}, unreachableLinks{}, unreachable{}, 0, 0)
	e, err := New(Deps{
		Sessions:     service.NewSessions(fakeGoPay{}, memUsers{}, signer),
		BankAccounts: service.NewBankAccounts(fakeGoPay{}, &memStore{rows: map[uuid.UUID]domain.BankAccount{}}),
		GoPay:        gopayLinks,
		Payments:     service.NewPayments(unreachablePayments{}, unreachable{}, gopayLinks, service.PaymentConfig{Log: zap.NewNop()}),
		InternalAuth: service.NewInternalAuth(map[string]string{}, internal, time.Hour),
		Cards: service.NewCardBindings(unreachable{}, unreachableCards{}, service.CardBindingConfig{
			WebviewBase: "http://webview", RedirectURLs: CardRedirectURLs("http://bff"), ReturnURL: "app://back", TTL: time.Minute}),
		Signer:         signer,
		InternalSigner: internal,
		Idempotency:    idempotency.NewStore(rdb, testenv.Keyring(tb), prefix, time.Minute, time.Minute),
		Metrics:        metrics.New(),
		Log:            zap.NewNop(),
		MaxBodyBytes:   4096,
		RequestTimeout: 5 * time.Second,
		Limiter:        ratelimit.New(rdb, prefix, metrics.New().RateLimit, zap.NewNop()),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tok, _, _ := signer.Issue(uuid.NewString())
	return e, "Bearer " + tok
}

// FuzzLinkBankAccountRequest throws arbitrary bodies, content types and idempotency keys at
// POST /v1/bank-accounts. Whatever arrives, the answer is a documented success or a 4xx
// problem naming a code: never a 5xx, never a panic.
func FuzzLinkBankAccountRequest(f *testing.F) {
	e, auth := newTestServer(f)
	for _, seed := range []struct{ body, ct, key string }{
		{`{"account_token":"abc"}`, "application/json", ""},
		{`{"account_token":"abc"}`, "application/json", "fuzz-key-0001"},
		{`{"account_token":""}`, "application/json", ""},
		{`{"account_token":null}`, "application/json", ""},
		{`{"account_token":"a","x":1}`, "application/json", ""},
		{`[]`, "application/json", ""},
		{`{"account_token":"\u0000"}`, "application/json; charset=utf-8", ""},
		{`not json`, "text/plain", "bad key"},
		{``, "", ""},
	} {
		f.Add(seed.body, seed.ct, seed.key)
	}
	f.Fuzz(func(t *testing.T, body, ct, key string) {
		if strings.Contains(body, panicToken) {
			t.Skip()
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/bank-accounts", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if key != "" && !strings.ContainsAny(key, "\r\n\x00") {
			req.Header.Set("Request-Id", key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		switch {
		case rec.Code == 200 || rec.Code == 201:
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["id"] == nil {
				t.Fatalf("success without an account: %s", rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var p struct {
				Code   string `json:"code"`
				Status int    `json:"status"`
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("4xx without a proper problem: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
		default:
			t.Fatalf("status %d for body %q ct %q key %q: %s", rec.Code, body, ct, key, rec.Body)
		}
	})
}

func TestPanicBecomesProblem(t *testing.T) {
	e, auth := newTestServer(t)
	req := httptest.NewRequest(http.MethodPost, "/v1/bank-accounts", strings.NewReader(`{"account_token":"`+panicToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(rec.Body.String(), "secret-detail") {
		t.Fatalf("panic answer: %d %s", rec.Code, rec.Body)
	}
}

// FuzzRequests throws arbitrary requests at every route of the contract: any path parameter,
// query, body, media type, credential and idempotency key. Whatever arrives, the answer is a
// documented success, a redirect, or a 4xx problem with a code; never a 5xx, never a panic.
// (The flows behind the routes are fakes; the target is everything in front of them.)
func FuzzRequests(f *testing.F) {
	e, session := newTestServer(f)
	spec, err := api.GetSpec()
	if err != nil {
		f.Fatal(err)
	}
	type route struct{ method, path string }
	var routes []route
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			routes = append(routes, route{method, path})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].method+routes[i].path < routes[j].method+routes[j].path })
	param := regexp.MustCompile(`\{[^}]+\}`)
	for i := range routes {
		f.Add(uint8(i), "0193a7f2-7b7e-7cde-8f00-000000000001", "page=1", []byte(`{"auth_code":"abc"}`), "application/json", uint8(0), "")
	}
	f.Add(uint8(0), "x", "", []byte(`{"a":`), "APPLICATION/JSON; charset=latin1", uint8(3), "bad key")
	f.Add(uint8(1), "%zz", "page=-1&page=2", []byte("\xff"), "text/plain", uint8(4), "k-00000001")
	f.Fuzz(func(t *testing.T, r uint8, pathParam, query string, body []byte, ct string, authKind uint8, key string) {
		rt := routes[int(r)%len(routes)]
		path := param.ReplaceAllString(rt.path, url.PathEscape(pathParam))
		target := path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(rt.method, "http://bff"+target, bytes.NewReader(body))
		if err != nil {
			t.Skip() // not a request a client could send
		}
		if ct != "" && validHeader(ct) {
			req.Header.Set("Content-Type", ct)
		}
		switch authKind % 5 {
		case 0:
			req.Header.Set("Authorization", session)
		case 1:
			req.SetBasicAuth("payments", pathParam)
		case 2:
			req.Header.Set("Authorization", "bearer "+pathParam)
		case 3:
			if validHeader(pathParam) {
				req.Header.Set("Authorization", pathParam)
			}
		}
		if key != "" && validHeader(key) {
			req.Header.Set("Request-Id", key)
		}
		req.Header.Set("X-PARTNER-ID", "payments")
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		switch {
		case rec.Code < 400:
		case rec.Code < 500:
			var p struct {
				Code   string `json:"code"`
				Status int    `json:"status"`
			}
			if strings.HasPrefix(path, "/api/v1.0/") {
				return // seed 004's own error shape
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("%s %s: %d without a proper problem: %s", rt.method, target, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%s %s answered %d: %s", rt.method, target, rec.Code, rec.Body)
		}
	})
}

// validHeader keeps to values net/http would send at all.
func validHeader(v string) bool { return !strings.ContainsAny(v, "\r\n\x00") }
