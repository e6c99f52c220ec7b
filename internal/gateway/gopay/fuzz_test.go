package gopay

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream/upstreamtest"
	"github.com/gopay-miniapp/bff/internal/metrics"
)

// FuzzAnswers gives both GoPay calls any answer GoPay could send: the result is a complete
// value or one of our documented errors, never a panic or an internal error.
func FuzzAnswers(f *testing.F) {
	stub := upstreamtest.NewStub(f)
	up := upstream.New(upstream.Options{Name: "gopay", Timeout: time.Second, MaxAttempts: 1, Metrics: metrics.New(), Log: zap.NewNop()})
	c := New(up, stub.URL, "id", "secret", zap.NewNop())
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"success":true,"data":{"bank_code":"jago","bank_account_name":"N","bank_account_number":"1"}}`},
		{200, `{"success":true,"data":{"gopay_account_id":"g","auth_token":"t"}}`},
		{404, `{"success":false,"error":{"code":900,"description":"Token Not Found"}}`},
		{400, `{"success":false,"error":{"code":"902"}}`},
		{200, `{"success":true,"data":null}`},
		{200, `{"success":true,"data":[]}`},
		{401, ``},
		{503, `<html>`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		stub.Answer(upstreamtest.Status(status), body)
		d, err := c.BankDetails(context.Background(), "token", "rid")
		upstreamtest.CheckError(t, err)
		if err == nil && (d.BankCode == "" || d.AccountName == "" || d.AccountNumber == "") {
			t.Fatalf("incomplete bank details accepted: %+v", d)
		}
		a, err := c.ExchangeAuthCode(context.Background(), "code", "rid")
		upstreamtest.CheckError(t, err)
		if err == nil && (a.GoPayAccountID == "" || a.AuthToken == "") {
			t.Fatalf("incomplete authorization accepted: %+v", a)
		}
	})
}
