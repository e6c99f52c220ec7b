package snap

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/cardreg/cardregtest"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream/upstreamtest"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// stubClient is a SNAP client whose upstream is a stub: one attempt per call, so a fuzzed 5xx
// costs no backoff.
func stubClient(tb testing.TB) (*Client, *upstreamtest.Stub) {
	tb.Helper()
	key := testenv.RSAKey(tb)
	stub := upstreamtest.NewStub(tb)
	_, rdb, prefix := testenv.Redis(tb)
	c, err := New(Options{BaseURL: stub.URL, ClientKey: "ck", ClientSecret: "cs", PrivateKey: key, PartnerID: "P1",
		ChannelID: "95221", MerchantID: "G12345", Redis: rdb, KeyPrefix: prefix, Sealer: testenv.Keyring(tb), Log: zap.NewNop(),
		Upstream: upstream.New(upstream.Options{Name: "snap", Timeout: time.Second, MaxAttempts: 1, Metrics: metrics.New(), Log: zap.NewNop()})})
	if err != nil {
		tb.Fatal(err)
	}
	return c, stub
}

// FuzzAccessTokenAnswer gives the B2B token request any answer: a token comes back with a
// lifetime SNAP could mean (expiresIn a string or a number of seconds, at most a day), or one
// of our documented errors.
func FuzzAccessTokenAnswer(f *testing.F) {
	c, stub := stubClient(f)
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"responseCode":"2007300","accessToken":"tok","tokenType":"Bearer","expiresIn":"900"}`},
		{200, `{"responseCode":"2007300","accessToken":"tok","expiresIn":900}`},
		{200, `{"responseCode":"2007300","accessToken":"tok","expiresIn":"9223372036854775807"}`},
		{200, `{"responseCode":"2007300","accessToken":"tok","expiresIn":1e300}`},
		{401, `{"responseCode":"4017300","responseMessage":"Unauthorized"}`},
		{400, `{"responseCode":"4007302","responseMessage":"Invalid Mandatory Field grantType"}`},
		{200, `{"responseCode":"2007300"}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		stub.Answer(upstreamtest.Status(status), body)
		token, ttl, err := c.fetchAccessToken(context.Background())
		upstreamtest.CheckError(t, err)
		if err == nil && (token == "" || ttl < time.Second || ttl > 24*time.Hour) {
			t.Fatalf("accepted token %q with lifetime %v", token, ttl)
		}
	})
}

// FuzzServiceAnswers gives every SNAP service call any answer, the B2B token being fine: a
// complete result or one of our documented errors, never a panic or an internal error.
func FuzzServiceAnswers(f *testing.F) {
	c, stub := stubClient(f)
	stub.AnswerPath("/v1.0/access-token/b2b", 200, []byte(`{"responseCode":"2007300","accessToken":"tok","expiresIn":"900"}`))
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"responseCode":"2000700","accessTokenInfo":{"accessToken":"cust"}}`},
		{200, `{"responseCode":"2000800","additionalInfo":{"accessToken":"cust","paymentOptions":[{"name":"GOPAY_WALLET","active":true,"balance":{"value":1.5,"currency":"IDR"},"token":"t"}]}}`},
		{200, `{"responseCode":"2000800","additionalInfo":{"paymentOptions":[{"balance":{"value":"x"}}]}}`},
		{200, `{"responseCode":"2000900"}`},
		{200, `{"responseCode":"2003000","authCode":"ac"}`},
		{401, `{"responseCode":"4010801","responseMessage":"Invalid Token (B2B)"}`},
		{403, `{"responseCode":"4030818"}`},
		{404, `{"responseCode":"4040711"}`},
		{500, `{"responseCode":"5000801"}`},
		{200, `{"responseCode":12}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	card := CardOptions{BaseURL: "", ClientID: cardClientID, MerchantID: "G12345"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		stub.Answer(upstreamtest.Status(status), body)
		ctx := context.Background()
		token, err := c.Bind(ctx, "auth-code", "dev1")
		upstreamtest.CheckError(t, err)
		if err == nil && token == "" {
			t.Fatal("binding without a customer token accepted")
		}
		for _, inquire := range []func() (Inquiry, error){
			func() (Inquiry, error) { return c.Inquire(ctx, "cust", "dev1") },
			func() (Inquiry, error) { return c.SwapLegacy(ctx, "acc-1", "dev1") },
		} {
			inq, err := inquire()
			upstreamtest.CheckError(t, err)
			for _, o := range inq.Options {
				if err == nil && (o.Name == "" || o.Token == "" || strings.TrimSpace(o.Currency) == "") {
					t.Fatalf("incomplete payment option accepted: %+v", o)
				}
			}
		}
		upstreamtest.CheckError(t, c.Unbind(ctx, "cust", "dev1"))
		card.BaseURL = stub.URL
		code, err := c.GetOAuthCode(ctx, card, cardregtest.ValidRequest())
		upstreamtest.CheckError(t, err)
		if err == nil && code == "" {
			t.Fatal("an empty auth code accepted")
		}
	})
}
