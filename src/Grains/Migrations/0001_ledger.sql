-- The ledger: wallets (user wallets and system accounts), entries, their postings,
-- idempotency keys and API keys. Entries and postings are append-only.

CREATE TABLE api_keys (
    key_hash   text PRIMARY KEY,            -- SHA-256 of the key, hex; the key itself is never stored
    tenant_id  text NOT NULL,
    role       text NOT NULL CHECK (role IN ('operator', 'client')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallets (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('user', 'system')),
    currency        text NOT NULL,
    scale           smallint NOT NULL CHECK (scale BETWEEN 0 AND 8),
    status          text NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
    owner_id        text,
    balance         bigint NOT NULL DEFAULT 0,
    pending         bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
    overdraft_limit bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    may_go_negative boolean NOT NULL DEFAULT false,
    version         bigint NOT NULL DEFAULT 0,
    metadata        jsonb,
    created_at      timestamptz NOT NULL,
    -- The last line of defence: no transaction can leave a wallet overdrawn.
    CONSTRAINT wallets_no_overdraw CHECK (may_go_negative OR balance >= -overdraft_limit)
);

CREATE INDEX wallets_tenant_id ON wallets (tenant_id, id) WHERE kind = 'user';

-- One row: the last sequence number given to an entry. Updating it inside each ledger
-- transaction orders entries by commit, so readers of /v1/events never see a gap filled later.
CREATE TABLE ledger_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq  bigint NOT NULL
);
INSERT INTO ledger_head (last_seq) VALUES (0);

CREATE TABLE entries (
    seq            bigint PRIMARY KEY,
    id             text NOT NULL UNIQUE,
    tenant_id      text NOT NULL,
    source_id      text NOT NULL,
    destination_id text NOT NULL,
    amount         bigint NOT NULL CHECK (amount > 0),
    currency       text NOT NULL,
    reference      text,
    description    text,
    metadata       jsonb,
    created_at     timestamptz NOT NULL
);

CREATE UNIQUE INDEX entries_tenant_reference ON entries (tenant_id, reference) WHERE reference IS NOT NULL;
CREATE INDEX entries_tenant_seq ON entries (tenant_id, seq);

CREATE TABLE postings (
    wallet_id      text NOT NULL,
    entry_seq      bigint NOT NULL,
    amount         bigint NOT NULL CHECK (amount <> 0),
    currency       text NOT NULL,
    balance_after  bigint NOT NULL,
    wallet_version bigint NOT NULL,
    PRIMARY KEY (wallet_id, entry_seq)
);

CREATE INDEX postings_entry_seq ON postings (entry_seq);

CREATE TABLE idempotency_keys (
    tenant_id     text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status_code   integer NOT NULL,
    response_body text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
