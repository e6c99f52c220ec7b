package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/seal"
)

const userAuthTokenColumn = "users.auth_token" //nolint:gosec // a column name used as associated data, not a credential

// Users stores GoPay users and their sealed auth tokens.
type Users struct {
	pool *pgxpool.Pool
	ring *seal.Keyring
}

func NewUsers(pool *pgxpool.Pool, ring *seal.Keyring) *Users {
	if pool == nil || ring == nil {
		panic("repo.NewUsers: nil dependency")
	}
	return &Users{pool: pool, ring: ring}
}

// Upsert finds or creates the user with this GoPay account id and stores the auth token,
// sealed to the user's id.
func (r *Users) Upsert(ctx context.Context, gopayAccountID, authToken string) (u domain.User, err error) {
	defer wrap(&err, "repo.Users.Upsert")
	u.GoPayAccountID = gopayAccountID
	err = inTx(ctx, r.pool, func(tx pgx.Tx) error {
		// The id must be known before sealing (it is the associated data), so the row is made
		// or found first, then the token written under it.
		err := tx.QueryRow(ctx, `
			INSERT INTO users (id, gopay_account_id) VALUES ($1, $2)
			ON CONFLICT (gopay_account_id) DO UPDATE SET updated_at = now()
			RETURNING id, created_at`, uuid.Must(uuid.NewV7()), gopayAccountID).Scan(&u.ID, &u.CreatedAt)
		if err != nil {
			return err
		}
		sealed, err := r.ring.Seal([]byte(authToken), u.ID.String(), userAuthTokenColumn)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET auth_token_sealed = $1 WHERE id = $2`, sealed, u.ID)
		return err
	})
	return u, err
}

// AuthToken opens the user's stored GoPay auth token.
func (r *Users) AuthToken(ctx context.Context, userID uuid.UUID) (token string, err error) {
	defer wrap(&err, "repo.Users.AuthToken")
	var sealed []byte
	err = r.pool.QueryRow(ctx, `SELECT auth_token_sealed FROM users WHERE id = $1`, userID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.NotFound("user")
	}
	if err != nil {
		return "", err
	}
	plain, err := r.ring.Open(sealed, userID.String(), userAuthTokenColumn)
	if err != nil {
		return "", fmt.Errorf("user %s: %w", userID, err)
	}
	return string(plain), nil
}
