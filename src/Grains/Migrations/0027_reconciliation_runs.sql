-- Reconciliation runs: a source's external records compared with its ledger account's entries
-- over a period. A run is queued, then running (each start counts an attempt), then completed with
-- its items and summary, or failed; a completed or failed run never changes again.
CREATE TABLE recon_runs (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL,
    source_id    text NOT NULL REFERENCES recon_sources (id),
    period_from  timestamptz NOT NULL,
    period_to    timestamptz NOT NULL CHECK (period_to > period_from),
    scheduled    boolean NOT NULL,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    progress     real NOT NULL CHECK (progress BETWEEN 0 AND 1),
    attempts     integer NOT NULL,
    summary      jsonb,
    error        text,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    -- When it was last queued, started or moved on: a run left alone too long is started again.
    touched_at   timestamptz NOT NULL
);

CREATE INDEX recon_runs_tenant ON recon_runs (tenant_id, id);
CREATE INDEX recon_runs_unfinished ON recon_runs (touched_at) WHERE status IN ('queued', 'running');
-- A schedule runs a source once per period, however often its cron fires and however many silos tick.
CREATE UNIQUE INDEX recon_runs_scheduled ON recon_runs (source_id, period_from) WHERE scheduled;

CREATE FUNCTION recon_runs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.status IN ('completed', 'failed') THEN
        RAISE EXCEPTION 'reconciliation run % is % and never changes', OLD.id, OLD.status USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER recon_runs_final BEFORE UPDATE OR DELETE ON recon_runs
    FOR EACH ROW EXECUTE FUNCTION recon_runs_refuse_change();

-- What a run found, written once when it completes: a matched pair (exact or fuzzy, with its score
-- and the reasons for every difference), or a record or an entry left unmatched (side).
CREATE TABLE recon_items (
    run_id               text NOT NULL REFERENCES recon_runs (id),
    n                    integer NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('exact', 'fuzzy', 'unmatched')),
    side                 text CHECK (side IN ('internal', 'external')),
    currency             text NOT NULL,
    external_id          text,
    external_amount      bigint,
    external_at          timestamptz,
    external_reference   text,
    external_description text,
    entry_id             text,
    internal_amount      bigint,
    internal_at          timestamptz,
    internal_reference   text,
    internal_description text,
    score                real,
    reasons              jsonb NOT NULL,
    PRIMARY KEY (run_id, n),
    CHECK ((kind = 'unmatched') = (side IS NOT NULL)),
    CHECK (side = 'internal' OR external_id IS NOT NULL),
    CHECK (side = 'external' OR entry_id IS NOT NULL)
);

CREATE INDEX recon_items_unmatched ON recon_items (run_id, side, n) WHERE kind = 'unmatched';

CREATE TRIGGER recon_items_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON recon_items
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- An operator's decision on an unmatched item, beside the run rather than in it: a manual match
-- (two rows, each naming the other) or a write-off. Once only per item.
CREATE TABLE recon_resolutions (
    run_id      text NOT NULL,
    n           integer NOT NULL,
    action      text NOT NULL CHECK (action IN ('match', 'write_off')),
    counterpart integer,
    note        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (run_id, n),
    FOREIGN KEY (run_id, n) REFERENCES recon_items (run_id, n),
    CHECK ((action = 'match') = (counterpart IS NOT NULL))
);

CREATE TRIGGER recon_resolutions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON recon_resolutions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A run reads its ledger account's postings within the entries of its period (widened by the
-- time window): this finds the range of sequence numbers of a period cheaply, entries being
-- appended in time order.
CREATE INDEX entries_created_at ON entries USING brin (created_at);
