package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
)

// OAuthCoder asks SNAP for the auth code that opens the card-binding webview.
type OAuthCoder interface {
	GetOAuthCode(ctx context.Context, card snap.CardOptions, req cardreg.Request) (string, error)
}

// CardBindingStore keeps card bindings.
type CardBindingStore interface {
	Create(ctx context.Context, b domain.CardBinding, stateHash []byte) error
	Get(ctx context.Context, id uuid.UUID) (domain.CardBinding, []byte, error)
	Complete(ctx context.Context, id uuid.UUID, status domain.CardBindingStatus, at time.Time) (bool, error)
	List(ctx context.Context, userID uuid.UUID) ([]domain.CardBinding, error)
}

// CardBindingConfig is where the round trip goes.
type CardBindingConfig struct {
	Card        snap.CardOptions
	WebviewBase string // the auth code is appended as authCode
	// RedirectURLs are the webview's success and failure targets for a binding: endpoints of the
	// HTTP layer, which builds them.
	RedirectURLs func(id uuid.UUID) (success, failure string)
	ReturnURL    string        // back into the mini app
	TTL          time.Duration // how long a binding can complete
}

// CardBindings runs the card-registration round trip: start (Get OAuth Code, webview URL),
// then the webview's redirect back to one of our endpoints, which checks the state, records the
// outcome once, and sends the user back into the mini app.
type CardBindings struct {
	oauth OAuthCoder
	store CardBindingStore
	cfg   CardBindingConfig
	now   func() time.Time
}

func NewCardBindings(o OAuthCoder, s CardBindingStore, cfg CardBindingConfig) *CardBindings {
	if o == nil || s == nil || cfg.WebviewBase == "" || cfg.RedirectURLs == nil || cfg.ReturnURL == "" || cfg.TTL <= 0 {
		panic("service.NewCardBindings: missing dependency")
	}
	return &CardBindings{oauth: o, store: s, cfg: cfg, now: time.Now}
}

// StartCardBinding is what the frontend may say about the customer (seed 003's seamlessData
// and additionalInfo); at least MobileNumber or UserID.
type StartCardBinding struct {
	MobileNumber   string
	UserID         string
	BankCode       string
	Lang           string
	AdditionalInfo map[string]string
}

// StartedCardBinding is a pending binding and the webview that completes it.
type StartedCardBinding struct {
	Binding    domain.CardBinding
	WebviewURL string
}

// apiField names a seed 003 field as our API calls it.
var apiField = map[string]string{
	"seamlessData": "mobile_number", "seamlessData.mobileNumber": "mobile_number", "seamlessData.userId": "user_id",
	"seamlessData.bankCode": "bank_code", "lang": "lang", "additionalInfo": "additional_info",
}

// Start validates the request by seed 003's rules (before anything is sent), gets the auth
// code and stores the pending binding with a hash of its fresh state.
func (c *CardBindings) Start(ctx context.Context, userID uuid.UUID, in StartCardBinding) (out StartedCardBinding, err error) {
	defer domain.Wrap(&err, "CardBindings.Start")
	id := uuid.Must(uuid.NewV7())
	state, err := newState()
	if err != nil {
		return out, err
	}
	success, failure := c.cfg.RedirectURLs(id)
	req := cardreg.Request{RedirectURL: success, FailureRedirectURL: failure, State: state,
		MerchantID: c.cfg.Card.MerchantID, Lang: in.Lang, AdditionalInfo: in.AdditionalInfo,
		Seamless: cardreg.Seamless{MobileNumber: in.MobileNumber, UserID: in.UserID, BankCode: in.BankCode}}
	if v := req.Validate(); v != nil {
		field, ok := apiField[v.Field]
		if after, found := strings.CutPrefix(v.Field, "additionalInfo."); found {
			field, ok = "additional_info."+after, true
		}
		if !ok { // state or merchantId: ours, not the client's
			return out, domain.E(domain.KindInternal, domain.CodeInternal, "internal error", v)
		}
		return out, domain.Invalid(field, v.Message)
	}
	code, err := c.oauth.GetOAuthCode(ctx, c.cfg.Card, req)
	if err != nil {
		return out, err
	}
	now := c.now()
	b := domain.CardBinding{ID: id, UserID: userID, Status: domain.CardPending, CreatedAt: now, ExpiresAt: now.Add(c.cfg.TTL)}
	hash := sha256.Sum256([]byte(state))
	if err := c.store.Create(ctx, b, hash[:]); err != nil {
		return out, err
	}
	sep := "?"
	if strings.Contains(c.cfg.WebviewBase, "?") {
		sep = "&"
	}
	return StartedCardBinding{Binding: b, WebviewURL: c.cfg.WebviewBase + sep + url.Values{"authCode": {code}}.Encode()}, nil
}

// Complete handles the webview's redirect: the state must be this binding's (an unknown binding,
// a forged state and another binding's state are all "not found"), unused and unexpired. The
// outcome is recorded once; the answer is where to send the user.
func (c *CardBindings) Complete(ctx context.Context, id uuid.UUID, state string, succeeded bool) (redirect string, err error) {
	defer domain.Wrap(&err, "CardBindings.Complete")
	notFound := &domain.Error{Kind: domain.KindNotFound, Code: domain.CodeCardBindingNotFound, Field: "state",
		Message: "no card binding with this state"}
	b, stored, err := c.store.Get(ctx, id)
	if err != nil {
		if domain.As(err).Kind == domain.KindNotFound {
			return "", notFound
		}
		return "", err
	}
	got := sha256.Sum256([]byte(state))
	if subtle.ConstantTimeCompare(got[:], stored) != 1 {
		return "", notFound
	}
	if b.Status != domain.CardPending {
		return "", &domain.Error{Kind: domain.KindConflict, Code: domain.CodeCardBindingCompleted, Field: "state",
			Message: "this card binding already has its outcome (" + string(b.Status) + ")"}
	}
	now := c.now()
	status := domain.CardFailed
	if succeeded {
		status = domain.CardSucceeded
	}
	expired := !now.Before(b.ExpiresAt)
	if expired {
		status = domain.CardExpired
	}
	ok, err := c.store.Complete(ctx, id, status, now)
	if err != nil {
		return "", err
	}
	switch {
	case !ok: // a concurrent redirect won
		return "", &domain.Error{Kind: domain.KindConflict, Code: domain.CodeCardBindingCompleted, Field: "state",
			Message: "this card binding already has its outcome"}
	case expired:
		return "", &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeCardBindingExpired, Field: "state",
			Message: "this card binding expired; start a new one"}
	}
	sep := "?"
	if strings.Contains(c.cfg.ReturnURL, "?") {
		sep = "&"
	}
	return c.cfg.ReturnURL + sep + url.Values{"card_binding_id": {id.String()}, "status": {string(status)}}.Encode(), nil
}

// List returns the user's bindings; a pending one past its expiry shows as expired.
func (c *CardBindings) List(ctx context.Context, userID uuid.UUID) ([]domain.CardBinding, error) {
	list, err := c.store.List(ctx, userID)
	for i := range list {
		if list[i].Status == domain.CardPending && !c.now().Before(list[i].ExpiresAt) {
			list[i].Status = domain.CardExpired
		}
	}
	return list, err
}

const stateAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newState is 32 random alphanumerics (~190 bits): seed 003 wants exactly 32 characters,
// random and unique per request.
func newState() (string, error) {
	b := make([]byte, 32)
	max := big.NewInt(int64(len(stateAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", errors.New("no randomness for the state")
		}
		b[i] = stateAlphabet[n.Int64()]
	}
	return string(b), nil
}
