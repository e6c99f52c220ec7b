package coreapi

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream/upstreamtest"
	"github.com/gopay-miniapp/bff/internal/metrics"
)

// FuzzAnswers gives every Core API call any answer: an account with a status we know, or one
// of our documented errors, never a panic or an internal error.
func FuzzAnswers(f *testing.F) {
	stub := upstreamtest.NewStub(f)
	up := upstream.New(upstream.Options{Name: "coreapi", Timeout: time.Second, MaxAttempts: 1, Metrics: metrics.New(), Log: zap.NewNop()})
	c := New(up, stub.URL, "SB-Mid-server-x", zap.NewNop())
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"status_code":"200","payment_type":"gopay","account_id":"a1","account_status":"ENABLED","metadata":{"payment_options":[{"name":"GOPAY_WALLET","active":true,"balance":{"value":"1000000.00","currency":"IDR"},"token":"t"}]}}`},
		{200, `{"status_code":"201","account_id":"a1","account_status":"PENDING","actions":[{"name":"activation-deeplink","method":"GET","url":"https://x"}]}`},
		{200, `{"status_code":"204","account_id":"a1","account_status":"EXPIRED"}`},
		{200, `{"status_code":"404","status_message":"Account not found"}`},
		{200, `{"status_code":"401"}`},
		{200, `{"status_code":"500"}`},
		{200, `{"status_code":200}`},
		{404, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		stub.Answer(upstreamtest.Status(status), body)
		ctx := context.Background()
		for _, call := range []func() (Account, error){
			func() (Account, error) { return c.Status(ctx, "acc-1") },
			func() (Account, error) { return c.Create(ctx, "81234567890", "62", "https://back", "key") },
			func() (Account, error) { return c.Unbind(ctx, "acc-1", "key") },
		} {
			a, err := call()
			upstreamtest.CheckError(t, err)
			if err != nil {
				continue
			}
			switch a.Status {
			case StatusPending, StatusEnabled, StatusExpired, StatusDisabled:
			default:
				t.Fatalf("accepted an account with status %q", a.Status)
			}
		}
	})
}
