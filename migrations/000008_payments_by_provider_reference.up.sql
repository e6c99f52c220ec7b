-- A payment notification must name GoPay's originalReferenceNo; our partnerReferenceNo and the
-- charge's X-EXTERNAL-ID are optional in it (Midtrans' Payment Notification API page). A
-- notification naming only GoPay's reference finds its payment through this index.
-- Expand-only: the previous release neither reads nor minds it.
CREATE INDEX IF NOT EXISTS payments_by_provider_reference ON payments (provider_reference_no)
    WHERE provider_reference_no <> '';
