package config

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// devKeys are generated once per checkout in sandbox mode and kept in DEV_STATE_DIR, so data
// sealed by one `make run` still opens in the next. They are never used in upstream mode.
type devKeys struct {
	EncryptionKeys    string `json:"encryption_keys"`
	BlindIndexKey     string `json:"blind_index_key"`
	SessionKeys       string `json:"session_keys"`
	GoPayClientID     string `json:"gopay_client_id"`
	GoPayClientSecret string `json:"gopay_client_secret"`
	SNAPClientKey     string `json:"snap_client_key"`
	SNAPClientSecret  string `json:"snap_client_secret"`
	SNAPPartnerID     string `json:"snap_partner_id"`
	SNAPMerchantID    string `json:"snap_merchant_id"`
	MidtransServerKey string `json:"midtrans_server_key"`
	// The internal client's secret is kept here in clear for the README walk-through; the
	// service itself is configured with its hash only.
	CardClientID         string `json:"card_client_id"`
	CardMerchantID       string `json:"card_merchant_id"`
	InternalClientID     string `json:"internal_client_id"`
	InternalClientSecret string `json:"internal_client_secret"`
}

const snapKeyName = "snap-private-key.pem"

const devKeysName = "dev-keys.json"

func (c *Config) fillDevKeys() error {
	path := filepath.Join(c.DevStateDir, devKeysName)
	keys, err := loadOrCreateDevKeys(path)
	if err != nil {
		return fmt.Errorf("config: development keys %s: %w", path, err)
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&c.EncryptionKeys, keys.EncryptionKeys)
	fill(&c.BlindIndexKey, keys.BlindIndexKey)
	fill(&c.SessionKeys, keys.SessionKeys)
	fill(&c.GoPayClientID, keys.GoPayClientID)
	fill(&c.GoPayClientSecret, keys.GoPayClientSecret)
	fill(&c.SNAPClientKey, keys.SNAPClientKey)
	fill(&c.SNAPClientSecret, keys.SNAPClientSecret)
	fill(&c.SNAPPartnerID, keys.SNAPPartnerID)
	fill(&c.SNAPMerchantID, keys.SNAPMerchantID)
	fill(&c.MidtransServerKey, keys.MidtransServerKey)
	fill(&c.CardClientID, keys.CardClientID)
	fill(&c.CardMerchantID, keys.CardMerchantID)
	fill(&c.SNAPPrivateKeyFile, filepath.Join(c.DevStateDir, snapKeyName))
	if keys.InternalClientID != "" {
		fill(&c.InternalClients, keys.InternalClientID+":"+HashSecret(keys.InternalClientSecret))
	}
	c.DevKeysFile = path
	return nil
}

// HashSecret is how internal client secrets are configured and compared: SHA-256, hex. The
// secrets are long random strings, so a fast hash suffices (no dictionary to protect against).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func loadOrCreateDevKeys(path string) (*devKeys, error) {
	var k devKeys
	b, err := os.ReadFile(path) //nolint:gosec // the path comes from the operator's own DEV_STATE_DIR
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("unreadable (delete it to start afresh): %w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := writeSNAPKey(filepath.Join(filepath.Dir(path), snapKeyName)); err != nil {
		return nil, err
	}
	if !k.fillMissing() {
		return &k, nil
	}
	// New, or written by an older version: save the completed set. Write to a temporary name
	// and rename, so two instances starting together never read a half-written file.
	b, err = json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + "." + randomString()[:8]
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return &k, os.Rename(tmp, path)
}

// fillMissing generates every missing value and reports whether it changed anything. Existing
// keys are never replaced: data sealed under them must stay readable.
func (k *devKeys) fillMissing() bool {
	changed := false
	fill := func(dst *string, gen func() string) {
		if *dst == "" {
			*dst, changed = gen(), true
		}
	}
	fill(&k.EncryptionKeys, func() string { return seal.NewKeySpec("dev1", 32) })
	fill(&k.BlindIndexKey, func() string { return seal.NewKeySpec("x", 32)[2:] })
	fill(&k.SessionKeys, func() string { return seal.NewKeySpec("dev1", 32) })
	fill(&k.GoPayClientID, func() string { return "sandbox-client" })
	fill(&k.GoPayClientSecret, randomString)
	fill(&k.SNAPClientKey, func() string { return "sandbox-snap-client" })
	fill(&k.SNAPClientSecret, randomString)
	fill(&k.SNAPPartnerID, func() string { return "BFFSANDBOX" })
	fill(&k.SNAPMerchantID, func() string { return "G12345" })
	fill(&k.MidtransServerKey, func() string { return "SB-Mid-server-" + randomString() })
	fill(&k.CardClientID, func() string { return "SANDBOXPJP" + hex.EncodeToString([]byte(randomString()))[:22] })
	fill(&k.CardMerchantID, func() string { return "G12345" })
	fill(&k.InternalClientID, func() string { return "payments" })
	fill(&k.InternalClientSecret, randomString)
	return changed
}

func randomString() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeSNAPKey generates the sandbox's RSA key once; the embedded sandbox verifies with its
// public half, as Midtrans does with the key a merchant registers.
func writeSNAPKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	pemBytes, err := snapsig.NewPrivateKeyPEM()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // path from DEV_STATE_DIR
	if errors.Is(err, os.ErrExist) {
		return nil // another instance wrote it first
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(pemBytes); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// DevInternalClient is the internal client that sandbox mode configures from the development
// key file: what a developer's internal calls authenticate with (`server dev-credentials`).
func (c *Config) DevInternalClient() (id, secret string, err error) {
	if c.DevKeysFile == "" {
		return "", "", errors.New("no development credentials: the service is not in sandbox mode")
	}
	k, err := loadOrCreateDevKeys(c.DevKeysFile)
	if err != nil {
		return "", "", fmt.Errorf("development keys %s: %w", c.DevKeysFile, err)
	}
	return k.InternalClientID, k.InternalClientSecret, nil
}
