// Package repo keeps the service's state in PostgreSQL. It owns the SQL and the sealing of
// sensitive columns: services hand it plaintext domain values and get plaintext back, and
// nothing sensitive leaves this package unsealed on its way to disk.
package repo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/gopay-miniapp/bff/migrations"
)

const defaultConnectTimeout = 3 * time.Second

// queryModes are pgx's query modes by their documented names. The default prepares each
// statement once per connection; PgBouncer in transaction pooling (before 1.21) cannot carry a
// prepared statement from one transaction to the next, and "exec" prepares none.
var queryModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// QueryMode names a pgx query mode (DATABASE_QUERY_MODE).
func QueryMode(name string) (pgx.QueryExecMode, error) {
	m, ok := queryModes[name]
	if !ok {
		return 0, fmt.Errorf("unknown query mode %q (cache_statement, cache_describe, describe_exec, exec, simple_protocol)", name)
	}
	return m, nil
}

// PoolOptions are how Open sets up a pool beyond its URL.
type PoolOptions struct {
	QueryMode string // a QueryMode name; "" is the default, cache_statement
	Traced    bool   // a span per query (TRACING); off, queries pay nothing for it
}

// Open connects a pool and checks the database answers.
func Open(ctx context.Context, databaseURL string, maxConns int32, o PoolOptions) (*pgxpool.Pool, error) {
	queryMode := o.QueryMode
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("repo: DATABASE_URL does not parse") // the URL may hold a password: do not echo it
	}
	cfg.MaxConns = maxConns
	if queryMode != "" {
		if cfg.ConnConfig.DefaultQueryExecMode, err = QueryMode(queryMode); err != nil {
			return nil, fmt.Errorf("repo: %w", err)
		}
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the URL a host that drops packets would hold a request for
		// the kernel's TCP timeout (minutes); an unreachable database must fail fast as 503.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	// A span per query, named by the statement; query parameters are never recorded (they are
	// sealed values and ids, but a span is no place for either).
	if o.Traced {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerTypes(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("repo: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("repo: %w", err)
	}
	return pool, nil
}

// registerTypes makes uuid.UUID travel as its 16 bytes both ways.
//
// uuid.UUID is a driver.Valuer that renders itself as text; pgx-google-uuid wraps it so
// parameters are sent binary (the text path was 5-6% of a read's CPU, docs/performance.md).
// Its scan wrapper never gets its turn, though: pgx asks the column type's codec first, then,
// because uuid.UUID is an sql.Scanner, goes binary -> text -> uuid.Parse
// (DecodeDatabaseSQLValue: 12% of a bank-accounts read's allocations). uuidCodec answers for
// *uuid.UUID itself. (pgx plans every column of every query afresh, so planning allocates
// nothing either.)
func registerTypes(m *pgtype.Map) {
	pgxuuid.Register(m)
	m.RegisterType(&pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}})
}

type uuidCodec struct{ pgxuuid.UUIDCodec }

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		if format == pgtype.BinaryFormatCode {
			return scanBinaryUUID{}
		}
		// Text (a query mode that asks for it): pgx's own plan for the library's wrapper type.
		if next := c.UUIDCodec.PlanScan(m, oid, format, (*pgxuuid.UUID)(nil)); next != nil {
			return scanUUID{next}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type scanBinaryUUID struct{}

func (scanBinaryUUID) Scan(src []byte, dst any) error {
	if src == nil {
		return errors.New("cannot scan NULL into *uuid.UUID")
	}
	if len(src) != len(uuid.UUID{}) {
		return fmt.Errorf("invalid length for uuid: %d", len(src))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}

type scanUUID struct{ next pgtype.ScanPlan }

func (p scanUUID) Scan(src []byte, dst any) error {
	return p.next.Scan(src, (*pgxuuid.UUID)(dst.(*uuid.UUID)))
}

// IsMissingDatabase reports whether err says the database does not exist (SQLSTATE 3D000).
func IsMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// CreateDatabase creates the database named in databaseURL by connecting to the server's
// "postgres" database. Sandbox mode uses it so `make run` works on a fresh machine.
func CreateDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return errors.New("repo: DATABASE_URL does not parse")
	}
	name := u.Path[1:]
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("repo: create database: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created meanwhile by another instance
		return nil
	}
	return err
}

func newMigrate(pool *pgxpool.Pool) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDBFromPool(pool)
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return migrate.NewWithInstance("iofs", src, "pgx5", driver)
}

// Migrate applies ("up") or rolls back one step ("down") of the embedded migrations. It takes
// Postgres's advisory lock, so instances starting together apply them once.
func Migrate(pool *pgxpool.Pool, direction string) (err error) {
	m, err := newMigrate(pool)
	if err != nil {
		return fmt.Errorf("repo: migrate: %w", err)
	}
	defer func() {
		if srcErr, dbErr := m.Close(); err == nil {
			err = errors.Join(srcErr, dbErr)
		}
	}()
	switch direction {
	case "up":
		if newer, err := databaseAhead(m); err != nil || newer {
			return err // a newer release migrated it: nothing of ours to apply (CheckMigrations judges it)
		}
		err = m.Up()
	case "down":
		err = m.Steps(-1)
	default:
		return fmt.Errorf("repo: migrate: unknown direction %q (want up or down)", direction)
	}
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("repo: migrate %s: %w", direction, err)
	}
	return nil
}

// LatestMigration is the newest migration version the binary embeds.
func LatestMigration() (uint, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return 0, err
	}
	defer func() { _ = src.Close() }()
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil // no next: v is the last
		}
		v = next
	}
}

// CheckMigrations fails unless the database is clean and at the binary's newest migration or
// up to migrations.NewerCompatible newer (a newer release, rolling out, migrated it first).
func CheckMigrations(ctx context.Context, pool *pgxpool.Pool) error {
	own, err := LatestMigration()
	if err != nil {
		return err
	}
	version, dirty, err := MigrationVersion(ctx, pool)
	if err != nil {
		return err
	}
	if dirty {
		return fmt.Errorf("migration %d is dirty: fix it by hand, then `server migrate up`", version)
	}
	switch {
	case version < own:
		return fmt.Errorf("database at migration %d, this binary needs %d: run `server migrate up`", version, own)
	case version > own+migrations.NewerCompatible:
		return fmt.Errorf("database at migration %d, newer than this binary (%d) serves (up to %d ahead)", version, own, migrations.NewerCompatible)
	}
	return nil
}

// MigrationVersion is the database's migration version and whether it is dirty.
func MigrationVersion(ctx context.Context, pool *pgxpool.Pool) (version uint, dirty bool, err error) {
	var v int64
	err = pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if err != nil {
		return 0, false, fmt.Errorf("no migration applied: %w", err)
	}
	return uint(v), dirty, nil //nolint:gosec // migration versions are small and positive
}

// databaseAhead reports whether the database is at a version newer than any this binary
// embeds (a newer release migrated it), which golang-migrate's Up would take for an error.
func databaseAhead(m *migrate.Migrate) (bool, error) {
	version, _, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("repo: migrate: %w", err)
	}
	own, err := LatestMigration()
	return version > own, err
}
