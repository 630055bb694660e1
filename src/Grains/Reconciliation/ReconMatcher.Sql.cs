namespace Wallet.Grains.Reconciliation;

/// <summary>The statements of a run, in the order it runs them.</summary>
public sealed partial class ReconMatcher
{
    private const string Claim = """
        UPDATE recon_runs SET
            status = CASE WHEN attempts >= @attempts_max THEN 'failed' ELSE 'running' END,
            error = CASE WHEN attempts >= @attempts_max THEN format('its runs were cut short %s times', attempts) END,
            completed_at = CASE WHEN attempts >= @attempts_max THEN @now END,
            attempts = attempts + CASE WHEN attempts >= @attempts_max THEN 0 ELSE 1 END,
            started_at = coalesce(started_at, @now),
            touched_at = @now,
            progress = 0
        WHERE id = @id AND status IN ('queued', 'running')
        RETURNING status, attempts, tenant_id, source_id, period_from, period_to
        """;

    private const string Progress = "UPDATE recon_runs SET progress = @progress, touched_at = now() WHERE id = @id AND status = 'running' AND attempts = @attempt";

    private const string LockRun = "SELECT 1 FROM recon_runs WHERE id = @id AND status = 'running' AND attempts = @attempt FOR UPDATE";

    private const string Complete = """
        UPDATE recon_runs SET status = 'completed', progress = 1, summary = @summary::jsonb, completed_at = @now, touched_at = @now
        WHERE id = @id AND status = 'running' AND attempts = @attempt
        """;

    private const string Wallets = """
        SELECT coalesce(array_agg(id), '{}') FROM wallets
        WHERE tenant_id = @tenant AND (id = @account OR (kind = 'system' AND starts_with(id, @prefix)))
        """;

    private const string Load = """
        SET LOCAL TimeZone = 'UTC';
        CREATE TEMP TABLE rx (
            i integer PRIMARY KEY, external_id text NOT NULL, amount bigint NOT NULL, currency text NOT NULL, at timestamptz NOT NULL,
            reference text, description text, in_period boolean NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE ri (
            i integer PRIMARY KEY, entry_id text NOT NULL, amount bigint NOT NULL, currency text NOT NULL, at timestamptz NOT NULL,
            reference text, description text, in_period boolean NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE cands (xi integer NOT NULL, ri integer NOT NULL, rank double precision NOT NULL, score real NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE matched (
            xi integer PRIMARY KEY, ri integer NOT NULL UNIQUE, kind text NOT NULL, score real NOT NULL, reasons jsonb NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE cur (currency text PRIMARY KEY, scale integer NOT NULL, tolerance bigint NOT NULL) ON COMMIT DROP;

        INSERT INTO rx
        SELECT row_number() OVER (ORDER BY occurred_at, external_id), external_id, amount, currency, occurred_at, reference, description,
               occurred_at >= @from AND occurred_at < @to
        FROM recon_records
        WHERE source_id = @source AND occurred_at >= @from - @window AND occurred_at < @to + @window;

        INSERT INTO ri
        SELECT row_number() OVER (ORDER BY e.seq, p.wallet_id), e.id, p.amount, p.currency, e.created_at, e.reference, e.description,
               e.created_at >= @from AND e.created_at < @to
        FROM postings p JOIN entries e ON e.seq = p.entry_seq
        WHERE p.wallet_id = ANY (@wallets) AND p.entry_seq BETWEEN @seq_from AND @seq_to
          AND e.created_at >= @from - @window AND e.created_at < @to + @window;

        ANALYZE rx;
        ANALYZE ri;
        SELECT currency FROM rx UNION SELECT currency FROM ri;
        SELECT count(*) FROM rx;
        """;

    private const string SeqRange = "SELECT min(seq), max(seq) FROM entries WHERE created_at >= @from - @window AND created_at < @to + @window";

    private const string Currencies = "INSERT INTO cur SELECT * FROM unnest(@codes, @scales, @tolerances)";

    // Pairs that share a key (the record's external id or reference, the entry's id or reference) and agree exactly.
    private const string KeyPairs = """
        SELECT DISTINCT xk.i AS xi, rk.i AS ri
        FROM (SELECT i, external_id AS key FROM {0} UNION ALL SELECT i, reference FROM {0} WHERE reference IS NOT NULL) xk
        JOIN (SELECT i, entry_id AS key FROM {1} UNION ALL SELECT i, reference FROM {1} WHERE reference IS NOT NULL) rk ON rk.key = xk.key
        """;

    private static readonly string ExactCandidates = $"""
        INSERT INTO cands
        SELECT k.xi, k.ri, abs(extract(epoch FROM x.at - r.at)), 1
        FROM ({string.Format(KeyPairs, "rx", "ri")}) k
        JOIN rx x ON x.i = k.xi JOIN ri r ON r.i = k.ri
        WHERE x.currency = r.currency AND x.amount = r.amount AND r.at BETWEEN x.at - @window AND x.at + @window
        """;

    // Each pair that is both its record's and its entry's best (lowest rank, ties to the lower number) is matched.
    private const string MutualBest = """
        INSERT INTO matched
        SELECT b.xi, b.ri, @kind, b.score, '[]'::jsonb
        FROM (SELECT xi, ri, score,
                     row_number() OVER (PARTITION BY xi ORDER BY rank, ri) AS best_of_record,
                     row_number() OVER (PARTITION BY ri ORDER BY rank, xi) AS best_of_entry
              FROM cands) b
        WHERE b.best_of_record = 1 AND b.best_of_entry = 1
        """;

    private const string DropMatched = """
        DELETE FROM cands c USING matched m WHERE c.xi = m.xi;
        DELETE FROM cands c USING matched m WHERE c.ri = m.ri;
        SELECT EXISTS (SELECT 1 FROM cands);
        """;

    private const string Unmatched = """
        TRUNCATE cands;
        CREATE TEMP TABLE rxu ON COMMIT DROP AS SELECT x.* FROM rx x WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.xi = x.i);
        CREATE TEMP TABLE riu ON COMMIT DROP AS SELECT r.* FROM ri r WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.ri = r.i);
        CREATE INDEX ON riu (currency, amount, at);
        -- The keys as the score compares them (capitals, no punctuation or spaces): a reference written
        -- another way still brings its entry in, however many others are nearer by amount.
        CREATE TEMP TABLE rxu_keys ON COMMIT DROP AS
            SELECT i, nullif(upper(regexp_replace(external_id, '[^[:alnum:]]+', '', 'g')), '') AS external_id,
                   nullif(upper(regexp_replace(reference, '[^[:alnum:]]+', '', 'g')), '') AS reference
            FROM rxu;
        CREATE TEMP TABLE riu_keys ON COMMIT DROP AS
            SELECT i, nullif(upper(regexp_replace(entry_id, '[^[:alnum:]]+', '', 'g')), '') AS entry_id,
                   nullif(upper(regexp_replace(reference, '[^[:alnum:]]+', '', 'g')), '') AS reference
            FROM riu;
        ANALYZE rxu;
        ANALYZE riu;
        """;

    private static readonly string FuzzyCandidates = $"""
        WITH near AS (
            SELECT x.i AS xi, r.i AS ri
            FROM rxu x JOIN cur t ON t.currency = x.currency
            CROSS JOIN LATERAL (
                SELECT r.i FROM riu r
                WHERE r.currency = x.currency AND r.amount BETWEEN x.amount - t.tolerance AND x.amount + t.tolerance
                  AND r.at BETWEEN x.at - @window AND x.at + @window
                ORDER BY abs(r.amount - x.amount), abs(extract(epoch FROM r.at - x.at)), r.i
                LIMIT {FuzzyCandidatesMax}) r
            WHERE x.i BETWEEN @low AND @high
            UNION
            SELECT k.xi, k.ri
            FROM ({string.Format(KeyPairs, "rxu_keys", "riu_keys")}) k
            JOIN rxu x ON x.i = k.xi JOIN riu r ON r.i = k.ri JOIN cur t ON t.currency = x.currency
            WHERE k.xi BETWEEN @low AND @high
              AND x.currency = r.currency AND abs(x.amount - r.amount) <= t.tolerance AND r.at BETWEEN x.at - @window AND x.at + @window)
        SELECT n.xi, n.ri, x.external_id, x.amount, x.at, x.reference, x.description, r.entry_id, r.amount, r.at, r.reference, r.description, t.tolerance
        FROM near n JOIN rxu x ON x.i = n.xi JOIN riu r ON r.i = n.ri JOIN cur t ON t.currency = x.currency
        """;

    private const string FuzzyMatched = """
        SELECT m.xi, x.external_id, x.amount, x.at, x.reference, x.description, r.entry_id, r.amount, r.at, r.reference, r.description, t.scale
        FROM matched m JOIN rx x ON x.i = m.xi JOIN ri r ON r.i = m.ri JOIN cur t ON t.currency = x.currency
        WHERE m.kind = 'fuzzy' AND m.xi BETWEEN @low AND @high
        """;

    private const string FuzzyReasons = """
        UPDATE matched m SET reasons = f.reasons FROM fuzzy_reasons f WHERE f.xi = m.xi;
        """;

    // Records are scored (and their reasons worded) this many at a time, so the process holds one chunk's candidates, whatever the run's size.
    private const int ChunkRecords = 50_000;

    private const string TimeApartSql = "format('time: %s h %s min apart', s / 3600, s % 3600 / 60)";

    private static readonly string WriteItems = $"""
        INSERT INTO recon_items (
            run_id, n, kind, side, currency, external_id, external_amount, external_at, external_reference, external_description,
            entry_id, internal_amount, internal_at, internal_reference, internal_description, score, reasons)
        SELECT @id, row_number() OVER (ORDER BY coalesce(x.at, r.at), x.i, r.i),
               coalesce(m.kind, 'unmatched'),
               CASE WHEN m.kind IS NOT NULL THEN NULL WHEN x.i IS NULL THEN 'internal' ELSE 'external' END,
               coalesce(x.currency, r.currency),
               x.external_id, x.amount, x.at, x.reference, x.description, r.entry_id, r.amount, r.at, r.reference, r.description,
               m.score,
               CASE
                   WHEN m.kind = 'exact' AND abs(extract(epoch FROM x.at - r.at)) >= 60
                       THEN (SELECT jsonb_build_array({TimeApartSql}) FROM (SELECT abs(extract(epoch FROM x.at - r.at))::bigint AS s) d)
                   WHEN m.kind IS NOT NULL THEN m.reasons
                   WHEN x.i IS NULL THEN jsonb_build_array('no record of the source within the tolerances')
                   ELSE jsonb_build_array('no entry of the ledger account within the tolerances')
               END
        FROM (SELECT m.xi, m.ri, m.kind, m.score, m.reasons FROM matched m
              UNION ALL
              SELECT x.i, NULL, NULL, NULL, NULL FROM rx x WHERE x.in_period AND NOT EXISTS (SELECT 1 FROM matched m WHERE m.xi = x.i)
              UNION ALL
              SELECT NULL, r.i, NULL, NULL, NULL FROM ri r WHERE r.in_period AND NOT EXISTS (SELECT 1 FROM matched m WHERE m.ri = r.i)) m
        LEFT JOIN rx x ON x.i = m.xi
        LEFT JOIN ri r ON r.i = m.ri
        WHERE m.kind IS NULL OR x.in_period OR r.in_period
        """;

    private const string Totals = """
        SELECT currency, kind, coalesce(side, ''), count(*), coalesce(sum(external_amount), 0), coalesce(sum(internal_amount), 0)
        FROM recon_items WHERE run_id = @id GROUP BY 1, 2, 3
        """;
}
