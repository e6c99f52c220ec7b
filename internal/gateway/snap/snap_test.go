package snap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

type fixture struct {
	sb     *sandbox.Sandbox
	url    string
	opts   Options
	mu     sync.Mutex
	extIDs map[string][]string // X-EXTERNAL-IDs seen, by path
}

// cardClientID is the 32-character X-CLIENT-KEY of Get OAuth Code in these tests.
const cardClientID = "CARDCLIENT0123456789012345678901"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key := testenv.RSAKey(t)
	f := &fixture{extIDs: map[string][]string{}}
	f.sb = sandbox.New(sandbox.Options{GoPayClientID: "g", GoPayClientSecret: "g", SNAPClientKey: "ck", SNAPClientSecret: "cs",
		SNAPPublicKey: &key.PublicKey, MidtransServerKey: "sk", CardClientID: cardClientID})
	h := f.sb.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.extIDs[r.URL.Path] = append(f.extIDs[r.URL.Path], r.Header.Get("X-EXTERNAL-ID"))
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	_, rdb, prefix := testenv.Redis(t)
	f.opts = Options{BaseURL: srv.URL, ClientKey: "ck", ClientSecret: "cs", PrivateKey: key, PartnerID: "P1",
		ChannelID: "95221", MerchantID: "G12345", Redis: rdb, KeyPrefix: prefix, Sealer: testenv.Keyring(t), Log: zap.NewNop()}
	return f
}

// client is one instance's SNAP client; clients of one fixture share Redis like instances do.
func (f *fixture) client(t *testing.T, mod ...func(*Options)) (*Client, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	o := f.opts
	o.Upstream = upstream.New(upstream.Options{Name: "snap", Timeout: 500 * time.Millisecond, MaxAttempts: 3, Metrics: m,
		Log: zap.NewNop(), InitialBackoff: time.Millisecond})
	for _, fn := range mod {
		fn(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func (f *fixture) bind(t *testing.T, c *Client, phone string) string {
	t.Helper()
	token, err := c.Bind(context.Background(), f.sb.MintGoPayAuthCode(phone), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// Every responseCode in seed 001's table, driven through the sandbox, and what it becomes.
func TestInquiryResponseCodes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		code     string
		run      func(t *testing.T, f *fixture) error
		wantKind domain.Kind
		wantCode string
	}{
		{"2000800", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			inq, err := c.Inquire(ctx, f.bind(t, c, "81211112222"), "dev1")
			if err == nil && (len(inq.Options) != 2 || inq.Options[0].Name != "GOPAY_WALLET" || inq.Options[0].Balance != "7985000.00" || inq.Options[0].Token == "") {
				t.Fatalf("options %+v", inq.Options)
			}
			return err
		}, -1, ""},
		{"4000802", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			_, err := c.SwapLegacy(ctx, "", "dev1") // neither a customer token nor an account id
			return err
		}, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"4010800", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t, func(o *Options) { o.ClientSecret = "wrong" })
			_, err := c.SwapLegacy(ctx, "enabled-1", "dev1")
			return err
		}, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"4010801", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			f.sb.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ResponseCode: "4010801"})
			_, err := c.SwapLegacy(ctx, "enabled-1", "dev1")
			if n := f.sb.Calls(sandbox.OpSNAPAccessToken); n != 2 {
				t.Fatalf("a 4010801 must renew the B2B token once: %d token calls", n)
			}
			if n := f.sb.Calls(sandbox.OpSNAPInquiry); n != 2 {
				t.Fatalf("a 4010801 must retry once: %d inquiries", n)
			}
			return err
		}, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"4010802", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			token := f.bind(t, c, "81233334444")
			f.sb.DeactivateCustomer("81233334444")
			_, err := c.Inquire(ctx, token, "dev1")
			return err
		}, domain.KindConflict, domain.CodeGoPayLinkInactive},
		{"4040805", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			f.sb.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ResponseCode: "4040805"})
			_, err := c.SwapLegacy(ctx, "enabled-1", "dev1")
			return err
		}, domain.KindUpstream, domain.CodeUpstreamRejected},
		{"4030818", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			_, err := c.SwapLegacy(ctx, "inactive-1", "dev1")
			return err
		}, domain.KindConflict, domain.CodeGoPayLinkInactive},
		{"5000801", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			f.sb.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ErrorRate: 1, Status: 500})
			_, err := c.SwapLegacy(ctx, "enabled-1", "dev1")
			if n := f.sb.Calls(sandbox.OpSNAPInquiry); n != 3 {
				t.Fatalf("5xx must be retried: %d attempts", n)
			}
			return err
		}, domain.KindUnavailable, domain.CodeUpstreamUnavailable},
		{"5040800", func(t *testing.T, f *fixture) error {
			c, _ := f.client(t)
			f.sb.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ResponseCode: "5040800"})
			_, err := c.SwapLegacy(ctx, "enabled-1", "dev1")
			return err
		}, domain.KindTimeout, domain.CodeUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := tt.run(t, newFixture(t))
			if tt.wantKind == -1 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if e := domain.As(err); e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Fatalf("got %v (kind %v), want kind %v code %s", err, e.Kind, tt.wantKind, tt.wantCode)
			}
		})
	}
}

func TestLegacySwapAndUnbinding(t *testing.T) {
	f := newFixture(t)
	c, _ := f.client(t)
	ctx := context.Background()
	inq, err := c.SwapLegacy(ctx, "enabled-42", "dev1")
	if err != nil || inq.CustomerToken == "" || len(inq.Options) == 0 {
		t.Fatalf("swap: %+v %v", inq, err)
	}
	if _, err := c.Inquire(ctx, inq.CustomerToken, "dev1"); err != nil {
		t.Fatalf("the swapped token must work as Authorization-Customer: %v", err)
	}
	if err := c.Unbind(ctx, inq.CustomerToken, "dev1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unbind(ctx, inq.CustomerToken, "dev1"); domain.As(err).Code != domain.CodeGoPayLinkInactive {
		t.Fatalf("second unbinding: %v", err)
	}
	if _, err := c.Inquire(ctx, inq.CustomerToken, "dev1"); domain.As(err).Code != domain.CodeGoPayLinkInactive {
		t.Fatalf("inquiry after unbinding: %v", err)
	}
}

func TestBindingAuthCodeIsSingleUse(t *testing.T) {
	f := newFixture(t)
	c, _ := f.client(t)
	code := f.sb.MintGoPayAuthCode("81255556666")
	if _, err := c.Bind(context.Background(), code, "dev1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Bind(context.Background(), code, "dev1")
	if e := domain.As(err); e.Code != domain.CodeGoPayAuthCodeInvalid || e.Field != "auth_code" {
		t.Fatalf("reused auth code: %v", err)
	}
}

// Linking calls never reuse an X-EXTERNAL-ID, not even when a 5xx is retried: SNAP answers a
// conflict to a reused one. Every id is alphanumeric and at most 36 characters.
func TestExternalIDsAreFreshPerAttemptForLinkingCalls(t *testing.T) {
	f := newFixture(t)
	c, _ := f.client(t)
	f.sb.SetFault(sandbox.OpSNAPBinding, sandbox.Fault{FailNext: 2, Status: 503})
	if _, err := c.Bind(context.Background(), f.sb.MintGoPayAuthCode("81277778888"), "dev1"); err != nil {
		t.Fatalf("binding after two 503s: %v", err)
	}
	ids := f.extIDs["/v1.0/registration-account-binding"]
	valid := regexp.MustCompile(`^[A-Za-z0-9]{1,36}$`)
	seen := map[string]bool{}
	for _, id := range ids {
		if !valid.MatchString(id) || seen[id] {
			t.Fatalf("ids %v: each must be new and alphanumeric up to 36", ids)
		}
		seen[id] = true
	}
	if len(ids) != 3 {
		t.Fatalf("%d attempts, want 3", len(ids))
	}
}

func TestExternalIDsForReplayingOperations(t *testing.T) {
	f := newFixture(t)
	ids := &externalIDs{rdb: f.opts.Redis, prefix: f.opts.KeyPrefix, now: time.Now}
	ctx := context.Background()
	a1, _ := ids.ForOperation(ctx, "payment:order-1")
	a2, _ := ids.ForOperation(ctx, "payment:order-1")
	b, _ := ids.ForOperation(ctx, "payment:order-2")
	if a1 == "" || a1 != a2 || a1 == b {
		t.Fatalf("one operation, one id all day: %s %s %s", a1, a2, b)
	}
	fresh := ids.Fresh()
	if fresh == a1 || fresh == b {
		t.Fatal("a fresh id repeated an operation's id")
	}
}

// The B2B token is fetched once and shared: many concurrent calls on two instances (sharing
// Redis) cause one token request.
func TestOneB2BTokenAcrossInstances(t *testing.T) {
	f := newFixture(t)
	one, _ := f.client(t)
	two, _ := f.client(t)
	var wg sync.WaitGroup
	for i := range 200 {
		c := []*Client{one, two}[i%2]
		wg.Go(func() {
			if _, err := c.AccessToken(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.sb.Calls(sandbox.OpSNAPAccessToken); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}

func TestB2BTokenRenewedBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, _ := f.client(t, func(o *Options) { o.Now = clock })
	first, err := c.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(800 * time.Second) // more than a minute left: keep it
	mu.Unlock()
	if again, _ := c.AccessToken(context.Background()); again != first {
		t.Fatal("renewed too early")
	}
	mu.Lock()
	now = now.Add(45 * time.Second) // 55 s left: renew
	mu.Unlock()
	if renewed, _ := c.AccessToken(context.Background()); renewed == first {
		t.Fatal("not renewed within a minute of expiry")
	}
	if n := f.sb.Calls(sandbox.OpSNAPAccessToken); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestExpiredB2BTokenIsRenewedOnce(t *testing.T) {
	f := newFixture(t)
	c, _ := f.client(t)
	if _, err := c.SwapLegacy(context.Background(), "enabled-7", "dev1"); err != nil {
		t.Fatal(err)
	}
	f.sb.ExpireB2BTokens() // Midtrans forgot our token early
	if _, err := c.SwapLegacy(context.Background(), "enabled-7", "dev1"); err != nil {
		t.Fatalf("not recovered from 4010801: %v", err)
	}
	if n := f.sb.Calls(sandbox.OpSNAPAccessToken); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

// With Redis unreachable, the B2B token is fetched for this instance alone and kept in its
// memory: SNAP calls (card bindings, refreshes) do not fail for Redis's sake.
func TestB2BTokenWithoutRedis(t *testing.T) {
	f := newFixture(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	c, _ := f.client(t, func(o *Options) { o.Redis = dead })
	for range 3 {
		if tok, err := c.AccessToken(context.Background()); err != nil || tok == "" {
			t.Fatalf("B2B token without Redis: %q %v", tok, err)
		}
	}
	if n := f.sb.Calls(sandbox.OpSNAPAccessToken); n != 1 {
		t.Fatalf("%d token requests, want 1 (kept in memory)", n)
	}
	if _, err := c.Inquire(context.Background(), f.bind(t, c, "81200004444"), "dev1"); err != nil {
		t.Fatalf("a SNAP call without Redis: %v", err)
	}
}

// The direct-debit answers: a refusal is a refusal, and whatever says our own earlier attempt
// may have arrived (a reused X-EXTERNAL-ID or partnerReferenceNo, an answer that cannot be
// read) is an unknown outcome, never a refusal (the payment could have been charged).
func TestDirectDebitAnswers(t *testing.T) {
	ctx := context.Background()
	charge := func(t *testing.T, f *fixture, c *Client) error {
		customer := f.bind(t, c, "81233330000")
		inq, err := c.Inquire(ctx, customer, "dev1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Charge(ctx, Charge{PartnerReferenceNo: NewReference(), ExternalID: NewReference(), CustomerToken: customer,
			DeviceID: "dev1", PayOption: "GOPAY_WALLET", OptionToken: inq.Options[0].Token, Amount: 1500000, Currency: "IDR",
			ValidUpTo: time.Now().Add(time.Minute)})
		return err
	}
	for _, tt := range []struct {
		code     string
		wantKind domain.Kind
		wantCode string
	}{
		{"4035414", domain.KindUnprocessable, domain.CodeInsufficientBalance},
		{"4035405", domain.KindUnprocessable, domain.CodePaymentDeclined},
		{"4095400", domain.KindUnavailable, domain.CodeUpstreamUnavailable},
		{"4095401", domain.KindUnavailable, domain.CodeUpstreamUnavailable},
		{"4005401", domain.KindUpstream, domain.CodeUpstreamRejected},
	} {
		t.Run(tt.code, func(t *testing.T) {
			f := newFixture(t)
			c, _ := f.client(t)
			f.sb.SetFault(sandbox.OpSNAPDebit, sandbox.Fault{ResponseCode: tt.code})
			if de := domain.As(charge(t, f, c)); de.Kind != tt.wantKind || de.Code != tt.wantCode {
				t.Fatalf("%s became %v %q, want %v %q", tt.code, de.Kind, de.Code, tt.wantKind, tt.wantCode)
			}
		})
	}
	t.Run("Unreadable", func(t *testing.T) {
		f := newFixture(t)
		sb := f.sb.Handler()
		odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1.0/debit/payment-host-to-host" { // a success without the referenceNo
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"responseCode":"2005400","responseMessage":"Successful"}`))
				return
			}
			sb.ServeHTTP(w, r)
		}))
		t.Cleanup(odd.Close)
		c, _ := f.client(t, func(o *Options) { o.BaseURL = odd.URL })
		if de := domain.As(charge(t, f, c)); de.Kind != domain.KindUnavailable {
			t.Fatalf("an unreadable answer to a charge became %v %q, want an unknown outcome", de.Kind, de.Code)
		}
	})
	t.Run("StatusNotFoundIsNotAnError", func(t *testing.T) {
		f := newFixture(t)
		c, _ := f.client(t)
		if st, err := c.DebitStatus(ctx, NewReference(), NewReference()); err != nil || st.Found {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("LinkingCodesStayLinkingCodes", func(t *testing.T) {
		f := newFixture(t)
		c, _ := f.client(t)
		f.sb.SetFault(sandbox.OpSNAPInquiry, sandbox.Fault{ResponseCode: "4040801"})
		if de := domain.As(func() error { _, err := c.SwapLegacy(ctx, "enabled-1", "dev1"); return err }()); de.Code == domain.CodePaymentNotFound {
			t.Fatal("an inquiry's 404 was read as a payment's")
		}
	})
}
