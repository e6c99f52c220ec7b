package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
		"Upstream mode (any upstream URL set) requires all of", "CARD_WEBVIEW_BASE_URL, PUBLIC_BASE_URL", "GOGC ", "default 400 here", "GOMEMLIMIT ", "default 90% of the container's"} {
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

// `server dev-credentials` prints the internal client sandbox mode configured, from wherever
// DEV_STATE_DIR points; outside sandbox mode there is none to print.
func TestDevCredentials(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"dev-credentials"}, envOf(map[string]string{"DEV_STATE_DIR": dir}), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var got, file map[string]string
	raw, err := os.ReadFile(filepath.Join(dir, "dev-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || json.Unmarshal(raw, &file) != nil {
		t.Fatalf("not JSON: %v %s", err, stdout.String())
	}
	if got["internal_client_id"] == "" || got["internal_client_secret"] != file["internal_client_secret"] ||
		got["internal_client_id"] != file["internal_client_id"] || len(got) != 2 {
		t.Fatalf("printed %v, the file holds %s/%s", got, file["internal_client_id"], file["internal_client_secret"])
	}
	cfg := envOf(map[string]string{"DEV_STATE_DIR": dir})
	if err := run(context.Background(), []string{"dev-credentials", "extra"}, cfg, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown command line accepted")
	}
}

// Ctrl-C (the context run gets from signal.NotifyContext) is a clean shutdown: run returns
// nil, so the process exits 0 (make run execs the binary, so make sees that status).
func TestSignalIsACleanExit(t *testing.T) {
	t.Parallel()
	redisURL, _, prefix := testenv.Redis(t)
	env := envOf(map[string]string{"DATABASE_URL": testenv.Postgres(t), "REDIS_URL": redisURL, "REDIS_KEY_PREFIX": prefix,
		"DEV_STATE_DIR": t.TempDir(), "LOG_LEVEL": "error", "HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0",
		"SANDBOX_ADDR": "127.0.0.1:0", "SHUTDOWN_DELAY": "0s"})
	ctx, interrupt := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, out, &bytes.Buffer{}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "api: http://") {
		if time.Now().After(deadline) {
			t.Fatalf("never started: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	interrupt()
	select {
	case err := <-done:
		if code := exitCode(err); err != nil || code != 0 {
			t.Fatalf("after the signal run returned %v (exit %d), want a clean exit", err, code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
