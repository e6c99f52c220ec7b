package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/testenv"
	"github.com/gopay-miniapp/bff/migrations"
)

func newRepos(t *testing.T) (*Users, *BankAccounts) {
	t.Helper()
	ctx := context.Background()
	pool, err := Open(ctx, testenv.Postgres(t), 4, PoolOptions{})
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
	return NewUsers(pool, ring), NewBankAccounts(pool, ring, testIndexKey)
}

var testIndexKey = []byte("0123456789abcdef0123456789abcdef")

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
	links := NewGoPayLinks(users.pool, users.ring, testIndexKey)
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

// A refresh rewrites only the options that changed (same row version otherwise), drops the
// ones GoPay no longer lists, stamps the link, and writes nothing for a link no longer active.
func TestReplaceOptionsChangesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	users, _ := newRepos(t)
	links := NewGoPayLinks(users.pool, users.ring, testIndexKey)
	ctx := context.Background()
	u, err := users.Upsert(ctx, "gpa-refresh", "tok")
	if err != nil {
		t.Fatal(err)
	}
	l, err := links.Save(ctx, domain.GoPayLink{UserID: u.ID, Mode: domain.LinkSNAP, Status: domain.LinkActive,
		Phone: "81200009999", Name: "N", CustomerToken: "customer-token"})
	if err != nil {
		t.Fatal(err)
	}
	versions := func() map[int]string { // position -> row version (ctid changes on every write)
		rows, err := users.pool.Query(ctx, `SELECT position, ctid::text FROM payment_options WHERE link_id = $1`, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := map[int]string{}
		for rows.Next() {
			var p int
			var ctid string
			if err := rows.Scan(&p, &ctid); err != nil {
				t.Fatal(err)
			}
			v[p] = ctid
		}
		return v
	}
	opts := []domain.PaymentOption{
		{Name: "GOPAY_WALLET", Active: true, Balance: "7985000.00", Currency: "IDR", Token: "wallet-1"},
		{Name: "PAY_LATER", Active: true, Balance: "350000.00", Currency: "IDR", Token: "later-1"},
		{Name: "GOPAY_SAVINGS", Active: true, Balance: "1200000.00", Currency: "IDR", Token: "savings-1"},
	}
	t0 := time.Now().Truncate(time.Microsecond)
	if err := links.ReplaceOptions(ctx, u.ID, l.ID, opts, t0); err != nil {
		t.Fatal(err)
	}
	first := versions()

	// The same options again: only the link's stamp moves.
	if err := links.ReplaceOptions(ctx, u.ID, l.ID, opts, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if again := versions(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("an unchanged refresh rewrote options: %v -> %v", first, again)
	}
	got, stored, err := links.WithOptions(ctx, u.ID)
	if err != nil || !got.OptionsRefreshedAt.Equal(t0.Add(time.Second)) || len(stored) != 3 {
		t.Fatalf("after an unchanged refresh: refreshed %v, %d options, %v", got.OptionsRefreshedAt, len(stored), err)
	}

	// PAY_LATER's token changes, the wallet's balance changes, savings is gone.
	changed := []domain.PaymentOption{opts[0], opts[1]}
	changed[0].Balance = "7000000.00"
	changed[1].Token = "later-2"
	if err := links.ReplaceOptions(ctx, u.ID, l.ID, changed, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	after := versions()
	if len(after) != 2 || after[0] == first[0] || after[1] == first[1] {
		t.Fatalf("changed options not rewritten or the dropped one kept: %v -> %v", first, after)
	}
	_, stored, err = links.WithOptions(ctx, u.ID)
	if err != nil || len(stored) != 2 || stored[0].Balance != "7000000.00" || stored[1].Token != "later-2" {
		t.Fatalf("stored after the change: %+v %v", stored, err)
	}
	if err := links.ReplaceOptions(ctx, u.ID, l.ID, changed[:1], t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if v := versions(); len(v) != 1 || v[0] != after[0] {
		t.Fatalf("dropping the last option touched the first: %v -> %v", after, v)
	}

	if err := links.SetStatus(ctx, u.ID, domain.LinkInactive); err != nil {
		t.Fatal(err)
	}
	if err := links.ReplaceOptions(ctx, u.ID, l.ID, opts, t0.Add(4*time.Second)); err == nil {
		t.Fatal("a refresh of an inactive link was stored")
	}
	if v := versions(); len(v) != 0 {
		t.Fatalf("an inactive link got options: %v", v)
	}
}

// Expand/contract: a binary stays ready while a newer release's migrations (up to
// NewerCompatible of them) are applied, and start-up does not trip over them; a database that
// is behind, or too far ahead, is not ready.
func TestMigrationCompatibilityWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := Open(ctx, testenv.Postgres(t), 2, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(pool, "up"); err != nil {
		t.Fatal(err)
	}
	own, _ := LatestMigration()
	at := func(v uint) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE schema_migrations SET version = $1`, int64(v)); err != nil {
			t.Fatal(err)
		}
	}
	for ahead := uint(1); ahead <= migrations.NewerCompatible; ahead++ {
		at(own + ahead)
		if err := CheckMigrations(ctx, pool); err != nil {
			t.Fatalf("%d migrations ahead: %v, want ready", ahead, err)
		}
		if err := Migrate(pool, "up"); err != nil {
			t.Fatalf("start-up against a database %d ahead: %v", ahead, err)
		}
	}
	at(own + migrations.NewerCompatible + 1)
	if err := CheckMigrations(ctx, pool); err == nil {
		t.Fatal("ready against a database beyond the compatible window")
	}
	at(own - 1)
	if err := CheckMigrations(ctx, pool); err == nil || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("a database behind the binary: %v, want an error that says to migrate", err)
	}
}
