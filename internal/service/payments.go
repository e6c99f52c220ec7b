package service

import (
	"context"
	"crypto/rsa"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// Debits is the part of BI-SNAP payments use.
type Debits interface {
	Charge(ctx context.Context, ch snap.Charge) (snap.ChargeResult, error)
	DebitStatus(ctx context.Context, partnerReferenceNo, externalID string) (snap.Status, error)
	CancelDebit(ctx context.Context, partnerReferenceNo, externalID, reason string) error
	RefundDebit(ctx context.Context, rf snap.RefundRequest) (string, error)
}

// PaymentStore keeps payments (repo.Payments).
type PaymentStore interface {
	Create(ctx context.Context, p domain.Payment) (domain.Payment, bool, error)
	Get(ctx context.Context, id uuid.UUID) (domain.Payment, error)
	ByNotification(ctx context.Context, partnerReferenceNo, externalID, referenceNo string) (domain.Payment, error)
	ForUser(ctx context.Context, userID uuid.UUID, limit int) ([]domain.Payment, error)
	Advance(ctx context.Context, id uuid.UUID, o domain.PaymentOutcome, at time.Time) (domain.Payment, bool, error)
	ClaimUnsettled(ctx context.Context, olderThan, now time.Time, limit int) ([]domain.Payment, error)
	CountUnsettled(ctx context.Context, createdBefore time.Time) (int, error)
	ReserveRefund(ctx context.Context, f domain.Refund) (domain.Refund, bool, error)
	FinishRefund(ctx context.Context, f domain.Refund, ok bool, providerRefundNo string, at time.Time) (bool, error)
	Refunds(ctx context.Context, paymentID uuid.UUID) ([]domain.Refund, error)
	FirstNotification(ctx context.Context, signature string, paymentID uuid.UUID, status string, at time.Time) (bool, error)
}

// PaymentConfig tunes Payments.
type PaymentConfig struct {
	PendingAfter  time.Duration  // an outcome unknown for this long is reconciled with the status API
	Validity      time.Duration  // validUpTo of a charge: how long the customer has to confirm
	NotifyKey     *rsa.PublicKey // verifies payment notifications
	NotifyMaxSkew time.Duration  // a notification's X-TIMESTAMP further off than this is stale
	Log           *zap.Logger
	Metrics       *metrics.Payments // optional
}

// Payments charges linked GoPay accounts exactly once: refresh, check, write, charge, settle,
// and reconcile what is left unknown.
//
// Exactly once: a payment's row is written (pending) before the charge, with the
// partnerReferenceNo and X-EXTERNAL-ID every attempt sends, so a retry after a timeout or a lost
// answer is the same transaction upstream, which replays its first answer. An outcome still
// unknown after the call is asked of the status API, now and by the reconciler later; a new
// charge is sent only for a payment the provider says it never received, with the same ids,
// on the same Jakarta day (SNAP keeps X-EXTERNAL-IDs per day; the next day the payment fails
// instead). One order of one caller is one payment (unique in the table), whatever the caller's
// Request-Ids.
type Payments struct {
	store PaymentStore
	snap  Debits
	links *GoPayLinks
	cfg   PaymentConfig
	now   func() time.Time
}

func NewPayments(store PaymentStore, d Debits, links *GoPayLinks, cfg PaymentConfig) *Payments {
	if cfg.PendingAfter <= 0 {
		cfg.PendingAfter = 30 * time.Second
	}
	if cfg.Validity <= 0 {
		cfg.Validity = 15 * time.Minute
	}
	if cfg.NotifyMaxSkew <= 0 {
		cfg.NotifyMaxSkew = 5 * time.Minute
	}
	return &Payments{store: store, snap: d, links: links, cfg: cfg, now: time.Now}
}

// NewPayment is what an internal caller asks to charge.
type NewPayment struct {
	UserID         uuid.UUID
	ClientID       string
	OrderReference string
	PayOption      string
	Amount         int64 // minor units
	Currency       string
	Description    string
	Items          []domain.PaymentItem
	ReturnURL      string
	DeviceID       string
}

// wholeRupiah checks an amount the service will send: positive, and in IDR, whole rupiah
// (GoPay charges no fraction of a rupiah; the sandbox's assumption, in its debit.go).
func wholeRupiah(amount int64, currency string) error {
	if amount <= 0 || currency != "IDR" || amount%100 != 0 {
		return domain.Invalid("amount.value", "IDR amounts are whole rupiah, e.g. 15000.00")
	}
	return nil
}

// Create charges the user: it refreshes their payment options (coalesced, as every refresh),
// refuses an inactive link or option or an amount above the balance just read, writes the
// payment, charges it and settles it. created is false when the caller already made a payment
// for this order: that one is returned, untouched.
func (p *Payments) Create(ctx context.Context, in NewPayment) (pay domain.Payment, created bool, err error) {
	defer domain.Wrap(&err, "Payments.Create")
	if err := wholeRupiah(in.Amount, in.Currency); err != nil {
		return pay, false, err
	}
	opts, err := p.links.PaymentOptions(ctx, in.UserID, in.DeviceID, true)
	if err != nil {
		return pay, false, err
	}
	if opts.Stale {
		// Tokens that could not be refreshed are not charged with: the seed's rule is to
		// refresh before every payment.
		return pay, false, domain.E(domain.KindUnavailable, domain.CodeUpstreamUnavailable,
			"GoPay could not be asked for the current payment options; retry later with the same Request-Id", opts.RefreshError)
	}
	var opt *domain.PaymentOption
	for i := range opts.Options {
		if opts.Options[i].Name == in.PayOption {
			opt = &opts.Options[i]
		}
	}
	if opt == nil || !opt.Active {
		return pay, false, &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodePaymentOptionInactive, Field: "pay_option",
			Message: in.PayOption + " is not an active payment option of this GoPay account"}
	}
	balance, err := domain.ParseMinor(opt.Balance)
	if err != nil {
		return pay, false, err
	}
	if in.Amount > balance {
		return pay, false, &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeInsufficientBalance, Field: "amount",
			Message: "above the " + in.PayOption + " balance GoPay just reported"}
	}
	now := p.now().UTC().Truncate(time.Microsecond)
	id, err := uuid.NewV7()
	if err != nil {
		return pay, false, err
	}
	pay, created, err = p.store.Create(ctx, domain.Payment{ID: id, UserID: in.UserID, ClientID: in.ClientID, OrderReference: in.OrderReference,
		PartnerReferenceNo: snap.NewReference(), ExternalID: snap.NewReference(), PayOption: in.PayOption, Amount: in.Amount, Currency: in.Currency,
		Description: in.Description, Items: in.Items, ReturnURL: in.ReturnURL, State: domain.PaymentPending,
		ChargedOn: jakartaDay(now), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return pay, false, err
	}
	if !created {
		if pay.UserID != in.UserID || pay.Amount != in.Amount || pay.PayOption != in.PayOption || pay.Currency != in.Currency {
			// The same order reference for another user, amount or option is not this order.
			return domain.Payment{}, false, &domain.Error{Kind: domain.KindConflict, Code: domain.CodeOrderReferenceReused,
				Field: "order_reference", Message: "this order reference already names another payment"}
		}
		return pay, false, nil
	}
	pay, err = p.charge(ctx, pay, opts.Link.CustomerToken, opt.Token, in.DeviceID)
	return pay, true, err
}

func jakartaDay(t time.Time) time.Time {
	y, m, d := t.In(snapsig.WIB).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// charge sends the payment's charge and records what is learnt. An unknown outcome leaves
// it pending, after one question to the status API.
func (p *Payments) charge(ctx context.Context, pay domain.Payment, customerToken, optionToken, deviceID string) (domain.Payment, error) {
	res, err := p.snap.Charge(ctx, snap.Charge{PartnerReferenceNo: pay.PartnerReferenceNo, ExternalID: pay.ExternalID,
		CustomerToken: customerToken, DeviceID: deviceID, PayOption: pay.PayOption, OptionToken: optionToken, Amount: pay.Amount,
		Currency: pay.Currency, ReturnURL: pay.ReturnURL, ValidUpTo: p.validUpTo(pay), Description: pay.Description,
		Items: pay.Items})
	// What happened upstream is recorded even if this request's deadline has passed.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	switch de := domain.As(err); {
	case err == nil && res.RedirectURL != "":
		return p.advance(rec, pay, domain.PaymentOutcome{State: domain.PaymentRequiresAction, ProviderReferenceNo: res.ReferenceNo, RedirectURL: res.RedirectURL})
	case err == nil:
		return p.advance(rec, pay, domain.PaymentOutcome{State: domain.PaymentSucceeded, ProviderReferenceNo: res.ReferenceNo})
	case de.Kind == domain.KindUnavailable || de.Kind == domain.KindTimeout || de.Kind == domain.KindInternal:
		// Unknown: the charge may have reached GoPay. Ask, never charge anew here.
		logging.From(ctx, p.cfg.Log).Warn("payment outcome unknown; asking the status API", zap.Stringer("payment_id", pay.ID), zap.Error(err))
		return p.reconcileOne(rec, pay, false)
	default:
		// A definite refusal: nothing was charged.
		return p.advance(rec, pay, domain.PaymentOutcome{State: domain.PaymentFailed, FailureCode: de.Code})
	}
}

// validUpTo is the charge's deadline for the customer. It derives from the payment, not from
// the clock: an attempt sent again must carry the same body under the same X-EXTERNAL-ID.
func (p *Payments) validUpTo(pay domain.Payment) time.Time { return pay.CreatedAt.Add(p.cfg.Validity) }

func (p *Payments) advance(ctx context.Context, pay domain.Payment, o domain.PaymentOutcome) (domain.Payment, error) {
	next, changed, err := p.store.Advance(ctx, pay.ID, o, p.now().UTC())
	if err != nil {
		return pay, err
	}
	if changed && next.State != pay.State && p.cfg.Metrics != nil {
		p.cfg.Metrics.Transitions.WithLabelValues(string(next.State)).Inc()
	}
	if changed {
		logging.From(ctx, p.cfg.Log).Info("payment state", zap.Stringer("payment_id", pay.ID), zap.String("from", string(pay.State)),
			zap.String("to", string(next.State)))
	}
	return next, nil
}

// reconcileOne asks the status API where a payment stands and records it. A charge GoPay
// never received is sent again (same ids) when resend is set and it is still its Jakarta day,
// and fails otherwise once it is a day old.
func (p *Payments) reconcileOne(ctx context.Context, pay domain.Payment, resend bool) (domain.Payment, error) {
	st, err := p.snap.DebitStatus(ctx, pay.PartnerReferenceNo, pay.ExternalID)
	if err != nil {
		return pay, nil //nolint:nilerr // still unknown: the payment stays pending, and the reconciler asks again
	}
	now := p.now()
	switch {
	case st.Found && st.State != "":
		return p.advance(ctx, pay, domain.PaymentOutcome{State: st.State, ProviderReferenceNo: st.ReferenceNo})
	case st.Found:
		return pay, nil // still open at GoPay
	case !jakartaDay(now).Equal(pay.ChargedOn.UTC()) || now.After(p.validUpTo(pay)):
		// Never received, and too late to send: its X-EXTERNAL-ID's day is over, or the
		// customer's time to confirm.
		return p.advance(ctx, pay, domain.PaymentOutcome{State: domain.PaymentFailed, FailureCode: domain.CodeChargeNotReceived})
	case resend && pay.State == domain.PaymentPending:
		opts, err := p.links.PaymentOptions(ctx, pay.UserID, reconcilerDevice, true)
		if err != nil || opts.Stale {
			return pay, nil //nolint:nilerr // tokens not refreshed: try again next round
		}
		for _, o := range opts.Options {
			if o.Name == pay.PayOption {
				return p.charge(ctx, pay, opts.Link.CustomerToken, o.Token, reconcilerDevice)
			}
		}
		return p.advance(ctx, pay, domain.PaymentOutcome{State: domain.PaymentFailed, FailureCode: domain.CodePaymentOptionInactive})
	}
	return pay, nil
}

// reconcilerDevice is the X-DEVICE-ID of calls the reconciler makes: no customer device is
// involved in them.
const reconcilerDevice = "bff-reconciler"

// Reconcile settles, with the status API, up to limit payments whose outcome has been
// unknown for longer than PendingAfter (a crash between charge and settle, a lost answer, a
// customer who never answered the PIN page). Instances share the work: each takes its own.
func (p *Payments) Reconcile(ctx context.Context, limit int) (int, error) {
	now := p.now().UTC()
	due, err := p.store.ClaimUnsettled(ctx, now.Add(-p.cfg.PendingAfter), now, limit)
	if err != nil {
		return 0, err
	}
	for _, pay := range due {
		if _, err := p.reconcileOne(ctx, pay, true); err != nil {
			logging.From(ctx, p.cfg.Log).Warn("reconciling a payment failed", zap.Stringer("payment_id", pay.ID), zap.Error(err))
		}
	}
	if p.cfg.Metrics != nil {
		if n, err := p.store.CountUnsettled(ctx, p.now().Add(-p.cfg.PendingAfter)); err == nil {
			p.cfg.Metrics.Unsettled.Set(float64(n))
		}
	}
	return len(due), nil
}

// RunReconciler reconciles every interval until ctx ends.
func (p *Payments) RunReconciler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := p.Reconcile(ctx, 50); err != nil && ctx.Err() == nil {
			p.cfg.Log.Warn("payment reconciler", zap.Error(err))
		}
	}
}

// Get returns a payment an internal caller made.
func (p *Payments) Get(ctx context.Context, id uuid.UUID, clientID string) (domain.Payment, []domain.Refund, error) {
	pay, err := p.store.Get(ctx, id)
	if err != nil {
		return pay, nil, err
	}
	if pay.ClientID != clientID {
		return domain.Payment{}, nil, domain.PaymentNotFound()
	}
	refunds, err := p.store.Refunds(ctx, id)
	return pay, refunds, err
}

// ForUser lists a user's own payments, newest first.
func (p *Payments) ForUser(ctx context.Context, userID uuid.UUID) ([]domain.Payment, error) {
	return p.store.ForUser(ctx, userID, 100)
}

// OfUser returns one of the user's own payments.
func (p *Payments) OfUser(ctx context.Context, userID, id uuid.UUID) (domain.Payment, error) {
	pay, err := p.store.Get(ctx, id)
	if err == nil && pay.UserID != userID {
		return domain.Payment{}, domain.PaymentNotFound()
	}
	return pay, err
}

// Cancel cancels a payment the customer has not confirmed yet.
func (p *Payments) Cancel(ctx context.Context, id uuid.UUID, clientID, reason string) (domain.Payment, error) {
	pay, _, err := p.Get(ctx, id, clientID)
	if err != nil {
		return pay, err
	}
	if pay.State == domain.PaymentCanceled {
		return pay, nil
	}
	if pay.State.Settled() {
		return pay, domain.E(domain.KindConflict, domain.CodePaymentNotCancelable, "a "+string(pay.State)+" payment cannot be canceled; refund it instead", nil)
	}
	if err := p.snap.CancelDebit(ctx, pay.PartnerReferenceNo, pay.ExternalID, reason); err != nil {
		return pay, err
	}
	return p.advance(context.WithoutCancel(ctx), pay, domain.PaymentOutcome{State: domain.PaymentCanceled})
}

// RefundRequest is a refund an internal caller asks for.
type RefundRequest struct {
	PaymentID       uuid.UUID
	ClientID        string
	RefundReference string
	Amount          int64 // minor units
	Reason          string
}

// Refund gives back part or all of a succeeded payment. The amount is reserved against the
// payment before the provider is asked, so refunds never add up to more than was paid; a
// refund with the same reference is the same refund (sent again while its outcome is unknown).
func (p *Payments) Refund(ctx context.Context, in RefundRequest) (domain.Refund, error) {
	pay, _, err := p.Get(ctx, in.PaymentID, in.ClientID)
	if err != nil {
		return domain.Refund{}, err
	}
	if err := wholeRupiah(in.Amount, pay.Currency); err != nil {
		return domain.Refund{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Refund{}, err
	}
	now := p.now().UTC().Truncate(time.Microsecond)
	f, existing, err := p.store.ReserveRefund(ctx, domain.Refund{ID: id, PaymentID: pay.ID, RefundReference: in.RefundReference,
		PartnerRefundNo: snap.NewReference(), ExternalID: snap.NewReference(), Amount: in.Amount, Reason: in.Reason, State: "pending", CreatedAt: now})
	if err != nil {
		return f, err
	}
	if existing && f.Amount != in.Amount {
		return f, &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeIdempotencyMismatch, Field: "refund_reference",
			Message: "this refund reference was used for another amount"}
	}
	if existing && f.State != "pending" {
		return f, nil // answered already
	}
	refundNo, err := p.snap.RefundDebit(ctx, snap.RefundRequest{PartnerReferenceNo: pay.PartnerReferenceNo, ReferenceNo: pay.ProviderReferenceNo,
		PartnerRefundNo: f.PartnerRefundNo, ExternalID: f.ExternalID, Amount: f.Amount, Currency: pay.Currency, Reason: f.Reason})
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	switch de := domain.As(err); {
	case err == nil:
		f.State, f.ProviderRefundNo = "succeeded", refundNo
		completed, err := p.store.FinishRefund(rec, f, true, refundNo, p.now().UTC())
		if completed && p.cfg.Metrics != nil {
			p.cfg.Metrics.Transitions.WithLabelValues(string(domain.PaymentRefunded)).Inc()
		}
		return f, err
	case de.Kind == domain.KindUnavailable || de.Kind == domain.KindTimeout || de.Kind == domain.KindInternal:
		return f, err // unknown: stays pending and reserved; the same refund_reference sends it again
	default:
		if _, ferr := p.store.FinishRefund(rec, f, false, "", p.now().UTC()); ferr != nil {
			return f, errors.Join(err, ferr)
		}
		return f, err
	}
}

// NotifyPath is where the provider posts payment notifications.
const NotifyPath = snap.NotifyPath

// Notification is a payment notification as it arrived.
type Notification struct {
	Path      string
	Body      []byte
	Timestamp string
	Signature string
}

// Notify acts on a payment notification once: the gateway verifies it (signature, timestamp,
// body); it must name one of our payments, and every id and the amount it sends must be that
// payment's; it moves the payment forward only (a late "pending" never undoes a settlement). A
// notification already acted on is acknowledged and ignored. The answer is the gateway's
// acknowledgement.
func (p *Payments) Notify(ctx context.Context, in Notification) (ack snap.Ack, err error) {
	defer domain.Wrap(&err, "Payments.Notify")
	duplicate := false
	defer func() { p.countNotification(duplicate, err) }()
	n, err := snap.VerifyNotification(p.cfg.NotifyKey, p.cfg.NotifyMaxSkew, p.now(), in.Path, in.Body, in.Timestamp, in.Signature)
	if err != nil {
		return ack, err
	}
	pay, err := p.store.ByNotification(ctx, n.PartnerReferenceNo, n.ExternalID, n.ReferenceNo)
	if err != nil {
		return ack, err
	}
	switch {
	case n.ExternalID != "" && n.ExternalID != pay.ExternalID:
		return ack, domain.Invalid("originalExternalId", "does not match the payment")
	case pay.ProviderReferenceNo != "" && n.ReferenceNo != pay.ProviderReferenceNo:
		return ack, domain.Invalid("originalReferenceNo", "does not match the payment")
	case n.HasAmount && (n.Amount != pay.Amount || n.Currency != pay.Currency):
		return ack, domain.Invalid("amount", "does not match the payment")
	}
	first, err := p.store.FirstNotification(ctx, in.Signature, pay.ID, n.Status, p.now().UTC())
	switch {
	case err != nil:
		return ack, err
	case !first:
		duplicate = true
	case n.State == "" || n.State == domain.PaymentRefunded: // still open, or a refund: refunds are recorded by Refund
	default:
		if _, err = p.advance(ctx, pay, domain.PaymentOutcome{State: n.State, ProviderReferenceNo: n.ReferenceNo}); err != nil {
			return ack, err
		}
	}
	return snap.NotificationAck(duplicate, p.now()), nil
}

// countNotification counts a notification by outcome: processed, duplicate, refused (its
// signature, timestamp or content), failed (our side).
func (p *Payments) countNotification(duplicate bool, err error) {
	if p.cfg.Metrics == nil {
		return
	}
	outcome := "processed"
	switch kind := domain.As(err).Kind; {
	case err != nil && (kind == domain.KindUnauthenticated || kind == domain.KindInvalid):
		outcome = "refused"
	case err != nil:
		outcome = "failed"
	case duplicate:
		outcome = "duplicate"
	}
	p.cfg.Metrics.Notifications.WithLabelValues(outcome).Inc()
}
