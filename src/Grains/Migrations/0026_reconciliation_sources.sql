-- Reconciliation: what an operator compares the ledger with. A source names the ledger account it
-- reconciles (a system account such as @settlement, or a wallet), how its external records read
-- (mapping), how near a record and an entry must be to match (tolerances), and when it runs.
CREATE TABLE recon_sources (
    id             text PRIMARY KEY,
    tenant_id      text NOT NULL,
    name           text NOT NULL,
    ledger_account text NOT NULL,
    format         text NOT NULL CHECK (format IN ('csv', 'json')),
    mapping        jsonb NOT NULL,
    tolerances     jsonb NOT NULL,
    bad_rows       text NOT NULL CHECK (bad_rows IN ('refuse_file', 'skip_row')),
    schedule       jsonb,
    created_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A file of external records as it was imported, by its SHA-256: the same file again is the same import.
CREATE TABLE recon_files (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    source_id   text NOT NULL REFERENCES recon_sources (id),
    name        text,
    sha256      text NOT NULL,
    size_bytes  bigint NOT NULL,
    rows        integer NOT NULL,
    imported    integer NOT NULL,
    duplicates  integer NOT NULL,
    bad_rows    jsonb NOT NULL,
    bad_row_count integer NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (source_id, sha256)
);

-- External records, one per external id and source: a record sent again (in another file, or
-- pushed twice) is kept once. Amounts are in the currency's minor units, signed from the ledger
-- account's side: positive is money into it.
CREATE TABLE recon_records (
    source_id   text NOT NULL REFERENCES recon_sources (id),
    external_id text NOT NULL,
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    occurred_at timestamptz NOT NULL,
    reference   text,
    description text,
    file_id     text,
    line        integer NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (source_id, external_id)
);

CREATE INDEX recon_records_time ON recon_records (source_id, occurred_at);
