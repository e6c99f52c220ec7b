CREATE INDEX gopay_links_listing ON gopay_links (id);
