package snap

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/domain"
)

const svcOAuthCode = "30"

// CardOptions configures Get OAuth Code, which has its own host, client id and merchant id.
type CardOptions struct {
	BaseURL    string
	ClientID   string // X-CLIENT-KEY: the 32-character client_id
	MerchantID string // 6 characters: merchantId and X-PARTNER-ID
}

// cardTimestamp is X-TIMESTAMP for Get OAuth Code: seed 003 asks for yyyy-MM-ddTHH:mm:ss.SSSTZD in 24
// to 27 characters, which milliseconds with a +07:00 offset (29) cannot fit; UTC with the Z
// designator (24) satisfies both the format and the length.
func cardTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// GetOAuthCode asks for the auth code that opens the card-binding webview (service 30, scope
// CARD_REGISTRATION). Every seed 003 rule is checked before anything is sent: the query here,
// the headers on the final request.
func (c *Client) GetOAuthCode(ctx context.Context, card CardOptions, req cardreg.Request) (string, error) {
	req.MerchantID = card.MerchantID
	if v := req.Validate(); v != nil {
		return "", &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidRequest, Field: v.Field, Message: v.Message}
	}
	q, err := req.Query()
	if err != nil {
		return "", err
	}
	values := url.Values{}
	for k, v := range q {
		values.Set(k, v)
	}
	r, err := c.send(ctx, callSpec{op: "oauth_code", svc: svcOAuthCode, method: http.MethodGet, baseURL: card.BaseURL,
		pathWithQuery: "/v1.0/get-auth-code?" + values.Encode(), timestamp: cardTimestamp, policy: FreshPerAttempt,
		headers: func(h http.Header) {
			h.Set("Accept", "application/json")
			h.Set("X-CLIENT-KEY", card.ClientID)
			h.Set("X-PARTNER-ID", card.MerchantID)
		},
		check: func(h http.Header) error {
			hdr := cardreg.Headers{Accept: h.Get("Accept"), Timestamp: h.Get("X-TIMESTAMP"), ClientKey: h.Get("X-CLIENT-KEY"),
				PartnerID: h.Get("X-PARTNER-ID"), ExternalID: h.Get("X-EXTERNAL-ID"), ChannelID: h.Get("CHANNEL-ID")}
			if v := hdr.Validate(); v != nil {
				// Our configuration breaks a header rule: nothing is sent, the operator is told.
				return domain.E(domain.KindInternal, domain.CodeInternal, "internal error", v)
			}
			return nil
		}})
	if err != nil {
		return "", err
	}
	if r.AuthCode == "" {
		return "", c.badAnswer(ctx, "oauth_code", "no authCode")
	}
	return r.AuthCode, nil
}
