package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorderTB captures Errorf so the helper's own failures can be asserted.
type recorderTB struct {
	testing.TB
	errs []string
}

func (r *recorderTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorderTB) Helper() {}

// The contract client must fail a test on every kind of undocumented answer, and pass a
// documented one.
func TestContractClientCatchesUndocumentedAnswers(t *testing.T) {
	tests := []struct {
		name, path, ct, body string
		status               int
		wantErr              string
	}{
		{"Documented", "/healthz", "application/json", `{"status":"ok"}`, 200, ""},
		{"UndocumentedStatus", "/healthz", "application/json", `{"status":"ok"}`, 418, "not as documented"},
		{"UndocumentedValue", "/healthz", "application/json", `{"status":"meh"}`, 200, "not as documented"},
		{"MissingRequired", "/readyz", "application/json", `{"status":"ready"}`, 200, "not as documented"},
		{"UndocumentedRoute", "/nope", "application/json", `{}`, 200, "not in api/openapi.yaml"},
		{"ProblemWithoutCode", "/v1/bank-accounts", "application/problem+json", `{"type":"x","title":"t","status":401}`, 401, "not as documented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ct)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			rec := &recorderTB{TB: t}
			resp, err := ContractClient(rec).Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			got := strings.Join(rec.errs, "\n")
			if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
				t.Fatalf("errors %q, want %q", got, tt.wantErr)
			}
		})
	}
}
