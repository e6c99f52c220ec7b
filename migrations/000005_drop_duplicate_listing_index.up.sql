-- gopay_links_listing indexed (id), which the primary key already does: every write paid for
-- a second copy of the same index.
DROP INDEX IF EXISTS gopay_links_listing;
