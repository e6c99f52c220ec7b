package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

func newRepos(t *testing.T) (*Users, *BankAccounts) {
	t.Helper()
	ctx := context.Background()
	pool, err := Open(ctx, testenv.Postgres(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(pool, "up"); err != nil {
		t.Fatal(err)
	}
	if err := CheckMigrations(ctx, pool); err != nil {
		t.Fatal(err)
	}
	keys, _ := seal.ParseKeys(seal.NewKeySpec("k1", 32), 32)
	ring, _ := seal.NewKeyring(keys)
	return NewUsers(pool, ring), NewBankAccounts(pool, ring, []byte("0123456789abcdef0123456789abcdef"))
}

func TestUsersUpsertKeepsOneUserAndRotatesToken(t *testing.T) {
	t.Parallel()
	users, _ := newRepos(t)
	ctx := context.Background()
	a, err := users.Upsert(ctx, "gpa-1", "token-one")
	if err != nil {
		t.Fatal(err)
	}
	b, err := users.Upsert(ctx, "gpa-1", "token-two")
	if err != nil || b.ID != a.ID {
		t.Fatalf("second sign-in made another user: %v %v", b.ID, err)
	}
	if tok, err := users.AuthToken(ctx, a.ID); err != nil || tok != "token-two" {
		t.Fatalf("AuthToken = %q, %v", tok, err)
	}
}

func TestBankAccountsSealedAndOwned(t *testing.T) {
	t.Parallel()
	users, accounts := newRepos(t)
	ctx := context.Background()
	alice, _ := users.Upsert(ctx, "gpa-alice", "t")
	bob, _ := users.Upsert(ctx, "gpa-bob", "t")
	d := domain.BankDetails{BankCode: "jago", AccountName: "Alice", AccountNumber: "11223344456"}

	a1, created, err := accounts.Upsert(ctx, alice.ID, d)
	if err != nil || !created || a1.Last4 != "4456" {
		t.Fatalf("%+v %v %v", a1, created, err)
	}
	a2, created, err := accounts.Upsert(ctx, alice.ID, d)
	if err != nil || created || a2.ID != a1.ID {
		t.Fatalf("same account linked twice: %v %v", created, err)
	}
	b1, created, err := accounts.Upsert(ctx, bob.ID, d)
	if err != nil || !created || b1.ID == a1.ID {
		t.Fatal("another user's identical account must be its own row")
	}
	got, err := accounts.Get(ctx, alice.ID, a1.ID)
	if err != nil || got.AccountNumber != "11223344456" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := accounts.Get(ctx, bob.ID, a1.ID); domain.As(err).Kind != domain.KindNotFound {
		t.Fatalf("bob reads alice's account: %v", err)
	}
	list, err := accounts.List(ctx, alice.ID)
	if err != nil || len(list) != 1 || list[0].AccountNumber != "" {
		t.Fatalf("List must not open numbers: %+v %v", list, err)
	}

	// An attacker with SQL access copies alice's sealed number into bob's row: it must not open.
	if _, err := accounts.pool.Exec(ctx, `UPDATE bank_accounts SET account_number_sealed =
		(SELECT account_number_sealed FROM bank_accounts WHERE id = $1) WHERE id = $2`, a1.ID, b1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Get(ctx, bob.ID, b1.ID); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("a sealed value moved to another owner opened: %v", err)
	}

	if err := accounts.Delete(ctx, bob.ID, a1.ID); domain.As(err).Kind != domain.KindNotFound {
		t.Fatalf("bob deleted alice's account: %v", err)
	}
	if err := accounts.Delete(ctx, alice.ID, a1.ID); err != nil {
		t.Fatal(err)
	}
}

// The accounts listing reads a page and the total in one query, and past the last page still
// knows the total.
func TestGoPayLinksPage(t *testing.T) {
	t.Parallel()
	users, _ := newRepos(t)
	links := NewGoPayLinks(users.pool, users.ring)
	ctx := context.Background()
	for i := range 3 {
		u, err := users.Upsert(ctx, fmt.Sprintf("gpa-page-%d", i), "tok")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := links.Save(ctx, domain.GoPayLink{UserID: u.ID, Mode: domain.LinkSNAP, Status: domain.LinkActive,
			Phone: fmt.Sprintf("8120000000%d", i), Email: "e@x.id", Name: "N", CustomerToken: "secret-token"}); err != nil {
			t.Fatal(err)
		}
	}
	for page, want := range map[int]int{1: 2, 2: 1, 3: 0} {
		got, total, err := links.Page(ctx, page, 2)
		if err != nil || len(got) != want || total != 3 {
			t.Fatalf("page %d: %d links, total %d, %v; want %d of 3", page, len(got), total, err, want)
		}
		for _, l := range got {
			if l.Phone == "" || l.Email != "e@x.id" || l.CustomerToken != "" {
				t.Fatalf("listing opened the wrong fields: %+v", l)
			}
		}
	}
}
