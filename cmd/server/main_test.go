package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gopay-miniapp/bff/internal/repo"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelpListsVariables(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-help"}, envOf(nil), &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"migrate up|down", "version", "HTTP_ADDR", "GOPAY_CLIENT_SECRET", "ENCRYPTION_KEYS",
		"Upstream mode (any upstream URL set) requires all of", "CARD_WEBVIEW_BASE_URL, PUBLIC_BASE_URL"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if code := exitCode(err); code != 0 {
		t.Errorf("-help exits %d, want 0", code)
	}
	if code := exitCode(errors.New("bad config")); code != 1 {
		t.Errorf("an error exits %d, want 1", code)
	}
}

// `server version` needs no configuration (it runs before it is read) and names the build.
func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"version"}, envOf(map[string]string{"HTTP_ADDR": "nonsense"}), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/gopay-miniapp/bff", "commit ", "built ", "go1."} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("version lacks %q: %s", want, stdout.String())
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
	// The schema's version, whatever the newest migration adds (a table or a column).
	version := func() uint {
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		var v int64
		if err := conn.QueryRow(context.Background(), `SELECT version FROM schema_migrations`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return uint(v)
	}
	latest, err := repo.LatestMigration()
	if err != nil || latest < 2 {
		t.Fatalf("latest migration %d: %v", latest, err)
	}
	for _, step := range []struct {
		dir  string
		want uint
	}{{"up", latest}, {"down", latest - 1}, {"up", latest}, {"up", latest}} { // down rolls back one migration
		if err := run(context.Background(), []string{"migrate", step.dir}, env, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatalf("migrate %s: %v", step.dir, err)
		}
		if got := version(); got != step.want {
			t.Fatalf("after migrate %s: schema version %d, want %d", step.dir, got, step.want)
		}
	}
	if err := run(context.Background(), []string{"migrate", "sideways"}, env, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown direction accepted")
	}
}
