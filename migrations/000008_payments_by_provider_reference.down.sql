DROP INDEX IF EXISTS payments_by_provider_reference;
