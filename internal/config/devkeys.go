package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopay-miniapp/bff/internal/seal"
)

// devKeys are generated once per checkout in sandbox mode and kept in DEV_STATE_DIR, so data
// sealed by one `make run` still opens in the next. They are never used in upstream mode.
type devKeys struct {
	EncryptionKeys    string `json:"encryption_keys"`
	BlindIndexKey     string `json:"blind_index_key"`
	SessionKeys       string `json:"session_keys"`
	GoPayClientID     string `json:"gopay_client_id"`
	GoPayClientSecret string `json:"gopay_client_secret"`
}

const devKeysName = "dev-keys.json"

func (c *Config) fillDevKeys() error {
	if c.EncryptionKeys != "" && c.BlindIndexKey != "" && c.SessionKeys != "" &&
		c.GoPayClientID != "" && c.GoPayClientSecret != "" {
		return nil
	}
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
	c.DevKeysFile = path
	return nil
}

func loadOrCreateDevKeys(path string) (*devKeys, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the path comes from the operator's own DEV_STATE_DIR
	if err == nil {
		var k devKeys
		if err := json.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("unreadable (delete it to start afresh): %w", err)
		}
		return &k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	k := &devKeys{
		EncryptionKeys:    seal.NewKeySpec("dev1", 32),
		BlindIndexKey:     seal.NewKeySpec("x", 32)[2:],
		SessionKeys:       seal.NewKeySpec("dev1", 32),
		GoPayClientID:     "sandbox-client",
		GoPayClientSecret: base64.RawURLEncoding.EncodeToString(secret),
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	b, err = json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	// Write to a temporary name and rename, so two instances starting together never read a
	// half-written file.
	tmp := path + "." + hex.EncodeToString(secret[:4])
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			return loadOrCreateDevKeys(path) // another instance won the race
		}
		return nil, err
	}
	return k, os.Remove(tmp)
}
