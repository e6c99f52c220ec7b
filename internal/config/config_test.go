package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gopay-miniapp/bff/internal/seal"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSandboxModeGeneratesAndKeepsDevKeys(t *testing.T) {
	dir := t.TempDir()
	c1, err := Load(getenv(map[string]string{"DEV_STATE_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if c1.SNAPPrivateKeyFile == "" || c1.InternalClients == "" || c1.MidtransServerKey == "" || c1.SNAPClientSecret == "" {
		t.Fatalf("sandbox mode must fill upstream credentials: %+v", c1)
	}
	if _, err := os.Stat(c1.SNAPPrivateKeyFile); err != nil {
		t.Fatalf("sandbox SNAP key not written: %v", err)
	}
	if !c1.Sandbox() || c1.EncryptionKeys == "" || c1.SessionKeys == "" || c1.BlindIndexKey == "" || c1.GoPayClientSecret == "" {
		t.Fatalf("sandbox mode must fill development keys: %+v", c1)
	}
	info, err := os.Stat(filepath.Join(dir, devKeysName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev keys file: %v %v", info, err)
	}
	c2, _ := Load(getenv(map[string]string{"DEV_STATE_DIR": dir}))
	if c2.EncryptionKeys != c1.EncryptionKeys {
		t.Fatal("a second start must reuse the kept keys, or sealed data would not open")
	}
	if c1.HTTPAddr != "127.0.0.1:8080" || c1.SandboxAddr != "127.0.0.1:8081" {
		t.Fatalf("defaults: %s %s", c1.HTTPAddr, c1.SandboxAddr)
	}
}

func TestUpstreamModeRefusesWithoutRealKeys(t *testing.T) {
	_, err := Load(getenv(map[string]string{"GOPAY_BASE_URL": "https://public-mini-app-merchants.gopayapi.com", "DEV_STATE_DIR": t.TempDir()}))
	if err == nil {
		t.Fatal("started in upstream mode without credentials")
	}
	for _, want := range []string{"GOPAY_CLIENT_ID", "ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "SESSION_KEYS",
		"SNAP_BASE_URL", "MIDTRANS_BASE_URL", "SNAP_PRIVATE_KEY_FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestValidation(t *testing.T) {
	full := map[string]string{
		"GOPAY_BASE_URL": "https://gopay.example", "GOPAY_CLIENT_ID": "id", "GOPAY_CLIENT_SECRET": "s",
		"SNAP_BASE_URL": "https://snap.example", "SNAP_CLIENT_KEY": "ck", "SNAP_CLIENT_SECRET": "cs",
		"SNAP_PRIVATE_KEY_FILE": "/etc/bff/snap.pem", "SNAP_PARTNER_ID": "P1", "SNAP_MERCHANT_ID": "G12345",
		"MIDTRANS_BASE_URL": "https://core.example", "MIDTRANS_SERVER_KEY": "sk",
		"ENCRYPTION_KEYS": seal.NewKeySpec("k", 32), "SESSION_KEYS": seal.NewKeySpec("k", 32),
		"BLIND_INDEX_KEY":  seal.NewKeySpec("x", 32)[2:],
		"INTERNAL_CLIENTS": "payments:" + HashSecret("s3cret"),
		"CARD_BASE_URL":    "https://snap.example", "CARD_CLIENT_ID": "CARDCLIENT0123456789012345678901",
		"CARD_MERCHANT_ID": "G12345", "CARD_WEBVIEW_BASE_URL": "https://webview.example/card", "PUBLIC_BASE_URL": "https://bff.example",
	}
	if _, err := Load(getenv(full)); err != nil {
		t.Fatalf("complete upstream config rejected: %v", err)
	}
	tests := []struct{ key, value, want string }{
		{"GOPAY_BASE_URL", "http://gopay.example", "https"},
		{"HTTP_ADDR", "8080", "HTTP_ADDR"},
		{"ENCRYPTION_KEYS", "k:AAAA", "ENCRYPTION_KEYS"},
		{"BLIND_INDEX_KEY", "short", "BLIND_INDEX_KEY"},
		{"GOPAY_MAX_ATTEMPTS", "0", "GOPAY_MAX_ATTEMPTS"},
		{"IDEMPOTENCY_LOCK_TTL", "2s", "IDEMPOTENCY_LOCK_TTL"},
		{"REQUEST_TIMEOUT", "26s", "REQUEST_TIMEOUT"}, // the default HTTP_WRITE_TIMEOUT is 30s: 5s must be left
		{"PAYMENT_OPTIONS_CACHE_TTL", "2m", "PAYMENT_OPTIONS_CACHE_TTL"},
		{"LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"DATABASE_URL", "mysql://x", "DATABASE_URL"},
		{"SESSION_TTL", "soon", "SESSION_TTL"},
		{"SNAP_BASE_URL", "", "SNAP_BASE_URL"}, // half-configured: one upstream left to the sandbox
		{"SNAP_CHANNEL_ID", "1234", "SNAP_CHANNEL_ID"},
		{"INTERNAL_CLIENTS", "payments:plaintext-secret", "INTERNAL_CLIENTS"},
		{"MIDTRANS_SERVER_KEY", "", "MIDTRANS_SERVER_KEY"},
		{"CARD_CLIENT_ID", "short", "CARD_CLIENT_ID"},
		{"CARD_MERCHANT_ID", "G1234", "CARD_MERCHANT_ID"},
		{"PUBLIC_BASE_URL", "", "PUBLIC_BASE_URL"},
		{"CORS_ALLOWED_ORIGINS", "*", "CORS_ALLOWED_ORIGINS"},
		{"CORS_ALLOWED_ORIGINS", "https://*.example.com", "CORS_ALLOWED_ORIGINS"},
		{"CORS_ALLOWED_ORIGINS", "https://miniapp.example.com/app", "CORS_ALLOWED_ORIGINS"},
		{"CORS_ALLOWED_ORIGINS", "https://miniapp.example.com, ftp://x.example", "CORS_ALLOWED_ORIGINS"},
		{"RATE_LIMIT_WRITES_PER_USER", "lots", "RATE_LIMIT_WRITES_PER_USER: cannot parse"},
		{"LOCKOUT_TOKEN_FAILURES_PER_IP", "5/10ms", "LOCKOUT_TOKEN_FAILURES_PER_IP"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range full {
				m[k] = v
			}
			m[tt.key] = tt.value
			_, err := Load(getenv(m))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %s", err, tt.want)
			}
		})
	}
	t.Run("LoopbackHTTPAllowed", func(t *testing.T) {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		m["GOPAY_BASE_URL"] = "http://127.0.0.1:8081"
		m["SNAP_BASE_URL"] = "http://localhost:8081"
		m["CARD_BASE_URL"] = "http://localhost:8081"
		m["CARD_WEBVIEW_BASE_URL"] = "http://localhost:8081/sandbox/card-webview"
		if _, err := Load(getenv(m)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLogFieldsMaskSecrets(t *testing.T) {
	secret := "super-secret-value"
	c, err := Load(getenv(map[string]string{
		"DEV_STATE_DIR": t.TempDir(), "GOPAY_CLIENT_SECRET": secret,
		"DATABASE_URL":     "postgres://app:dbpassword@db:5432/bff",
		"INTERNAL_CLIENTS": "payments:" + HashSecret("s3cret") + ",orders:" + HashSecret("other"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	buf, _ := enc.EncodeEntry(zapcore.Entry{Message: "configuration"}, c.LogFields())
	line := buf.String()
	// The hashes of internal client secrets could be brute-forced offline: only ids are shown.
	for _, leaked := range []string{secret, "dbpassword", c.EncryptionKeys, c.SessionKeys, c.BlindIndexKey,
		HashSecret("s3cret"), HashSecret("other")} {
		if strings.Contains(line, leaked) {
			t.Fatalf("secret in the configuration log line: %s", line)
		}
	}
	if !strings.Contains(line, `"GOPAY_CLIENT_SECRET":"(set)"`) || !strings.Contains(line, "app:xxxxx@db") ||
		!strings.Contains(line, `"INTERNAL_CLIENTS":"orders,payments"`) {
		t.Fatalf("masked values missing: %s", line)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	u := Usage()
	for _, name := range []string{"HTTP_ADDR", "DATABASE_URL", "REDIS_URL", "SANDBOX_ADDR", "GOPAY_BASE_URL",
		"GOPAY_CLIENT_ID", "GOPAY_CLIENT_SECRET", "ENCRYPTION_KEYS", "SESSION_KEYS", "BLIND_INDEX_KEY"} {
		if !strings.Contains(u, name) {
			t.Errorf("usage lacks %s", name)
		}
	}
}

// A dev-keys file from an older version gets its missing values, and keeps the ones it had.
func TestDevKeysFileUpgrade(t *testing.T) {
	dir := t.TempDir()
	old := `{"encryption_keys":"` + seal.NewKeySpec("old", 32) + `","gopay_client_id":"sandbox-client","gopay_client_secret":"kept"}`
	if err := os.WriteFile(filepath.Join(dir, devKeysName), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(getenv(map[string]string{"DEV_STATE_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if c.GoPayClientSecret != "kept" || !strings.HasPrefix(c.EncryptionKeys, "old:") {
		t.Fatal("existing development keys were replaced")
	}
	if c.SNAPClientSecret == "" || c.MidtransServerKey == "" || c.InternalClients == "" {
		t.Fatalf("missing values not filled: %+v", c)
	}
	again, _ := Load(getenv(map[string]string{"DEV_STATE_DIR": dir}))
	if again.SNAPClientSecret != c.SNAPClientSecret {
		t.Fatal("filled values were not saved")
	}
}

// Issue 8: every problem at once, in the order the variables are declared, whatever they are
// (a duration that does not parse used to hide the rest); a set URL that is wrong is told
// what is wrong with it, not that "all must be set".
func TestProblemsAreReportedAllAtOnceInOrder(t *testing.T) {
	m := map[string]string{
		"DEV_STATE_DIR": t.TempDir(), "HTTP_ADDR": "8080", "SESSION_TTL": "soon", "GOPAY_MAX_ATTEMPTS": "0",
		"GOPAY_BASE_URL": "http://gopay.example", "LOG_LEVEL": "loud",
	}
	var first string
	for i := range 5 {
		_, err := Load(getenv(m))
		if err == nil {
			t.Fatal("accepted")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("the report changed between runs:\n%s\n---\n%s", first, err)
		}
	}
	lines := strings.Split(first, "\n")
	var names []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		names = append(names, name)
	}
	want := []string{"HTTP_ADDR", "GOPAY_BASE_URL", "GOPAY_MAX_ATTEMPTS", "SNAP_BASE_URL", "MIDTRANS_BASE_URL",
		"CARD_BASE_URL", "CARD_WEBVIEW_BASE_URL", "PUBLIC_BASE_URL"}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Errorf("%s not reported:\n%s", w, first)
		}
	}
	for _, w := range []string{"SESSION_TTL: cannot parse", "LOG_LEVEL"} {
		if !strings.Contains(first, w) {
			t.Errorf("%q not reported:\n%s", w, first)
		}
	}
	for i := 1; i < len(lines); i++ {
		if order(names[i-1]) > order(names[i]) {
			t.Fatalf("not in declaration order (%s before %s):\n%s", names[i-1], names[i], first)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "GOPAY_BASE_URL") && (!strings.Contains(l, "https") || strings.Contains(l, "all five")) {
			t.Fatalf("a set but wrong URL must be told what is wrong: %s", l)
		}
		if strings.HasPrefix(l, "SNAP_BASE_URL") && !strings.Contains(l, "all five") {
			t.Fatalf("a missing URL must be told all five are needed: %s", l)
		}
	}
}

func order(name string) int {
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("env") == name {
			return i
		}
	}
	return -1
}
