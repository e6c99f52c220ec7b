// Package session issues and verifies the short-lived session tokens the mini app frontend
// sends as `Authorization: Bearer`. They are JWTs signed with HMAC-SHA256 under a keyring:
// the first key signs, every key verifies (by the `kid` header), so keys rotate without
// logging anyone out.
package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/seal"
)

const (
	issuer   = "gopay-bff"
	audience = "miniapp"
)

// Signer issues and verifies session tokens.
type Signer struct {
	keys    []seal.Key
	byID    map[string][]byte
	ttl     time.Duration
	now     func() time.Time
	parser  *jwt.Parser
	primary seal.Key
}

// NewSigner builds a signer from at least one 32-byte key.
func NewSigner(keys []seal.Key, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(keys) == 0 || ttl <= 0 {
		return nil, errors.New("session: keys and a positive ttl are required")
	}
	if now == nil {
		now = time.Now
	}
	s := &Signer{keys: keys, byID: map[string][]byte{}, ttl: ttl, now: now, primary: keys[0]}
	for _, k := range keys {
		s.byID[k.ID] = k.Secret
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now), jwt.WithLeeway(5*time.Second),
	)
	return s, nil
}

// Issue returns a token for the user and its expiry.
func (s *Signer) Issue(userID uuid.UUID) (token string, expiresAt time.Time, err error) {
	now := s.now()
	expiresAt = now.Add(s.ttl).Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   userID.String(),
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
		ID:        uuid.NewString(),
	})
	t.Header["kid"] = s.primary.ID
	token, err = t.SignedString(s.primary.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session: sign: %w", err)
	}
	return token, expiresAt, nil
}

// ErrInvalid is returned for any token that does not verify; the reason is not disclosed.
var ErrInvalid = errors.New("session: invalid or expired token")

// Verify returns the user id of a valid token.
func (s *Signer) Verify(token string) (uuid.UUID, error) {
	var claims jwt.RegisteredClaims
	_, err := s.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := s.byID[kid]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return key, nil
	})
	if err != nil {
		return uuid.Nil, ErrInvalid
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil {
		return uuid.Nil, ErrInvalid
	}
	return id, nil
}
