-- Card bindings started through SNAP Get OAuth Code. Only a hash of the state is kept: the state
-- comes back on the redirect and must match, and a database reader must not be able to forge it.
CREATE TABLE card_bindings (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state_hash   bytea NOT NULL UNIQUE,
    status       text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'expired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    completed_at timestamptz
);

CREATE INDEX card_bindings_by_user ON card_bindings (user_id, created_at DESC);
