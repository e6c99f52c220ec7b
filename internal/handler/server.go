// Package handler speaks HTTP: it assembles the Echo server from the generated contract,
// validates requests against it, authenticates sessions, makes POSTs idempotent, and maps
// errors to application/problem+json in one place. Flows live in package service.
package handler

import (
	"errors"
	"net"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	oapimw "github.com/oapi-codegen/echo-middleware"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/session"
	"github.com/gopay-miniapp/bff/internal/tracing"
)

func init() {
	// Ids are UUIDv7, which the RFC 4122 pattern rejects; a malformed id must be a 400 that
	// names path.id, so the validator checks the format.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
}

// Deps is everything the HTTP layer needs.
type Deps struct {
	Sessions       *service.Sessions
	BankAccounts   *service.BankAccounts
	GoPay          *service.GoPayLinks
	Cards          *service.CardBindings
	Payments       *service.Payments
	InternalAuth   *service.InternalAuth
	Signer         *session.Signer // user sessions
	InternalSigner *session.Signer // internal access tokens
	Idempotency    *idempotency.Store
	Readiness      []ReadinessCheck
	Metrics        *metrics.Metrics
	Log            *zap.Logger
	MaxBodyBytes   int64
	RequestTimeout time.Duration // each request's deadline
	Traced         bool          // a span per request (TRACING)
	Limiter        *ratelimit.Limiter
	Policies       Policies
	TrustedProxies []*net.IPNet // whose X-Forwarded-For names the client; none: the TCP peer is the client
	CORSOrigins    []string     // pages that may call /v1 from a browser
}

// New builds the Echo server.
func New(d Deps) (*echo.Echo, error) {
	if d.Sessions == nil || d.BankAccounts == nil || d.GoPay == nil || d.Cards == nil || d.Payments == nil || d.InternalAuth == nil || d.Signer == nil ||
		d.InternalSigner == nil || d.Idempotency == nil || d.Limiter == nil ||
		d.Metrics == nil || d.Log == nil || d.MaxBodyBytes <= 0 || d.RequestTimeout <= 0 {
		return nil, errors.New("handler.New: missing dependency")
	}
	spec, err := api.GetSpec()
	if err != nil {
		return nil, err
	}
	auth := &authenticator{sessions: d.Signer, internal: d.InternalSigner, clients: d.InternalAuth, metrics: d.Metrics,
		limiter: d.Limiter, policies: d.Policies}
	validate, ops := validateRequests(spec, &oapimw.Options{
		Options: validatorOptions(auth),
		// A wrong method on a known path is Echo's 405 with Allow, not the validator's 404.
		Skipper:      func(c echo.Context) bool { return c.Get(echo.ContextKeyHeaderAllow) != nil },
		ErrorHandler: func(_ echo.Context, err *echo.HTTPError) error { return err },
	})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	if d.Traced {
		// The request's span: first, so everything below (and the log lines) can name its trace.
		e.Use(otelecho.Middleware(tracing.Name))
	}
	e.Use(
		requestContext(d.Log),
		observe(d.Metrics, d.Log),
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: logPanic(d.Log)}),
		// Before anything that can refuse: a browser shows the page a 4xx only when it carries
		// the CORS headers, and answers a preflight without authentication.
		cors(d.CORSOrigins),
		deadline(d.RequestTimeout),
		noStore,
		limitByAddress(d.Limiter, d.Policies),
		readBody(d.MaxBodyBytes),
		notificationBody,
		acceptJSON,
		validate,
		limitWrites(d.Limiter, d.Policies),
		idempotent(d.Idempotency, d.Metrics, d.Log),
	)
	srv := &server{sessions: d.Sessions, accounts: d.BankAccounts, gopay: d.GoPay, cards: d.Cards, payments: d.Payments, internalAuth: d.InternalAuth,
		checks: d.Readiness, metrics: d.Metrics, log: d.Log,
		limiter: d.Limiter, policies: d.Policies}
	api.RegisterHandlers(e, api.NewStrictHandler(srv, nil))
	if err := ops.cover(e.Routes()); err != nil {
		return nil, err
	}
	return e, nil
}

// validatorOptions configures request validation: authentication by the contract's security
// schemes, the validated value handed to the handler as is (no second, case-insensitive decode),
// and schema errors that never render the offending value (doing so cost memory quadratic in
// nesting depth).
func validatorOptions(a *authenticator) openapi3filter.Options {
	o := openapi3filter.Options{
		AuthenticationFunc:      a.check,
		KeepValidatedValue:      true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
	o.WithCustomSchemaErrorFunc(func(se *openapi3.SchemaError) string { return se.Reason })
	return o
}

const noStoreValue = "no-store"

// noStore keeps every answer out of shared and browser caches: they carry session and access
// tokens, bank details and payment-option tokens, and none is the same for two callers.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, noStoreValue)
		return next(c)
	}
}

func logPanic(log *zap.Logger) middleware.LogErrorFunc {
	return func(c echo.Context, err error, stack []byte) error {
		log.Error("panic serving request", zap.Error(err), zap.ByteString("stack", stack),
			zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
		return err
	}
}
