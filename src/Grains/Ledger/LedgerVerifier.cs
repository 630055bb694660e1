using System.Data;
using System.Text.Json;
using Npgsql;

namespace Wallet.Grains.Ledger;

public sealed record VerifyProblem(string Code, string? WalletId, string? EntryId, string Detail);

public sealed record VerifyReport(bool Ok, long WalletsChecked, long EntriesChecked, IReadOnlyList<VerifyProblem> Problems);

/// <summary>A verify as recorded: when it ran, how long it took, what it found (the first <see cref="LedgerVerifier.RecordedProblemsMax"/> problems).</summary>
public sealed record VerifyRun(DateTimeOffset RanAt, double DurationMs, bool Ok, long WalletsChecked, long EntriesChecked, int ProblemCount, IReadOnlyList<VerifyProblem> Problems);

/// <summary>
/// Proves the ledger's invariants over one consistent snapshot of the whole database: every
/// balance is the sum of its postings, every entry's postings sum to zero, running balances
/// add up, no wallet is overdrawn, every pending amount is what its open holds hold, every hold's
/// captures are its entries, the sequence has no gap, and every committed transactional state that
/// carries a wallet's ledger stands where that wallet's rows say (a wallet row may be ahead of it
/// only by rows a transaction manager wrote before the state's own commit).
/// </summary>
public sealed class LedgerVerifier(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public const int RecordedProblemsMax = 100;

    /// <summary>Runs kept in <c>ledger_verifications</c>; older ones are deleted as new ones are recorded.</summary>
    public const int RecordedRunsMax = 1_000;

    private static readonly string InsertRun = $"""
        INSERT INTO ledger_verifications (ran_at, duration_ms, ok, wallets_checked, entries_checked, problem_count, problems)
        VALUES (@ran_at, @duration_ms, @ok, @wallets, @entries, @problem_count, @problems::jsonb);
        DELETE FROM ledger_verifications WHERE id <= (SELECT max(id) FROM ledger_verifications) - {RecordedRunsMax}
        """;

    private const string SelectLastRun = """
        SELECT ran_at, duration_ms, ok, wallets_checked, entries_checked, problem_count, problems::text
        FROM ledger_verifications ORDER BY id DESC LIMIT 1
        """;

    // Each check returns rows of (code, wallet_id, entry_id, detail); none means it holds.
    private static readonly string[] Checks =
    [
        """
        SELECT 'balance_mismatch', w.id, NULL, format('balance %s but postings sum to %s', w.balance, coalesce(p.total, 0))
        FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM postings GROUP BY wallet_id) p ON p.wallet_id = w.id
        WHERE w.balance <> coalesce(p.total, 0)
        """,
        """
        SELECT 'entry_unbalanced', NULL, e.id, format('%s postings summing to %s', coalesce(p.n, 0), coalesce(p.total, 0))
        FROM entries e LEFT JOIN (SELECT entry_seq, sum(amount) AS total, count(*) AS n FROM postings GROUP BY entry_seq) p ON p.entry_seq = e.seq
        WHERE p.total IS DISTINCT FROM 0 OR p.n < 2
        """,
        """
        SELECT 'posting_orphaned', p.wallet_id, NULL, format('posting at seq %s has no entry', p.entry_seq)
        FROM postings p LEFT JOIN entries e ON e.seq = p.entry_seq WHERE e.seq IS NULL
        """,
        """
        SELECT 'currency_mismatch', p.wallet_id, e.id, format('posting in %s on a %s wallet', p.currency, w.currency)
        FROM postings p JOIN wallets w ON w.id = p.wallet_id JOIN entries e ON e.seq = p.entry_seq
        WHERE p.currency <> w.currency OR p.currency <> e.currency
        """,
        """
        SELECT 'running_balance_mismatch', wallet_id, NULL, format('balance_after %s at seq %s, running sum %s', balance_after, entry_seq, running)
        FROM (SELECT wallet_id, entry_seq, balance_after, sum(amount) OVER (PARTITION BY wallet_id ORDER BY entry_seq) AS running FROM postings) r
        WHERE balance_after <> running
        """,
        """
        SELECT 'overdrawn', id, NULL, format('balance %s less pending %s below -%s', balance, pending, overdraft_limit)
        FROM wallets WHERE NOT may_go_negative AND balance - pending < -overdraft_limit
        """,
        """
        SELECT 'pending_mismatch', w.id, NULL, format('pending %s but open holds hold %s', w.pending, coalesce(h.held, 0))
        FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount - captured) AS held FROM holds WHERE status = 'open' GROUP BY wallet_id) h
             ON h.wallet_id = w.id
        WHERE w.pending <> coalesce(h.held, 0)
        """,
        """
        SELECT 'hold_capture_mismatch', h.wallet_id, NULL, format('hold %s captured %s but its entries move %s', h.id, h.captured, coalesce(e.total, 0))
        FROM holds h LEFT JOIN (SELECT hold_id, sum(amount) AS total FROM entries WHERE hold_id IS NOT NULL GROUP BY hold_id) e ON e.hold_id = h.id
        WHERE h.captured <> coalesce(e.total, 0)
        """,
        """
        SELECT 'state_mismatch', s.ledger_wallet_id, NULL,
               format('committed state at version %s holds %s (pending %s); the ledger has %s at that version and the wallet row %s (pending %s) at version %s',
                      s.ledger_version, s.ledger_balance, s.ledger_pending, coalesce(p.balance_after, 0), w.balance, w.pending, w.version)
        FROM transactional_states s
        JOIN wallets w ON w.id = s.ledger_wallet_id
        LEFT JOIN LATERAL (SELECT balance_after FROM postings
                           WHERE wallet_id = s.ledger_wallet_id AND wallet_version <= s.ledger_version
                           ORDER BY wallet_version DESC LIMIT 1) p ON true
        WHERE w.version < s.ledger_version
           OR coalesce(p.balance_after, 0) <> s.ledger_balance
           OR (w.version = s.ledger_version AND (w.balance <> s.ledger_balance OR w.pending <> s.ledger_pending))
        """,
        """
        SELECT 'sequence_gap', NULL, NULL, format('%s entries, sequence up to %s, head at %s', count(*), coalesce(max(seq), 0), (SELECT last_seq FROM ledger_head))
        FROM entries HAVING count(*) <> coalesce(max(seq), 0) OR coalesce(max(seq), 0) <> (SELECT last_seq FROM ledger_head)
        """,
    ];

    /// <summary>Runs every check on one snapshot and records the result (see <see cref="LastRunAsync"/>).</summary>
    public async Task<VerifyReport> VerifyAsync(CancellationToken cancellationToken) => (await CheckAndRecordAsync(cancellationToken)).Report;

    /// <summary>Runs every check on one snapshot and returns the run as it was recorded.</summary>
    public async Task<VerifyRun> RunAsync(CancellationToken cancellationToken) => (await CheckAndRecordAsync(cancellationToken)).Run;

    private async Task<(VerifyReport Report, VerifyRun Run)> CheckAndRecordAsync(CancellationToken cancellationToken)
    {
        // To the microsecond, as timestamptz keeps it: the run returned is the run read back later.
        var now = clock.GetUtcNow();
        var ranAt = now.AddTicks(-(now.Ticks % 10));
        var started = clock.GetTimestamp();
        var report = await CheckAsync(cancellationToken);
        var run = new VerifyRun(ranAt, clock.GetElapsedTime(started).TotalMilliseconds, report.Ok, report.WalletsChecked, report.EntriesChecked,
            report.Problems.Count, [.. report.Problems.Take(RecordedProblemsMax)]);
        await using var command = dataSource.CreateCommand(InsertRun);
        command.Parameters.AddWithValue("ran_at", run.RanAt);
        command.Parameters.AddWithValue("duration_ms", run.DurationMs);
        command.Parameters.AddWithValue("ok", run.Ok);
        command.Parameters.AddWithValue("wallets", run.WalletsChecked);
        command.Parameters.AddWithValue("entries", run.EntriesChecked);
        command.Parameters.AddWithValue("problem_count", run.ProblemCount);
        command.Parameters.AddWithValue("problems", JsonSerializer.Serialize(run.Problems, WalletJson.Options));
        await command.ExecuteNonQueryAsync(cancellationToken);
        return (report, run);
    }

    /// <summary>The most recent verify any process recorded; null before the first.</summary>
    public async Task<VerifyRun?> LastRunAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectLastRun);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new VerifyRun(
            reader.GetFieldValue<DateTimeOffset>(0),
            reader.GetDouble(1),
            reader.GetBoolean(2),
            reader.GetInt64(3),
            reader.GetInt64(4),
            reader.GetInt32(5),
            JsonSerializer.Deserialize<VerifyProblem[]>(reader.GetString(6), WalletJson.Options) ?? []);
    }

    private async Task<VerifyReport> CheckAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var problems = new List<VerifyProblem>();
        foreach (var check in Checks)
        {
            await using var command = new NpgsqlCommand(check, connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                problems.Add(new VerifyProblem(
                    reader.GetString(0),
                    reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.GetString(3)));
            }
        }

        await using var counts = new NpgsqlCommand("SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM entries)", connection, transaction);
        await using var countReader = await counts.ExecuteReaderAsync(cancellationToken);
        await countReader.ReadAsync(cancellationToken);
        return new VerifyReport(problems.Count == 0, countReader.GetInt64(0), countReader.GetInt64(1), problems);
    }
}
