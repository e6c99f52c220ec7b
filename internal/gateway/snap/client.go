// Package snap calls GoPay/Midtrans over BI-SNAP: the B2B access token (SHA256withRSA), and
// signed service calls (HMAC-SHA512) for account binding, binding inquiry (both modes) and
// unbinding. It owns the SNAP vocabulary: every documented responseCode is translated here into
// domain error kinds, and nothing outside knows one.
package snap

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// Service codes.
const (
	svcAccessToken = "73"
	svcBinding     = "07"
	svcInquiry     = "08"
	svcUnbinding   = "09"
	svcDebit       = "54"
	svcDebitStatus = "55"
	svcDebitCancel = "57"
	svcDebitRefund = "58"
)

// Options configures a Client.
type Options struct {
	BaseURL      string
	ClientKey    string
	ClientSecret string
	PrivateKey   *rsa.PrivateKey
	PartnerID    string
	ChannelID    string
	MerchantID   string
	Upstream     *upstream.Client
	Redis        redis.UniversalClient
	KeyPrefix    string
	// Sealer encrypts the shared B2B token in Redis (it authorises every SNAP call we make).
	Sealer seal.Sealer
	Log    *zap.Logger
	Now    func() time.Time // default time.Now
	// RenewBefore is how long before expiry the B2B token is renewed (default 60 s).
	RenewBefore time.Duration
}

// Client is a SNAP client shared by all requests of an instance.
type Client struct {
	o      Options
	tokens *tokenCache
	ids    *externalIDs
}

func New(o Options) (*Client, error) {
	if o.BaseURL == "" || o.ClientKey == "" || o.ClientSecret == "" || o.PrivateKey == nil || o.PartnerID == "" ||
		o.ChannelID == "" || o.MerchantID == "" || o.Upstream == nil || o.Redis == nil || o.Sealer == nil || o.Log == nil {
		return nil, errors.New("snap.New: incomplete options")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RenewBefore <= 0 {
		o.RenewBefore = 60 * time.Second
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	c := &Client{o: o, ids: &externalIDs{rdb: o.Redis, prefix: o.KeyPrefix, now: o.Now}}
	c.tokens = &tokenCache{rdb: o.Redis, sealer: o.Sealer, key: o.KeyPrefix + "snap:b2b", lock: o.KeyPrefix + "snap:b2b:lock",
		renewBefore: o.RenewBefore, fetch: c.fetchAccessToken, now: o.Now}
	return c, nil
}

// response is the SNAP answer envelope, with the fields of every call this client makes.
type response struct {
	ResponseCode    string `json:"responseCode"`
	ResponseMessage string `json:"responseMessage"`
	AccessToken     string `json:"accessToken"`
	ExpiresIn       any    `json:"expiresIn"` // documented as a string ("900"); a number is accepted
	AccessTokenInfo struct {
		AccessToken string `json:"accessToken"`
	} `json:"accessTokenInfo"`
	AuthCode string `json:"authCode"` // Get OAuth Code
	// Direct debit (54), its status (55), cancel (57) and refund (58).
	ReferenceNo                string `json:"referenceNo"`
	WebRedirectURL             string `json:"webRedirectUrl"`
	OriginalReferenceNo        string `json:"originalReferenceNo"`
	OriginalPartnerReferenceNo string `json:"originalPartnerReferenceNo"`
	LatestTransactionStatus    string `json:"latestTransactionStatus"`
	TransactionStatusDesc      string `json:"transactionStatusDesc"`
	RefundNo                   string `json:"refundNo"`
	AdditionalInfo             struct {
		AccessToken    string `json:"accessToken"`
		PaymentOptions []struct {
			Name    string `json:"name"`
			Active  bool   `json:"active"`
			Balance struct {
				Value    json.Number `json:"value"`
				Currency string      `json:"currency"`
			} `json:"balance"`
			Token string `json:"token"`
		} `json:"paymentOptions"`
	} `json:"additionalInfo"`
}

// fetchAccessToken asks for a B2B token: X-SIGNATURE = SHA256withRSA(clientKey|X-TIMESTAMP).
func (c *Client) fetchAccessToken(ctx context.Context) (string, time.Duration, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-CLIENT-KEY", c.o.ClientKey)
	req := upstream.Request{
		Operation: "access_token", Method: http.MethodPost, URL: c.o.BaseURL + "/v1.0/access-token/b2b",
		Header: h, Body: []byte(`{"grantType":"client_credentials"}`),
		Prepare: func(_ context.Context, h http.Header) error {
			ts := snapsig.Timestamp(c.o.Now())
			sig, err := snapsig.SignAsymmetric(c.o.PrivateKey, snapsig.AsymmetricStringToSign(c.o.ClientKey, ts))
			if err != nil {
				return err
			}
			h.Set("X-TIMESTAMP", ts)
			h.Set("X-SIGNATURE", sig)
			return nil
		},
	}
	resp, err := c.o.Upstream.Do(ctx, req)
	if err != nil {
		return "", 0, err
	}
	var r response
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		return "", 0, c.badAnswer(ctx, "access_token", "unreadable body")
	}
	if err := c.translate(ctx, "access_token", svcAccessToken, resp.Status, r); err != nil {
		return "", 0, err
	}
	ttl, err := parseExpiresIn(r.ExpiresIn)
	if err != nil || r.AccessToken == "" {
		return "", 0, c.badAnswer(ctx, "access_token", "missing accessToken or expiresIn")
	}
	return r.AccessToken, ttl, nil
}

// maxTokenLifetime bounds what expiresIn may claim. SNAP documents 900 s; a day is generous,
// and a larger number (or one near 2^63, which overflowed into a negative lifetime) is not
// a lifetime but a broken answer.
const maxTokenLifetime = 24 * time.Hour

// parseExpiresIn reads expiresIn: documented as a string of seconds ("900"), accepted as a
// JSON number too.
func parseExpiresIn(v any) (time.Duration, error) {
	var secs float64
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, err
		}
		secs = float64(n)
	case float64:
		secs = x
	default:
		return 0, errors.New("expiresIn missing")
	}
	if secs < 1 || secs > maxTokenLifetime.Seconds() {
		return 0, fmt.Errorf("expiresIn %v outside 1s..%s", secs, maxTokenLifetime)
	}
	return time.Duration(secs) * time.Second, nil
}

// call makes a signed SNAP service call (POST, JSON body).
func (c *Client) call(ctx context.Context, op, svc, path string, body any, customerToken, deviceID string, policy ExternalIDPolicy, opKey string) (response, error) {
	return c.serviceCall(ctx, callSpec{op: op, svc: svc, pathWithQuery: path, policy: policy, opKey: opKey}, body, customerToken, deviceID)
}

// serviceCall completes cs as every POST service call is made (the JSON body, the partner,
// device and customer headers) and sends it.
func (c *Client) serviceCall(ctx context.Context, cs callSpec, body any, customerToken, deviceID string) (response, error) {
	raw, err := json.Marshal(body) // compact already: minify(raw) == raw, so we sign what we send
	if err != nil {
		return response{}, err
	}
	cs.method, cs.baseURL, cs.body, cs.timestamp = http.MethodPost, c.o.BaseURL, raw, snapsig.Timestamp
	cs.headers = func(h http.Header) {
		h.Set("Content-Type", "application/json")
		h.Set("X-PARTNER-ID", c.o.PartnerID)
		h.Set("X-DEVICE-ID", deviceID)
		if customerToken != "" {
			h.Set("Authorization-Customer", "Bearer "+customerToken)
		}
	}
	return c.send(ctx, cs)
}

// callSpec describes one signed call.
type callSpec struct {
	op, svc, method        string
	baseURL, pathWithQuery string
	body                   []byte // nil for GET: the empty-body hash is signed
	headers                func(http.Header)
	timestamp              func(time.Time) string
	policy                 ExternalIDPolicy
	opKey                  string
	externalID             string                  // when set, every attempt sends it (a payment's own, kept in its row)
	check                  func(http.Header) error // last look at the final headers before sending
}

// send signs and sends a call. A 401xx01 (B2B token invalid) drops the cached token, renews it
// once and retries once; everything else is translated.
func (c *Client) send(ctx context.Context, cs callSpec) (response, error) {
	u, err := url.Parse(cs.baseURL + cs.pathWithQuery)
	if err != nil {
		return response{}, err
	}
	for try := 0; ; try++ {
		token, err := c.tokens.Get(ctx)
		if err != nil {
			return response{}, err
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		h.Set("CHANNEL-ID", c.o.ChannelID)
		cs.headers(h)
		req := upstream.Request{Operation: cs.op, Method: cs.method, URL: u.String(), Header: h, Body: cs.body,
			Prepare: func(ctx context.Context, h http.Header) error {
				var id string
				var err error
				switch {
				case cs.externalID != "":
					id = cs.externalID
				case cs.policy == ReusePerOperation:
					id, err = c.ids.ForOperation(ctx, cs.opKey)
				default:
					id = c.ids.Fresh()
				}
				if err != nil {
					return domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable, "the payment provider is unavailable; retry later", err)
				}
				ts := cs.timestamp(c.o.Now())
				sts, err := snapsig.SymmetricStringToSign(cs.method, u.RequestURI(), token, cs.body, ts)
				if err != nil {
					return err
				}
				h.Set("X-EXTERNAL-ID", id)
				h.Set("X-TIMESTAMP", ts)
				h.Set("X-SIGNATURE", snapsig.SignSymmetric(c.o.ClientSecret, sts))
				if cs.check != nil {
					return cs.check(h)
				}
				return nil
			}}
		resp, err := c.o.Upstream.Do(ctx, req)
		if err != nil {
			return response{}, err
		}
		var r response
		if err := json.Unmarshal(resp.Body, &r); err != nil {
			return response{}, c.badAnswer(ctx, cs.op, "unreadable body")
		}
		if r.ResponseCode == "401"+cs.svc+"01" && try == 0 {
			logging.From(ctx, c.o.Log).Info("SNAP B2B token refused; renewing once", zap.String("operation", cs.op))
			if err := c.tokens.Invalidate(ctx, token); err != nil {
				return response{}, err
			}
			continue
		}
		return r, c.translate(ctx, cs.op, cs.svc, resp.Status, r)
	}
}

// translate is the one table from SNAP responseCodes (HTTP status + service + case) to domain
// errors. Codes that mean our configuration or code is wrong are logged for the operator and
// reach the client as a bare 502.
func (c *Client) translate(ctx context.Context, op, svc string, status int, r response) error {
	code := r.ResponseCode
	if len(code) != 7 || code[3:5] != svc {
		return c.badAnswer(ctx, op, fmt.Sprintf("responseCode %q is not of service %s", code, svc))
	}
	rejected := func(why string) error { // the logger is built here: most answers are successes
		logging.From(ctx, c.o.Log).Error("SNAP rejected our request: "+why, zap.String("operation", op),
			zap.String("response_code", code), zap.String("response_message", r.ResponseMessage))
		return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected,
			"the payment provider rejected this service's request", fmt.Errorf("snap %s: %s %s", op, code, r.ResponseMessage))
	}
	if err, ok := debitAnswer(op, svc, code); ok { // the direct-debit services' own cases (debit.go)
		return err
	}
	switch code[:3] + code[5:] {
	case "20000":
		if status/100 != 2 {
			return c.badAnswer(ctx, op, "success code with a non-2xx status")
		}
		return nil
	case "40001":
		return rejected("a field has an invalid format")
	case "40002":
		return rejected("a mandatory field is missing")
	case "40100":
		return rejected("signature refused; check SNAP_CLIENT_SECRET, SNAP_CLIENT_KEY and SNAP_PRIVATE_KEY_FILE")
	case "40101":
		return rejected("B2B token refused twice")
	case "40102", "40318":
		return domain.E(domain.KindConflict, domain.CodeGoPayLinkInactive,
			"the GoPay link is no longer active; link GoPay again", fmt.Errorf("snap %s: %s", op, code))
	case "40405":
		return rejected("merchant not registered for this service; ask Midtrans to enable it")
	case "40411":
		return &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeGoPayAuthCodeInvalid, Field: "auth_code",
			Message: "the GoPay linking auth code is unknown or already used; open the GoPay linking page again",
			Err:     fmt.Errorf("snap %s: %s", op, code)}
	case "40900":
		return rejected("X-EXTERNAL-ID reused today")
	}
	return rejected("unexpected responseCode")
}

// errUnreadable marks an answer this client could not read: for a call with an effect (a
// charge, a refund) its outcome is unknown, not refused (see debit.go).
var errUnreadable = errors.New("unreadable answer")

func (c *Client) badAnswer(ctx context.Context, op, why string) error {
	logging.From(ctx, c.o.Log).Error("SNAP answered something unreadable", zap.String("operation", op), zap.String("why", why))
	return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected,
		"the payment provider sent an answer this service cannot read", fmt.Errorf("snap %s: %s: %w", op, why, errUnreadable))
}

// AccessToken returns the current B2B token (renewing it if needed). Exposed for the
// Get OAuth Code call, which is signed with it too.
func (c *Client) AccessToken(ctx context.Context) (string, error) { return c.tokens.Get(ctx) }
