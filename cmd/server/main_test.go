package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gopay-miniapp/bff/internal/testenv"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelpListsVariables(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-help"}, envOf(nil), &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"migrate up|down", "HTTP_ADDR", "GOPAY_CLIENT_SECRET", "ENCRYPTION_KEYS"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	err := run(context.Background(), nil, envOf(map[string]string{"HTTP_ADDR": "nonsense", "DEV_STATE_DIR": t.TempDir()}), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Fatalf("err = %v", err)
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	dbURL := testenv.Postgres(t)
	env := envOf(map[string]string{"DATABASE_URL": dbURL, "DEV_STATE_DIR": t.TempDir(), "LOG_LEVEL": "error"})
	tables := func() int {
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		var n int
		if err := conn.QueryRow(context.Background(),
			`SELECT count(*) FROM information_schema.tables WHERE table_name IN ('users','bank_accounts','gopay_links','payment_options','card_bindings')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, step := range []struct {
		dir  string
		want int
	}{{"up", 5}, {"down", 4}, {"up", 5}, {"up", 5}} { // down rolls back one migration
		if err := run(context.Background(), []string{"migrate", step.dir}, env, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatalf("migrate %s: %v", step.dir, err)
		}
		if got := tables(); got != step.want {
			t.Fatalf("after migrate %s: %d tables, want %d", step.dir, got, step.want)
		}
	}
	if err := run(context.Background(), []string{"migrate", "sideways"}, env, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown direction accepted")
	}
}
