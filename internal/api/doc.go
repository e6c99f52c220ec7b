// Package api holds the code generated from api/openapi.yaml: the models, the Echo server
// interface (strict mode, so handlers return only documented responses) and the embedded spec
// used for request validation. Do not edit api.gen.go; run `make generate`.
package api

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../api/openapi.yaml
