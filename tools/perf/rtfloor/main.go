// Command rtfloor measures the floor under the latency the service adds at a light load: the
// PostgreSQL and Redis round trips a link and a refresh make, from a bare client at the same
// pace as tools/perf/latency.sh (one request every 20 ms, so the machine is idle in between,
// as it is at 50 requests/s). On a VM an idle process pays a wake-up on every round trip;
// what the service adds cannot be below what its round trips cost on their own.
//
//	go run ./tools/perf/rtfloor -database-url postgres://… -redis-url redis://…
//
// It creates a scratch table in a scratch database (rtfloor_<pid>) and keys under
// rtfloor:<pid>:, and removes both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func main() {
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL (a scratch database is created beside it)")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/0", "Redis")
	n := flag.Int("n", 300, "samples per sequence")
	pace := flag.Duration("pace", 20*time.Millisecond, "idle time before each sample")
	flag.Parse()
	if err := run(*dbURL, *redisURL, *n, *pace); err != nil {
		fmt.Fprintln(os.Stderr, "rtfloor:", err)
		os.Exit(1)
	}
}

func run(dbURL, redisURL string, n int, pace time.Duration) error {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close(ctx) }()
	db := fmt.Sprintf("rtfloor_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db) //nolint:errcheck // best effort
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.Database = db
	pg, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = pg.Close(ctx) }()
	// The shape of the service's writes: a uuid-less bigserial row with a unique key, upserted.
	if _, err := pg.Exec(ctx, `CREATE TABLE t (id bigserial PRIMARY KEY, k text UNIQUE, v bytea, at timestamptz)`); err != nil {
		return err
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer func() { _ = rdb.Close() }()
	prefix := fmt.Sprintf("rtfloor:%d:", os.Getpid())
	defer func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	}()
	value := make([]byte, 300)
	i := 0
	upsert := func() error {
		i++
		_, err := pg.Exec(ctx, `INSERT INTO t (k, v, at) VALUES ($1, $2, now()) ON CONFLICT (k) DO UPDATE SET v = excluded.v, at = excluded.at`,
			fmt.Sprint(i%50), value[:64])
		return err
	}
	key := func() string { return prefix + fmt.Sprint(i) }
	sequences := []struct {
		name string
		fn   func() error
	}{
		{"redis_round_trip", func() error { return rdb.Get(ctx, prefix+"none").Err() }},
		{"pg_select", func() error { var x int; return pg.QueryRow(ctx, "SELECT 1").Scan(&x) }},
		{"pg_upsert_commit", upsert},
		// A link: idempotency claim, (the upstream call), the upsert, the completion.
		{"link_stores", func() error {
			if err := rdb.SetNX(ctx, key(), value[:51], time.Minute).Err(); err != nil {
				return err
			}
			if err := upsert(); err != nil {
				return err
			}
			return rdb.Set(ctx, key(), value, time.Minute).Err()
		}},
		// A due refresh: read link and options, take the lock, (the inquiry), write, then
		// the closing pipeline (outcome, invalidation, release).
		{"refresh_stores", func() error {
			var x int
			if err := pg.QueryRow(ctx, "SELECT 1").Scan(&x); err != nil {
				return err
			}
			if err := rdb.SetNX(ctx, key()+":lock", "o", time.Minute).Err(); err != nil {
				return err
			}
			if err := upsert(); err != nil {
				return err
			}
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key()+":result", "{}", time.Minute)
				p.Publish(ctx, prefix+"changed", "x")
				p.Del(ctx, key()+":lock")
				return nil
			})
			return err
		}},
	}
	for _, s := range sequences {
		d := make([]time.Duration, 0, n)
		for range n {
			time.Sleep(pace)
			t := time.Now()
			if err := s.fn(); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			d = append(d, time.Since(t))
		}
		slices.Sort(d)
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		ms := func(x time.Duration) float64 { return float64(x) / 1e6 }
		fmt.Printf("%s mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f\n", s.name, ms(sum/time.Duration(n)), ms(d[n/2]), ms(d[n*9/10]))
	}
	return nil
}
