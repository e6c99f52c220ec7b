package repo

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// Payments stores payments, their refunds and the notifications already acted on.
type Payments struct{ pool *pgxpool.Pool }

func NewPayments(pool *pgxpool.Pool) *Payments {
	if pool == nil {
		panic("repo.NewPayments: nil pool")
	}
	return &Payments{pool: pool}
}

const paymentFields = `id, user_id, client_id, order_reference, partner_reference_no, external_id, pay_option, amount, currency,
	description, items, return_url, state, provider_reference_no, redirect_url, failure_code, refunded, charged_on,
	created_at, updated_at, coalesce(settled_at, 'epoch')`

func scanPayment(row pgx.Row) (domain.Payment, error) {
	var p domain.Payment
	var state string
	var items []byte
	err := row.Scan(&p.ID, &p.UserID, &p.ClientID, &p.OrderReference, &p.PartnerReferenceNo, &p.ExternalID, &p.PayOption,
		&p.Amount, &p.Currency, &p.Description, &items, &p.ReturnURL, &state, &p.ProviderReferenceNo, &p.RedirectURL,
		&p.FailureCode, &p.Refunded, &p.ChargedOn, &p.CreatedAt, &p.UpdatedAt, &p.SettledAt)
	if err != nil {
		return p, err
	}
	p.State = domain.PaymentState(state)
	if p.SettledAt.Equal(time.Unix(0, 0)) {
		p.SettledAt = time.Time{}
	}
	return p, json.Unmarshal(items, &p.Items)
}

func notFoundPayment(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.PaymentNotFound()
	}
	return err
}

// Create stores a pending payment, before anything is sent upstream. A payment the same
// caller already made for the same order is returned instead, with created false: one order,
// one charge, whatever the caller's retries look like.
func (r *Payments) Create(ctx context.Context, p domain.Payment) (_ domain.Payment, created bool, err error) {
	defer wrap(&err, "repo.Payments.Create")
	items, err := json.Marshal(p.Items)
	if err != nil {
		return p, false, err
	}
	tag, err := r.pool.Exec(ctx, `INSERT INTO payments (id, user_id, client_id, order_reference, partner_reference_no, external_id,
		pay_option, amount, currency, description, items, return_url, state, charged_on, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
		ON CONFLICT (client_id, order_reference) DO NOTHING`,
		p.ID, p.UserID, p.ClientID, p.OrderReference, p.PartnerReferenceNo, p.ExternalID, p.PayOption, p.Amount, p.Currency,
		p.Description, string(items), p.ReturnURL, p.State, p.ChargedOn, p.CreatedAt) // jsonb as text: a []byte would go as bytea in exec mode (PgBouncer)
	if err != nil {
		return p, false, err
	}
	if tag.RowsAffected() == 1 {
		return p, true, nil
	}
	existing, err := scanPayment(r.pool.QueryRow(ctx, `SELECT `+paymentFields+` FROM payments WHERE client_id = $1 AND order_reference = $2`,
		p.ClientID, p.OrderReference))
	return existing, false, err
}

// Get returns a payment.
func (r *Payments) Get(ctx context.Context, id uuid.UUID) (_ domain.Payment, err error) {
	defer wrap(&err, "repo.Payments.Get")
	p, err := scanPayment(r.pool.QueryRow(ctx, `SELECT `+paymentFields+` FROM payments WHERE id = $1`, id))
	return p, notFoundPayment(err)
}

// ByNotification returns the payment a notification names, by the first of its ids it carries:
// our partnerReferenceNo, the charge's X-EXTERNAL-ID, GoPay's referenceNo (each indexed).
func (r *Payments) ByNotification(ctx context.Context, partnerReferenceNo, externalID, referenceNo string) (_ domain.Payment, err error) {
	defer wrap(&err, "repo.Payments.ByNotification")
	column, id := "provider_reference_no", referenceNo
	switch {
	case partnerReferenceNo != "":
		column, id = "partner_reference_no", partnerReferenceNo
	case externalID != "":
		column, id = "external_id", externalID
	case referenceNo == "":
		return domain.Payment{}, domain.PaymentNotFound()
	}
	p, err := scanPayment(r.pool.QueryRow(ctx, `SELECT `+paymentFields+` FROM payments WHERE `+column+` = $1`, id))
	return p, notFoundPayment(err)
}

// ForUser lists the user's payments, newest first.
func (r *Payments) ForUser(ctx context.Context, userID uuid.UUID, limit int) (_ []domain.Payment, err error) {
	defer wrap(&err, "repo.Payments.ForUser")
	rows, err := r.pool.Query(ctx, `SELECT `+paymentFields+` FROM payments WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
		userID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Payment, error) { return scanPayment(row) })
}

// Advance moves a payment to o.State if its state allows it (domain.PaymentState.Advances),
// or records o's details if it is already there; it reports whether anything changed. A
// settled payment is never taken back, whatever arrives late.
func (r *Payments) Advance(ctx context.Context, id uuid.UUID, o domain.PaymentOutcome, at time.Time) (_ domain.Payment, changed bool, err error) {
	defer wrap(&err, "repo.Payments.Advance")
	from := []string{string(o.State)}
	for _, s := range []domain.PaymentState{domain.PaymentPending, domain.PaymentRequiresAction, domain.PaymentSucceeded} {
		if s.Advances(o.State) {
			from = append(from, string(s))
		}
	}
	p, err := scanPayment(r.pool.QueryRow(ctx, `UPDATE payments SET state = $2,
			provider_reference_no = coalesce(nullif($3, ''), provider_reference_no),
			redirect_url = coalesce(nullif($4, ''), redirect_url),
			failure_code = coalesce(nullif($5, ''), failure_code),
			updated_at = $6,
			settled_at = CASE WHEN $2 IN ('pending', 'requires_action') THEN NULL ELSE coalesce(settled_at, $6) END
		WHERE id = $1 AND state = ANY($7)
		  AND (state <> $2 OR provider_reference_no IS DISTINCT FROM coalesce(nullif($3, ''), provider_reference_no)
		       OR redirect_url IS DISTINCT FROM coalesce(nullif($4, ''), redirect_url))
		RETURNING `+paymentFields, id, o.State, o.ProviderReferenceNo, o.RedirectURL, o.FailureCode, at, from))
	if errors.Is(err, pgx.ErrNoRows) {
		p, err = r.Get(ctx, id)
		return p, false, err
	}
	return p, err == nil, err
}

// ClaimUnsettled takes up to limit payments whose outcome has been unknown since before
// olderThan, for reconciliation: their updated_at moves to now, so another instance's
// reconciler skips them for as long as this one needs.
func (r *Payments) ClaimUnsettled(ctx context.Context, olderThan, now time.Time, limit int) (_ []domain.Payment, err error) {
	defer wrap(&err, "repo.Payments.ClaimUnsettled")
	rows, err := r.pool.Query(ctx, `UPDATE payments SET updated_at = $2 WHERE id IN (
			SELECT id FROM payments WHERE state IN ('pending', 'requires_action') AND updated_at < $1
			ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+paymentFields, olderThan, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Payment, error) { return scanPayment(row) })
}

// CountUnsettled counts payments still pending or waiting for the PIN that were created
// before createdBefore.
func (r *Payments) CountUnsettled(ctx context.Context, createdBefore time.Time) (n int, err error) {
	defer wrap(&err, "repo.Payments.CountUnsettled")
	err = r.pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE state IN ('pending', 'requires_action') AND created_at < $1`,
		createdBefore).Scan(&n)
	return n, err
}

const refundFields = `id, payment_id, refund_reference, partner_refund_no, external_id, amount, reason, state, provider_refund_no, created_at`

func scanRefund(row pgx.Row) (domain.Refund, error) {
	var f domain.Refund
	err := row.Scan(&f.ID, &f.PaymentID, &f.RefundReference, &f.PartnerRefundNo, &f.ExternalID, &f.Amount, &f.Reason, &f.State,
		&f.ProviderRefundNo, &f.CreatedAt)
	return f, err
}

// ReserveRefund records a pending refund and counts it against the payment in one
// transaction, under the payment's row lock: concurrent refunds can never add up to more than
// was paid. A refund with the same reference is returned as it is (existing true).
func (r *Payments) ReserveRefund(ctx context.Context, f domain.Refund) (_ domain.Refund, existing bool, err error) {
	defer wrap(&err, "repo.Payments.ReserveRefund")
	err = inTx(ctx, r.pool, func(tx pgx.Tx) error {
		p, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentFields+` FROM payments WHERE id = $1 FOR UPDATE`, f.PaymentID))
		if err != nil {
			return notFoundPayment(err)
		}
		prior, err := scanRefund(tx.QueryRow(ctx, `SELECT `+refundFields+` FROM payment_refunds WHERE payment_id = $1 AND refund_reference = $2`,
			f.PaymentID, f.RefundReference))
		if err == nil {
			f, existing = prior, true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch {
		case p.State != domain.PaymentSucceeded:
			return domain.E(domain.KindConflict, domain.CodePaymentNotRefundable, "only a succeeded payment can be refunded; this one is "+string(p.State), nil)
		case p.Refunded+f.Amount > p.Amount:
			return &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeRefundExceedsPayment, Field: "amount",
				Message: "more than what is left to refund: " + domain.FormatMinor(p.Amount-p.Refunded) + " " + p.Currency}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payment_refunds (id, payment_id, refund_reference, partner_refund_no, external_id,
			amount, reason, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)`,
			f.ID, f.PaymentID, f.RefundReference, f.PartnerRefundNo, f.ExternalID, f.Amount, f.Reason, f.CreatedAt); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE payments SET refunded = refunded + $2, updated_at = $3 WHERE id = $1`, f.PaymentID, f.Amount, f.CreatedAt)
		return err
	})
	return f, existing, err
}

// FinishRefund settles a pending refund: a refused one gives its amount back to what may
// still be refunded; an accepted one that completes the payment's refunds marks it refunded.
// It reports whether this refund completed the payment's (it is now refunded).
func (r *Payments) FinishRefund(ctx context.Context, f domain.Refund, ok bool, providerRefundNo string, at time.Time) (completed bool, err error) {
	defer wrap(&err, "repo.Payments.FinishRefund")
	err = inTx(ctx, r.pool, func(tx pgx.Tx) error {
		completed = false
		state := "failed"
		if ok {
			state = "succeeded"
		}
		tag, err := tx.Exec(ctx, `UPDATE payment_refunds SET state = $2, provider_refund_no = $3, updated_at = $4
			WHERE id = $1 AND state = 'pending'`, f.ID, state, providerRefundNo, at)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if !ok {
			_, err = tx.Exec(ctx, `UPDATE payments SET refunded = refunded - $2, updated_at = $3 WHERE id = $1`, f.PaymentID, f.Amount, at)
			return err
		}
		tag, err = tx.Exec(ctx, `UPDATE payments SET state = 'refunded', updated_at = $2
			WHERE id = $1 AND state = 'succeeded' AND refunded = amount
			  AND NOT EXISTS (SELECT 1 FROM payment_refunds WHERE payment_id = $1 AND state = 'pending')`, f.PaymentID, at)
		completed = tag.RowsAffected() == 1
		return err
	})
	return completed, err
}

// Refunds lists a payment's refunds, oldest first.
func (r *Payments) Refunds(ctx context.Context, paymentID uuid.UUID) (_ []domain.Refund, err error) {
	defer wrap(&err, "repo.Payments.Refunds")
	rows, err := r.pool.Query(ctx, `SELECT `+refundFields+` FROM payment_refunds WHERE payment_id = $1 ORDER BY created_at, id`, paymentID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Refund, error) { return scanRefund(row) })
}

// FirstNotification records a notification by its signature's digest and reports whether it
// is the first time it is seen: a repeat is acknowledged but never acted on again.
func (r *Payments) FirstNotification(ctx context.Context, signature string, paymentID uuid.UUID, status string, at time.Time) (first bool, err error) {
	defer wrap(&err, "repo.Payments.FirstNotification")
	digest := sha256.Sum256([]byte(signature))
	tag, err := r.pool.Exec(ctx, `INSERT INTO payment_notifications (digest, payment_id, status, received_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING`, digest[:], paymentID, status, at)
	return tag.RowsAffected() == 1, err
}
