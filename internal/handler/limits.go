package handler

import (
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
)

// Policies are the rate limits and lockouts the HTTP layer enforces (README, "Rate limits").
type Policies struct {
	SessionsPerIP            ratelimit.Policy // POST /v1/sessions, by client address
	SessionsPerAuthCode      ratelimit.Policy // POST /v1/sessions, by auth code
	WritesPerUser            ratelimit.Policy // POST and DELETE, by signed-in user
	TokensPerClient          ratelimit.Policy // POST /internal/v1/access-token, by client id
	TokensPerIP              ratelimit.Policy // POST /internal/v1/access-token, by client address
	TokenFailuresPerClientIP ratelimit.Policy // failed client checks, by client id and address: lockout
	TokenFailuresPerIP       ratelimit.Policy // failed client checks, by address: lockout
}

// Routes whose callers are not yet known to be anyone: limited by address before the body is
// read or a credential is checked, so a flood costs a Redis round trip each, and never a call
// to GoPay with the merchant's credentials.
const (
	routeSessions    = "/v1/sessions"
	routeAccessToken = "/internal/v1/access-token" //nolint:gosec // a route, not a credential
)

// limitByAddress applies the per-address limits of the unauthenticated routes.
func limitByAddress(l *ratelimit.Limiter, p Policies) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method != http.MethodPost {
				return next(c)
			}
			var policy ratelimit.Policy
			switch c.Path() {
			case routeSessions:
				policy = p.SessionsPerIP
			case routeAccessToken:
				policy = p.TokensPerIP
			default:
				return next(c)
			}
			if wait, ok := l.Allow(c.Request().Context(), policy, ratelimit.Subject(c.RealIP())); !ok {
				return tooMany(wait, "too many requests from this address; retry after Retry-After seconds")
			}
			return next(c)
		}
	}
}

// limitWrites applies the per-user limit to a signed-in user's writes. It runs after
// authentication, so the user is known.
func limitWrites(l *ratelimit.Limiter, p Policies) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Request().Method {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				return next(c)
			}
			user, ok := userFrom(c.Request().Context())
			if !ok {
				return next(c)
			}
			if wait, ok := l.Allow(c.Request().Context(), p.WritesPerUser, user.String()); !ok {
				return tooMany(wait, "too many changes in a short time; retry after Retry-After seconds")
			}
			return next(c)
		}
	}
}

func tooMany(wait time.Duration, message string) *domain.Error {
	return &domain.Error{Kind: domain.KindRateLimited, Code: domain.CodeRateLimited, Message: message, RetryAfter: wait}
}

// ipExtractor decides how the client's address is taken. Behind no proxy it is the TCP peer,
// whatever X-Forwarded-For says (a client can write anything there). Behind proxies it is the
// right-most X-Forwarded-For entry that is not one of them: each trusted proxy appends the
// address it saw, so everything left of the first untrusted hop may be forged.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
