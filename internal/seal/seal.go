// Package seal encrypts data at rest: AES-256-GCM under a keyring whose first key seals and
// whose every key opens, so keys can be rotated without rewriting old rows at once. Callers
// bind each ciphertext to its row with associated data (the owner and the column), so a sealed
// value copied into another user's row or another column fails to open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const version byte = 1

// Key is a named secret, as parsed from "id:base64" specs.
type Key struct {
	ID     string
	Secret []byte
}

// ParseKeys parses "id1:base64,id2:base64". Every secret must be exactly size bytes. The first
// key is the primary one.
func ParseKeys(spec string, size int) ([]Key, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("no keys")
	}
	var keys []Key
	seen := map[string]bool{}
	for i, part := range strings.Split(spec, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" || len(id) > 32 {
			return nil, fmt.Errorf("key %d: want id:base64 with an id of 1 to 32 characters", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("key %d: duplicate id %q", i+1, id)
		}
		seen[id] = true
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: not standard base64", id)
		}
		if len(secret) != size {
			return nil, fmt.Errorf("key %q: %d bytes, want %d", id, len(secret), size)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// NewKeySpec returns a spec with one fresh random key of size bytes, for development.
func NewKeySpec(id string, size int) string {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

// Keyring seals with its primary key and opens with any of its keys.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring from 32-byte keys; keys[0] is the primary.
func NewKeyring(keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no keys")
	}
	k := &Keyring{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, key := range keys {
		if len(key.Secret) != 32 {
			return nil, fmt.Errorf("seal: key %q is not 32 bytes (AES-256)", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// Sealer is what a store needs from a Keyring: stores that keep secrets outside PostgreSQL
// (Redis) take one, so tests can hand them any keyring.
type Sealer interface {
	Seal(plaintext []byte, aad ...string) ([]byte, error)
	Open(sealed []byte, aad ...string) ([]byte, error)
}

var _ Sealer = (*Keyring)(nil)

// Seal encrypts plaintext bound to the associated data parts.
// Layout: version | len(keyID) | keyID | nonce | ciphertext+tag.
func (k *Keyring) Seal(plaintext []byte, aad ...string) ([]byte, error) {
	aead := k.aeads[k.primary]
	out := make([]byte, 0, 2+len(k.primary)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, version, byte(len(k.primary)))
	out = append(out, k.primary...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, joinAAD(aad)), nil
}

// ErrOpen is returned for any ciphertext that does not open: tampered, moved to another row,
// or sealed under a key this keyring no longer holds. It deliberately says no more.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Open decrypts a value made by Seal with the same associated data.
func (k *Keyring) Open(sealed []byte, aad ...string) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != version {
		return nil, ErrOpen
	}
	idLen := int(sealed[1])
	if len(sealed) < 2+idLen {
		return nil, ErrOpen
	}
	aead, ok := k.aeads[string(sealed[2:2+idLen])]
	if !ok {
		return nil, ErrOpen
	}
	rest := sealed[2+idLen:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], joinAAD(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// KeyID reports which key sealed a value, so a rotation job can find rows to re-seal.
func KeyID(sealed []byte) string {
	if len(sealed) < 2 || len(sealed) < 2+int(sealed[1]) {
		return ""
	}
	return string(sealed[2 : 2+int(sealed[1])])
}

// joinAAD length-prefixes each part so ("ab","c") and ("a","bc") differ.
func joinAAD(parts []string) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, byte(len(p)>>8), byte(len(p)))
		b = append(b, p...)
	}
	return b
}

// Index is a keyed blind index: equal inputs give equal outputs under one key, and nobody
// without the key can test a guess. It lets the database enforce uniqueness of a value it
// only holds sealed.
func Index(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(joinAAD(parts))
	return m.Sum(nil)
}
