-- Reports as of an instant. Each entry gets the time its batch was committed (`committed_at`),
-- taken while the batch holds the ledger's head row: batches hold it one after the other in the
-- order of their sequence numbers, so commit times never go back as sequence numbers go up, and
-- an instant maps to the last entry committed by then (ledger_seq_at). A report waits for the
-- batch holding the head, if any, before it maps its instant: from then on, no entry can be
-- committed with a time at or before it. So a report as of a past instant is what the ledger held
-- then, whatever is posted since. Existing entries take the latest creation time up to their own
-- (monotonic, as the mapping needs). The writer is that of migration 0032 with the commit time.

ALTER TABLE entries ADD COLUMN committed_at timestamptz;
ALTER TABLE entries DISABLE TRIGGER entries_append_only;
UPDATE entries e SET committed_at = m.running
FROM (SELECT seq, max(created_at) OVER (ORDER BY seq) AS running FROM entries) m
WHERE m.seq = e.seq;
ALTER TABLE entries ENABLE TRIGGER entries_append_only;
ALTER TABLE entries ALTER COLUMN committed_at SET NOT NULL;

-- The last sequence number committed at or before p_at; null when p_at is still to come. It first
-- waits for the batch writing now, if any (the lock is released when the caller's statement ends
-- in autocommit), then searches the sequence numbers: commit times grow with them.
CREATE FUNCTION ledger_seq_at(p_at timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    lo bigint := 0;
    hi bigint;
    mid bigint;
    at timestamptz;
BEGIN
    IF p_at > clock_timestamp() THEN
        RETURN NULL;
    END IF;
    SELECT last_seq INTO hi FROM ledger_head FOR SHARE;
    -- Every entry up to lo was committed at or before p_at; none after hi was.
    WHILE lo < hi LOOP
        mid := (lo + hi + 1) / 2;
        SELECT e.committed_at INTO at FROM entries e WHERE e.seq >= mid ORDER BY e.seq LIMIT 1;
        IF at IS NOT NULL AND at <= p_at THEN
            lo := mid;
        ELSE
            hi := mid - 1;
        END IF;
    END LOOP;
    RETURN lo;
END $$;

CREATE OR REPLACE FUNCTION ledger_write_transactions(own_rows jsonb, transaction_ids text[]) RETURNS bigint LANGUAGE plpgsql
SET jit = off AS $$
DECLARE
    written bigint;
    audited bigint;
BEGIN
    PERFORM FROM ledger_head FOR UPDATE;
    WITH RECURSIVE moved AS (
        SELECT m.* FROM unnest(transaction_ids) AS t(id), ledger_take_prepared(t.id) AS m),
    candidates AS (
        SELECT 0 AS preference, r.* FROM jsonb_populate_recordset(null::ledger_prepared, own_rows) r
        UNION ALL
        SELECT 1, m.* FROM moved m),
    fresh AS MATERIALIZED (
        SELECT DISTINCT ON (c.state_key, c.version) c.*
        FROM candidates c
        -- One index lookup per row (migration 0015).
        WHERE c.version > (SELECT w.version FROM wallets w WHERE w.id = c.wallet_id)
        ORDER BY c.state_key, c.version, c.preference),
    -- Entries are numbered so that each wallet's postings follow its versions: an entry comes after
    -- every entry that moved one of its wallets to an earlier version in this batch (its depth is
    -- the longest such chain before it), and the order is a valid order of the transactions.
    chained AS (
        SELECT lag(entry_id) OVER (PARTITION BY wallet_id ORDER BY version) AS before, entry_id AS after FROM fresh),
    edges AS (
        SELECT DISTINCT before, after FROM chained WHERE before IS NOT NULL AND before <> after),
    depths(entry_id, depth) AS (
        SELECT entry_id, 0 FROM fresh WHERE entry_source_id IS NOT NULL
        UNION
        SELECT e.after, d.depth + 1 FROM depths d JOIN edges e ON e.before = d.entry_id
        WHERE d.depth < (SELECT count(*) FROM fresh)),
    headers AS (
        SELECT f.*, row_number() OVER (ORDER BY r.depth, f.entry_created_at, f.entry_id) AS n
        FROM fresh f JOIN (SELECT entry_id, max(depth) AS depth FROM depths GROUP BY entry_id) r ON r.entry_id = f.entry_id
        WHERE f.entry_source_id IS NOT NULL),
    -- The batch's commit time, taken while the head is locked: one instant for all its entries.
    head AS (
        UPDATE ledger_head SET last_seq = last_seq + (SELECT count(*) FROM headers)
        RETURNING last_seq - (SELECT count(*) FROM headers) AS base, clock_timestamp() AS committed_at),
    numbered AS (
        SELECT h.entry_id, head.base + h.n AS seq, head.committed_at FROM headers h, head),
    written_entries AS (
        INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at, hold_id, kind,
                             accounts, committed_at)
        SELECT n.seq, h.entry_id, h.entry_tenant_id, h.entry_source_id, h.entry_destination_id, h.entry_amount, h.currency,
               h.entry_reference, h.entry_description, h.entry_metadata::jsonb, h.entry_created_at, h.entry_hold_id,
               coalesce(h.entry_kind, 'transfer'), h.entry_accounts, n.committed_at
        FROM headers h JOIN numbered n ON n.entry_id = h.entry_id),
    -- A system account's row is locked before its balance is read: FOR UPDATE waits for another
    -- batch holding it and then returns what that batch committed.
    system_postings AS (
        SELECT f.entry_id, f.counterpart_id AS wallet_id, -f.amount AS amount, f.currency FROM fresh f WHERE f.counterpart_id IS NOT NULL
        UNION ALL
        SELECT f.entry_id, l.wallet_id, l.amount, f.currency
        FROM fresh f, jsonb_to_recordset(f.system_legs) AS l(wallet_id text, amount bigint) WHERE f.system_legs IS NOT NULL),
    system_accounts AS (
        SELECT w.id, w.balance, w.version FROM wallets w
        WHERE w.id = ANY (ARRAY(SELECT DISTINCT wallet_id FROM system_postings)) ORDER BY w.id FOR UPDATE),
    system_legs AS (
        SELECT s.wallet_id, n.seq, s.amount, s.currency,
               a.balance + sum(s.amount) OVER legs AS balance_after, a.version + row_number() OVER legs AS version
        FROM system_postings s JOIN numbered n ON n.entry_id = s.entry_id JOIN system_accounts a ON a.id = s.wallet_id
        WINDOW legs AS (PARTITION BY s.wallet_id ORDER BY n.seq)),
    written_postings AS (
        INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
        SELECT f.wallet_id, n.seq, f.amount, f.currency, f.balance_after, f.version
        FROM fresh f JOIN numbered n ON n.entry_id = f.entry_id WHERE f.amount <> 0
        UNION ALL
        SELECT wallet_id, seq, amount, currency, balance_after, version FROM system_legs),
    -- Each wallet row takes the balances and status of its newest row; a row already newer stays.
    -- The status guard: a wallet that is not active is debited by no row (a hold's capture aside).
    written_wallets AS (
        UPDATE wallets w SET balance = b.balance, pending = coalesce(b.pending, w.pending), version = b.version,
                             status = coalesce(b.status, w.status)
        FROM (SELECT DISTINCT ON (wallet_id) wallet_id, balance_after AS balance, pending_after AS pending, version, wallet_status AS status
              FROM fresh ORDER BY wallet_id, version DESC) b
        WHERE w.id = ANY (ARRAY(SELECT DISTINCT wallet_id FROM fresh)) AND w.id = b.wallet_id AND w.version < b.version
        RETURNING w.id),
    debited_inactive AS (
        SELECT ledger_assert(false, format('wallet %s is %s and may not be debited', f.wallet_id, coalesce(f.wallet_status, w.status)))
        FROM fresh f JOIN wallets w ON w.id = f.wallet_id
        WHERE w.id = ANY (ARRAY(SELECT DISTINCT wallet_id FROM fresh WHERE amount < 0))
          AND f.amount < 0 AND f.hold IS NULL AND coalesce(f.wallet_status, w.status) <> 'active'),
    -- Every system account a row names exists: its leg is never silently left out.
    missing_system_accounts AS (
        SELECT ledger_assert(false, format('system account %s does not exist', s.wallet_id))
        FROM system_postings s WHERE NOT EXISTS (SELECT 1 FROM system_accounts a WHERE a.id = s.wallet_id)),
    -- Each hold takes its newest row: placed, moved or closed.
    written_holds AS (
        INSERT INTO holds AS h (id, tenant_id, wallet_id, destination_id, currency, amount, captured, status, reference, metadata,
                                expires_at, created_at, closed_at)
        SELECT r.id, r.tenant_id, r.wallet_id, r.destination_id, r.currency, r.amount, r.captured, r.status, r.reference, r.metadata,
               r.expires_at, r.created_at, r.closed_at
        FROM (SELECT DISTINCT ON (f.hold->>'id') f.hold FROM fresh f WHERE f.hold IS NOT NULL ORDER BY f.hold->>'id', f.version DESC) n,
             jsonb_populate_record(null::holds, n.hold) r
        ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, captured = excluded.captured, status = excluded.status,
                                       closed_at = excluded.closed_at),
    written_authorizations AS (
        INSERT INTO card_authorizations
        SELECT r.* FROM fresh f, jsonb_populate_record(null::card_authorizations, f.card_authorization) r
        WHERE f.card_authorization IS NOT NULL),
    written_system_accounts AS (
        UPDATE wallets w SET balance = b.balance_after, version = b.version
        FROM (SELECT DISTINCT ON (wallet_id) wallet_id, balance_after, version FROM system_legs ORDER BY wallet_id, seq DESC) b
        WHERE w.id = ANY (ARRAY(SELECT id FROM system_accounts)) AND w.id = b.wallet_id),
    -- A key stored already (or twice in this batch) fails the batch: see the top of this file.
    written_keys AS (
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
        SELECT key_tenant_id, key, key_request_hash, key_outcome, key_body FROM fresh WHERE key IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, key),
    taken_keys AS (
        SELECT ledger_assert(false, format('Idempotency-Key %s of tenant %s is stored already', f.key, f.key_tenant_id))
        FROM (SELECT key_tenant_id, key, count(*) AS uses FROM fresh WHERE key IS NOT NULL GROUP BY key_tenant_id, key) f
        WHERE f.uses > 1 OR NOT EXISTS (SELECT 1 FROM written_keys k WHERE k.tenant_id = f.key_tenant_id AND k.key = f.key)),
    -- A row that records someone's change (a wallet frozen) appends it to the tenant's audit trail.
    written_audit AS (
        SELECT audit_append(f.audit->>'tenant_id', (f.audit->>'at')::timestamptz, f.audit->>'actor', f.audit->>'action',
                            f.audit->>'target', f.audit->'details')
        FROM fresh f WHERE f.audit IS NOT NULL)
    -- The number of entries written, for the silo's metrics. A SELECT without FROM evaluates both
    -- subqueries once, so the audit rows are appended even when the batch wrote no entry.
    SELECT (SELECT count(*) FROM headers
            WHERE NOT EXISTS (SELECT FROM debited_inactive) AND NOT EXISTS (SELECT FROM missing_system_accounts)
              AND NOT EXISTS (SELECT FROM taken_keys)),
           (SELECT count(*) FROM written_audit)
    INTO written, audited;
    RETURN written;
END
$$;
