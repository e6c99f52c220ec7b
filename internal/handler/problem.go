package handler

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/logging"
)

// statusOf is the one mapping from error kinds to HTTP statuses.
var statusOf = map[domain.Kind]int{
	domain.KindInternal:        http.StatusInternalServerError,
	domain.KindInvalid:         http.StatusBadRequest,
	domain.KindUnauthenticated: http.StatusUnauthorized,
	domain.KindNotFound:        http.StatusNotFound,
	domain.KindConflict:        http.StatusConflict,
	domain.KindUnprocessable:   http.StatusUnprocessableEntity,
	domain.KindUpstream:        http.StatusBadGateway,
	domain.KindUnavailable:     http.StatusServiceUnavailable,
	domain.KindTimeout:         http.StatusGatewayTimeout,
	domain.KindRateLimited:     http.StatusTooManyRequests,
}

// Codes for errors raised by the HTTP machinery rather than by a flow.
const (
	codeRouteNotFound    = "route_not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeTooLarge         = "request_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeNotAcceptable    = "not_acceptable"
)

const problemContentType = "application/problem+json"

// accountsAPIPrefix is where seed 004's API lives, with its own error shape.
const accountsAPIPrefix = "/api/v1.0/"

func accountsError(status int, message string) api.AccountsError {
	e := api.AccountsError{Status: status, Success: false}
	e.Error.Code, e.Error.Message = status, message
	return e
}

// statusClientClosedRequest is what a request whose client went away is counted as.
const statusClientClosedRequest = 499

// defaultRetryAfter is what a 503 without a better estimate tells the client: long enough for a
// store to come back from a restart or a failover, short enough not to strand a user.
const defaultRetryAfter = 2 * time.Second

// retryAfterSeconds renders a Retry-After value: whole seconds, rounded up, at least one.
func retryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		d = defaultRetryAfter
	}
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

// Challenges sent with a 401 (RFC 9110 §11.6.1), by the scheme the route wants.
const (
	bearerChallenge = `Bearer realm="gopay-bff"` //nolint:gosec // a challenge, not a credential
	basicChallenge  = `Basic realm="gopay-bff-internal", charset="UTF-8"`
)

// errorHandler renders every error as application/problem+json. Internal errors are logged
// in full for the operator and reach the client as a bare "internal error".
func errorHandler(log *zap.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		l := logging.From(c.Request().Context(), log)
		if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
			// The client went away before the answer: nobody is waiting, and nothing is broken on
			// our side, so it is not a 500 that pages anyone. 499 is nginx's "client closed request".
			l.Info("client closed the request before the answer", zap.Error(err))
			if !c.Response().Committed {
				c.Response().WriteHeader(statusClientClosedRequest)
			}
			return
		}
		e, status := toProblem(err)
		if status >= 500 {
			l.Error("request failed", zap.String("code", e.Code), zap.Error(e))
		} else {
			l.Info("request rejected", zap.String("code", e.Code), zap.String("field", e.Field), zap.Error(e))
		}
		if c.Response().Committed {
			return
		}
		switch status {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			c.Response().Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
		case http.StatusUnauthorized:
			if c.Response().Header().Get(echo.HeaderWWWAuthenticate) == "" {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, bearerChallenge)
			}
		}
		p := api.Problem{
			Type:   "urn:gopay-bff:problem:" + e.Code,
			Title:  http.StatusText(status),
			Status: status,
			Code:   e.Code,
		}
		if e.Message != "" {
			p.Detail = &e.Message
		}
		if e.Field != "" {
			p.Field = &e.Field
		}
		if rid := c.Response().Header().Get(echo.HeaderXRequestID); rid != "" {
			p.RequestId = &rid
		}
		if strings.HasPrefix(c.Request().URL.Path, accountsAPIPrefix) {
			// Seed 004's API answers errors in its own shape, not problem+json.
			if err := c.JSON(status, accountsError(status, e.Message)); err != nil {
				l.Warn("writing error failed", zap.Error(err))
			}
			return
		}
		c.Response().Header().Set(echo.HeaderContentType, problemContentType)
		if err := c.JSON(status, p); err != nil {
			l.Warn("writing problem failed", zap.Error(err))
		}
	}
}

// toProblem turns any error into a domain error and its status: ours map through statusOf;
// Echo's and the OpenAPI validator's become client errors naming the field where they can.
// Only the HTTP machinery's own errors (unknown route, wrong method, body too large, wrong
// media type) keep a status outside statusOf.
func toProblem(err error) (*domain.Error, int) {
	de, status := classify(err)
	if status == 0 { // a kind with no status (read back from a store, say) is our bug, not a 0
		return &domain.Error{Kind: domain.KindInternal, Code: domain.CodeInternal, Message: "internal error", Err: err},
			http.StatusInternalServerError
	}
	return de, status
}

func classify(err error) (*domain.Error, int) {
	var de *domain.Error
	if errors.As(err, &de) {
		return de, statusOf[de.Kind]
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		de = domain.As(err)
		return de, statusOf[de.Kind]
	}
	if he.Internal != nil && errors.As(he.Internal, &de) {
		return de, statusOf[de.Kind]
	}
	var re *openapi3filter.RequestError
	if he.Internal != nil && errors.As(he.Internal, &re) {
		return fromRequestError(re)
	}
	switch he.Code {
	case http.StatusNotFound:
		return &domain.Error{Kind: domain.KindNotFound, Code: codeRouteNotFound, Message: "no such route"}, he.Code
	case http.StatusMethodNotAllowed:
		return &domain.Error{Kind: domain.KindInvalid, Code: codeMethodNotAllowed, Message: "method not allowed on this route"}, he.Code
	case http.StatusRequestEntityTooLarge:
		return &domain.Error{Kind: domain.KindInvalid, Code: codeTooLarge, Message: "request body too large"}, he.Code
	case http.StatusUnsupportedMediaType:
		return &domain.Error{Kind: domain.KindInvalid, Code: codeUnsupportedMedia, Message: "send application/json (UTF-8)",
			Field: "header.Content-Type"}, he.Code
	case http.StatusNotAcceptable:
		return &domain.Error{Kind: domain.KindInvalid, Code: codeNotAcceptable, Message: "Accept must be application/json"}, he.Code
	case http.StatusUnauthorized:
		return domain.Unauthenticated("a valid session token is required"), he.Code
	}
	if he.Code >= 400 && he.Code < 500 {
		return domain.Invalid("", "malformed request"), http.StatusBadRequest
	}
	de = domain.As(err)
	return de, statusOf[de.Kind]
}

// fromRequestError names the offending field of an OpenAPI validation failure: a parameter
// as "header.Request-Id" or "path.id", a body property by its JSON path ("account_token").
func fromRequestError(re *openapi3filter.RequestError) (*domain.Error, int) {
	if re.RequestBody != nil && strings.HasPrefix(re.Reason, "header Content-Type has unexpected value") {
		return &domain.Error{Kind: domain.KindInvalid, Code: codeUnsupportedMedia, Message: "send application/json",
			Field: "header.Content-Type"}, http.StatusUnsupportedMediaType
	}
	if re.Parameter != nil {
		return domain.Invalid(re.Parameter.In+"."+re.Parameter.Name, firstLine(reason(re))), http.StatusBadRequest
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		field := strings.Join(se.JSONPointer(), ".")
		if field == "" {
			field = "body"
		}
		return domain.Invalid(field, firstLine(se.Reason)), http.StatusBadRequest
	}
	if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
		return domain.Invalid("body", "a JSON body is required"), http.StatusBadRequest
	}
	return domain.Invalid("body", "the body is not valid JSON of the documented shape"), http.StatusBadRequest
}

func reason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return se.Reason
	}
	if re.Err != nil {
		return re.Err.Error()
	}
	return re.Reason
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
