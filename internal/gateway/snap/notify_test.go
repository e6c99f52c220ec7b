package snap

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// pageSample is the request body of Midtrans' Payment Notification API page
// (docs.midtrans.com/reference/payment-notification-api, GoPay section), minified: it has no
// amount, and of the payment's ids only originalReferenceNo is mandatory.
const pageSample = `{"createdTime":"2020-01-01T00:00:00+07:00","latestTransactionStatus":"00","originalReferenceNo":"gopayOrderId",` +
	`"finishedTime":"2020-01-02T00:00:00+07:00","originalPartnerReferenceNo":"merchant-order-id","transactionStatusDesc":"desc",` +
	`"originalExternalId":"merchant-order-id","additionalInfo":{"userPaymentDetails":[{"payMethod":"gopay","payOption":"GOPAY_WALLET"}]}}`

func TestNotificationsAsThePageDescribesThem(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	verify := func(body string) (Notification, error) {
		ts := snapsig.Timestamp(now)
		sts, err := snapsig.NotificationStringToSign(NotifyPath, []byte(body), ts)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := snapsig.SignAsymmetric(key, sts)
		if err != nil {
			t.Fatal(err)
		}
		return VerifyNotification(&key.PublicKey, 5*time.Minute, now, NotifyPath, []byte(body), ts, sig)
	}

	n, err := verify(pageSample)
	want := Notification{PartnerReferenceNo: "merchant-order-id", ExternalID: "merchant-order-id", ReferenceNo: "gopayOrderId",
		State: domain.PaymentSucceeded, Status: "00"}
	if err != nil || n != want {
		t.Fatalf("the page's sample: %+v, %v; want %+v", n, err, want)
	}
	// Only what the page makes mandatory.
	if n, err := verify(`{"latestTransactionStatus":"03","originalReferenceNo":"R1"}`); err != nil || n.ReferenceNo != "R1" ||
		n.State != domain.PaymentRequiresAction || n.HasAmount {
		t.Fatalf("the mandatory members alone: %+v, %v", n, err)
	}
	// An amount, when sent, is read and must be well formed.
	if n, err := verify(`{"amount":{"currency":"IDR","value":"15000.00"},"latestTransactionStatus":"00","originalReferenceNo":"R1"}`); err != nil ||
		!n.HasAmount || n.Amount != 1500000 || n.Currency != "IDR" {
		t.Fatalf("with an amount: %+v, %v", n, err)
	}
	// 08 (expiry) and 09 (rejected), listed on the page, fail the payment.
	for _, status := range []string{"06", "08", "09"} {
		if n, err := verify(`{"latestTransactionStatus":"` + status + `","originalReferenceNo":"R1"}`); err != nil || n.State != domain.PaymentFailed {
			t.Errorf("status %s: %+v, %v", status, n, err)
		}
	}
	for body, field := range map[string]string{
		`{"latestTransactionStatus":"00","originalPartnerReferenceNo":"p"}`:                         "originalReferenceNo",
		`{"latestTransactionStatus":"77","originalReferenceNo":"R1"}`:                               "latestTransactionStatus",
		`{"amount":{"value":"15000"},"latestTransactionStatus":"00","originalReferenceNo":"R1"}`:    "amount.value",
		`{"amount":{"value":"15000.00"},"latestTransactionStatus":"00","originalReferenceNo":"R1"}`: "amount.currency",
	} {
		if _, err := verify(body); domain.As(err).Kind != domain.KindInvalid || domain.As(err).Field != field {
			t.Errorf("%s: %v, want invalid %s", body, err, field)
		}
	}
}

// The acknowledgement is the page's: 2005600 and an X-TIMESTAMP; a repeat is acknowledged too.
func TestNotificationAck(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	a := NotificationAck(false, now)
	if a.ResponseCode != "2005600" || a.ResponseMessage != "Request has been processed successfully" || a.Timestamp != "2026-11-22T08:02:03.000+07:00" {
		t.Errorf("ack %+v", a)
	}
	if d := NotificationAck(true, now); d.ResponseCode != "2005600" || d.ResponseMessage == a.ResponseMessage {
		t.Errorf("repeat ack %+v", d)
	}
}
