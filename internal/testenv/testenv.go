// Package testenv gives tests real dependencies, isolated per test: a fresh PostgreSQL
// database and a Redis key prefix, both removed when the test ends, so tests run in parallel
// and leave nothing behind. Set TEST_DATABASE_URL / TEST_REDIS_URL to use other servers, and
// TEST_REDIS_PREFIX to tag a run's keys.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/seal"
)

func serverURL(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Postgres creates an empty database for the test and returns its URL.
func Postgres(tb testing.TB) string {
	tb.Helper()
	admin := serverURL("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("testenv: PostgreSQL unreachable (%v); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	name := "bfftest_" + suffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer func() { _ = c.Close(ctx) }()
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// Redis returns the Redis URL, a client and a key prefix of the test's own; every key under
// the prefix is deleted when the test ends. With TEST_REDIS_CLUSTER_ADDRS set (make test runs
// the Redis-facing packages again against a three-master cluster, tools/redis-cluster.sh), the
// client is a Cluster client on those nodes; with TEST_REDIS_SENTINEL_ADDRS, a Sentinel client
// (tools/redis-sentinel.sh).
func Redis(tb testing.TB) (string, redis.UniversalClient, string) {
	tb.Helper()
	raw := serverURL("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	opts, err := redis.ParseURL(raw)
	if err != nil {
		tb.Fatal(err)
	}
	var rdb redis.UniversalClient = redis.NewClient(opts)
	if addrs := os.Getenv("TEST_REDIS_CLUSTER_ADDRS"); addrs != "" {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	}
	if addrs := os.Getenv("TEST_REDIS_SENTINEL_ADDRS"); addrs != "" { // tools/redis-sentinel.sh
		rdb = redis.NewFailoverClient(&redis.FailoverOptions{SentinelAddrs: strings.Split(addrs, ","),
			MasterName: os.Getenv("TEST_REDIS_SENTINEL_MASTER")})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("testenv: Redis unreachable (%v); start it: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no", err)
	}
	// TEST_REDIS_PREFIX lets `make fuzz` tag its keys: fuzz workers are killed, not cleaned
	// up, so it removes what they left under its own tag afterwards.
	prefix := serverURL("TEST_REDIS_PREFIX", "bfftest:") + suffix() + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		clean := func(ctx context.Context, node redis.UniversalClient) error {
			iter := node.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				node.Del(ctx, iter.Val())
			}
			return iter.Err()
		}
		var err error
		if cluster, ok := rdb.(*redis.ClusterClient); ok { // SCAN sees one node: visit each primary
			err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return clean(ctx, node) })
		} else {
			err = clean(ctx, rdb)
		}
		if err != nil {
			tb.Errorf("testenv: clean redis: %v", err)
		}
		_ = rdb.Close()
	})
	return raw, rdb, prefix
}

// Keys lists the keys matching pattern, on every primary of a cluster (KEYS asks one node).
func Keys(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	cluster, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Keys(ctx, pattern).Result()
	}
	var mu sync.Mutex
	var all []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		keys, err := node.Keys(ctx, pattern).Result()
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	slices.Sort(all)
	return all, err
}

// Keyring returns a keyring with one fresh key, for stores that seal what they keep.
func Keyring(tb testing.TB) *seal.Keyring {
	tb.Helper()
	keys, err := seal.ParseKeys(seal.NewKeySpec("test", 32), 32)
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := seal.NewKeyring(keys)
	if err != nil {
		tb.Fatal(err)
	}
	return ring
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// RSAKey is one RSA key for a test binary's SNAP signatures (generating one per test is slow).
func RSAKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// Eventually polls cond every 5 ms for up to 2 s and fails the test if it never holds: for
// what another instance or a background goroutine does a moment later.
func Eventually(tb testing.TB, cond func() bool, what string) {
	tb.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

// PrivateRedis starts a redis-server of the test's own on a free loopback port, for tests that
// stop it; it returns its URL and a stop function (also run at cleanup). Only this process is
// ever stopped, by its PID: the shared Redis is never touched.
func PrivateRedis(tb testing.TB) (string, func()) {
	tb.Helper()
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	cmd := exec.CommandContext(context.Background(), "redis-server", "--port", port, "--bind", "127.0.0.1", //nolint:gosec // a fixed program; the port is ours
		"--save", "", "--appendonly", "no", "--dir", tb.TempDir())
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testenv: start redis-server: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	tb.Cleanup(stop)
	u := "redis://127.0.0.1:" + port + "/0"
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	defer func() { _ = c.Close() }()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: the private redis-server on port %s did not answer within 10 s", port)
		}
	}
	return u, stop
}
