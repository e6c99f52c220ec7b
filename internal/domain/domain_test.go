package domain

import (
	"errors"
	"fmt"
	"testing"
)

func TestMaskAccountNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"11223344456", "******4456"},
		{"1234", "******1234"},
		{"12", "******12"},
		{"", "******"},
	}
	for _, tt := range tests {
		if got := MaskAccountNumber(tt.in); got != tt.want {
			t.Errorf("MaskAccountNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	d := BankDetails{BankCode: "jago", AccountName: "Rafa", AccountNumber: "11223344456"}
	if s := fmt.Sprintf("%v", d); s != "jago ******4456" {
		t.Errorf("BankDetails prints %q; the full number must never print", s)
	}
}

func TestAsKeepsKindThroughWrapping(t *testing.T) {
	base := Invalid("account_token", "required")
	err := fmt.Errorf("outer: %w", base)
	Wrap(&err, "op")
	if got := As(err); got != base {
		t.Fatalf("As lost the domain error: %v", got)
	}
	if got := As(errors.New("boom")); got.Kind != KindInternal || got.Message != "internal error" {
		t.Fatalf("a plain error must become an opaque internal error, got %+v", got)
	}
}

func TestAmount(t *testing.T) {
	for in, want := range map[string]string{"7985000": "7985000.00", "350000.5": "350000.50", "1000000.00": "1000000.00", "0": "0.00", "007.5": "7.50", "000": "0.00"} {
		if got, err := Amount(in); err != nil || got != want {
			t.Errorf("Amount(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1e6", "1.234", "abc", ".5", "1,000"} {
		if _, err := Amount(bad); err == nil {
			t.Errorf("Amount(%q) accepted", bad)
		}
	}
}
