package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustRing(t testing.TB, specs ...string) *Keyring {
	t.Helper()
	keys, err := ParseKeys(strings.Join(specs, ","), 32)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustRing(t, NewKeySpec("k1", 32))
	sealed, err := k.Seal([]byte("11223344456"), "user-a", "account_number")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("11223344456")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := k.Open(sealed, "user-a", "account_number")
	if err != nil || string(got) != "11223344456" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if KeyID(sealed) != "k1" {
		t.Fatalf("KeyID = %q", KeyID(sealed))
	}
}

func TestOpenRejects(t *testing.T) {
	k := mustRing(t, NewKeySpec("k1", 32))
	sealed, _ := k.Seal([]byte("secret"), "user-a", "col")
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	other := mustRing(t, NewKeySpec("k2", 32))
	tests := []struct {
		name   string
		ring   *Keyring
		sealed []byte
		aad    []string
	}{
		{"OtherOwner", k, sealed, []string{"user-b", "col"}},
		{"OtherColumn", k, sealed, []string{"user-a", "other"}},
		{"ShiftedAAD", k, sealed, []string{"user-ac", "ol"}},
		{"Tampered", k, tampered, []string{"user-a", "col"}},
		{"UnknownKey", other, sealed, []string{"user-a", "col"}},
		{"Truncated", k, sealed[:10], []string{"user-a", "col"}},
		{"Empty", k, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.ring.Open(tt.sealed, tt.aad...); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldSpec := NewKeySpec("2025", 32)
	old := mustRing(t, oldSpec)
	sealed, _ := old.Seal([]byte("v"), "u")
	rotated := mustRing(t, NewKeySpec("2026", 32), oldSpec)
	if got, err := rotated.Open(sealed, "u"); err != nil || string(got) != "v" {
		t.Fatalf("rotated ring cannot open old value: %v", err)
	}
	fresh, _ := rotated.Seal([]byte("v"), "u")
	if KeyID(fresh) != "2026" {
		t.Fatalf("new values must use the primary key, got %q", KeyID(fresh))
	}
}

func TestParseKeys(t *testing.T) {
	good := NewKeySpec("a", 32)
	tests := []struct {
		name, spec, wantErr string
	}{
		{"Empty", "", "no keys"},
		{"NoID", ":AAAA", "id:base64"},
		{"NotBase64", "a:***", "base64"},
		{"WrongSize", "a:AAAA", "want 32"},
		{"Duplicate", good + "," + good, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(tt.spec, 32)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(tt.spec, "AAAA") && strings.Contains(err.Error(), "AAAA") {
				t.Fatal("error message echoes key material")
			}
		})
	}
}

func TestIndexIsKeyedAndUnambiguous(t *testing.T) {
	a := Index([]byte("k1"), "jago", "123")
	if !bytes.Equal(a, Index([]byte("k1"), "jago", "123")) {
		t.Fatal("index not deterministic")
	}
	if bytes.Equal(a, Index([]byte("k2"), "jago", "123")) {
		t.Fatal("index ignores key")
	}
	if bytes.Equal(a, Index([]byte("k1"), "jago1", "23")) {
		t.Fatal("index ambiguous across part boundaries")
	}
}

// FuzzOpen opens whatever a database row or a Redis value could hold: only a value this
// keyring sealed, with the same associated data, ever opens; nothing panics. Mutations of a
// real sealed value are the interesting inputs, so the seeds are sealed values.
func FuzzOpen(f *testing.F) {
	k := mustRing(f, NewKeySpec("k1", 32), NewKeySpec("k2", 32))
	good, err := k.Seal([]byte("0123456789"), "user", "column")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "user")
	f.Add(good[:len(good)-1], "user")
	f.Add([]byte{1, 255}, "user")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, sealed []byte, user string) {
		plain, err := k.Open(sealed, user, "column")
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("error other than ErrOpen: %v", err)
			}
			return
		}
		if !bytes.Equal(sealed, good) || user != "user" || string(plain) != "0123456789" {
			t.Fatalf("opened a value it did not seal: %x (%q) -> %q", sealed, user, plain)
		}
	})
}
