-- API keys get an id (the start of their hash: it names a key without revealing it), a name, an
-- optional expiry, when they were last used, and revocation. A revoked or expired key is refused,
-- and so are the dashboard sessions opened with it.
ALTER TABLE api_keys
    ADD COLUMN id text,
    ADD COLUMN name text,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN revoked_at timestamptz;

UPDATE api_keys SET id = 'ak_' || left(key_hash, 16);
ALTER TABLE api_keys ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
