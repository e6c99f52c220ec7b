ALTER TABLE payment_options DROP COLUMN IF EXISTS token_digest;
