-- Receipts users upload for their card transactions (POST /v1/receipts), kept as sent with their
-- SHA-256 where every silo reads them. The same file for the same authorization (or for none) is
-- the same receipt: a second upload finds the first.
CREATE TABLE receipts (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    authorization_id text,
    file_sha256      text NOT NULL,
    content_type     text NOT NULL,
    size_bytes       integer NOT NULL CHECK (size_bytes > 0),
    content          bytea NOT NULL,
    status           text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE UNIQUE INDEX receipts_one_per_file ON receipts (tenant_id, coalesce(authorization_id, ''), file_sha256);

-- An upload is answered 202 while the receipt is read in the background: a stored answer may be 'accepted'.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_outcome,
    ADD CONSTRAINT idempotency_keys_outcome CHECK (outcome IN ('created', 'done', 'refused', 'accepted'));
