package handler

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
)

// idempotent makes POSTs idempotent under the client's Request-Id (or Idempotency-Key),
// scoped to who sent them and the route. See package idempotency for the store and for the
// rule that derives the upstream id; this is the HTTP side: key checks, fingerprint, replay,
// and the mapping of outcomes to statuses.
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
			// The request's own path, not the route's template: a key reused on another resource
			// (another user's payments, another payment's refund) is another request, never a
			// replay of the first. Routes without parameters fingerprint as they always did.
			fingerprint := idempotency.Fingerprint(req.Method, req.URL.EscapedPath(), bodyOf(c))
			who, signedIn := principal(req.Context(), fingerprint)
			scope := who + ":" + req.Method + " " + c.Path()
			// The id sent upstream is the request's own: a new body is a new upstream operation,
			// and the same body from the same principal is the same one, so a retry after a lost
			// answer or a failed insert is replayed upstream, not refused as a used token.
			upstreamID := idempotency.UpstreamRequestID(scope, key, fingerprint)
			if key == "" && !signedIn {
				// Except a keyless sign-in: deriving its id from the auth code would let anyone
				// holding a used code have it replayed. It stays single-use; a client that sent
				// no key asks the SDK for a new code, and nothing is lost (an exchange links
				// nothing).
				upstreamID = uuid.NewString()
			}
			ctx := idempotency.WithUpstreamRequestID(req.Context(), upstreamID)
			if key == "" {
				c.SetRequest(req.WithContext(ctx))
				return next(c)
			}

			claim, replay, err := store.Begin(ctx, scope, key, fingerprint)
			switch {
			case errors.Is(err, idempotency.ErrUnavailable):
				m.Idempotency.WithLabelValues(metrics.IdemStoreUnavailable).Inc()
				// Fail closed: without the store a retry could link twice.
				return domain.E(domain.KindUnavailable, domain.CodeIdempotencyStoreUnavailable,
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

			defer claim.Abandon() // a panic below: stop renewing, and the key frees itself within its lease
			c.SetRequest(req.WithContext(ctx))
			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			if err := next(c); err != nil {
				c.Error(err)
			}
			// A request that ended in 5xx or 429 (a rate limit inside the flow) may succeed when
			// retried after Retry-After: release the key rather than pin the refusal for a day.
			// Anything else is the answer for good.
			status := c.Response().Status
			finish := context.WithoutCancel(ctx)
			if status >= 500 || status == http.StatusTooManyRequests {
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

// principal names who sent the request, so idempotency keys are scoped to them: a key reused
// by someone else is a different operation and never replays another's answer (or another
// client's access token). An unauthenticated request (opening a session) is known only by the
// credential it presents, which is in its body: its principal is the body's fingerprint, so two
// people who send the same key with their own auth codes never meet, here or upstream.
// signedIn is false for those.
func principal(ctx context.Context, fingerprint string) (who string, signedIn bool) {
	if u, ok := userFrom(ctx); ok {
		return "user:" + u.String(), true
	}
	if client, ok := internalClientFrom(ctx); ok {
		return "client:" + client, true
	}
	return "anon:" + fingerprint, false
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
