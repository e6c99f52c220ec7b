package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/coreapi"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
	"github.com/gopay-miniapp/bff/internal/idempotency"
)

// SNAP is the part of the BI-SNAP API the GoPay flows use.
type SNAP interface {
	Bind(ctx context.Context, authCode, deviceID string) (string, error)
	Inquire(ctx context.Context, customerToken, deviceID string) (snap.Inquiry, error)
	SwapLegacy(ctx context.Context, accountID, deviceID string) (snap.Inquiry, error)
	Unbind(ctx context.Context, customerToken, deviceID string) error
}

// CoreAPI is the part of the Midtrans Core API the legacy flows use.
type CoreAPI interface {
	Status(ctx context.Context, accountID string) (coreapi.Account, error)
	Unbind(ctx context.Context, accountID, idempotencyKey string) (coreapi.Account, error)
}

// LinkStore keeps GoPay links and their payment options.
type LinkStore interface {
	Save(ctx context.Context, l domain.GoPayLink) (domain.GoPayLink, error)
	Get(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, error)
	SetStatus(ctx context.Context, userID uuid.UUID, status domain.LinkStatus) error
	Activate(ctx context.Context, userID uuid.UUID, customerToken string) error
	ReplaceOptions(ctx context.Context, userID uuid.UUID, linkID int64, opts []domain.PaymentOption, refreshedAt time.Time) error
	WithOptions(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error)
	// WithOptionsFresh reads past any cache: after waiting for another caller's refresh, a
	// cached read could still hold what was there before it.
	WithOptionsFresh(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error)
	Page(ctx context.Context, page, perPage int) ([]domain.GoPayLink, int, error)
}

// Coalescer runs one refresh per key at a time across instances.
type Coalescer interface {
	Do(ctx context.Context, name, key string, fn func(context.Context) error) error
}

// GoPayLinks links users' GoPay accounts and keeps their payment-option tokens fresh.
type GoPayLinks struct {
	snap        SNAP
	core        CoreAPI
	links       LinkStore
	coalesce    Coalescer
	freshFor    time.Duration // stored options younger than this are served without a refresh
	staleMaxAge time.Duration
	now         func() time.Time
}

func NewGoPayLinks(s SNAP, c CoreAPI, links LinkStore, co Coalescer, freshFor, staleMaxAge time.Duration) *GoPayLinks {
	if s == nil || c == nil || links == nil || co == nil || freshFor < 0 || staleMaxAge < 0 {
		panic("service.NewGoPayLinks: missing dependency")
	}
	return &GoPayLinks{snap: s, core: c, links: links, coalesce: co, freshFor: freshFor, staleMaxAge: staleMaxAge, now: time.Now}
}

// LinkRequest starts a GoPay link: AuthCode (from GoPay's linking page) for a new SNAP binding,
// or LegacyAccountID to bring over a Core API tokenization account. Exactly one is set.
type LinkRequest struct {
	AuthCode        string
	LegacyAccountID string
	Phone           string
	Name            string
	Email           string
	DeviceID        string
}

// Link links the user's GoPay account. A pending legacy account is stored as pending and
// completes when Status sees it enabled.
func (g *GoPayLinks) Link(ctx context.Context, userID uuid.UUID, req LinkRequest) (l domain.GoPayLink, err error) {
	defer domain.Wrap(&err, "GoPayLinks.Link")
	if (req.AuthCode == "") == (req.LegacyAccountID == "") {
		return l, domain.Invalid("auth_code", "send exactly one of auth_code and legacy_account_id")
	}
	if cur, err := g.links.Get(ctx, userID); err == nil && cur.Status == domain.LinkActive {
		return l, domain.E(domain.KindConflict, domain.CodeGoPayAlreadyLinked, "GoPay is already linked; unlink it first", nil)
	} else if err != nil && domain.As(err).Kind != domain.KindNotFound {
		return l, err
	}
	l = domain.GoPayLink{UserID: userID, Phone: req.Phone, Name: req.Name, Email: req.Email}
	if req.AuthCode != "" {
		token, err := g.snap.Bind(ctx, req.AuthCode, req.DeviceID)
		if err != nil {
			return l, err
		}
		l.Mode, l.Status, l.CustomerToken = domain.LinkSNAP, domain.LinkActive, token
		ctx, cancel := recording(ctx) // bound at GoPay
		defer cancel()
		return g.links.Save(ctx, l)
	}
	acct, err := g.core.Status(ctx, req.LegacyAccountID)
	if err != nil {
		return l, err
	}
	l.Mode, l.LegacyAccountID = domain.LinkLegacy, req.LegacyAccountID
	switch acct.Status {
	case coreapi.StatusPending:
		// The link the customer opens to finish linking, when Midtrans gives one (its create
		// answer does; the public Get Pay Account reference shows none on PENDING).
		l.Status, l.ActivationURL = domain.LinkPending, acct.ActivationURL
		return g.links.Save(ctx, l)
	case coreapi.StatusEnabled:
		started := g.now()
		inq, err := g.snap.SwapLegacy(ctx, req.LegacyAccountID, req.DeviceID)
		if err != nil {
			return l, legacyInactive(err)
		}
		ctx, cancel := recording(ctx) // swapped at GoPay
		defer cancel()
		l.Status, l.CustomerToken = domain.LinkActive, inq.CustomerToken
		if l, err = g.links.Save(ctx, l); err != nil {
			return l, err
		}
		if err := g.links.ReplaceOptions(ctx, userID, l.ID, inq.Options, started); err != nil {
			return l, err
		}
		l.OptionsRefreshedAt = started
		return l, nil
	default:
		return l, &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeLegacyAccountInactive, Field: "legacy_account_id",
			Message: "this GoPay account is " + acct.Status + "; link GoPay anew"}
	}
}

// legacyInactive names the field when GoPay says the legacy account's linking is inactive.
func legacyInactive(err error) error {
	if e := domain.As(err); e.Code == domain.CodeGoPayLinkInactive {
		return &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeLegacyAccountInactive, Field: "legacy_account_id",
			Message: "GoPay says this account's linking is inactive; link GoPay anew", Err: err}
	}
	return err
}

// Status returns the user's link, first settling a pending legacy account with Midtrans.
func (g *GoPayLinks) Status(ctx context.Context, userID uuid.UUID, deviceID string) (l domain.GoPayLink, err error) {
	defer domain.Wrap(&err, "GoPayLinks.Status")
	l, err = g.links.Get(ctx, userID)
	if err != nil || l.Status != domain.LinkPending {
		return l, err
	}
	acct, err := g.core.Status(ctx, l.LegacyAccountID)
	if err != nil {
		return l, err
	}
	switch acct.Status {
	case coreapi.StatusPending:
		if acct.ActivationURL != "" {
			l.ActivationURL = acct.ActivationURL
		}
	case coreapi.StatusEnabled:
		started := g.now()
		inq, err := g.snap.SwapLegacy(ctx, l.LegacyAccountID, deviceID)
		if err != nil && domain.As(err).Code == domain.CodeGoPayLinkInactive {
			// Enabled at Midtrans but inactive at GoPay: it will never complete.
			if err := g.links.SetStatus(ctx, userID, domain.LinkInactive); err != nil {
				return l, err
			}
			l.Status = domain.LinkInactive
			return l, nil
		}
		if err != nil {
			return l, err
		}
		ctx, cancel := recording(ctx) // swapped at GoPay
		defer cancel()
		if err := g.links.Activate(ctx, userID, inq.CustomerToken); err != nil {
			return l, err
		}
		if err := g.links.ReplaceOptions(ctx, userID, l.ID, inq.Options, started); err != nil {
			return l, err
		}
		return g.links.Get(ctx, userID)
	case coreapi.StatusExpired, coreapi.StatusDisabled:
		if err := g.links.SetStatus(ctx, userID, domain.LinkRejected); err != nil {
			return l, err
		}
		l.Status = domain.LinkRejected
	}
	return l, nil
}

// Unlink ends the link at GoPay (SNAP unbinding for a bound account, Core API unbind for a
// legacy account still pending) and clears it here. A link GoPay already ended is cleared too.
// The Core API unbind's Idempotency-Key is derived from the user and the account: unbinding one
// account is one operation however often it is asked for, and another account is another.
func (g *GoPayLinks) Unlink(ctx context.Context, userID uuid.UUID, deviceID string) (err error) {
	defer domain.Wrap(&err, "GoPayLinks.Unlink")
	l, err := g.links.Get(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case l.Status == domain.LinkActive && l.CustomerToken != "":
		if err := g.snap.Unbind(ctx, l.CustomerToken, deviceID); err != nil && domain.As(err).Code != domain.CodeGoPayLinkInactive {
			return err
		}
	case l.Status == domain.LinkPending:
		key := idempotency.ResourceRequestID(userID.String(), "coreapi.unbind", l.LegacyAccountID)
		if _, err := g.core.Unbind(ctx, l.LegacyAccountID, key); err != nil {
			return err
		}
	}
	ctx, cancel := recording(ctx) // unbound at GoPay
	defer cancel()
	return g.links.SetStatus(ctx, userID, domain.LinkInactive)
}

// Options is the answer about a user's payment options.
type Options struct {
	Link        domain.GoPayLink
	Options     []domain.PaymentOption
	RefreshedAt time.Time
	// Stale is set when the refresh failed and the last stored options are served instead;
	// RefreshError says why.
	Stale        bool
	RefreshError *domain.Error
}

// PaymentOptions returns the user's payment options. Stored options refreshed less than
// freshFor ago are served as they are: one query, no write, no upstream call (the seed's
// advice is to refresh before every payment, not before every read). Otherwise, or when
// refresh is asked for (a caller about to charge), they are refreshed with the Binding Inquiry
// first (tokens change); concurrent refreshes for one user, on any instance, share one call.
//
// When the refresh fails, the decision is deliberate: a link GoPay reports inactive is marked
// inactive and answered as such (never with tokens); any other failure serves the last stored
// options marked Stale with their refresh time, if they are younger than staleMaxAge, and
// fails otherwise.
func (g *GoPayLinks) PaymentOptions(ctx context.Context, userID uuid.UUID, deviceID string, refresh bool) (o Options, err error) {
	defer domain.Wrap(&err, "GoPayLinks.PaymentOptions")
	l, opts, err := g.links.WithOptions(ctx, userID)
	if err != nil {
		return o, err
	}
	if l.Status != domain.LinkActive {
		return o, domain.E(domain.KindConflict, domain.CodeGoPayLinkInactive, "GoPay is not actively linked ("+string(l.Status)+"); link GoPay again", nil)
	}
	if !refresh && !l.OptionsRefreshedAt.IsZero() && g.now().Sub(l.OptionsRefreshedAt) < g.freshFor {
		return Options{Link: l, Options: opts, RefreshedAt: l.OptionsRefreshedAt}, nil
	}
	var written []domain.PaymentOption // set only in the caller that ran the refresh
	var writtenAt time.Time
	refreshErr := g.coalesce.Do(ctx, "payment_options", "refresh:"+userID.String(), func(ctx context.Context) error {
		started := g.now().Truncate(time.Microsecond) // as PostgreSQL keeps it
		inq, err := g.snap.Inquire(ctx, l.CustomerToken, deviceID)
		if err != nil {
			if domain.As(err).Code == domain.CodeGoPayLinkInactive {
				if serr := g.links.SetStatus(ctx, userID, domain.LinkInactive); serr != nil {
					return errors.Join(err, serr)
				}
			}
			return err
		}
		if err := g.links.ReplaceOptions(ctx, userID, l.ID, inq.Options, started); err != nil {
			return err
		}
		written, writtenAt = inq.Options, started
		return nil
	})
	if refreshErr != nil && domain.As(refreshErr).Code == domain.CodeGoPayLinkInactive {
		return o, refreshErr
	}
	if written != nil {
		// This caller ran the refresh: what it wrote is what a read would return (amounts are
		// normalised as the database keeps them), so it answers without reading it back.
		l.OptionsRefreshedAt = writtenAt
		return Options{Link: l, Options: written, RefreshedAt: writtenAt}, nil
	}
	// Another caller (perhaps on another instance) ran the refresh: read what it wrote. Not
	// through this instance's cache, which may still hold the link as it was before (the
	// cross-instance invalidation is asynchronous).
	if l, opts, err = g.links.WithOptionsFresh(ctx, userID); err != nil {
		return o, err
	}
	if refreshErr != nil {
		age := g.now().Sub(l.OptionsRefreshedAt)
		if l.OptionsRefreshedAt.IsZero() || age > g.staleMaxAge {
			return o, refreshErr
		}
		o.Stale, o.RefreshError = true, domain.As(refreshErr)
	}
	o.Options, o.Link, o.RefreshedAt = opts, l, l.OptionsRefreshedAt
	return o, nil
}

// Links lists every link, perPage at a time, for internal callers.
func (g *GoPayLinks) Links(ctx context.Context, page, perPage int) ([]domain.GoPayLink, int, error) {
	return g.links.Page(ctx, page, perPage)
}

// InternalAuth issues access tokens to internal services with client credentials. Only
// SHA-256 hashes of the secrets are configured.
type InternalAuth struct {
	clients map[string]string // id -> hex(sha256(secret))
	issuer  SessionIssuer
	ttl     time.Duration
}

func NewInternalAuth(clients map[string]string, issuer SessionIssuer, ttl time.Duration) *InternalAuth {
	if clients == nil || issuer == nil || ttl <= 0 {
		panic("service.NewInternalAuth: missing dependency")
	}
	return &InternalAuth{clients: clients, issuer: issuer, ttl: ttl}
}

// Check accepts a client whose secret matches its configured hash. Unknown clients and wrong
// secrets fail alike.
func (a *InternalAuth) Check(clientID, secret string) error {
	sum := sha256.Sum256([]byte(secret))
	got := hex.EncodeToString(sum[:])
	want, ok := a.clients[clientID]
	if !ok {
		want = "0000000000000000000000000000000000000000000000000000000000000000"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || !ok {
		return domain.Unauthenticated("unknown client or wrong secret")
	}
	return nil
}

// TTL is how long issued tokens live.
func (a *InternalAuth) TTL() time.Duration { return a.ttl }

// Issue returns an access token for a client Check accepted.
func (a *InternalAuth) Issue(clientID string) (string, time.Time, error) {
	return a.issuer.Issue(clientID)
}
