// Package domain is the vocabulary every layer shares: the product's types and its small closed
// set of error kinds. Gateways translate upstream answers into these kinds; the handler layer
// maps kinds to HTTP statuses in exactly one place.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	KindInternal        Kind = iota // a bug or an unexpected failure: log it, tell the client nothing
	KindInvalid                     // the request is malformed; Field names the culprit
	KindUnauthenticated             // no valid session
	KindNotFound                    // no such resource for this user
	KindConflict                    // the same operation is already in progress
	KindUnprocessable               // well-formed but cannot be done (expired token, reused key)
	KindUpstream                    // an upstream rejected our call or answered nonsense: our side needs fixing
	KindUnavailable                 // a dependency is down; retry later with the same idempotency key
	KindTimeout                     // a dependency did not answer in time; retry with the same key
	KindRateLimited                 // too many requests from this caller; retry after RetryAfter
)

// Valid reports whether k is one of the kinds above (a kind read back from a store may not be).
func (k Kind) Valid() bool { return k >= KindInternal && k <= KindRateLimited }

// Stable machine-readable codes sent to clients in problem responses. Never rename one: the
// frontend branches on them.
const (
	CodeInternal                    = "internal_error"
	CodeInvalidRequest              = "invalid_request"
	CodeUnauthenticated             = "unauthenticated"
	CodeNotFound                    = "not_found"
	CodeAuthCodeInvalid             = "auth_code_invalid"
	CodeAccountTokenInvalid         = "account_token_not_found"
	CodeRequestInProgress           = "request_in_progress"
	CodeIdempotencyMismatch         = "idempotency_key_reused"
	CodeUpstreamRejected            = "upstream_rejected"
	CodeUpstreamUnavailable         = "upstream_unavailable"
	CodeUpstreamTimeout             = "upstream_timeout"
	CodeIdempotencyStoreUnavailable = "idempotency_store_unavailable" // Redis: cannot guarantee idempotency
	CodeStoreUnavailable            = "store_unavailable"             // PostgreSQL or Redis unreachable: retry after Retry-After
	CodeRateLimited                 = "rate_limited"                  // too many requests: retry after Retry-After

	CodeGoPayLinkInactive     = "gopay_link_inactive"      // GoPay ended the linking: link again
	CodeGoPayAuthCodeInvalid  = "gopay_auth_code_invalid"  // the linking page's auth code is unknown or used
	CodeGoPayAlreadyLinked    = "gopay_already_linked"     // unlink first
	CodeGoPayNotLinked        = "gopay_not_linked"         // link first
	CodeLegacyAccountNotFound = "legacy_account_not_found" // Midtrans knows no such account id
	CodeLegacyAccountInactive = "legacy_account_inactive"  // expired or disabled: link anew

	CodeCardBindingNotFound  = "card_binding_not_found" // unknown binding, or a state that is not its own
	CodeCardBindingCompleted = "card_binding_completed" // the state was already used
	CodeCardBindingExpired   = "card_binding_expired"

	CodePaymentNotFound       = "payment_not_found"
	CodePaymentOptionInactive = "payment_option_inactive" // the option GoPay reports is not active
	CodeInsufficientBalance   = "insufficient_balance"    // above the balance the refresh just read
	CodePaymentDeclined       = "payment_declined"        // GoPay refused the charge
	CodePaymentNotCancelable  = "payment_not_cancelable"  // settled, or already ended
	CodePaymentNotRefundable  = "payment_not_refundable"  // not succeeded, or nothing left to refund
	CodeRefundExceedsPayment  = "refund_exceeds_payment"  // more than what is left of the payment
	CodeNotificationRefused   = "notification_refused"    // bad signature, stale timestamp
	CodeChargeNotReceived     = "charge_not_received"     // failure_code: GoPay never received the charge, and it is too late to send
	CodeOrderReferenceReused  = "order_reference_reused"  // this caller's order reference names another payment
)

// Error is the one error type that crosses layers. Message and Field are safe to show a client;
// Err is the cause, for the operator's log only.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
	Err     error
	// RetryAfter tells the client when to try again (429, 503); zero means the handler's default.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error; cause may be nil.
func E(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: cause}
}

// Invalid reports a bad request field.
func Invalid(field, message string) *Error {
	return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: message, Field: field}
}

// NotFound reports a missing resource without saying whether it exists for someone else.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: what + " not found"}
}

// PaymentNotFound reports a payment that does not exist, or is not the caller's.
func PaymentNotFound() *Error {
	return &Error{Kind: KindNotFound, Code: CodePaymentNotFound, Message: "no such payment"}
}

// Unauthenticated reports a missing or bad session.
func Unauthenticated(message string) *Error {
	return &Error{Kind: KindUnauthenticated, Code: CodeUnauthenticated, Message: message}
}

// StoreUnavailable reports that one of our own stores (the database, Redis) cannot be reached:
// 503 store_unavailable, and the client retries after Retry-After.
func StoreUnavailable(what string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeStoreUnavailable, Message: what + " is unavailable; retry shortly", Err: cause}
}

// As returns the *Error in err's chain, or an internal error wrapping err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Err: err}
}

// Wrap prefixes err with the operation that failed, keeping its kind. Use with defer:
//
//	defer domain.Wrap(&err, "LinkBankAccount")
func Wrap(errp *error, op string) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", op, *errp)
	}
}
