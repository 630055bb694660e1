-- Receipts are read in the background (a receipt grain per receipt, driven by a reminder): what
-- was read from them, how it compares with their authorization, and how the reading went.
ALTER TABLE receipts
    ADD COLUMN attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN error        text,
    ADD COLUMN extracted    jsonb,
    ADD COLUMN reasons      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN started_at   timestamptz,
    ADD COLUMN completed_at timestamptz,
    ADD COLUMN ocr_ms       integer CHECK (ocr_ms >= 0),
    ADD CONSTRAINT receipts_status CHECK (status IN ('processing', 'verified', 'mismatch', 'unreadable', 'failed'));

-- The tenant's receipts newest first, by status (the operators' queue, GET /v1/receipts?status=);
-- and an authorization's receipts (its receipt field, card-transactions?receipt=).
CREATE INDEX receipts_by_status ON receipts (tenant_id, status, id);
CREATE INDEX receipts_by_authorization ON receipts (tenant_id, authorization_id, id) WHERE authorization_id IS NOT NULL;
