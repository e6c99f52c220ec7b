package seal

import "testing"

// Sealing sits on the link path; these report its cost next to a blind-index HMAC.
func BenchmarkSeal(b *testing.B) {
	k := mustRing(b, NewKeySpec("k1", 32))
	for b.Loop() {
		if _, err := k.Seal([]byte("11223344456"), "0b7e3c2a-4b1d-4f7e-9a51-3c1f2d4e5a6b", "bank_accounts.account_number"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustRing(b, NewKeySpec("k1", 32))
	sealed, _ := k.Seal([]byte("11223344456"), "owner", "col")
	for b.Loop() {
		if _, err := k.Open(sealed, "owner", "col"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndex(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for b.Loop() {
		Index(key, "owner", "jago", "11223344456")
	}
}
