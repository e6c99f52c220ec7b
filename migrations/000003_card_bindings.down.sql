DROP TABLE IF EXISTS card_bindings;
