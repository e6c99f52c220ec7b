package idempotency

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/testenv"
)

// The Redis round trips every keyed POST pays: a fresh claim (SET NX + completion script)
// against a replay (SET NX + GET), side by side in one run.
func BenchmarkClaimAndComplete(b *testing.B) {
	_, rdb, prefix := testenv.Redis(b)
	s := NewStore(rdb, testenv.Keyring(b), prefix, time.Minute, time.Minute)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		c, _, err := s.Begin(ctx, "bench", "key-"+strconv.Itoa(i)+"-xxxxxx", "fp")
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Complete(ctx, Response{Status: 201, Body: []byte(`{"id":"x"}`)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplay(b *testing.B) {
	_, rdb, prefix := testenv.Redis(b)
	s := NewStore(rdb, testenv.Keyring(b), prefix, time.Minute, time.Minute)
	ctx := context.Background()
	c, _, _ := s.Begin(ctx, "bench", "replayed-key", "fp")
	_ = c.Complete(ctx, Response{Status: 201, Body: []byte(`{"id":"x"}`)})
	for b.Loop() {
		if _, r, err := s.Begin(ctx, "bench", "replayed-key", "fp"); err != nil || r == nil {
			b.Fatal(err)
		}
	}
}
