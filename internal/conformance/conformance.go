// Package conformance holds, per upstream call the service makes, the contract as published:
// where it is published, the mandatory headers, query parameters and body fields with their
// types and lengths, the published example request, and the documented answers. A fact found
// in neither a seed nor a public page is listed as an assumption in the call's file.
//
// Two tests read every file: the sandbox must accept the example and refuse each request that
// lacks a mandatory field with the documented code; the gateway's outgoing request, captured
// over real HTTP, must carry every mandatory field as documented and nothing the contract does
// not define. The sandbox and the gateways are written by the same hands; these tables are the
// third party between them, and each rule names its source.
package conformance

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
)

//go:embed calls/*.json
var files embed.FS

// Call is one upstream call's published contract.
type Call struct {
	Name        string   `json:"name"`  // the operation, as the sandbox counts it (e.g. snap.binding)
	Title       string   `json:"title"` // what the provider calls it
	Sources     []string `json:"sources"`
	Assumptions []string `json:"assumptions"`
	Method      string   `json:"method"`
	Path        string   `json:"path"` // with {parameters}
	// Auth says how a request is authenticated and signed: gopay-basic, coreapi-basic,
	// snap-b2b (SHA256withRSA), snap-service (HMAC-SHA512 with the B2B token), snap-get (the same, over a GET).
	Auth    string  `json:"auth"`
	Headers []Field `json:"headers"`
	Query   []Field `json:"query"`
	Body    []Field `json:"body"` // dotted paths for nested members ("gopay_partner.phone_number")
	Example Example `json:"example"`
	Success Answer  `json:"success"`
	// Missing is the documented answer to a request without a mandatory field, by where the
	// field goes; a field may name its own (Field.Missing).
	Missing map[string]Answer `json:"missing"`
	Errors  map[string]string `json:"errors"` // documented error codes and what they mean
}

// Field is one header, query parameter or body member.
type Field struct {
	Name      string   `json:"name"`
	Type      string   `json:"type,omitempty"` // body: string, object, array, number, boolean
	Mandatory bool     `json:"mandatory"`
	Min       int      `json:"min,omitempty"` // length bounds of a string
	Max       int      `json:"max,omitempty"`
	Enum      []string `json:"enum,omitempty"`
	Pattern   string   `json:"pattern,omitempty"`
	Missing   *Answer  `json:"missing,omitempty"` // the answer when it is left out, if not the location's
	Source    string   `json:"source,omitempty"`  // where this rule is published, when not the file's sources
}

// Example is the published example request. Values of the form ${name} are filled in by the
// test with what the sandbox issued (an auth code, a token); headers the signing computes
// (timestamp, signature, Authorization) are left out.
type Example struct {
	PathParams map[string]string `json:"path_params"`
	Query      map[string]string `json:"query"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
}

// Answer is an HTTP status and, where the provider has one, its code (SNAP responseCode, Core
// API status_code, GoPay error.code).
type Answer struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// Calls returns every call's contract, by name.
func Calls() ([]Call, error) {
	entries, err := files.ReadDir("calls")
	if err != nil {
		return nil, err
	}
	var out []Call
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("calls", e.Name()))
		if err != nil {
			return nil, err
		}
		var c Call
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", e.Name(), err)
		}
		if c.Name == "" || c.Method == "" || c.Path == "" || c.Auth == "" || len(c.Sources) == 0 || c.Success.Status == 0 {
			return nil, fmt.Errorf("conformance: %s lacks name, method, path, auth, sources or success", e.Name())
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// MissingAnswer is what leaving out f (in location "header", "query" or "body") must be answered.
func (c Call) MissingAnswer(location string, f Field) (Answer, bool) {
	if f.Missing != nil {
		return *f.Missing, true
	}
	a, ok := c.Missing[location]
	return a, ok
}
