package snap

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
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
	if err == nil && r.ReferenceNo == "" {
		err = c.badAnswer(ctx, "debit", "no referenceNo")
	}
	if err != nil {
		return ChargeResult{}, unknownIfUnreadable(err)
	}
	return ChargeResult{ReferenceNo: r.ReferenceNo, RedirectURL: r.WebRedirectURL}, nil
}

// unknownIfUnreadable turns an answer to a charge or refund that could not be read into an
// unknown outcome: GoPay may have taken the money, so it is not a refusal.
func unknownIfUnreadable(err error) error {
	if errors.Is(err, errUnreadable) {
		return domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable,
			"the payment provider's answer could not be read; the outcome is being confirmed", err)
	}
	return err
}

// debitAnswer reads the responseCodes of the direct-debit services (54, 55, 57, 58) that
// translate's common table does not: their own refusals, and the two that say our own earlier
// attempt arrived. It reports false for every other service and code.
//   - 202xx00: accepted, waiting for the customer (SNAP's "Request In Progress");
//   - 4035414 insufficient funds, 4035405 do not honor: GoPay refused the charge;
//   - 403xx15 transaction not permitted: not cancelable (57) or not refundable (58);
//   - 404xx01 transaction not found;
//   - 4095400 X-EXTERNAL-ID or 4095401 partnerReferenceNo already used: one of this payment's
//     earlier attempts reached GoPay (every attempt sends the payment's own), so its outcome is
//     the status API's to tell, not a refusal.
//
// The codes are the SNAP standard's general cases as Midtrans' direct-debit page lists no table
// of its own (assumptions, also in internal/conformance/calls/snap.debit*.json).
func debitAnswer(op, svc, code string) (error, bool) {
	if svc != svcDebit && svc != svcDebitStatus && svc != svcDebitCancel && svc != svcDebitRefund {
		return nil, false
	}
	cause := fmt.Errorf("snap %s: %s", op, code)
	switch code[:3] + code[5:] {
	case "20200":
		return nil, true
	case "40314":
		return &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeInsufficientBalance, Field: "amount",
			Message: "the GoPay balance does not cover this amount", Err: cause}, true
	case "40305":
		return domain.E(domain.KindUnprocessable, domain.CodePaymentDeclined, "GoPay declined the payment", cause), true
	case "40315":
		if svc == svcDebitRefund {
			return domain.E(domain.KindConflict, domain.CodePaymentNotRefundable, "GoPay does not allow refunding this payment", cause), true
		}
		return domain.E(domain.KindConflict, domain.CodePaymentNotCancelable, "GoPay does not allow canceling this payment", cause), true
	case "40401":
		return domain.PaymentNotFound(), true
	case "40900", "40901":
		if svc == svcDebit {
			return domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable,
				"GoPay already has this payment; its outcome is being confirmed", cause), true
		}
	}
	return nil, false
}

// Status is what the status API says of a transaction. State is empty while it is still
// open before the customer is asked (initiated, paying).
type Status struct {
	Found       bool
	ReferenceNo string
	State       domain.PaymentState
}

// debitState maps SNAP's latestTransactionStatus to a payment state: 00 success, 01
// initiated, 02 paying, 03 pending (waiting for the customer), 04 refunded, 05 canceled, 06
// failed, 07 not found, 08 expired and 09 rejected, both a failure to pay (SNAP standard codes,
// as midtrans-client's README samples them; 08 and 09 are listed on Midtrans' Payment
// Notification API page, docs.midtrans.com/reference/payment-notification-api).
func debitState(code string) (domain.PaymentState, bool) {
	switch code {
	case "00":
		return domain.PaymentSucceeded, true
	case "01", "02":
		return "", true
	case "03":
		return domain.PaymentRequiresAction, true
	case "04":
		return domain.PaymentRefunded, true
	case "05":
		return domain.PaymentCanceled, true
	case "06", "08", "09":
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
	state, ok := debitState(r.LatestTransactionStatus)
	if !ok {
		return Status{}, c.badAnswer(ctx, "debit_status", "unknown latestTransactionStatus")
	}
	return Status{Found: true, ReferenceNo: r.OriginalReferenceNo, State: state}, nil
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
	if err == nil && r.RefundNo == "" {
		err = c.badAnswer(ctx, "debit_refund", "no refundNo")
	}
	if err != nil {
		return "", unknownIfUnreadable(err)
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

// NewReference returns a reference for a payment or refund: 32 hex characters of 128 random
// bits, a valid partnerReferenceNo, partnerRefundNo and X-EXTERNAL-ID (alphanumeric, at most 36).
func NewReference() string { return randomID() }

// NotifyPath is the path of the notification URL configured with Midtrans for direct debit
// (midtrans-client's README: /v1.0/debit/notify); the signature covers it.
const NotifyPath = "/v1.0/debit/notify"

// Notification is a payment notification whose signature verified. Of the payment's ids, only
// ReferenceNo is mandatory on the page; HasAmount says whether the optional amount was sent.
type Notification struct {
	PartnerReferenceNo string // originalPartnerReferenceNo: ours (optional)
	ExternalID         string // originalExternalId: the charge's X-EXTERNAL-ID (optional)
	ReferenceNo        string // originalReferenceNo: the provider's (mandatory)
	HasAmount          bool
	Amount             int64 // minor units
	Currency           string
	State              domain.PaymentState // "" while the transaction is still open
	Status             string              // latestTransactionStatus, as received
}

// VerifyNotification checks a payment notification as Midtrans' Payment Notification API page
// (docs.midtrans.com/reference/payment-notification-api, service 56) describes it:
//   - X-SIGNATURE is SHA256withRSA, with the provider's key, over
//     POST:path:lowerhex(SHA256(minified body)):X-TIMESTAMP (also midtrans-client 1.4.3,
//     SnapBi.isWebhookNotificationVerified);
//   - X-TIMESTAMP must be within maxSkew of now (assumption: the page names no window; 5
//     minutes by default in the service);
//   - latestTransactionStatus and originalReferenceNo are mandatory. originalPartnerReferenceNo,
//     originalExternalId and amount are optional (the page's own sample has no amount); an amount
//     that is sent must have a value with two decimals and a currency.
//
// Refusals are KindUnauthenticated notification_refused; a body without what the page makes
// mandatory is KindInvalid naming the member.
func VerifyNotification(key *rsa.PublicKey, maxSkew time.Duration, now time.Time, path string, body []byte, timestamp, signature string) (Notification, error) {
	refused := func(why string) error {
		return domain.E(domain.KindUnauthenticated, domain.CodeNotificationRefused, why, nil)
	}
	ts, err := snapsig.ParseTimestamp(timestamp)
	if err != nil {
		return Notification{}, refused("X-TIMESTAMP missing or malformed")
	}
	if d := now.Sub(ts); d > maxSkew || d < -maxSkew {
		return Notification{}, refused("stale X-TIMESTAMP")
	}
	sts, err := snapsig.NotificationStringToSign(path, body, timestamp)
	if err != nil || key == nil || !snapsig.VerifyAsymmetric(key, sts, signature) {
		return Notification{}, refused("X-SIGNATURE does not verify")
	}
	var b struct {
		OriginalPartnerReferenceNo string `json:"originalPartnerReferenceNo"`
		OriginalExternalID         string `json:"originalExternalId"`
		OriginalReferenceNo        string `json:"originalReferenceNo"`
		Amount                     *struct {
			Value    string `json:"value"`
			Currency string `json:"currency"`
		} `json:"amount"`
		LatestTransactionStatus string `json:"latestTransactionStatus"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.OriginalReferenceNo == "" {
		return Notification{}, domain.Invalid("originalReferenceNo", "missing")
	}
	state, known := debitState(b.LatestTransactionStatus)
	if !known {
		return Notification{}, domain.Invalid("latestTransactionStatus", "unknown")
	}
	n := Notification{PartnerReferenceNo: b.OriginalPartnerReferenceNo, ExternalID: b.OriginalExternalID,
		ReferenceNo: b.OriginalReferenceNo, State: state, Status: b.LatestTransactionStatus}
	if b.Amount != nil {
		if n.Amount, err = domain.ParseMinor(b.Amount.Value); err != nil {
			return Notification{}, domain.Invalid("amount.value", "not an amount with two decimals")
		}
		if b.Amount.Currency == "" {
			return Notification{}, domain.Invalid("amount.currency", "missing")
		}
		n.HasAmount, n.Currency = true, b.Amount.Currency
	}
	return n, nil
}

// Ack is the answer to a notification: the body and the X-TIMESTAMP header the Payment
// Notification API page makes mandatory.
type Ack struct {
	ResponseCode, ResponseMessage, Timestamp string
}

// NotificationAck acknowledges a notification received at now: 2005600 (HTTP 200, service 56,
// case 00), the page's sample answer. A repeat is acknowledged the same way, so the provider
// stops sending it; only the message says it was already processed.
func NotificationAck(duplicate bool, now time.Time) Ack {
	msg := "Request has been processed successfully"
	if duplicate {
		msg += " (already processed)"
	}
	return Ack{ResponseCode: "2005600", ResponseMessage: msg, Timestamp: snapsig.Timestamp(now)}
}
