package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// The classes come from a real server where one can be provoked without touching the shared
// PostgreSQL: our own backend terminated by an administrator (57P01, what a restart does to open
// connections), a refused connection, a statement that is simply wrong.
func TestUnavailableClassifiesRealServerErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.Postgres(t)

	victim, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, victim.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	terminated := waitForError(t, func() error { _, err := victim.Exec(ctx, "SELECT 1"); return err })
	afterwards := waitForError(t, func() error { _, err := victim.Exec(ctx, "SELECT 1"); return err })

	refusedCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, refused := pgx.Connect(refusedCtx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable")

	_, syntax := admin.Exec(ctx, "SELEC 1")
	_, _ = admin.Exec(ctx, "CREATE TABLE u (k int PRIMARY KEY)")
	_, _ = admin.Exec(ctx, "INSERT INTO u VALUES (1)")
	_, unique := admin.Exec(ctx, "INSERT INTO u VALUES (1)")

	cancelled, stop := context.WithCancel(ctx)
	stop()
	_, canceled := admin.Exec(cancelled, "SELECT 1")

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"AdminTerminated", terminated, true},
		{"DeadConnection", afterwards, true},
		{"Refused", refused, true},
		{"ConnectionException08006", &pgconn.PgError{Code: "08006"}, true},
		{"CrashShutdown57P02", &pgconn.PgError{Code: "57P02"}, true},
		{"CannotConnectNow57P03", &pgconn.PgError{Code: "57P03"}, true},
		{"TooManyConnections53300", &pgconn.PgError{Code: "53300"}, true},
		{"ReadOnlyStandby25006", &pgconn.PgError{Code: "25006"}, true},
		{"Serialization40001", &pgconn.PgError{Code: "40001"}, true},
		{"Deadlock40P01", &pgconn.PgError{Code: "40P01"}, true},
		{"SyntaxIsABug", syntax, false},
		{"UniqueViolationIsNotABlip", unique, false},
		{"ClientWentAway", canceled, false},
		{"NotFound", domain.NotFound("x"), false},
		{"PlainBug", errors.New("nil map"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the provoked error did not happen")
			}
			if got := unavailable(tc.err); got != tc.want {
				t.Fatalf("unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
			err := fmt.Errorf("wrapped: %w", tc.err)
			wrap(&err, "repo.Test")
			if kind := domain.As(err).Kind; (kind == domain.KindUnavailable) != tc.want {
				t.Fatalf("wrapped kind %v, want unavailable=%v", kind, tc.want)
			}
			if tc.want && domain.As(err).Code != domain.CodeStoreUnavailable {
				t.Fatalf("code %q", domain.As(err).Code)
			}
		})
	}
}

func waitForError(t *testing.T, f func() error) error {
	t.Helper()
	for range 50 {
		if err := f(); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no error")
	return nil
}

// Postgres aborts one party of a serialization failure or a deadlock; inTx runs the function
// again, and only a failure that persists becomes store_unavailable.
func TestInTxRetriesSerializationFailures(t *testing.T) {
	t.Parallel()
	users, _ := newRepos(t)
	ctx := context.Background()
	calls := 0
	err := inTx(ctx, users.pool, func(tx pgx.Tx) error {
		calls++
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			return err
		}
		if calls < txAttempts {
			return &pgconn.PgError{Code: serializationFailure}
		}
		return nil
	})
	if err != nil || calls != txAttempts {
		t.Fatalf("err %v after %d calls, want success on call %d", err, calls, txAttempts)
	}
	calls = 0
	err = inTx(ctx, users.pool, func(pgx.Tx) error { calls++; return &pgconn.PgError{Code: deadlockDetected} })
	wrap(&err, "repo.Test")
	if calls != txAttempts || domain.As(err).Code != domain.CodeStoreUnavailable {
		t.Fatalf("%d calls, %v", calls, err)
	}
	calls = 0
	err = inTx(ctx, users.pool, func(pgx.Tx) error { calls++; return &pgconn.PgError{Code: "23505"} })
	if calls != 1 || err == nil {
		t.Fatalf("a unique violation was retried (%d calls)", calls)
	}
}
