DROP TABLE IF EXISTS payment_options;
DROP TABLE IF EXISTS gopay_links;
