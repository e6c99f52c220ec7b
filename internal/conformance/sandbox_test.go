package conformance_test

import (
	"testing"

	"github.com/gopay-miniapp/bff/internal/conformance"
)

// TestSandboxPlaysTheContract: for every upstream call, the sandbox accepts the published
// example request (signed as documented) and refuses each request that lacks one mandatory
// header, query parameter or body field with the documented answer.
func TestSandboxPlaysTheContract(t *testing.T) {
	calls, err := conformance.Calls()
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 15 {
		t.Fatalf("%d calls have a conformance file, want 15", len(calls))
	}
	for _, c := range calls {
		t.Run(c.Name, func(t *testing.T) {
			e := newEnv(t)
			status, m := e.send(c.Auth, e.exampleOf(c), "")
			if status != c.Success.Status || c.Success.Code != "" && codeOf(m) != c.Success.Code ||
				c.Success.Code == "" && m["success"] != true {
				t.Fatalf("the published example: %d %v, want %d %q", status, m, c.Success.Status, c.Success.Code)
			}
			check := func(location string, f conformance.Field, status int, m map[string]any) {
				t.Helper()
				want, ok := c.MissingAnswer(location, f)
				if !ok {
					t.Fatalf("%s %s is mandatory but the file documents no answer for its absence", location, f.Name)
				}
				if status != want.Status || want.Code != "" && codeOf(m) != want.Code {
					t.Errorf("without %s %s: %d %v, want %d %q", location, f.Name, status, m, want.Status, want.Code)
				}
			}
			for _, f := range c.Headers {
				if f.Mandatory {
					status, m := e.send(c.Auth, e.exampleOf(c), f.Name)
					check("header", f, status, m)
				}
			}
			for _, f := range c.Query {
				if f.Mandatory {
					r := e.exampleOf(c)
					r.query.Del(f.Name)
					status, m := e.send(c.Auth, r, "")
					check("query", f, status, m)
				}
			}
			for _, f := range c.Body {
				if f.Mandatory {
					r := e.exampleOf(c)
					r.body = without(r.body, f.Name)
					status, m := e.send(c.Auth, r, "")
					check("body", f, status, m)
				}
			}
		})
	}
}
