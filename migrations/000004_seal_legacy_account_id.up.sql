-- A legacy Core API account id can be exchanged for a customer token with the merchant's SNAP
-- credentials (the inquiry's additionalInfo.accountId), so it is sealed like the tokens, and
-- dropped once swapped: an active link charges with its customer token, never the id. Ids of
-- links that are no longer pending are not needed any more and go now; a pending one stays in
-- the clear column until the service settles it (sealing needs the keys, SQL has none).
ALTER TABLE gopay_links ADD COLUMN legacy_account_id_sealed bytea;
UPDATE gopay_links SET legacy_account_id = NULL WHERE status <> 'pending';
