package snap

import (
	"context"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// Inquiry is what the Account Binding Inquiry returns.
type Inquiry struct {
	CustomerToken string // Authorization-Customer for later calls (new after a legacy swap)
	Options       []domain.PaymentOption
}

// grantTypeAuthorizationCode is the binding's mandatory grantType (Midtrans "Bind Account API"
// reference page: merchantId, authCode and grantType are mandatory; a binding without it is
// answered 4000702 Invalid Mandatory Field {grantType}).
const grantTypeAuthorizationCode = "AUTHORIZATION_CODE"

// Bind exchanges the auth code from GoPay's linking page for the customer token
// (registration-account-binding, service 07).
func (c *Client) Bind(ctx context.Context, authCode, deviceID string) (string, error) {
	body := map[string]any{"partnerReferenceNo": randomID(), "authCode": authCode, "merchantId": c.o.MerchantID,
		"grantType": grantTypeAuthorizationCode, "additionalInfo": map[string]any{}}
	r, err := c.call(ctx, "binding", svcBinding, "/v1.0/registration-account-binding", body, "", deviceID, FreshPerAttempt, "")
	if err != nil {
		return "", err
	}
	if r.AccessTokenInfo.AccessToken == "" {
		return "", c.badAnswer(ctx, "binding", "no accessTokenInfo.accessToken")
	}
	return r.AccessTokenInfo.AccessToken, nil
}

// Inquire refreshes a bound customer's payment options (registration-account-inquiry, 08, with
// Authorization-Customer). A 4010802 means the linking is no longer active.
func (c *Client) Inquire(ctx context.Context, customerToken, deviceID string) (Inquiry, error) {
	r, err := c.call(ctx, "inquiry", svcInquiry, "/v1.0/registration-account-inquiry", map[string]any{}, customerToken, deviceID, FreshPerAttempt, "")
	if err != nil {
		return Inquiry{}, err
	}
	return c.inquiry(ctx, r, customerToken)
}

// SwapLegacy trades a legacy Core API account id for a SNAP customer token (08 with
// additionalInfo.accountId and no Authorization-Customer). A 4030818 means the account's
// linking is inactive.
func (c *Client) SwapLegacy(ctx context.Context, accountID, deviceID string) (Inquiry, error) {
	body := map[string]any{"additionalInfo": map[string]any{"accountId": accountID}}
	r, err := c.call(ctx, "inquiry_swap", svcInquiry, "/v1.0/registration-account-inquiry", body, "", deviceID, FreshPerAttempt, "")
	if err != nil {
		return Inquiry{}, err
	}
	inq, err := c.inquiry(ctx, r, "")
	if err == nil && inq.CustomerToken == "" {
		return Inquiry{}, c.badAnswer(ctx, "inquiry_swap", "no additionalInfo.accessToken")
	}
	return inq, err
}

func (c *Client) inquiry(ctx context.Context, r response, customerToken string) (Inquiry, error) {
	inq := Inquiry{CustomerToken: r.AdditionalInfo.AccessToken}
	if inq.CustomerToken == "" {
		inq.CustomerToken = customerToken
	}
	for _, o := range r.AdditionalInfo.PaymentOptions {
		bal, err := domain.Amount(o.Balance.Value.String())
		if err != nil || o.Name == "" || o.Token == "" {
			return Inquiry{}, c.badAnswer(ctx, "inquiry", "payment option without name, token or numeric balance")
		}
		inq.Options = append(inq.Options, domain.PaymentOption{Name: o.Name, Active: o.Active, Balance: bal,
			Currency: o.Balance.Currency, Token: o.Token})
	}
	return inq, nil
}

// Unbind ends the linking at GoPay (registration-account-unbinding, 09).
func (c *Client) Unbind(ctx context.Context, customerToken, deviceID string) error {
	body := map[string]any{"partnerReferenceNo": randomID(), "merchantId": c.o.MerchantID, "additionalInfo": map[string]any{}}
	_, err := c.call(ctx, "unbinding", svcUnbinding, "/v1.0/registration-account-unbinding", body, customerToken, deviceID, FreshPerAttempt, "")
	return err
}
