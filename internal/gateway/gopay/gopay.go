// Package gopay calls the GoPay mini app backend: the auth-code exchange that identifies a
// user, and the bank-details Token API (seed 000). It translates GoPay's answers into domain
// error kinds; nothing outside this package knows GoPay's error codes.
package gopay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/logging"
)

// CodeTokenNotFound is GoPay's error code for an unknown, expired or used account token.
const CodeTokenNotFound = "900"

// Operation names, as in metrics and logs.
const (
	opAuthToken   = "auth_token" //nolint:gosec // an operation name, not a credential
	opBankDetails = "bank_details"
)

// Client calls the GoPay mini app backend with HTTP Basic auth.
type Client struct {
	up      *upstream.Client
	baseURL string
	auth    string
	log     *zap.Logger
}

// New builds a client; baseURL is e.g. https://public-mini-app-merchants.gopayapi.com.
func New(up *upstream.Client, baseURL, clientID, clientSecret string, log *zap.Logger) *Client {
	if up == nil || baseURL == "" || clientID == "" || clientSecret == "" || log == nil {
		panic("gopay.New: missing dependency or credential")
	}
	return &Client{
		up:      up,
		baseURL: strings.TrimRight(baseURL, "/"),
		auth:    "Basic " + basicCredentials(clientID, clientSecret),
		log:     log,
	}
}

func basicCredentials(id, secret string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(id, secret)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// envelope is GoPay's answer shape: {"success": bool, "error": {...}, "data": {...}}.
type envelope struct {
	Success bool            `json:"success"`
	Error   *apiError       `json:"error"`
	Data    json.RawMessage `json:"data"`
}

type apiError struct {
	Code        flexString `json:"code"`
	Description string     `json:"description"`
}

// flexString accepts a JSON string or number: the seed documents error.code as a string but
// its own example sends the number 900.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// Authorization is the outcome of an auth-code exchange.
type Authorization struct {
	GoPayAccountID string
	AuthToken      string // does not expire: store sealed
}

// ExchangeAuthCode trades the frontend's auth code (5 minutes, single use) for the user's
// identity. requestID is sent as Request-Id so a retry is one effect upstream.
func (c *Client) ExchangeAuthCode(ctx context.Context, authCode, requestID string) (Authorization, error) {
	body, err := json.Marshal(map[string]string{"auth_code": authCode})
	if err != nil {
		return Authorization{}, err
	}
	var data struct {
		GoPayAccountID string `json:"gopay_account_id"`
		AuthToken      string `json:"auth_token"`
	}
	notFound := &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeAuthCodeInvalid, Field: "auth_code",
		Message: "the auth code is unknown, expired or already used; get a new one with miniAppSdk.getAuthCode()"}
	if err := c.call(ctx, opAuthToken, c.baseURL+"/v1/mini-apps/authorizations/token", requestID, body, &data, notFound); err != nil {
		return Authorization{}, err
	}
	if data.GoPayAccountID == "" || data.AuthToken == "" {
		return Authorization{}, badAnswer("auth_token", "missing gopay_account_id or auth_token")
	}
	return Authorization{GoPayAccountID: data.GoPayAccountID, AuthToken: data.AuthToken}, nil
}

// BankDetails exchanges an account token from miniAppSdk.getBankAccountToken() for the bank
// details (seed 000). requestID is sent as Request-Id so a retry is one effect upstream.
func (c *Client) BankDetails(ctx context.Context, accountToken, requestID string) (domain.BankDetails, error) {
	u := c.baseURL + "/v1/mini-apps/bank-details?" + url.Values{"account_token": {accountToken}}.Encode()
	var data struct {
		BankCode          string `json:"bank_code"`
		BankAccountName   string `json:"bank_account_name"`
		BankAccountNumber string `json:"bank_account_number"`
	}
	notFound := &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeAccountTokenInvalid, Field: "account_token",
		Message: "the account token is unknown, expired or already used; get a new one with miniAppSdk.getBankAccountToken()"}
	if err := c.call(ctx, opBankDetails, u, requestID, nil, &data, notFound); err != nil {
		return domain.BankDetails{}, err
	}
	// Seed 000 answers all three; an account without its holder's name cannot be shown or paid.
	if data.BankCode == "" || data.BankAccountName == "" || data.BankAccountNumber == "" {
		return domain.BankDetails{}, badAnswer("bank_details", "missing bank_code, bank_account_name or bank_account_number")
	}
	return domain.BankDetails{BankCode: data.BankCode, AccountName: data.BankAccountName, AccountNumber: data.BankAccountNumber}, nil
}

// call POSTs and decodes a successful envelope's data into out. Its errors: notFound for GoPay's
// "not found" answers (code 900, or a 400 to an auth code), KindUpstream when GoPay
// refuses our credentials or our request, and the upstream package's Unavailable/Timeout.
func (c *Client) call(ctx context.Context, op, u, requestID string, body []byte, out any, notFound *domain.Error) error {
	h := http.Header{}
	h.Set("Authorization", c.auth)
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if requestID != "" {
		h.Set("Request-Id", requestID)
	}
	resp, err := c.up.Do(ctx, upstream.Request{Operation: op, Method: http.MethodPost, URL: u, Header: h, Body: body})
	if err != nil {
		return err
	}
	var env envelope
	decodeErr := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(&env)
	// GoPay's own error envelope decides first, whatever the status; the status decides when
	// there is none.
	hasError := decodeErr == nil && !env.Success && env.Error != nil
	if resp.Status >= 300 || hasError {
		code := ""
		if hasError {
			code = string(env.Error.Code)
		}
		return c.failure(ctx, op, resp.Status, code, notFound)
	}
	switch {
	case resp.Status < 200:
		return badAnswer(op, fmt.Sprintf("status %d is neither success nor error", resp.Status))
	case decodeErr != nil || !env.Success:
		return badAnswer(op, "unreadable or unsuccessful 2xx answer")
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return badAnswer(op, "unreadable data")
	}
	return nil
}

// Error codes GoPay answers in its envelope. 900 is documented (seed 000); the auth-code
// exchange's are not public: 902 is what our sandbox answers (an assumption), and any error
// envelope answered 400 or 404 to an exchange is taken to mean the code is unknown or used.
const (
	codeUnauthorized    = "401"
	codeAuthCodeInvalid = "902"
)

// failure classifies an error answer by GoPay's own error code first and its HTTP status
// second: a used auth code answered 404 in GoPay's envelope is the user's (422), while a bare
// 404 with no envelope is more likely a wrong GOPAY_BASE_URL, which must reach the operator.
func (c *Client) failure(ctx context.Context, op string, status int, code string, notFound *domain.Error) error {
	cause := fmt.Errorf("gopay %s: status %d code %q", op, status, code)
	userFault := code == CodeTokenNotFound ||
		op == opAuthToken && (code == codeAuthCodeInvalid || code != "" && code != codeUnauthorized &&
			(status == http.StatusBadRequest || status == http.StatusNotFound))
	switch {
	case userFault:
		e := *notFound
		e.Err = cause
		return &e
	case code == codeUnauthorized || status == http.StatusUnauthorized || status == http.StatusForbidden:
		// Our credentials are wrong: the operator must act; the client learns only that we failed.
		logging.From(ctx, c.log).Error("GoPay refused our credentials; check GOPAY_CLIENT_ID and GOPAY_CLIENT_SECRET",
			zap.String("operation", op), zap.Int("status", status), zap.String("code", code))
		return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected, "the payment provider rejected this service's request", cause)
	default:
		logging.From(ctx, c.log).Error("GoPay rejected our request", zap.String("operation", op), zap.Int("status", status), zap.String("code", code))
		return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected, "the payment provider rejected this service's request", cause)
	}
}

func badAnswer(op, why string) error {
	return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected,
		"the payment provider sent an answer this service cannot read", fmt.Errorf("gopay %s: %s", op, why))
}
