package sandbox

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sdkDir holds the pinned official client (tools/sdkcheck: package.json and its lockfile are
// committed, node_modules is installed by `make test` and .ci/run with npm ci).
const sdkDir = "../../tools/sdkcheck"

// TestOfficialMidtransClient drives the sandbox with code we did not write: Midtrans' own
// Node client (midtrans-client 1.4.3, SnapBi) signs a B2B token request (it sends grant_type),
// then SNAP service calls through its createConnection: a binding with the documented
// grantType and an inquiry, which must succeed; a tampered signature and a client key that is
// not ours must be refused. It fails, never skips, when Node or the client is missing: the
// sandbox is only as good as the clients it has been checked against.
func TestOfficialMidtransClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20 is on every development and CI machine): %v", err)
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "midtrans-client", "package.json")); err != nil {
		t.Fatalf("midtrans-client is not installed: run `npm ci --prefix tools/sdkcheck` (make test does): %v", err)
	}
	sb, srv, _ := newSandbox(t)
	sb.opts.Now = time.Now // the SDK stamps requests with the real clock
	keyFile := filepath.Join(t.TempDir(), "snap.pem")
	der, err := x509.MarshalPKCS8PrivateKey(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	note := sb.SignNotification([]byte(`{"additionalInfo":{"refundHistory":[]},"amount":{"currency":"IDR","value":"15000.00"},`+
		`"latestTransactionStatus":"00","merchantId":"G12345","originalPartnerReferenceNo":"sdkcheck-1","originalReferenceNo":"A1X",`+
		`"transactionStatusDesc":"SUCCESS"}`), time.Now())
	cmd := exec.Command(node, "check.js")
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(),
		"SNAP_BASE_URL="+srv.URL, "SNAP_CLIENT_KEY=ck", "SNAP_CLIENT_SECRET=cs", "SNAP_PRIVATE_KEY_FILE="+keyFile,
		"SNAP_PARTNER_ID=P1", "SNAP_CHANNEL_ID=95221", "SNAP_MERCHANT_ID=G12345",
		"GOPAY_AUTH_CODE="+sb.MintGoPayAuthCode("81234567890"),
		"NOTIFY_BODY="+string(note.Body), "NOTIFY_TIMESTAMP="+note.Timestamp, "NOTIFY_SIGNATURE="+note.Signature,
		"NOTIFY_PUBLIC_KEY="+string(sb.NotifyPublicKeyPEM()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the SDK check failed: %v\n%s", err, stderr.String())
	}
	var got struct {
		Token struct {
			ResponseCode string `json:"responseCode"`
			HasToken     bool   `json:"hasToken"`
			ExpiresIn    string `json:"expiresIn"`
		} `json:"token"`
		Binding struct {
			ResponseCode     string `json:"responseCode"`
			HasCustomerToken bool   `json:"hasCustomerToken"`
		} `json:"binding"`
		Inquiry struct {
			ResponseCode string   `json:"responseCode"`
			Options      []string `json:"options"`
		} `json:"inquiry"`
		Payment struct {
			ResponseCode   string `json:"responseCode"`
			HasReferenceNo bool   `json:"hasReferenceNo"`
		} `json:"payment"`
		Status struct {
			ResponseCode            string `json:"responseCode"`
			LatestTransactionStatus string `json:"latestTransactionStatus"`
		} `json:"status"`
		Refund struct {
			ResponseCode string `json:"responseCode"`
			Value        string `json:"value"`
		} `json:"refund"`
		Notification struct {
			Verified         bool `json:"verified"`
			TamperedVerified bool `json:"tamperedVerified"`
		} `json:"notification"`
		Tampered       struct{ ResponseCode string } `json:"tampered"`
		WrongClientKey struct{ ResponseCode string } `json:"wrongClientKey"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("unreadable SDK check output %q: %v", stdout.String(), err)
	}
	t.Logf("official client observed: %s", stdout.String())
	if got.Token.ResponseCode != "2007300" || !got.Token.HasToken || got.Token.ExpiresIn != "900" {
		t.Errorf("B2B token through the SDK: %+v", got.Token)
	}
	if got.Binding.ResponseCode != "2000700" || !got.Binding.HasCustomerToken {
		t.Errorf("binding through the SDK: %+v", got.Binding)
	}
	if got.Inquiry.ResponseCode != "2000800" || len(got.Inquiry.Options) == 0 {
		t.Errorf("inquiry through the SDK: %+v", got.Inquiry)
	}
	if got.Payment.ResponseCode != "2005400" || !got.Payment.HasReferenceNo {
		t.Errorf("direct debit through the SDK's createPayment: %+v", got.Payment)
	}
	if got.Status.ResponseCode != "2005500" || got.Status.LatestTransactionStatus != "00" {
		t.Errorf("status through the SDK's getStatus: %+v", got.Status)
	}
	if got.Refund.ResponseCode != "2005800" || got.Refund.Value != "15000.00" {
		t.Errorf("refund through the SDK's refund: %+v", got.Refund)
	}
	if !got.Notification.Verified || got.Notification.TamperedVerified {
		t.Errorf("the SDK's isWebhookNotificationVerified on a sandbox-signed notification: %+v", got.Notification)
	}
	if got.Tampered.ResponseCode != "4010800" {
		t.Errorf("a tampered signature must be refused 4010800: %+v", got.Tampered)
	}
	if got.WrongClientKey.ResponseCode != "4017300" {
		t.Errorf("a client key that is not ours must be refused 4017300: %+v", got.WrongClientKey)
	}
}
