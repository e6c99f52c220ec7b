-- Users who opened a session. The GoPay auth token never expires, so it is sealed
-- (AES-256-GCM, associated data: the user id and the column name).
CREATE TABLE users (
    id                uuid PRIMARY KEY,
    gopay_account_id  text NOT NULL UNIQUE,
    auth_token_sealed bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Linked bank accounts. The number is sealed; only its last four digits are kept in clear for
-- display, and a keyed blind index (HMAC of user, bank and number) lets the database refuse a
-- second row for the same account without ever holding the number in clear.
CREATE TABLE bank_accounts (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bank_code             text NOT NULL,
    account_name          text NOT NULL,
    account_number_sealed bytea NOT NULL,
    account_number_last4  text NOT NULL,
    account_number_index  bytea NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bank_accounts_one_per_account UNIQUE (user_id, account_number_index)
);

CREATE INDEX bank_accounts_by_user ON bank_accounts (user_id, created_at DESC);
