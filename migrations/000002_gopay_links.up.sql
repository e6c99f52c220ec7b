-- A user's GoPay link (at most one). The numeric id is what internal callers see in the
-- accounts listing (seed 004). The SNAP customer token, phone number and email are sealed
-- (associated data: the user id and the column).
CREATE TABLE gopay_links (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id               uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    mode                  text NOT NULL CHECK (mode IN ('snap', 'legacy')),
    status                text NOT NULL CHECK (status IN ('active', 'inactive', 'pending', 'rejected')),
    phone_sealed          bytea NOT NULL,
    phone_last4           text NOT NULL,
    email_sealed          bytea,
    name                  text NOT NULL DEFAULT '',
    legacy_account_id     text,
    activation_url        text,
    customer_token_sealed bytea,
    options_refreshed_at  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX gopay_links_listing ON gopay_links (id);

-- The link's payment options as of options_refreshed_at; tokens sealed.
CREATE TABLE payment_options (
    link_id      bigint NOT NULL REFERENCES gopay_links (id) ON DELETE CASCADE,
    position     int NOT NULL,
    name         text NOT NULL,
    active       boolean NOT NULL,
    balance      numeric(20, 2) NOT NULL,
    currency     text NOT NULL,
    token_sealed bytea NOT NULL,
    PRIMARY KEY (link_id, position)
);
