package session

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/seal"
)

func keys(t testing.TB, specs ...string) []seal.Key {
	t.Helper()
	k, err := seal.ParseKeys(strings.Join(specs, ","), 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIssueVerify(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	oldSpec, newSpec := seal.NewKeySpec("old", 32), seal.NewKeySpec("new", 32)
	oldSigner, _ := NewSigner(keys(t, oldSpec), 15*time.Minute, AudienceMiniApp, clock)
	rotated, _ := NewSigner(keys(t, newSpec, oldSpec), 15*time.Minute, AudienceMiniApp, clock)
	stranger, _ := NewSigner(keys(t, seal.NewKeySpec("old", 32)), 15*time.Minute, AudienceMiniApp, clock)
	user := uuid.New()

	tok, exp, err := oldSigner.Issue(user.String())
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(15 * time.Minute)) {
		t.Fatalf("expiry %v", exp)
	}
	t.Run("OK", func(t *testing.T) {
		if got, err := oldSigner.VerifyUser(tok); err != nil || got != user {
			t.Fatalf("Verify = %v, %v", got, err)
		}
	})
	t.Run("OldKeyAfterRotation", func(t *testing.T) {
		if got, err := rotated.VerifyUser(tok); err != nil || got != user {
			t.Fatalf("rotated signer must accept tokens of the old key: %v", err)
		}
	})
	t.Run("ErrOtherSecretSameKid", func(t *testing.T) {
		if _, err := stranger.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		later, _ := NewSigner(keys(t, oldSpec), 15*time.Minute, AudienceMiniApp, func() time.Time { return now.Add(16 * time.Minute) })
		if _, err := later.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": uuid.NewString()})
		fp := strings.Split(must(forged.SignedString([]byte("x"))), ".")
		if _, err := oldSigner.Verify(parts[0] + "." + fp[1] + "." + parts[2]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrAlgNone", func(t *testing.T) {
		none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": user.String(), "iss": issuer,
			"aud": AudienceMiniApp, "exp": now.Add(time.Hour).Unix()})
		s, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if _, err := oldSigner.Verify(s); !errors.Is(err, ErrInvalid) {
			t.Fatalf("alg none accepted: %v", err)
		}
	})
	t.Run("ErrOtherAudience", func(t *testing.T) {
		internal, _ := NewSigner(keys(t, oldSpec), 15*time.Minute, AudienceInternal, clock)
		itok, _, _ := internal.Issue("payments")
		if _, err := oldSigner.Verify(itok); !errors.Is(err, ErrInvalid) {
			t.Fatal("an internal token opened a user audience")
		}
		if _, err := internal.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Fatal("a user session opened the internal audience")
		}
	})
	t.Run("ErrGarbage", func(t *testing.T) {
		if _, err := oldSigner.Verify("not-a-token"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// FuzzVerify verifies whatever arrives as a bearer token: nothing panics, the error says
// nothing, and whatever verifies names the subject this signer issued a token to (a mutated
// token may only verify if it decodes to the same signed bytes).
func FuzzVerify(f *testing.F) {
	s, err := NewSigner(keys(f, seal.NewKeySpec("k1", 32)), time.Hour, AudienceMiniApp, nil)
	if err != nil {
		f.Fatal(err)
	}
	sub := uuid.NewString()
	good, _, err := s.Issue(sub)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, good + "x", strings.Replace(good, "eyJ", "eyK", 1), "a.b.c", "", "..",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := s.VerifyUser(token)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error other than ErrInvalid: %v", err)
			}
			return
		}
		if got.String() != sub {
			t.Fatalf("verified a token it did not issue: %q -> %s", token, got)
		}
	})
}

// Verified tokens are remembered, never past their expiry, and only the exact bytes that
// verified: a cached session still expires, and a tampered copy is still refused.
func TestVerifiedCacheKeepsExpiryAndBytes(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, _ := NewSigner(keys(t, seal.NewKeySpec("k", 32)), 15*time.Minute, AudienceMiniApp, clock)
	user := uuid.NewString()
	tok, _, _ := s.Issue(user)
	for range 3 {
		if got, err := s.Verify(tok); err != nil || got != user {
			t.Fatalf("Verify = %q, %v", got, err)
		}
	}
	if _, ok := s.verified.get(tok, clock()); !ok {
		t.Fatal("a verified token was not remembered")
	}
	if _, err := s.Verify(tok[:len(tok)-2] + "xx"); !errors.Is(err, ErrInvalid) {
		t.Fatal("a tampered copy of a cached token verified")
	}
	mu.Lock()
	now = now.Add(15*time.Minute + 10*time.Second) // past expiry and the parser's 5 s leeway
	mu.Unlock()
	if _, err := s.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Fatal("a cached token verified after its expiry")
	}
}

// The cache is bounded: it never holds more than verifiedCacheSize tokens.
func TestVerifiedCacheIsBounded(t *testing.T) {
	var c verifiedCache
	exp := time.Now().Add(time.Hour)
	for i := range verifiedCacheSize + 10 {
		c.put(fmt.Sprint(i), "s", exp)
	}
	if n := len(c.entries); n > verifiedCacheSize {
		t.Fatalf("%d entries", n)
	}
}
