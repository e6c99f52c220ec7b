// Package service holds the product's flows and their rules: opening a session, linking,
// listing and removing bank accounts. It speaks domain types; the gateways and repositories
// it is given do the talking to upstreams and to the database.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/gopay"
)

// recordTimeout bounds writing down what an upstream already did (a consumed auth code, a
// binding, an unbinding). It runs on a context detached from the request's deadline and from
// its client: the effect happened, so it is recorded whether or not anyone still waits, and the
// client's retry then finds it (or replays it) instead of repeating it. HTTP_WRITE_TIMEOUT
// leaves room for it above REQUEST_TIMEOUT (config checks that).
const recordTimeout = 3 * time.Second

func recording(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// MiniApp is the part of the GoPay mini app backend the flows use.
type MiniApp interface {
	ExchangeAuthCode(ctx context.Context, authCode, requestID string) (gopay.Authorization, error)
	BankDetails(ctx context.Context, accountToken, requestID string) (domain.BankDetails, error)
}

// UserStore keeps users and their sealed GoPay auth tokens.
type UserStore interface {
	Upsert(ctx context.Context, gopayAccountID, authToken string) (domain.User, error)
}

// BankAccountStore keeps linked bank accounts.
type BankAccountStore interface {
	Upsert(ctx context.Context, userID uuid.UUID, d domain.BankDetails) (domain.BankAccount, bool, error)
	List(ctx context.Context, userID uuid.UUID) ([]domain.BankAccount, error)
	Delete(ctx context.Context, userID, id uuid.UUID) error
}

// SessionIssuer signs tokens for a subject.
type SessionIssuer interface {
	Issue(subject string) (string, time.Time, error)
}

// Sessions opens sessions for mini app users.
type Sessions struct {
	gopay  MiniApp
	users  UserStore
	issuer SessionIssuer
}

func NewSessions(g MiniApp, users UserStore, issuer SessionIssuer) *Sessions {
	if g == nil || users == nil || issuer == nil {
		panic("service.NewSessions: nil dependency")
	}
	return &Sessions{gopay: g, users: users, issuer: issuer}
}

// Open exchanges the frontend's auth code with GoPay, keeps the user's auth token, and
// returns a session token.
func (s *Sessions) Open(ctx context.Context, authCode, requestID string) (token string, expiresAt time.Time, err error) {
	defer domain.Wrap(&err, "Sessions.Open")
	if authCode == "" {
		return "", time.Time{}, domain.Invalid("auth_code", "auth_code is required")
	}
	authz, err := s.gopay.ExchangeAuthCode(ctx, authCode, requestID)
	if err != nil {
		return "", time.Time{}, err
	}
	ctx, cancel := recording(ctx) // the auth code is spent
	defer cancel()
	user, err := s.users.Upsert(ctx, authz.GoPayAccountID, authz.AuthToken)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.issuer.Issue(user.ID.String())
}

// BankAccounts links and manages a user's bank accounts.
type BankAccounts struct {
	gopay    MiniApp
	accounts BankAccountStore
}

func NewBankAccounts(g MiniApp, accounts BankAccountStore) *BankAccounts {
	if g == nil || accounts == nil {
		panic("service.NewBankAccounts: nil dependency")
	}
	return &BankAccounts{gopay: g, accounts: accounts}
}

// Link exchanges an account token for the bank details and stores them. It stores nothing
// unless the exchange succeeded; created is false when the account was already linked.
func (s *BankAccounts) Link(ctx context.Context, userID uuid.UUID, accountToken, requestID string) (a domain.BankAccount, created bool, err error) {
	defer domain.Wrap(&err, "BankAccounts.Link")
	if accountToken == "" {
		return a, false, domain.Invalid("account_token", "account_token is required")
	}
	details, err := s.gopay.BankDetails(ctx, accountToken, requestID)
	if err != nil {
		return a, false, err
	}
	ctx, cancel := recording(ctx) // the account token is spent
	defer cancel()
	return s.accounts.Upsert(ctx, userID, details)
}

// List returns the user's accounts, newest first.
func (s *BankAccounts) List(ctx context.Context, userID uuid.UUID) ([]domain.BankAccount, error) {
	return s.accounts.List(ctx, userID)
}

// Remove unlinks one of the user's accounts.
func (s *BankAccounts) Remove(ctx context.Context, userID, id uuid.UUID) error {
	return s.accounts.Delete(ctx, userID, id)
}
