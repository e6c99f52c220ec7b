package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// wrap names the failed operation, as domain.Wrap does, and turns a database that cannot be
// reached right now into KindUnavailable (503 store_unavailable with Retry-After): a restart,
// a failover or a network blip is the client's cue to retry, not a bug. Every other error keeps
// its kind (a genuine bug stays 500).
func wrap(errp *error, op string) {
	if *errp == nil {
		return
	}
	err := fmt.Errorf("%s: %w", op, *errp)
	if unavailable(*errp) {
		*errp = domain.StoreUnavailable("the database", err)
		return
	}
	*errp = err
}

// unavailable reports whether err says the database could not be reached or refused to work
// for a passing reason, rather than that our query or data is wrong.
func unavailable(err error) bool {
	if _, ok := errors.AsType[*domain.Error](err); ok {
		return false // already classified (NotFound and the like)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return transientSQLState(pgErr.Code)
	}
	if errors.Is(err, context.Canceled) {
		return false // the client went away; nobody is waiting for a status
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	// A connection that died under us (ErrConnClosed), or a statement that never reached the
	// server (SafeToRetry).
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// transientSQLState lists the SQLSTATEs that describe the server's state, not our statement.
func transientSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin shutdown, crash shutdown, cannot connect now
		return true
	case code == "53300": // too many connections
		return true
	case code == "25006": // read-only transaction: we reached a standby during a failover
		return true
	case code == serializationFailure, code == deadlockDetected: // still failing after inTx's retries
		return true
	}
	return false
}

const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	txAttempts           = 3
)

// inTx runs fn in a transaction and commits it, rolling back on any error. Commit's own error
// is returned, never dropped. A serialization failure or deadlock, which Postgres resolves by
// aborting one party, is retried (txAttempts in all, with a short jittered pause): fn must only
// touch the database.
func inTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) (err error) {
	for attempt := 1; ; attempt++ {
		err = inTxOnce(ctx, pool, fn)
		pgErr, ok := errors.AsType[*pgconn.PgError](err)
		if !ok || (pgErr.Code != serializationFailure && pgErr.Code != deadlockDetected) || attempt == txAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond): //nolint:gosec // jitter, not a secret
		}
	}
}

func inTxOnce(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
