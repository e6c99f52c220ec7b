package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopay-miniapp/bff/internal/domain"
	"github.com/gopay-miniapp/bff/internal/seal"
)

const (
	linkTokenColumn  = "gopay_links.customer_token" //nolint:gosec // a column name used as associated data
	linkPhoneColumn  = "gopay_links.phone"
	linkEmailColumn  = "gopay_links.email"
	linkLegacyColumn = "gopay_links.legacy_account_id"
	optionToken      = "payment_options.token" //nolint:gosec // a column name used as associated data
	linkSelectFields = `id, user_id, mode, status, phone_sealed, email_sealed, name, legacy_account_id_sealed, coalesce(legacy_account_id, ''),
		coalesce(activation_url, ''), customer_token_sealed, coalesce(options_refreshed_at, 'epoch'), created_at, updated_at`
)

// GoPayLinks stores users' GoPay links and their payment options.
type GoPayLinks struct {
	pool     *pgxpool.Pool
	ring     *seal.Keyring
	indexKey []byte // BLIND_INDEX_KEY: keyed digests of option tokens, to spot unchanged ones
}

func NewGoPayLinks(pool *pgxpool.Pool, ring *seal.Keyring, indexKey []byte) *GoPayLinks {
	if pool == nil || ring == nil || len(indexKey) == 0 {
		panic("repo.NewGoPayLinks: nil dependency")
	}
	return &GoPayLinks{pool: pool, ring: ring, indexKey: indexKey}
}

func (r *GoPayLinks) sealOptional(v string, aad ...string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	return r.ring.Seal([]byte(v), aad...)
}

func (r *GoPayLinks) openOptional(b []byte, aad ...string) (string, error) {
	if b == nil {
		return "", nil
	}
	p, err := r.ring.Open(b, aad...)
	return string(p), err
}

// Save stores the user's link, replacing any previous one (and its options).
func (r *GoPayLinks) Save(ctx context.Context, l domain.GoPayLink) (_ domain.GoPayLink, err error) {
	defer wrap(&err, "repo.GoPayLinks.Save")
	uid := l.UserID.String()
	phone, err := r.ring.Seal([]byte(l.Phone), uid, linkPhoneColumn)
	if err != nil {
		return l, err
	}
	email, err := r.sealOptional(l.Email, uid, linkEmailColumn)
	if err != nil {
		return l, err
	}
	token, err := r.sealOptional(l.CustomerToken, uid, linkTokenColumn)
	if err != nil {
		return l, err
	}
	// Only a pending legacy link needs its account id (to settle or unbind it); once swapped
	// the customer token takes its place.
	legacyID := ""
	if l.Status == domain.LinkPending {
		legacyID = l.LegacyAccountID
	}
	legacy, err := r.sealOptional(legacyID, uid, linkLegacyColumn)
	if err != nil {
		return l, err
	}
	err = inTx(ctx, r.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO gopay_links (user_id, mode, status, phone_sealed, phone_last4, email_sealed, name,
			                         legacy_account_id_sealed, activation_url, customer_token_sealed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, ''), $10)
			ON CONFLICT (user_id) DO UPDATE SET mode = EXCLUDED.mode, status = EXCLUDED.status,
				phone_sealed = EXCLUDED.phone_sealed, phone_last4 = EXCLUDED.phone_last4,
				email_sealed = EXCLUDED.email_sealed, name = EXCLUDED.name,
				legacy_account_id = NULL, legacy_account_id_sealed = EXCLUDED.legacy_account_id_sealed,
				activation_url = EXCLUDED.activation_url,
				customer_token_sealed = EXCLUDED.customer_token_sealed, options_refreshed_at = NULL,
				created_at = now(), updated_at = now()
			RETURNING id, created_at, updated_at`,
			l.UserID, l.Mode, l.Status, phone, domain.Last4(l.Phone), email, l.Name, legacy,
			l.ActivationURL, token).Scan(&l.ID, &l.CreatedAt, &l.UpdatedAt)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM payment_options WHERE link_id = $1`, l.ID)
		return err
	})
	l.OptionsRefreshedAt = time.Time{}
	return l, err
}

// Get returns the user's link with its sealed fields opened.
func (r *GoPayLinks) Get(ctx context.Context, userID uuid.UUID) (l domain.GoPayLink, err error) {
	defer wrap(&err, "repo.GoPayLinks.Get")
	row := r.pool.QueryRow(ctx, `SELECT `+linkSelectFields+` FROM gopay_links WHERE user_id = $1`, userID)
	l, err = r.scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, &domain.Error{Kind: domain.KindNotFound, Code: domain.CodeGoPayNotLinked, Message: "GoPay is not linked; link it first"}
	}
	return l, err
}

// sealedLink is a link row as read, its sealed columns not yet opened.
type sealedLink struct {
	l                           domain.GoPayLink
	phone, email, token, legacy []byte
	mode, status                string
}

func (sl *sealedLink) dest(extra ...any) []any {
	l := &sl.l
	return append([]any{&l.ID, &l.UserID, &sl.mode, &sl.status, &sl.phone, &sl.email, &l.Name, &sl.legacy, &l.LegacyAccountID,
		&l.ActivationURL, &sl.token, &l.OptionsRefreshedAt, &l.CreatedAt, &l.UpdatedAt}, extra...)
}

func (r *GoPayLinks) scan(row pgx.Row) (domain.GoPayLink, error) {
	var sl sealedLink
	if err := row.Scan(sl.dest()...); err != nil {
		return sl.l, err
	}
	return r.open(sl)
}

// open opens a link's sealed columns, each bound to the user and the column.
func (r *GoPayLinks) open(sl sealedLink) (domain.GoPayLink, error) {
	l := sl.l
	l.Mode, l.Status = domain.LinkMode(sl.mode), domain.LinkStatus(sl.status)
	if l.OptionsRefreshedAt.Equal(time.Unix(0, 0)) {
		l.OptionsRefreshedAt = time.Time{}
	}
	uid := l.UserID.String()
	var err error
	if l.Phone, err = r.openOptional(sl.phone, uid, linkPhoneColumn); err != nil {
		return l, fmt.Errorf("link %d phone: %w", l.ID, err)
	}
	if l.Email, err = r.openOptional(sl.email, uid, linkEmailColumn); err != nil {
		return l, fmt.Errorf("link %d email: %w", l.ID, err)
	}
	if l.CustomerToken, err = r.openOptional(sl.token, uid, linkTokenColumn); err != nil {
		return l, fmt.Errorf("link %d token: %w", l.ID, err)
	}
	if sl.legacy != nil { // else the clear id of a link pending since before migration 4, or none
		if l.LegacyAccountID, err = r.openOptional(sl.legacy, uid, linkLegacyColumn); err != nil {
			return l, fmt.Errorf("link %d legacy account id: %w", l.ID, err)
		}
	}
	return l, nil
}

// SetStatus changes the link's status. Leaving active drops the customer token and the
// payment options: nothing may be charged through an inactive link.
func (r *GoPayLinks) SetStatus(ctx context.Context, userID uuid.UUID, status domain.LinkStatus) (err error) {
	defer wrap(&err, "repo.GoPayLinks.SetStatus")
	return inTx(ctx, r.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			UPDATE gopay_links SET status = $2, updated_at = now(),
				customer_token_sealed = CASE WHEN $2 = 'active' THEN customer_token_sealed END,
				legacy_account_id = CASE WHEN $2 = 'pending' THEN legacy_account_id END,
				legacy_account_id_sealed = CASE WHEN $2 = 'pending' THEN legacy_account_id_sealed END,
				options_refreshed_at = CASE WHEN $2 = 'active' THEN options_refreshed_at END
			WHERE user_id = $1 RETURNING id`, userID, status).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &domain.Error{Kind: domain.KindNotFound, Code: domain.CodeGoPayNotLinked, Message: "GoPay is not linked"}
		}
		if err != nil || status == domain.LinkActive {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM payment_options WHERE link_id = $1`, id)
		return err
	})
}

// Activate marks a link active with its (new) customer token.
func (r *GoPayLinks) Activate(ctx context.Context, userID uuid.UUID, customerToken string) (err error) {
	defer wrap(&err, "repo.GoPayLinks.Activate")
	token, err := r.ring.Seal([]byte(customerToken), userID.String(), linkTokenColumn)
	if err != nil {
		return err
	}
	// The legacy account id is swapped for the token: it is no longer needed, so it goes.
	_, err = r.pool.Exec(ctx, `UPDATE gopay_links SET status = 'active', customer_token_sealed = $2, updated_at = now(),
		legacy_account_id = NULL, legacy_account_id_sealed = NULL, activation_url = NULL
		WHERE user_id = $1`, userID, token)
	return err
}

// ReplaceOptions stores a refresh's payment options, stamped with when the refresh started,
// in one statement (one round trip, atomic without a transaction): it stamps the link, drops
// options past the new count, and writes only the options whose name, state, balance or token
// changed (tokens compare by keyed digest, since sealed values never compare equal). The link
// must still be active, or nothing is written.
func (r *GoPayLinks) ReplaceOptions(ctx context.Context, userID uuid.UUID, linkID int64, opts []domain.PaymentOption, refreshedAt time.Time) (err error) {
	defer wrap(&err, "repo.GoPayLinks.ReplaceOptions")
	uid := userID.String()
	n := len(opts)
	positions, actives := make([]int32, n), make([]bool, n)
	names, balances, currencies := make([]string, n), make([]string, n), make([]string, n)
	tokens, digests := make([][]byte, n), make([][]byte, n)
	for i, o := range opts {
		if tokens[i], err = r.ring.Seal([]byte(o.Token), uid, optionToken, o.Name); err != nil {
			return err
		}
		digests[i] = seal.Index(r.indexKey, uid, optionToken, o.Name, o.Token)
		positions[i], names[i], actives[i], balances[i], currencies[i] = int32(i), o.Name, o.Active, o.Balance, o.Currency //nolint:gosec // a handful of options
	}
	var stamped int
	err = r.pool.QueryRow(ctx, `
		WITH link AS (
			UPDATE gopay_links SET options_refreshed_at = $3, updated_at = now()
			WHERE id = $1 AND user_id = $2 AND status = 'active' RETURNING id
		), gone AS (
			DELETE FROM payment_options WHERE link_id IN (SELECT id FROM link) AND position >= $4
		), written AS (
			INSERT INTO payment_options AS po (link_id, position, name, active, balance, currency, token_sealed, token_digest)
			SELECT link.id, o.position, o.name, o.active, o.balance::numeric, o.currency, o.token_sealed, o.token_digest
			FROM link, unnest($5::int[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::bytea[], $11::bytea[])
				AS o (position, name, active, balance, currency, token_sealed, token_digest)
			ON CONFLICT (link_id, position) DO UPDATE SET name = excluded.name, active = excluded.active,
				balance = excluded.balance, currency = excluded.currency,
				token_sealed = excluded.token_sealed, token_digest = excluded.token_digest
			WHERE (po.name, po.active, po.balance, po.currency, po.token_digest)
				IS DISTINCT FROM (excluded.name, excluded.active, excluded.balance, excluded.currency, excluded.token_digest)
		)
		SELECT count(*) FROM link`,
		linkID, userID, refreshedAt, n, positions, names, actives, balances, currencies, tokens, digests,
	).Scan(&stamped)
	if err != nil {
		return err
	}
	if stamped == 0 {
		return errors.New("link no longer active")
	}
	return nil
}

// WithOptionsFresh is WithOptions: this store keeps no cache.
func (r *GoPayLinks) WithOptionsFresh(ctx context.Context, userID uuid.UUID) (domain.GoPayLink, []domain.PaymentOption, error) {
	return r.WithOptions(ctx, userID)
}

// WithOptions returns the user's link and its stored payment options (tokens opened) in one
// query: a payment-options read that finds them fresh costs one round trip.
func (r *GoPayLinks) WithOptions(ctx context.Context, userID uuid.UUID) (l domain.GoPayLink, opts []domain.PaymentOption, err error) {
	defer wrap(&err, "repo.GoPayLinks.WithOptions")
	rows, err := r.pool.Query(ctx, `
		SELECT l.id, l.user_id, l.mode, l.status, l.phone_sealed, l.email_sealed, l.name, l.legacy_account_id_sealed,
		       coalesce(l.legacy_account_id, ''), coalesce(l.activation_url, ''), l.customer_token_sealed,
		       coalesce(l.options_refreshed_at, 'epoch'), l.created_at, l.updated_at,
		       o.name, o.active, o.balance::text, o.currency, o.token_sealed
		FROM gopay_links l LEFT JOIN payment_options o ON o.link_id = l.id
		WHERE l.user_id = $1 ORDER BY o.position`, userID)
	if err != nil {
		return l, nil, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var sl sealedLink
		var name, balance, currency *string
		var active *bool
		var tok []byte
		if err := rows.Scan(sl.dest(&name, &active, &balance, &currency, &tok)...); err != nil {
			return l, nil, err
		}
		if !found { // the link's columns repeat on every option's row: open them once
			if l, err = r.open(sl); err != nil {
				return l, nil, err
			}
			found = true
		}
		if name == nil { // a link without options (LEFT JOIN)
			continue
		}
		plain, err := r.ring.Open(tok, userID.String(), optionToken, *name)
		if err != nil {
			return l, nil, fmt.Errorf("option %s: %w", *name, err)
		}
		opts = append(opts, domain.PaymentOption{Name: *name, Active: *active, Balance: *balance, Currency: *currency, Token: string(plain)})
	}
	if err := rows.Err(); err != nil {
		return l, nil, err
	}
	if !found {
		return l, nil, &domain.Error{Kind: domain.KindNotFound, Code: domain.CodeGoPayNotLinked, Message: "GoPay is not linked; link it first"}
	}
	return l, opts, nil
}

// Page lists links by id, perPage at a time (page from 1), with the total count.
func (r *GoPayLinks) Page(ctx context.Context, page, perPage int) (_ []domain.GoPayLink, total int, err error) {
	defer wrap(&err, "repo.GoPayLinks.Page")
	// One query for the page and the total. Only what the listing shows is read and opened:
	// never the customer token or the legacy account id.
	rows, err := r.pool.Query(ctx, `
		SELECT id, user_id, mode, status, phone_sealed, email_sealed, name, created_at, updated_at, count(*) OVER ()
		FROM gopay_links ORDER BY id LIMIT $1 OFFSET $2`, perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, err
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.GoPayLink, error) {
		var l domain.GoPayLink
		var phone, email []byte
		var mode, status string
		if err := row.Scan(&l.ID, &l.UserID, &mode, &status, &phone, &email, &l.Name, &l.CreatedAt, &l.UpdatedAt, &total); err != nil {
			return l, err
		}
		l.Mode, l.Status = domain.LinkMode(mode), domain.LinkStatus(status)
		uid := l.UserID.String()
		var err error
		if l.Phone, err = r.openOptional(phone, uid, linkPhoneColumn); err != nil {
			return l, fmt.Errorf("link %d phone: %w", l.ID, err)
		}
		if l.Email, err = r.openOptional(email, uid, linkEmailColumn); err != nil {
			return l, fmt.Errorf("link %d email: %w", l.ID, err)
		}
		return l, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(links) == 0 && page > 1 { // past the end: the window gave no count
		err = r.pool.QueryRow(ctx, `SELECT count(*) FROM gopay_links`).Scan(&total)
	}
	return links, total, err
}
