-- A keyed digest (HMAC-SHA-256 with BLIND_INDEX_KEY) of each option's token, so a refresh can
-- tell in SQL whether a token changed: the sealed column never compares equal, its nonce is
-- random. A refresh rewrites only the options whose name, state, balance or token changed.
-- Rows from before this migration have none and are rewritten by their next refresh.
ALTER TABLE payment_options ADD COLUMN token_digest bytea;
