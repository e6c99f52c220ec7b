package handler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/session"
)

// requestContext gives every request a correlation id (X-Request-Id, echoed back; distinct
// from the idempotency key Request-Id) and a logger that carries it.
func requestContext(log *zap.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rid := c.Request().Header.Get(echo.HeaderXRequestID)
			if len(rid) < 1 || len(rid) > 64 || !idempotency.ValidKey(rid) && !isUUID(rid) {
				rid = uuid.NewString()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, rid)
			l := log.With(zap.String("request_id", rid))
			c.SetRequest(c.Request().WithContext(logging.WithLogger(c.Request().Context(), l)))
			return next(c)
		}
	}
}

func isUUID(s string) bool { _, err := uuid.Parse(s); return err == nil }

// observe logs one line per request and records its metrics. It logs the route template,
// never the raw URL or body, so no token or account number reaches a log line.
func observe(m *metrics.Metrics, log *zap.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // render now, so the status below is the one sent
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			status := c.Response().Status
			elapsed := time.Since(start)
			m.HTTPRequests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			m.HTTPDuration.WithLabelValues(route, c.Request().Method).Observe(elapsed.Seconds())
			fields := []zap.Field{zap.String("method", c.Request().Method), zap.String("route", route),
				zap.Int("status", status), zap.Duration("duration", elapsed)}
			if u, ok := userFrom(c.Request().Context()); ok {
				fields = append(fields, zap.String("user_id", u.String()))
			}
			logging.From(c.Request().Context(), log).Info("request", fields...)
			return nil
		}
	}
}

// acceptJSON enforces seed 004's mandatory `Accept: application/json` on its API.
func acceptJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.HasPrefix(c.Request().URL.Path, accountsAPIPrefix) &&
			!strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON) {
			return echo.NewHTTPError(http.StatusNotAcceptable)
		}
		return next(c)
	}
}

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
}

func (a *authenticator) check(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	unauthenticated := func(msg string) error {
		return &echo.HTTPError{Code: http.StatusUnauthorized, Internal: domain.Unauthenticated(msg)}
	}
	c := oapimw.GetEchoContext(ctx)
	if c == nil {
		return errors.New("no echo context in validator")
	}
	req := in.RequestValidationInput.Request
	bearer, hasBearer := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
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
		if err := a.clients.Check(id, secret); err != nil {
			a.metrics.TokenRequests.WithLabelValues("refused").Inc()
			return &echo.HTTPError{Code: http.StatusUnauthorized, Internal: err}
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

// idempotent makes POSTs idempotent under the client's Request-Id (or Idempotency-Key),
// scoped to the user and the route. See package idempotency for the store; this is the
// HTTP side: key checks, fingerprint, replay, and the mapping of outcomes to statuses.
func idempotent(store *idempotency.Store, m *metrics.Metrics, log *zap.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Method != http.MethodPost {
				return next(c)
			}
			key, err := idempotencyKey(req.Header)
			if err != nil {
				return err
			}
			scope := principal(req.Context()) + ":" + req.Method + " " + c.Path()
			if key == "" {
				c.SetRequest(req.WithContext(idempotency.WithUpstreamRequestID(req.Context(), uuid.NewString())))
				return next(c)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return err // the body limit's 413 lands here
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			sum := sha256.Sum256(append([]byte(req.Method+" "+c.Path()+"\n"), body...))

			claim, replay, err := store.Begin(req.Context(), scope, key, hex.EncodeToString(sum[:]))
			switch {
			case errors.Is(err, idempotency.ErrUnavailable):
				m.Idempotency.WithLabelValues(metrics.IdemStoreUnavailable).Inc()
				// Fail closed: without the store a retry could link twice.
				return domain.E(domain.KindUnavailable, domain.CodeStoreUnavailable,
					"cannot guarantee idempotency right now; retry later with the same key", err)
			case errors.Is(err, idempotency.ErrInProgress):
				m.Idempotency.WithLabelValues(metrics.IdemConflict).Inc()
				return domain.E(domain.KindConflict, domain.CodeRequestInProgress,
					"a request with this idempotency key is in progress; retry later", nil)
			case errors.Is(err, idempotency.ErrMismatch):
				m.Idempotency.WithLabelValues(metrics.IdemMismatch).Inc()
				return &domain.Error{Kind: domain.KindUnprocessable, Code: domain.CodeIdempotencyMismatch,
					Message: "this idempotency key was used for a different request", Field: "header.Request-Id"}
			case err != nil:
				return err
			case replay != nil:
				m.Idempotency.WithLabelValues(metrics.IdemReplayed).Inc()
				c.Response().Header().Set("Idempotent-Replayed", "true")
				return c.Blob(replay.Status, replay.ContentType, replay.Body)
			}

			ctx := idempotency.WithUpstreamRequestID(req.Context(), idempotency.UpstreamRequestID(scope, key))
			c.SetRequest(req.WithContext(ctx))
			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			if err := next(c); err != nil {
				c.Error(err)
			}
			// A request that ended in 5xx may succeed when retried: release the key rather
			// than pin the failure for a day. Anything else is the answer for good.
			status := c.Response().Status
			finish := context.WithoutCancel(ctx)
			if status >= 500 {
				err = claim.Release(finish)
			} else {
				err = claim.Complete(finish, idempotency.Response{Status: status,
					ContentType: c.Response().Header().Get(echo.HeaderContentType), Body: rec.body.Bytes()})
				m.Idempotency.WithLabelValues(metrics.IdemStored).Inc()
			}
			if err != nil {
				logging.From(ctx, log).Warn("idempotency record not saved; the key stays locked until it expires", zap.Error(err))
			}
			return nil
		}
	}
}

// principal names who authenticated the request, so idempotency keys are scoped to them: a
// key reused by someone else is a different operation and never replays another's answer
// (or another client's access token). Unauthenticated routes share the "anon" scope; their
// bodies (an auth code) are already secret to the caller.
func principal(ctx context.Context) string {
	if u, ok := userFrom(ctx); ok {
		return "user:" + u.String()
	}
	if client, ok := internalClientFrom(ctx); ok {
		return "client:" + client
	}
	return "anon"
}

// idempotencyKey reads Request-Id or its alias Idempotency-Key; both may be sent only if equal.
func idempotencyKey(h http.Header) (string, error) {
	rid, ik := h.Get("Request-Id"), h.Get("Idempotency-Key")
	switch {
	case rid != "" && ik != "" && rid != ik:
		return "", domain.Invalid("header.Idempotency-Key", "Request-Id and Idempotency-Key differ; send one")
	case rid == "":
		rid = ik
	}
	if rid != "" && !idempotency.ValidKey(rid) {
		return "", domain.Invalid("header.Request-Id", "must be 8 to 64 letters, digits, '-' or '_'")
	}
	return rid, nil
}

// recorder copies what is written to the client, for replay.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
