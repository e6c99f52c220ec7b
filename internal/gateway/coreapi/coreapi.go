// Package coreapi calls the Midtrans Core API for legacy GoPay tokenization accounts: create
// (PENDING with an activation link), status (seed 002) and unbind. Midtrans reports outcomes in
// the body's status_code; this package translates them, and nothing outside knows them.
package coreapi

import (
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

// Account statuses (seed 002).
const (
	StatusPending  = "PENDING"
	StatusExpired  = "EXPIRED"
	StatusEnabled  = "ENABLED"
	StatusDisabled = "DISABLED"
)

// Account is a legacy GoPay tokenization account.
type Account struct {
	ID            string
	Status        string
	ActivationURL string // set on create
	Options       []domain.PaymentOption
}

// Client calls the Core API with HTTP Basic auth: the server key as user, an empty password.
type Client struct {
	up      *upstream.Client
	baseURL string
	auth    string
	log     *zap.Logger
}

func New(up *upstream.Client, baseURL, serverKey string, log *zap.Logger) *Client {
	if up == nil || baseURL == "" || serverKey == "" || log == nil {
		panic("coreapi.New: missing dependency or credential")
	}
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(serverKey, "")
	return &Client{up: up, baseURL: strings.TrimRight(baseURL, "/"), auth: r.Header.Get("Authorization"), log: log}
}

type answer struct {
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
	AccountID     string `json:"account_id"`
	AccountStatus string `json:"account_status"`
	Actions       []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"actions"`
	Metadata struct {
		PaymentOptions []struct {
			Name    string `json:"name"`
			Active  bool   `json:"active"`
			Balance struct {
				Value    string `json:"value"`
				Currency string `json:"currency"`
			} `json:"balance"`
			Token string `json:"token"`
		} `json:"payment_options"`
	} `json:"metadata"`
}

// Status reads an account's linked status (GET /v2/pay/account/{id}).
func (c *Client) Status(ctx context.Context, accountID string) (Account, error) {
	return c.do(ctx, "account_status", http.MethodGet, "/v2/pay/account/"+url.PathEscape(accountID), nil, "")
}

// Create makes a tokenization account for a phone number; it is PENDING until the customer
// opens ActivationURL. idempotencyKey makes a retried create one account.
func (c *Client) Create(ctx context.Context, phone, countryCode, redirectURL, idempotencyKey string) (Account, error) {
	body, err := json.Marshal(map[string]any{"payment_type": "gopay", "gopay_partner": map[string]string{
		"phone_number": phone, "country_code": countryCode, "redirect_url": redirectURL}})
	if err != nil {
		return Account{}, err
	}
	return c.do(ctx, "create_account", http.MethodPost, "/v2/pay/account", body, idempotencyKey)
}

// Unbind unlinks an account (POST /v2/pay/account/{id}/unbind).
func (c *Client) Unbind(ctx context.Context, accountID, idempotencyKey string) (Account, error) {
	return c.do(ctx, "unbind", http.MethodPost, "/v2/pay/account/"+url.PathEscape(accountID)+"/unbind", []byte("{}"), idempotencyKey)
}

func (c *Client) do(ctx context.Context, op, method, path string, body []byte, idempotencyKey string) (Account, error) {
	h := http.Header{}
	h.Set("Authorization", c.auth)
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.up.Do(ctx, upstream.Request{Operation: op, Method: method, URL: c.baseURL + path, Header: h, Body: body})
	if err != nil {
		return Account{}, err
	}
	var a answer
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		return Account{}, c.rejected(ctx, op, resp.Status, "", "unreadable body")
	}
	switch a.StatusCode {
	case "200", "201", "204":
	case "401":
		return Account{}, c.rejected(ctx, op, resp.Status, a.StatusCode, "server key refused; check MIDTRANS_SERVER_KEY")
	case "404":
		return Account{}, &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeLegacyAccountNotFound, Field: "legacy_account_id",
			Message: "Midtrans knows no GoPay account with this id", Err: fmt.Errorf("coreapi %s: 404", op)}
	default:
		return Account{}, c.rejected(ctx, op, resp.Status, a.StatusCode, a.StatusMessage)
	}
	acct := Account{ID: a.AccountID, Status: a.AccountStatus}
	switch acct.Status {
	case StatusPending, StatusExpired, StatusEnabled, StatusDisabled:
	default:
		return Account{}, c.rejected(ctx, op, resp.Status, a.StatusCode, "unknown account_status")
	}
	for _, act := range a.Actions {
		if act.Name == "activation-link-url" {
			acct.ActivationURL = act.URL
		}
	}
	for _, o := range a.Metadata.PaymentOptions {
		bal, err := domain.Amount(o.Balance.Value)
		if err != nil {
			return Account{}, c.rejected(ctx, op, resp.Status, a.StatusCode, "non-numeric balance")
		}
		acct.Options = append(acct.Options, domain.PaymentOption{Name: o.Name, Active: o.Active, Balance: bal,
			Currency: o.Balance.Currency, Token: o.Token})
	}
	return acct, nil
}

func (c *Client) rejected(ctx context.Context, op string, status int, code, why string) error {
	logging.From(ctx, c.log).Error("Core API rejected our request or answered nonsense", zap.String("operation", op),
		zap.Int("status", status), zap.String("status_code", code), zap.String("why", why))
	return domain.E(domain.KindUpstream, domain.CodeUpstreamRejected,
		"the payment provider rejected this service's request", fmt.Errorf("coreapi %s: status %d code %q: %s", op, status, code, why))
}
