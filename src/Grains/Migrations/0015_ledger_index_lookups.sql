-- ledger_write_transactions found the wallet of each candidate row by joining wallets, and the
-- planner, estimating a thousand rows for each function scan, hashed the whole wallets table on
-- every call: with 10,000 wallets its main statement took 8.0 ms a call, 2.4 ms with one index
-- lookup per row (pg_stat_statements, bench uniform transfers with the wallet grains on Orleans
-- transactions). A transaction's prepared rows are a handful, and the planner is told so.

ALTER FUNCTION ledger_take_prepared(text) ROWS 4;

CREATE OR REPLACE FUNCTION ledger_write_transactions(own_rows jsonb, transaction_ids text[]) RETURNS bigint LANGUAGE sql
SET jit = off AS $$
    SELECT last_seq FROM ledger_head FOR UPDATE;
    WITH RECURSIVE moved AS (
        SELECT m.* FROM unnest(transaction_ids) AS t(id), ledger_take_prepared(t.id) AS m),
    candidates AS (
        SELECT 0 AS preference, r.* FROM jsonb_populate_recordset(null::ledger_prepared, own_rows) r
        UNION ALL
        SELECT 1, m.* FROM moved m),
    fresh AS MATERIALIZED (
        SELECT DISTINCT ON (c.state_key, c.version) c.*
        FROM candidates c
        -- One index lookup per row: as a join, the planner's estimates of the function scans
        -- (a thousand rows each) made it hash the whole wallets table on every call.
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
    head AS (
        UPDATE ledger_head SET last_seq = last_seq + (SELECT count(*) FROM headers)
        RETURNING last_seq - (SELECT count(*) FROM headers) AS base),
    numbered AS (
        SELECT h.entry_id, head.base + h.n AS seq FROM headers h, head),
    written_entries AS (
        INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at, hold_id)
        SELECT n.seq, h.entry_id, h.entry_tenant_id, h.entry_source_id, h.entry_destination_id, h.entry_amount, h.currency,
               h.entry_reference, h.entry_description, h.entry_metadata::jsonb, h.entry_created_at, h.entry_hold_id
        FROM headers h JOIN numbered n ON n.entry_id = h.entry_id),
    -- A system account's row is locked before its balance is read: FOR UPDATE waits for another
    -- batch holding it and then returns what that batch committed.
    system_accounts AS (
        SELECT w.id, w.balance, w.version FROM wallets w
        WHERE w.id IN (SELECT counterpart_id FROM fresh) ORDER BY w.id FOR UPDATE),
    system_legs AS (
        SELECT f.counterpart_id AS wallet_id, n.seq, -f.amount AS amount, f.currency,
               a.balance + sum(-f.amount) OVER legs AS balance_after, a.version + row_number() OVER legs AS version
        FROM fresh f JOIN numbered n ON n.entry_id = f.entry_id JOIN system_accounts a ON a.id = f.counterpart_id
        WINDOW legs AS (PARTITION BY f.counterpart_id ORDER BY n.seq)),
    written_postings AS (
        INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
        SELECT f.wallet_id, n.seq, f.amount, f.currency, f.balance_after, f.version
        FROM fresh f JOIN numbered n ON n.entry_id = f.entry_id WHERE f.amount <> 0
        UNION ALL
        SELECT wallet_id, seq, amount, currency, balance_after, version FROM system_legs),
    -- Each wallet row takes the balances of its newest row; a row already newer stays.
    written_wallets AS (
        UPDATE wallets w SET balance = b.balance, pending = coalesce(b.pending, w.pending), version = b.version
        FROM (SELECT DISTINCT ON (wallet_id) wallet_id, balance_after AS balance, pending_after AS pending, version
              FROM fresh ORDER BY wallet_id, version DESC) b
        WHERE w.id = b.wallet_id AND w.version < b.version),
    written_system_accounts AS (
        UPDATE wallets w SET balance = b.balance_after, version = b.version
        FROM (SELECT DISTINCT ON (wallet_id) wallet_id, balance_after, version FROM system_legs ORDER BY wallet_id, seq DESC) b
        WHERE w.id = b.wallet_id),
    -- A key another request stored first fails the batch rather than losing this request's key.
    written_keys AS (
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
        SELECT key_tenant_id, key, key_request_hash, key_outcome, key_body FROM fresh WHERE key IS NOT NULL)
    SELECT count(*) FROM fresh
$$;
