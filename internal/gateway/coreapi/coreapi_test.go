package coreapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

func newClient(t *testing.T, serverKey string) (*Client, *sandbox.Sandbox, string) {
	t.Helper()
	pemBytes, _ := snapsig.NewPrivateKeyPEM()
	key, _ := snapsig.ParsePrivateKey(pemBytes)
	sb := sandbox.New(sandbox.Options{GoPayClientID: "g", GoPayClientSecret: "g", SNAPClientKey: "ck", SNAPClientSecret: "cs",
		SNAPPublicKey: &key.PublicKey, MidtransServerKey: "SB-Mid-server-x", CardClientID: "CARDCLIENT0123456789012345678901"})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	up := upstream.New(upstream.Options{Name: "coreapi", Timeout: time.Second, MaxAttempts: 2, Metrics: metrics.New(),
		Log: zap.NewNop(), InitialBackoff: time.Millisecond})
	return New(up, srv.URL, serverKey, zap.NewNop()), sb, srv.URL
}

// Seed 002's four statuses, and the errors.
func TestStatus(t *testing.T) {
	c, _, _ := newClient(t, "SB-Mid-server-x")
	ctx := context.Background()
	for id, want := range map[string]string{"pending-1": StatusPending, "expired-1": StatusExpired,
		"enabled-1": StatusEnabled, "disabled-1": StatusDisabled} {
		a, err := c.Status(ctx, id)
		if err != nil || a.Status != want || a.ID != id {
			t.Fatalf("%s: %+v %v", id, a, err)
		}
		if want == StatusEnabled && (len(a.Options) != 2 || a.Options[0].Balance != "7985000.00" || a.Options[0].Token == "") {
			t.Fatalf("enabled account options (string balances parsed): %+v", a.Options)
		}
	}
	_, err := c.Status(ctx, "unknown")
	if e := domain.As(err); e.Code != domain.CodeLegacyAccountNotFound || e.Field != "legacy_account_id" {
		t.Fatalf("unknown account: %v", err)
	}
	bad, _, _ := newClient(t, "wrong")
	if _, err := bad.Status(ctx, "enabled-1"); domain.As(err).Kind != domain.KindUpstream {
		t.Fatalf("wrong server key: %v", err)
	}
}

func TestCreateActivateUnbind(t *testing.T) {
	c, _, _ := newClient(t, "SB-Mid-server-x")
	ctx := context.Background()
	a, err := c.Create(ctx, "81298765432", "62", "https://example.com/back", "idem-1")
	if err != nil || a.Status != StatusPending || a.ActivationURL == "" {
		t.Fatalf("create: %+v %v", a, err)
	}
	resp, err := http.Get(a.ActivationURL) // the customer opens the activation link
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("activation: %v", err)
	}
	_ = resp.Body.Close()
	if got, _ := c.Status(ctx, a.ID); got.Status != StatusEnabled {
		t.Fatalf("after activation: %s", got.Status)
	}
	if got, err := c.Unbind(ctx, a.ID, "idem-2"); err != nil || got.Status != StatusDisabled {
		t.Fatalf("unbind: %+v %v", got, err)
	}
	if _, err := c.Create(ctx, "12", "62", "", ""); domain.As(err).Kind != domain.KindUpstream {
		t.Fatalf("invalid phone: %v", err)
	}
	expiring, _ := c.Create(ctx, "81200000001", "62", "", "")
	if got, _ := c.Status(ctx, expiring.ID); got.Status != StatusExpired {
		t.Fatalf("phone scenario 0001: %s", got.Status)
	}
}
