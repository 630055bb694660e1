-- Statements whose plan is kept per connection find every row by its key, whatever the tables'
-- size when the plan was made.
--
-- Whether movements' Idempotency-Keys and references are taken is asked before their transactions
-- (Ledger/TakenLookup.cs). Sent as one statement, PostgreSQL planned it afresh on almost every call:
-- 0.27 ms of planning against 0.19 ms of execution for a lookup of six movements, in a run of
-- uniform transfers on the development machine with statements prepared by the client. A plan of
-- that statement kept for all values is no better: made while the tables are small, it hashes
-- both tables whole and scans them on every call after. Here each key and reference is a probe of
-- its unique index (a lateral subquery with a limit is not hashed), planned once per connection.
-- Measured alone (pgbench, prepared, six keys): 0.07 ms a call against 0.14-0.17 ms.
--
-- Made with the tables small, a kept plan may still scan them whole rather than probe an index
-- (the cheaper choice for a page or two), and keep doing so as they grow until PostgreSQL next
-- analyzes them. Without sequential scans it probes: so the lookup, and the ledger's writer, whose
-- plan is kept since migration 0041. Planned on an empty database, the writer's plan scanned the
-- wallets table whole up to three times per batch: with 200,000 wallets added afterwards, an empty
-- batch read them twice, 23 ms; 0.08 ms without sequential scans.
CREATE FUNCTION ledger_taken(tenants text[], keys text[], refs text[])
RETURNS TABLE (n bigint, key_stored boolean, reference_used boolean) LANGUAGE plpgsql STABLE
SET jit = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
BEGIN
    RETURN QUERY
    SELECT q.n, k.hit IS NOT NULL, r.hit IS NOT NULL
    FROM unnest(tenants, keys, refs) WITH ORDINALITY AS q(tenant, key, reference, n)
    LEFT JOIN LATERAL (SELECT true AS hit FROM idempotency_keys i WHERE i.tenant_id = q.tenant AND i.key = q.key LIMIT 1) k ON true
    LEFT JOIN LATERAL (SELECT true AS hit FROM entries e WHERE e.tenant_id = q.tenant AND e.reference = q.reference LIMIT 1) r ON true;
END
$$;

ALTER FUNCTION ledger_write_transactions(jsonb, text[]) SET enable_seqscan = off;

-- A transactional state's load (Transactions/PostgresTransactionalStateStorage.cs), once per
-- activation: its committed state, the wallet row's version and the prepared states above the
-- committed one. Prepared by the client, it was still planned on about half its calls (0.58 ms of
-- planning against 0.04 ms of execution, in a run that activated 10,000 wallets). A STABLE
-- function runs in its caller's snapshot: the rows it returns still agree.
CREATE FUNCTION transactional_state_load(key text)
RETURNS TABLE (etag bigint, committed_sequence bigint, committed_state bytea, metadata bytea, ledger_version bigint,
               sequence_id bigint, transaction_id text, time_stamp bigint, transaction_manager bytea, state bytea)
LANGUAGE plpgsql STABLE
SET jit = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
BEGIN
    RETURN QUERY
    SELECT s.etag, s.committed_sequence, s.committed_state, s.metadata, coalesce(w.version, 0),
           p.sequence_id, p.transaction_id, p.time_stamp, p.transaction_manager, p.state
    FROM transactional_states s
    LEFT JOIN wallets w ON w.id = s.ledger_wallet_id
    LEFT JOIN transactional_prepares p ON p.state_key = s.state_key AND p.sequence_id > s.committed_sequence
    WHERE s.state_key = transactional_state_load.key;
END
$$;
