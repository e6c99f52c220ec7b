package handler

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/metrics"
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
			// Lazy: the field is encoded only if the request logs something (most log one line,
			// and none below the configured level).
			fields := []zap.Field{zap.String("request_id", rid)}
			if sc := trace.SpanContextFromContext(c.Request().Context()); sc.HasTraceID() {
				fields = append(fields, zap.Stringer("trace_id", sc.TraceID()))
			}
			l := log.WithLazy(fields...)
			c.SetRequest(c.Request().WithContext(logging.WithLogger(c.Request().Context(), l)))
			return next(c)
		}
	}
}

// deadline gives the request its budget: upstream calls, their retries, the database and
// Redis all stop when it runs out, and the client gets a 504 (or 503) while the server's write
// timeout, which is longer, still lets the answer out. Without it a chain of retried upstream
// calls outlived the write timeout and the client got a cut connection, no status.
func deadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
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
			method := methodLabel(c.Request().Method)
			m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			m.HTTPDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
			ce := logging.From(c.Request().Context(), log).Check(zap.InfoLevel, "request")
			if ce == nil {
				return nil
			}
			fields := []zap.Field{zap.String("method", method), zap.String("route", route),
				zap.Int("status", status), zap.Duration("duration", elapsed)}
			if u, ok := userFrom(c.Request().Context()); ok {
				fields = append(fields, zap.Stringer("user_id", u))
			}
			ce.Write(fields...)
			return nil
		}
	}
}

// methodLabel keeps the method label's values few: a client can send any token as a method,
// and each new label value is a time series kept for the life of the process.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
