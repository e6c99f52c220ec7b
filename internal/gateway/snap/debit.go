package snap

import (
	"context"
	"time"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// Direct debit with a linked GoPay (Midtrans "Direct Debit API - GoPay Tokenization",
// https://docs.midtrans.com/reference/direct-debit-api-gopay-tokenization): payment-host-to-host
// (service 54) with Authorization-Customer and the option token from the Binding Inquiry in
// payOptionDetails[].additionalInfo.paymentoptiontoken; status (55), cancel (57) and refund
// (58), the bodies as midtrans-client 1.4.3's README sends them. Every call of one payment (or
// refund) sends the X-EXTERNAL-ID kept in its row, so a retry is the same transaction upstream
// (the provider replays a payment call's first answer for a reused id, seeds README).

// Charge is one direct debit to send.
type Charge struct {
	PartnerReferenceNo string
	ExternalID         string
	CustomerToken      string
	DeviceID           string
	PayOption          string // GOPAY_WALLET, PAY_LATER
	OptionToken        string
	Amount             int64 // minor units
	Currency           string
	ReturnURL          string
	ValidUpTo          time.Time
	Description        string
	Items              []domain.PaymentItem
}

// ChargeResult is the provider's answer to a charge.
type ChargeResult struct {
	ReferenceNo string
	RedirectURL string // set when the customer must confirm with their PIN
}

// Charge sends the direct debit.
func (c *Client) Charge(ctx context.Context, ch Charge) (ChargeResult, error) {
	items := make([]map[string]any, 0, len(ch.Items))
	for _, it := range ch.Items {
		items = append(items, map[string]any{"id": it.ID, "name": it.Name, "quantity": it.Quantity,
			"price": map[string]any{"value": domain.FormatMinor(it.Price), "currency": ch.Currency}})
	}
	additional := map[string]any{"items": items}
	if ch.Description != "" {
		additional["description"] = ch.Description
	}
	body := map[string]any{
		"partnerReferenceNo": ch.PartnerReferenceNo,
		"merchantId":         c.o.MerchantID,
		"validUpTo":          snapsig.Timestamp(ch.ValidUpTo),
		"payOptionDetails": []any{map[string]any{
			"payMethod": "GOPAY", "payOption": ch.PayOption,
			"transAmount":    map[string]any{"value": domain.FormatMinor(ch.Amount), "currency": ch.Currency},
			"additionalInfo": map[string]any{"paymentoptiontoken": ch.OptionToken},
		}},
		"additionalInfo": additional,
	}
	if ch.ReturnURL != "" {
		body["urlParam"] = []any{map[string]any{"url": ch.ReturnURL, "type": "PAY_RETURN", "isDeeplink": "N"}}
	}
	r, err := c.fixedCall(ctx, "debit", svcDebit, "/v1.0/debit/payment-host-to-host", body, ch.CustomerToken, ch.DeviceID, ch.ExternalID)
	if err != nil {
		return ChargeResult{}, err
	}
	if r.ReferenceNo == "" {
		return ChargeResult{}, c.badAnswer(ctx, "debit", "no referenceNo")
	}
	return ChargeResult{ReferenceNo: r.ReferenceNo, RedirectURL: r.WebRedirectURL}, nil
}

// Status is what the status API says of a transaction. State is empty while it is still
// open (initiated, paying, pending).
type Status struct {
	Found       bool
	ReferenceNo string
	State       domain.PaymentState
	Code        string // latestTransactionStatus, for the record
}

// DebitState maps SNAP's latestTransactionStatus to a payment state: 00 success, 01
// initiated, 02 paying, 03 pending, 04 refunded, 05 canceled, 06 failed, 07 not found (SNAP
// standard codes, as the Midtrans status and notification pages list them).
func DebitState(code string) (domain.PaymentState, bool) {
	switch code {
	case "00":
		return domain.PaymentSucceeded, true
	case "01", "02", "03":
		return "", true
	case "04":
		return domain.PaymentRefunded, true
	case "05":
		return domain.PaymentCanceled, true
	case "06":
		return domain.PaymentFailed, true
	}
	return "", false
}

// DebitStatus asks where a charge stands, by its partnerReferenceNo and X-EXTERNAL-ID. A
// transaction the provider does not know (it never arrived) is Found false, not an error.
func (c *Client) DebitStatus(ctx context.Context, partnerReferenceNo, externalID string) (Status, error) {
	body := map[string]any{"originalPartnerReferenceNo": partnerReferenceNo, "originalExternalId": externalID, "serviceCode": svcDebit}
	r, err := c.fixedCall(ctx, "debit_status", svcDebitStatus, "/v1.0/debit/status", body, "", "", "")
	if err != nil {
		if de := domain.As(err); de.Code == domain.CodePaymentNotFound {
			return Status{}, nil
		}
		return Status{}, err
	}
	state, ok := DebitState(r.LatestTransactionStatus)
	if !ok {
		return Status{}, c.badAnswer(ctx, "debit_status", "unknown latestTransactionStatus")
	}
	return Status{Found: true, ReferenceNo: r.OriginalReferenceNo, State: state, Code: r.LatestTransactionStatus}, nil
}

// CancelDebit cancels a charge the customer has not confirmed yet.
func (c *Client) CancelDebit(ctx context.Context, partnerReferenceNo, externalID, reason string) error {
	body := map[string]any{"originalPartnerReferenceNo": partnerReferenceNo, "originalExternalId": externalID, "reason": reason}
	_, err := c.fixedCall(ctx, "debit_cancel", svcDebitCancel, "/v1.0/debit/cancel", body, "", "", "")
	return err
}

// RefundRequest is one refund to send; ExternalID and PartnerRefundNo are the refund's own.
type RefundRequest struct {
	PartnerReferenceNo string // the payment's
	ReferenceNo        string // the payment's, at the provider
	PartnerRefundNo    string
	ExternalID         string
	Amount             int64
	Currency           string
	Reason             string
}

// RefundDebit gives back part or all of a settled charge and returns the provider's refundNo.
func (c *Client) RefundDebit(ctx context.Context, rf RefundRequest) (string, error) {
	body := map[string]any{"originalPartnerReferenceNo": rf.PartnerReferenceNo, "originalReferenceNo": rf.ReferenceNo,
		"partnerRefundNo": rf.PartnerRefundNo, "reason": rf.Reason,
		"refundAmount": map[string]any{"value": domain.FormatMinor(rf.Amount), "currency": rf.Currency}}
	r, err := c.fixedCall(ctx, "debit_refund", svcDebitRefund, "/v1.0/debit/refund", body, "", "", rf.ExternalID)
	if err != nil {
		return "", err
	}
	if r.RefundNo == "" {
		return "", c.badAnswer(ctx, "debit_refund", "no refundNo")
	}
	return r.RefundNo, nil
}

// fixedCall is call with the X-EXTERNAL-ID given (or a fresh one per attempt when empty:
// status and cancel change nothing twice).
func (c *Client) fixedCall(ctx context.Context, op, svc, path string, body any, customerToken, deviceID, externalID string) (response, error) {
	if deviceID == "" {
		deviceID = "bff-server" // no customer device: the service's own call
	}
	return c.serviceCall(ctx, callSpec{op: op, svc: svc, pathWithQuery: path, externalID: externalID}, body, customerToken, deviceID)
}
