package handler

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"
)

// validateRequests checks every request against the contract. It is oapimw's validator with
// one change: the operation is looked up from the route Echo has already matched, not found
// a second time by gorilla/mux's regular expressions (3% of a read's CPU, docs/performance.md).
// Validation itself, and how its errors become problems, stay the library's.
func validateRequests(spec *openapi3.T, opts *oapimw.Options) (echo.MiddlewareFunc, operations) {
	ops := operations{}
	for path, item := range spec.Paths.Map() {
		byMethod := map[string]*routers.Route{}
		for method, op := range item.Operations() {
			byMethod[method] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
		ops[echoPath(path)] = byMethod
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if opts.Skipper != nil && opts.Skipper(c) {
				return next(c)
			}
			if err := oapimw.ValidateRequestFromContext(c, matched{c: c, ops: ops}, opts); err != nil {
				return opts.ErrorHandler(c, err)
			}
			return next(c)
		}
	}, ops
}

// cover fails when Echo serves a route the contract has no operation for: its requests would
// all be refused as unknown, so this is a wiring mistake to catch at start-up.
func (ops operations) cover(routes []*echo.Route) error {
	for _, r := range routes {
		if _, ok := ops[r.Path][r.Method]; !ok {
			return fmt.Errorf("handler: route %s %s is not in the contract", r.Method, r.Path)
		}
	}
	return nil
}

// operations holds the contract's operations by Echo route path, then by method.
type operations map[string]map[string]*routers.Route

// echoPath turns an OpenAPI path template into Echo's: /users/{user_id} -> /users/:user_id,
// which is how the generated RegisterHandlers names the same route.
func echoPath(openAPIPath string) string {
	r := strings.NewReplacer("{", ":", "}", "")
	return r.Replace(openAPIPath)
}

// matched is a routers.Router for one request: the operation of the route Echo matched.
type matched struct {
	c   echo.Context
	ops operations
}

func (m matched) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	byMethod, ok := m.ops[m.c.Path()]
	if !ok {
		return nil, nil, routers.ErrPathNotFound
	}
	route, ok := byMethod[req.Method]
	if !ok {
		return nil, nil, routers.ErrMethodNotAllowed
	}
	names := m.c.ParamNames()
	if len(names) == 0 {
		return route, nil, nil
	}
	params := make(map[string]string, len(names))
	for i, name := range names {
		// Echo hands path values as they came (escaped when the path was); gorilla/mux, which
		// the validator used before, hands them unescaped, and the handlers' binder unescapes.
		v := m.c.ParamValues()[i]
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		params[name] = v
	}
	return route, params, nil
}
