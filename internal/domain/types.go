package domain

import (
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
