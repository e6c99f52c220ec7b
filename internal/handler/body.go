package handler

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/jsonguard"
)

// bodyLimits bound a request body's shape before any parser allocates for it. Our deepest
// documented body nests two levels and holds under 20 values; the margins are for clients that
// send extra members, which the contract then refuses by name.
var bodyLimits = jsonguard.Limits{Depth: 32, Values: 512}

// readBody reads each request's body once, whole, before anything else parses it:
//   - over the size limit it is 413, whether Content-Length said so or a chunked body ran over
//     (read through http.MaxBytesReader, so the reader never holds more than the limit);
//   - a JSON media type is matched case-insensitively (RFC 9110 §8.3.1) and rewritten to its
//     canonical form, since Echo's binder compares it case-sensitively; a charset other than
//     UTF-8 is 415;
//   - a JSON body must pass jsonguard (one value, bounded depth, valid UTF-8, no repeated
//     member names), or it is a 400 naming the field. Nothing refused here reaches the
//     validator, a flow or an upstream.
//
// The bytes stay on the request for the idempotency fingerprint, and the body is replaced by a
// reader over them.
func readBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			if req.ContentLength > limit {
				return echo.ErrStatusRequestEntityTooLarge
			}
			body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, limit))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					return echo.ErrStatusRequestEntityTooLarge
				}
				return domain.Invalid("body", "the request body could not be read")
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			c.Set(bodyKeyName, body)
			if len(body) == 0 {
				return next(c)
			}
			if isJSON, err := normaliseJSONType(req.Header); err != nil {
				return err
			} else if isJSON {
				if err := jsonguard.Check(body, bodyLimits); err != nil {
					if ge, ok := errors.AsType[*jsonguard.Error](err); ok {
						return domain.Invalid(ge.Field, ge.Reason)
					}
					return domain.Invalid("body", "not valid JSON")
				}
			}
			return next(c)
		}
	}
}

const bodyKeyName = "bff.body"

// bodyOf returns the bytes readBody read (nil when the request had no body).
func bodyOf(c echo.Context) []byte {
	b, _ := c.Get(bodyKeyName).([]byte)
	return b
}

// normaliseJSONType reports whether the request says its body is JSON, rewriting the header
// to "application/json" when it does. Other media types are left for the validator, which
// answers 415 where the contract wants JSON.
func normaliseJSONType(h http.Header) (bool, error) {
	ct := h.Get(echo.HeaderContentType)
	if ct == "" {
		return false, nil
	}
	// ParseMediaType lowercases the type and parameter names. A header that does not parse
	// is not JSON: the validator answers it 415.
	mediaType, params, perr := mime.ParseMediaType(ct)
	if perr != nil || mediaType != echo.MIMEApplicationJSON {
		return false, nil //nolint:nilerr // not JSON is an answer here, not a failure
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false, echo.ErrUnsupportedMediaType
	}
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	return true, nil
}

// acceptJSON enforces seed 004's mandatory `Accept: application/json` on its API.
func acceptJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.HasPrefix(c.Request().URL.Path, accountsAPIPrefix) &&
			!strings.Contains(strings.ToLower(c.Request().Header.Get(echo.HeaderAccept)), echo.MIMEApplicationJSON) {
			return echo.NewHTTPError(http.StatusNotAcceptable)
		}
		return next(c)
	}
}
