package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// User is a GoPay user who opened a session through the mini app.
type User struct {
	ID             uuid.UUID
	GoPayAccountID string
	CreatedAt      time.Time
}

// BankDetails is what GoPay's bank-details Token API returns for an account token.
// String masks the number so the struct is safe to print by accident.
type BankDetails struct {
	BankCode      string
	AccountName   string
	AccountNumber string
}

func (d BankDetails) String() string {
	return d.BankCode + " " + MaskAccountNumber(d.AccountNumber)
}

// BankAccount is a linked bank account. AccountNumber is the full number in memory only; it is
// sealed at rest and never sent to a client.
type BankAccount struct {
	ID            uuid.UUID
	UserID        uuid.UUID
	BankCode      string
	AccountName   string
	AccountNumber string
	Last4         string
	CreatedAt     time.Time
}

// Masked is the number as shown to the user.
func (a BankAccount) Masked() string { return "******" + a.Last4 }

func (a BankAccount) String() string { return a.ID.String() + " " + a.BankCode + " " + a.Masked() }

// Last4 is the part of an account number kept in clear, for display.
func Last4(number string) string {
	if len(number) <= 4 {
		return number
	}
	return number[len(number)-4:]
}

// MaskAccountNumber hides all but the last four digits and the length of the number.
func MaskAccountNumber(number string) string { return "******" + Last4(number) }

// PaymentOption is one way a linked GoPay account can pay (GOPAY_WALLET, PAY_LATER, …). Token
// is what a payment is charged with; it changes over time, so it is refreshed before payments.
type PaymentOption struct {
	Name     string
	Active   bool
	Balance  string // decimal, e.g. "7985000.00": never a float
	Currency string
	Token    string
}

// LinkMode says how a GoPay link was made.
type LinkMode string

const (
	LinkSNAP   LinkMode = "snap"   // SNAP account binding
	LinkLegacy LinkMode = "legacy" // a Core API tokenization account, swapped for a SNAP token
)

// LinkStatus is the state of a GoPay link, in the vocabulary internal callers list (seed 004).
type LinkStatus string

const (
	LinkActive   LinkStatus = "active"
	LinkInactive LinkStatus = "inactive" // unlinked, here or at GoPay
	LinkPending  LinkStatus = "pending"  // legacy account awaiting the customer's activation
	LinkRejected LinkStatus = "rejected" // legacy account expired or disabled
)

// GoPayLink is a user's linked GoPay account. CustomerToken (the SNAP Authorization-Customer
// token) and Phone are sealed at rest.
type GoPayLink struct {
	ID                 int64
	UserID             uuid.UUID
	Mode               LinkMode
	Status             LinkStatus
	Phone              string
	Name               string
	Email              string
	LegacyAccountID    string
	ActivationURL      string
	CustomerToken      string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	OptionsRefreshedAt time.Time // zero if never refreshed
}

// MaskedPhone hides all but the last four digits.
func (l GoPayLink) MaskedPhone() string { return MaskAccountNumber(l.Phone) }

// Amount normalises a non-negative amount ("7985000", "350000.5", "1000000.00") to two
// decimals without going through a float. Upstreams send balances as numbers (SNAP) or strings
// (Core API); we always send "7985000.00".
func Amount(s string) (string, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || len(frac) > 2 {
		return "", fmt.Errorf("not a decimal amount: %q", s)
	}
	// Written as PostgreSQL's numeric(20,2) prints it, so an amount read back compares equal.
	if whole = strings.TrimLeft(whole, "0"); whole == "" {
		whole = "0"
	}
	return whole + "." + (frac + "00")[:2], nil
}

// CardBindingStatus is where a card binding stands.
type CardBindingStatus string

const (
	CardPending   CardBindingStatus = "pending"   // webview opened, no outcome yet
	CardSucceeded CardBindingStatus = "succeeded" // the webview redirected to the success URL
	CardFailed    CardBindingStatus = "failed"    // the webview redirected to the failure URL
	CardExpired   CardBindingStatus = "expired"   // no outcome within CARD_BINDING_TTL
)

// CardBinding is a card registration the user started through the card-binding webview.
type CardBinding struct {
	ID          uuid.UUID
	UserID      uuid.UUID
	Status      CardBindingStatus
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time // zero while pending
}
