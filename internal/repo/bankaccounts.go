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

const accountNumberColumn = "bank_accounts.account_number"

// BankAccounts stores linked bank accounts with their numbers sealed.
type BankAccounts struct {
	pool     *pgxpool.Pool
	ring     *seal.Keyring
	indexKey []byte
}

func NewBankAccounts(pool *pgxpool.Pool, ring *seal.Keyring, indexKey []byte) *BankAccounts {
	if pool == nil || ring == nil || len(indexKey) == 0 {
		panic("repo.NewBankAccounts: nil dependency")
	}
	return &BankAccounts{pool: pool, ring: ring, indexKey: indexKey}
}

// Upsert stores the account, or returns the one already stored for the same user, bank and
// number (created is false then; the name is refreshed).
func (r *BankAccounts) Upsert(ctx context.Context, userID uuid.UUID, d domain.BankDetails) (a domain.BankAccount, created bool, err error) {
	defer wrap(&err, "repo.BankAccounts.Upsert")
	sealed, err := r.ring.Seal([]byte(d.AccountNumber), userID.String(), accountNumberColumn)
	if err != nil {
		return a, false, err
	}
	index := seal.Index(r.indexKey, userID.String(), d.BankCode, d.AccountNumber)
	a = domain.BankAccount{UserID: userID, BankCode: d.BankCode, AccountName: d.AccountName,
		AccountNumber: d.AccountNumber, Last4: domain.Last4(d.AccountNumber)}
	// xmax = 0 only on a freshly inserted row: it tells a new link from a repeated one.
	err = r.pool.QueryRow(ctx, `
		INSERT INTO bank_accounts (id, user_id, bank_code, account_name, account_number_sealed,
		                           account_number_last4, account_number_index)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT ON CONSTRAINT bank_accounts_one_per_account
		DO UPDATE SET account_name = EXCLUDED.account_name, updated_at = now()
		RETURNING id, created_at, xmax = 0`,
		uuid.Must(uuid.NewV7()), userID, d.BankCode, d.AccountName, sealed, a.Last4, index,
	).Scan(&a.ID, &a.CreatedAt, &created)
	return a, created, err
}

// List returns the user's accounts, newest first, without opening the numbers: the list only
// needs the last four digits.
func (r *BankAccounts) List(ctx context.Context, userID uuid.UUID) (_ []domain.BankAccount, err error) {
	defer wrap(&err, "repo.BankAccounts.List")
	rows, err := r.pool.Query(ctx, `
		SELECT id, user_id, bank_code, account_name, account_number_last4, created_at
		FROM bank_accounts WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.BankAccount, error) {
		var a domain.BankAccount
		err := row.Scan(&a.ID, &a.UserID, &a.BankCode, &a.AccountName, &a.Last4, &a.CreatedAt)
		return a, err
	})
}

// Get returns one of the user's accounts with its number opened.
func (r *BankAccounts) Get(ctx context.Context, userID, id uuid.UUID) (a domain.BankAccount, err error) {
	defer wrap(&err, "repo.BankAccounts.Get")
	var sealed []byte
	err = r.pool.QueryRow(ctx, `
		SELECT id, user_id, bank_code, account_name, account_number_sealed, account_number_last4, created_at
		FROM bank_accounts WHERE user_id = $1 AND id = $2`, userID, id,
	).Scan(&a.ID, &a.UserID, &a.BankCode, &a.AccountName, &sealed, &a.Last4, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, domain.NotFound("bank account")
	}
	if err != nil {
		return a, err
	}
	plain, err := r.ring.Open(sealed, userID.String(), accountNumberColumn)
	if err != nil {
		return a, fmt.Errorf("account %s: %w", id, err)
	}
	a.AccountNumber = string(plain)
	return a, nil
}

// Delete removes one of the user's accounts. Another user's id answers NotFound, exactly as
// an unknown id does, so ids cannot be probed.
func (r *BankAccounts) Delete(ctx context.Context, userID, id uuid.UUID) (err error) {
	defer wrap(&err, "repo.BankAccounts.Delete")
	tag, err := r.pool.Exec(ctx, `DELETE FROM bank_accounts WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return domain.NotFound("bank account")
	}
	return nil
}
