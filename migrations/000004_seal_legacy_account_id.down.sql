ALTER TABLE gopay_links DROP COLUMN legacy_account_id_sealed;
