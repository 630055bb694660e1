-- Compliance controls. A wallet may name its owner (a person, screened against the tenant's
-- watchlists); a wallet whose owner screens as a potential match or a match is under review, its
-- withdrawals refused, until an operator resolves the screening. Owners are screened again when a
-- watchlist changes and on a schedule, each time as a job. Data subject requests export what the
-- ledger holds about an owner, or pseudonymise it.
ALTER TABLE wallets
    ADD COLUMN owner               jsonb,
    ADD COLUMN review_screening_id text;

CREATE INDEX wallets_owner ON wallets (tenant_id, owner_id) WHERE owner_id IS NOT NULL;

-- What was screened (a name asked about, a wallet's owner, a withdrawal's counterparty), for which
-- wallet, by which job, and how an operator resolved it. name_key is the name as compared
-- (transliterated, lower case), so a counterparty cleared once is known again.
ALTER TABLE screenings
    ADD COLUMN subject       text NOT NULL DEFAULT 'name' CHECK (subject IN ('name', 'owner', 'counterparty')),
    ADD COLUMN name_key      text NOT NULL DEFAULT '',
    ADD COLUMN wallet_id     text,
    ADD COLUMN job_id        text,
    ADD COLUMN decision      text CHECK (decision IN ('cleared', 'confirmed')),
    ADD COLUMN decision_note text,
    ADD COLUMN resolved_by   text,
    ADD COLUMN resolved_at   timestamptz,
    ADD CONSTRAINT screenings_resolved CHECK ((decision IS NULL) = (resolved_at IS NULL) AND (decision IS NULL OR status <> 'clear'));

CREATE INDEX screenings_open ON screenings (tenant_id, id) WHERE status <> 'clear' AND decision IS NULL;
CREATE INDEX screenings_wallet ON screenings (wallet_id) WHERE wallet_id IS NOT NULL;
CREATE INDEX screenings_counterparty ON screenings (tenant_id, name_key) WHERE subject = 'counterparty';

CREATE TABLE compliance_jobs (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('rescreening')),
    trigger     text NOT NULL CHECK (trigger IN ('watchlist', 'schedule')),
    status      text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    screened    integer NOT NULL DEFAULT 0,
    flagged     integer NOT NULL DEFAULT 0,
    error       text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);

CREATE INDEX compliance_jobs_tenant ON compliance_jobs (tenant_id, id);

CREATE TABLE data_requests (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL,
    owner_id     text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('export', 'erasure')),
    wallets      text[] NOT NULL,
    details      jsonb,
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX data_requests_tenant ON data_requests (tenant_id, id);
