package handler

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/session"
)

type userKey struct{}

func userFrom(ctx context.Context) (uuid.UUID, bool) {
	u, ok := ctx.Value(userKey{}).(uuid.UUID)
	return u, ok
}

type clientKey struct{}

// internalClientFrom returns the internal client an internal request authenticated as.
func internalClientFrom(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(clientKey{}).(string)
	return c, ok
}

// authenticator checks the contract's security schemes. It is the OpenAPI validator's
// AuthenticationFunc: the contract, not a route list, decides which endpoints need what.
type authenticator struct {
	sessions *session.Signer       // audience miniapp
	internal *session.Signer       // audience internal
	clients  *service.InternalAuth // client credentials
	metrics  *metrics.Metrics
	limiter  *ratelimit.Limiter
	policies Policies
}

func (a *authenticator) check(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	c := oapimw.GetEchoContext(ctx)
	if c == nil {
		return errors.New("no echo context in validator")
	}
	unauthenticated := func(msg string) error {
		challenge := bearerChallenge
		if in.SecuritySchemeName == "internalClient" {
			challenge = basicChallenge
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
		return &echo.HTTPError{Code: http.StatusUnauthorized, Internal: domain.Unauthenticated(msg)}
	}
	req := in.RequestValidationInput.Request
	bearer, hasBearer := bearerToken(req.Header.Get(echo.HeaderAuthorization))
	with := func(k, v any) { c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), k, v))) }

	switch in.SecuritySchemeName {
	case "session":
		if !hasBearer || bearer == "" {
			return unauthenticated("send Authorization: Bearer <session_token> from POST /v1/sessions")
		}
		userID, err := a.sessions.VerifyUser(bearer)
		if err != nil {
			return unauthenticated("the session token is invalid or expired; open a new session")
		}
		with(userKey{}, userID)
	case "internalClient":
		id, secret, ok := req.BasicAuth()
		if !ok {
			return unauthenticated("send the client id and secret with HTTP Basic auth")
		}
		if err := a.checkClient(c, id, secret); err != nil {
			if err.Kind == domain.KindUnauthenticated {
				return unauthenticated(err.Message)
			}
			return &echo.HTTPError{Code: http.StatusTooManyRequests, Internal: err}
		}
		with(clientKey{}, id)
	case "internalToken":
		if !hasBearer || bearer == "" {
			return unauthenticated("send Authorization: Bearer <access_token> from POST /internal/v1/access-token")
		}
		client, err := a.internal.Verify(bearer)
		if err != nil {
			return unauthenticated("the access token is invalid or expired")
		}
		if req.Header.Get("X-PARTNER-ID") != client {
			return unauthenticated("X-PARTNER-ID must be the client id the token was issued to")
		}
		with(clientKey{}, client)
	case "partnerId":
		if req.Header.Get("X-PARTNER-ID") == "" {
			return unauthenticated("X-PARTNER-ID is required")
		}
	default:
		return unauthenticated("unknown security scheme")
	}
	return nil
}

// checkClient checks client credentials behind two lockouts: after repeated failures from one
// address for one client id, and from one address for any client id, every attempt is refused
// until the failure budget refills, right or wrong (so guessing stays slow). The lockout is by
// address, not by client id alone, so nobody can lock a real client out from elsewhere.
func (a *authenticator) checkClient(c echo.Context, id, secret string) *domain.Error {
	ctx, ip := c.Request().Context(), c.RealIP()
	budgets := []struct {
		policy  ratelimit.Policy
		subject string
	}{
		{a.policies.TokenFailuresPerClientIP, ratelimit.Subject(id, ip)},
		{a.policies.TokenFailuresPerIP, ratelimit.Subject(ip)},
	}
	for _, b := range budgets {
		if wait, locked := a.limiter.LockedOut(ctx, b.policy, b.subject); locked {
			a.metrics.TokenRequests.WithLabelValues("locked_out").Inc()
			return tooMany(wait, "too many failed attempts from this address; retry after Retry-After seconds")
		}
	}
	if err := a.clients.Check(id, secret); err != nil {
		a.metrics.TokenRequests.WithLabelValues("refused").Inc()
		for _, b := range budgets {
			a.limiter.Failed(ctx, b.policy, b.subject)
		}
		return domain.As(err)
	}
	if wait, ok := a.limiter.Allow(ctx, a.policies.TokensPerClient, ratelimit.Subject(id)); !ok {
		return tooMany(wait, "too many token requests for this client; reuse the token until it expires")
	}
	return nil
}

// bearerToken reads "Bearer <token>" from an Authorization header. The scheme is
// case-insensitive (RFC 9110 §11.1), so "bearer" and "BEARER" are Bearer too.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
