-- The relational ledger written by the transactional state storage. A participant of an Orleans
-- transaction carries the rows of its part of the movement (its posting, with the entry's header
-- and the Idempotency-Key's answer on one of them) in its transactional state. When it prepares,
-- those rows wait in ledger_prepared; the first participant to commit the transaction (its manager)
-- writes every row of it, its own and the others', in the PostgreSQL transaction of its commit, so
-- an entry is never half visible, and an aborted transaction leaves nothing but prepared rows that
-- its abort removes.
--
-- written_version is the carrier's version (a wallet's version) up to which its rows are in the
-- ledger: rows at or below it are never written again, which makes every write idempotent.
ALTER TABLE transactional_states ADD COLUMN written_version bigint NOT NULL DEFAULT 0;

CREATE TABLE ledger_prepared (
    state_key         text NOT NULL,
    version           bigint NOT NULL,         -- the carrier's version after this row
    sequence_id       bigint NOT NULL,         -- the Orleans sequence of the state that carried it
    transaction_id    text NOT NULL,
    wallet_id         text NOT NULL,
    amount            bigint NOT NULL,         -- the posting; 0 when only pending moves
    currency          text NOT NULL,
    balance_after     bigint NOT NULL,
    pending_after     bigint NOT NULL,
    entry_id          text NOT NULL,
    counterpart_id    text,                    -- a system account the storage posts -amount to
    -- The entry's header, on exactly one row of each entry.
    entry_tenant_id   text,
    entry_source_id   text,
    entry_destination_id text,
    entry_amount      bigint,
    entry_reference   text,
    entry_description text,
    entry_metadata    text,
    entry_created_at  timestamptz,
    entry_hold_id     text,
    -- The Idempotency-Key and the answer stored with it, on the row that carries the header.
    key_tenant_id     text,
    key               text,
    key_request_hash  text,
    key_outcome       text,
    key_body          text,
    PRIMARY KEY (state_key, version)
);

CREATE INDEX ledger_prepared_transaction ON ledger_prepared (transaction_id);

-- The prepared rows of the given transactions that are not in the ledger yet.
CREATE FUNCTION ledger_unwritten(transaction_ids text[]) RETURNS SETOF ledger_prepared LANGUAGE sql STABLE AS $$
    SELECT p.* FROM ledger_prepared p JOIN transactional_states s ON s.state_key = p.state_key
    WHERE p.transaction_id = ANY(transaction_ids) AND p.version > s.written_version
$$;

-- Writes the ledger rows of the given transactions that are not written yet, one statement per
-- table, then forgets their prepared rows. Called inside the storage's batch transaction, after the
-- rows of the states that commit were added to ledger_prepared. Each statement reads what the one
-- before it wrote (and what other transactions committed while it waited for a lock).
CREATE FUNCTION ledger_write_transactions(transaction_ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Every wallet row written here, locked in id order first, so two silos' batches never
    -- deadlock on them, and so the system accounts' running balances start from their latest values.
    PERFORM 1 FROM wallets
    WHERE id IN (SELECT wallet_id FROM ledger_unwritten(transaction_ids)
                 UNION SELECT counterpart_id FROM ledger_unwritten(transaction_ids))
    ORDER BY id FOR UPDATE;

    -- Entries in a stable order, numbered from the head: contiguous, in commit order.
    WITH headers AS (
        SELECT f.*, row_number() OVER (ORDER BY f.entry_created_at, f.entry_id) AS n
        FROM ledger_unwritten(transaction_ids) f WHERE f.entry_source_id IS NOT NULL),
    head AS (
        UPDATE ledger_head SET last_seq = last_seq + (SELECT count(*) FROM headers)
        RETURNING last_seq - (SELECT count(*) FROM headers) AS base)
    INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at, hold_id)
    SELECT head.base + h.n, h.entry_id, h.entry_tenant_id, h.entry_source_id, h.entry_destination_id, h.entry_amount, h.currency,
           h.entry_reference, h.entry_description, h.entry_metadata::jsonb, h.entry_created_at, h.entry_hold_id
    FROM headers h, head;

    INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
    SELECT f.wallet_id, e.seq, f.amount, f.currency, f.balance_after, f.version
    FROM ledger_unwritten(transaction_ids) f JOIN entries e ON e.id = f.entry_id
    WHERE f.amount <> 0;

    -- A system account's legs, in entry order, each with the balance it leaves.
    WITH legs AS (
        SELECT f.counterpart_id AS wallet_id, e.seq, -f.amount AS amount, f.currency
        FROM ledger_unwritten(transaction_ids) f JOIN entries e ON e.id = f.entry_id
        WHERE f.counterpart_id IS NOT NULL),
    running AS (
        SELECT l.*, w.balance + sum(l.amount) OVER (PARTITION BY l.wallet_id ORDER BY l.seq) AS balance_after,
               w.version + row_number() OVER (PARTITION BY l.wallet_id ORDER BY l.seq) AS version
        FROM legs l JOIN wallets w ON w.id = l.wallet_id)
    INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
    SELECT wallet_id, seq, amount, currency, balance_after, version FROM running;

    UPDATE wallets w SET balance = w.balance + t.delta, version = w.version + t.legs
    FROM (SELECT counterpart_id, -sum(amount) AS delta, count(*) AS legs
          FROM ledger_unwritten(transaction_ids) WHERE counterpart_id IS NOT NULL GROUP BY counterpart_id) t
    WHERE w.id = t.counterpart_id;

    -- Each carrier's wallet row takes the balances of its newest row; a row already newer stays.
    UPDATE wallets w SET balance = f.balance_after, pending = f.pending_after, version = f.version
    FROM (SELECT DISTINCT ON (wallet_id) wallet_id, balance_after, pending_after, version
          FROM ledger_unwritten(transaction_ids) ORDER BY wallet_id, version DESC) f
    WHERE w.id = f.wallet_id AND w.version < f.version;

    -- A key another request stored first fails the batch rather than losing this request's key.
    INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
    SELECT key_tenant_id, key, key_request_hash, key_outcome, key_body FROM ledger_unwritten(transaction_ids) WHERE key IS NOT NULL;

    -- Last: until here, ledger_unwritten still returns the rows being written.
    UPDATE transactional_states s SET written_version = f.version
    FROM (SELECT state_key, max(version) AS version FROM ledger_unwritten(transaction_ids) GROUP BY state_key) f
    WHERE s.state_key = f.state_key;

    DELETE FROM ledger_prepared WHERE transaction_id = ANY(transaction_ids);
END $$;
