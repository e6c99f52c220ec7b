package repo

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopay-miniapp/bff/internal/domain"
)

// CardBindings stores card bindings with the hash of their state.
type CardBindings struct{ pool *pgxpool.Pool }

func NewCardBindings(pool *pgxpool.Pool) *CardBindings {
	if pool == nil {
		panic("repo.NewCardBindings: nil pool")
	}
	return &CardBindings{pool: pool}
}

// Create stores a pending binding.
func (r *CardBindings) Create(ctx context.Context, b domain.CardBinding, stateHash []byte) (err error) {
	defer wrap(&err, "repo.CardBindings.Create")
	_, err = r.pool.Exec(ctx, `INSERT INTO card_bindings (id, user_id, state_hash, status, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, b.ID, b.UserID, stateHash, b.Status, b.CreatedAt, b.ExpiresAt)
	return err
}

const cardFields = `id, user_id, status, created_at, expires_at, coalesce(completed_at, 'epoch')`

func scanCard(row pgx.Row) (domain.CardBinding, error) {
	var b domain.CardBinding
	var status string
	err := row.Scan(&b.ID, &b.UserID, &status, &b.CreatedAt, &b.ExpiresAt, &b.CompletedAt)
	b.Status = domain.CardBindingStatus(status)
	if b.CompletedAt.Equal(time.Unix(0, 0)) {
		b.CompletedAt = time.Time{}
	}
	return b, err
}

// Get returns a binding and its state hash.
func (r *CardBindings) Get(ctx context.Context, id uuid.UUID) (b domain.CardBinding, stateHash []byte, err error) {
	defer wrap(&err, "repo.CardBindings.Get")
	err = r.pool.QueryRow(ctx, `SELECT state_hash FROM card_bindings WHERE id = $1`, id).Scan(&stateHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, nil, &domain.Error{Kind: domain.KindNotFound, Code: domain.CodeCardBindingNotFound, Message: "no such card binding"}
	}
	if err != nil {
		return b, nil, err
	}
	b, err = scanCard(r.pool.QueryRow(ctx, `SELECT `+cardFields+` FROM card_bindings WHERE id = $1`, id))
	return b, stateHash, err
}

// Complete records the outcome of a pending binding, once: it reports false if the binding was
// no longer pending (already completed or expired), changing nothing.
func (r *CardBindings) Complete(ctx context.Context, id uuid.UUID, status domain.CardBindingStatus, at time.Time) (ok bool, err error) {
	defer wrap(&err, "repo.CardBindings.Complete")
	tag, err := r.pool.Exec(ctx, `UPDATE card_bindings SET status = $2, completed_at = $3
		WHERE id = $1 AND status = 'pending'`, id, status, at)
	return tag.RowsAffected() == 1, err
}

// List returns the user's bindings, newest first.
func (r *CardBindings) List(ctx context.Context, userID uuid.UUID) (_ []domain.CardBinding, err error) {
	defer wrap(&err, "repo.CardBindings.List")
	rows, err := r.pool.Query(ctx, `SELECT `+cardFields+` FROM card_bindings WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.CardBinding, error) { return scanCard(row) })
}
