package handler

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// cors lets the mini app's own pages call the /v1 API from a browser: an explicit list of
// origins (CORS_ALLOWED_ORIGINS; sandbox mode adds the demo's), compared exactly, never a
// wildcard. No credentials: the frontend sends its session as a bearer token, so no cookie
// ever rides along. Internal and seed 004 routes are for services, not browsers: they send no
// CORS headers, and a page cannot read them.
func cors(origins []string) echo.MiddlewareFunc {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper: func(c echo.Context) bool {
			return len(allowed) == 0 || !strings.HasPrefix(c.Request().URL.Path, "/v1/")
		},
		AllowOriginFunc: func(origin string) (bool, error) { return allowed[origin], nil },
		AllowMethods:    []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderAccept,
			"Request-Id", "Idempotency-Key", "X-Device-Id"},
		// What a frontend needs to read: the id to quote to support, whether an answer was a
		// replay, when to retry, and where a created resource lives.
		ExposeHeaders: []string{echo.HeaderXRequestID, "Idempotent-Replayed", echo.HeaderRetryAfter, echo.HeaderLocation},
		MaxAge:        600,
	})
}
