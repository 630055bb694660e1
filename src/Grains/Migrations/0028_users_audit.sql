-- People who sign in: each belongs to one tenant, with roles. An operator invites them (the
-- invitation token is kept only as its hash, and shown once); they set a password (kept as a
-- PBKDF2 hash) and sign in with their email, which is unique across tenants. Repeated failures
-- lock the account for a while.
CREATE TABLE users (
    id                    text PRIMARY KEY,
    tenant_id             text NOT NULL,
    email                 text NOT NULL UNIQUE CHECK (email = lower(email)),
    roles                 text[] NOT NULL,
    status                text NOT NULL CHECK (status IN ('invited', 'active')),
    password_hash         text,
    invitation_hash       text UNIQUE,
    invitation_expires_at timestamptz,
    failed_logins         integer NOT NULL DEFAULT 0,
    locked_until          timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((status = 'active') = (password_hash IS NOT NULL))
);

CREATE INDEX users_tenant ON users (tenant_id, id);

-- Refresh tokens, by hash. Each use gives a new one of the same family; a token used twice (a
-- stolen copy, or the thief's) revokes its whole family.
CREATE TABLE refresh_tokens (
    token_hash  text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id),
    family_id   text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- The audit trail: security events and operators' actions, each tenant's rows a chain in which
-- every row carries the SHA-256 of itself and the row before. A row changed or removed breaks the
-- chain from there on, which GET /v1/audit/verify finds.
CREATE TABLE audit_heads (
    tenant_id text PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE TABLE audit_log (
    tenant_id text NOT NULL,
    seq       bigint NOT NULL,
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text,
    details   jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX audit_log_action ON audit_log (tenant_id, action, seq);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor, seq);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- What a row's hash covers, each field in a fixed text form (a time as whole microseconds since
-- 1970, the details as jsonb's own normalized text), separated so no two rows read alike.
CREATE FUNCTION audit_row_hash(prev_hash text, tenant_id text, seq bigint, at timestamptz, actor text, action text, target text, details jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f',
        prev_hash, tenant_id, seq::text, (extract(epoch FROM at) * 1000000)::bigint::text, actor, action, coalesce(target, ''), details::text), 'UTF8')), 'hex')
$$;

-- Appends a row to the tenant's chain, in the caller's transaction: the head row's lock orders a
-- tenant's appends, so the chain never forks.
CREATE FUNCTION audit_append(p_tenant text, p_at timestamptz, p_actor text, p_action text, p_target text, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    row_hash text;
BEGIN
    INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (p_tenant, 0, repeat('0', 64)) ON CONFLICT (tenant_id) DO NOTHING;
    SELECT seq, hash INTO head_seq, head_hash FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
    row_hash := audit_row_hash(head_hash, p_tenant, head_seq + 1, p_at, p_actor, p_action, p_target, p_details);
    INSERT INTO audit_log (tenant_id, seq, at, actor, action, target, details, prev_hash, hash)
    VALUES (p_tenant, head_seq + 1, p_at, p_actor, p_action, p_target, p_details, head_hash, row_hash);
    UPDATE audit_heads SET seq = head_seq + 1, hash = row_hash WHERE tenant_id = p_tenant;
    RETURN head_seq + 1;
END $$;
