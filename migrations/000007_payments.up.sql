-- Payments charged with a linked GoPay (BI-SNAP direct debit). A row is written before the
-- charge (state pending) and settled after; partner_reference_no and external_id are the one
-- partnerReferenceNo and X-EXTERNAL-ID every attempt of the charge sends, so a retry reaches
-- the provider as the same transaction. Amounts are in the currency's minor unit (IDR: sen,
-- ISO 4217 exponent 2). No token is stored here: the option token is read, sealed, from
-- payment_options at charge time.
CREATE TABLE payments (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id),
    client_id             text NOT NULL,
    order_reference       text NOT NULL,
    partner_reference_no  text NOT NULL UNIQUE,
    external_id           text NOT NULL UNIQUE,
    pay_option            text NOT NULL,
    amount                bigint NOT NULL CHECK (amount > 0),
    currency              text NOT NULL,
    description           text NOT NULL DEFAULT '',
    items                 jsonb NOT NULL DEFAULT '[]',
    return_url            text NOT NULL DEFAULT '',
    state                 text NOT NULL CHECK (state IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled', 'refunded')),
    provider_reference_no text NOT NULL DEFAULT '',
    redirect_url          text NOT NULL DEFAULT '',
    failure_code          text NOT NULL DEFAULT '',
    refunded              bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    charged_on            date NOT NULL, -- the Jakarta day of the charge: SNAP keeps X-EXTERNAL-IDs per day
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    settled_at            timestamptz,
    UNIQUE (client_id, order_reference)
);
CREATE INDEX payments_by_user ON payments (user_id, created_at DESC);
CREATE INDEX payments_unsettled ON payments (updated_at) WHERE state IN ('pending', 'requires_action');

CREATE TABLE payment_refunds (
    id                  uuid PRIMARY KEY,
    payment_id          uuid NOT NULL REFERENCES payments (id),
    refund_reference    text NOT NULL,
    partner_refund_no   text NOT NULL UNIQUE,
    external_id         text NOT NULL UNIQUE,
    amount              bigint NOT NULL CHECK (amount > 0),
    reason              text NOT NULL DEFAULT '',
    state               text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    provider_refund_no  text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (payment_id, refund_reference)
);

-- Notifications processed, by the digest of their signature: each is acted on once.
CREATE TABLE payment_notifications (
    digest      bytea PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES payments (id),
    status      text NOT NULL,
    received_at timestamptz NOT NULL
);
