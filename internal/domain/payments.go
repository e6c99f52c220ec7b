package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// PaymentState is where a payment stands. It only moves forward (see Advances): a late or
// repeated notification never takes a settled payment back.
type PaymentState string

const (
	PaymentPending        PaymentState = "pending"         // written before the charge; outcome not known yet
	PaymentRequiresAction PaymentState = "requires_action" // GoPay waits for the customer's PIN (RedirectURL)
	PaymentSucceeded      PaymentState = "succeeded"
	PaymentFailed         PaymentState = "failed"
	PaymentCanceled       PaymentState = "canceled"
	PaymentRefunded       PaymentState = "refunded" // refunded in full
)

// next lists the states each state may move to.
var next = map[PaymentState][]PaymentState{
	PaymentPending:        {PaymentRequiresAction, PaymentSucceeded, PaymentFailed, PaymentCanceled},
	PaymentRequiresAction: {PaymentSucceeded, PaymentFailed, PaymentCanceled},
	PaymentSucceeded:      {PaymentRefunded},
}

// Advances reports whether a payment in state from may move to state to.
func (from PaymentState) Advances(to PaymentState) bool {
	for _, s := range next[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Settled reports whether the charge's outcome is known.
func (from PaymentState) Settled() bool {
	return from != PaymentPending && from != PaymentRequiresAction
}

// Payment is a charge of a linked GoPay account. Amounts are in minor units (IDR: sen).
type Payment struct {
	ID                  uuid.UUID
	UserID              uuid.UUID
	ClientID            string // the internal service that asked for it
	OrderReference      string // the caller's reference, unique per caller
	PartnerReferenceNo  string // partnerReferenceNo, the same on every attempt
	ExternalID          string // X-EXTERNAL-ID, the same on every attempt
	PayOption           string // GOPAY_WALLET or PAY_LATER
	Amount              int64
	Currency            string
	Description         string
	Items               []PaymentItem
	ReturnURL           string
	State               PaymentState
	ProviderReferenceNo string // GoPay's referenceNo
	RedirectURL         string // where the customer confirms with their PIN
	FailureCode         string
	Refunded            int64
	ChargedOn           time.Time // the Jakarta day of the charge
	CreatedAt           time.Time
	UpdatedAt           time.Time
	SettledAt           time.Time
}

// PaymentOutcome is what is learnt about a charge; empty strings leave a field as it is.
type PaymentOutcome struct {
	State               PaymentState
	ProviderReferenceNo string
	RedirectURL         string
	FailureCode         string
}

// PaymentItem is a line of the order, passed to GoPay as additionalInfo.items.
type PaymentItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Price    int64  `json:"price"` // minor units
	Quantity int    `json:"quantity"`
}

// Refund gives back part or all of a succeeded payment.
type Refund struct {
	ID               uuid.UUID
	PaymentID        uuid.UUID
	RefundReference  string // the caller's, unique per payment
	PartnerRefundNo  string
	ExternalID       string
	Amount           int64
	Reason           string
	State            string // pending, succeeded, failed
	ProviderRefundNo string
	CreatedAt        time.Time
}

// ParseMinor reads a decimal amount with two decimals ("15000.00") as minor units (1500000),
// without a float.
func ParseMinor(s string) (int64, error) {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 || whole == "" || len(whole) > 15 || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("not an amount with two decimals: %q", s)
	}
	return strconv.ParseInt(whole+frac, 10, 64)
}

// FormatMinor writes minor units as SNAP's value string: 1500000 -> "15000.00".
func FormatMinor(v int64) string {
	return fmt.Sprintf("%d.%02d", v/100, v%100)
}
