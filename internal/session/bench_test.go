package session

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gopay-miniapp/bff/internal/seal"
)

// Verify runs on every authenticated request.
func BenchmarkVerify(b *testing.B) {
	keys, _ := seal.ParseKeys(seal.NewKeySpec("k1", 32), 32)
	s, _ := NewSigner(keys, time.Hour, AudienceMiniApp, nil)
	tok, _, _ := s.Issue(uuid.NewString())
	for b.Loop() {
		if _, err := s.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
