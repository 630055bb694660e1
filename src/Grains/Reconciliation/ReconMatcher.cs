using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Runs a reconciliation: a source's external records of a period against its ledger account's
/// postings of that period, set-based in PostgreSQL, in one transaction that also writes the run's
/// items and completes it, so a run cut short leaves nothing and the next attempt starts afresh.
/// </summary>
/// <remarks>
/// <para>
/// Both sides are read from the period widened by the time window on each side, so a pair that
/// straddles the period's edge still matches; a record or entry outside the period that stays
/// unmatched is left to its own period's run.
/// </para>
/// <para>
/// <b>Exact</b>: the record's external id or reference equals the entry's reference or id, with the
/// same currency and amount and times within the window. <b>Fuzzy</b>, for what is left: each
/// record's nearest entries inside the tolerances (by amount, then time; at most
/// <see cref="FuzzyCandidatesMax"/>, plus any carrying its reference, written any way) are scored by
/// <see cref="ReconScore"/>, and a pair at or above the source's threshold may match. Both are
/// one-to-one by mutual choice: a pair is matched when each is the other's best (closest in time
/// for exact pairs, highest score for fuzzy), repeated over what is left until nothing pairs, so
/// the best scores win and nothing is matched twice (the temporary table's keys enforce it too).
/// </para>
/// </remarks>
public sealed partial class ReconMatcher(NpgsqlDataSource dataSource, ReconStore sources, CurrencyCatalog currencies, ILogger<ReconMatcher> logger)
{
    /// <summary>The most near entries scored per unmatched record, beyond those carrying its reference.</summary>
    public const int FuzzyCandidatesMax = 8;

    /// <summary>
    /// Runs <paramref name="runId"/> if it is queued or running (a run cut short starts again; each
    /// start counts an attempt, and one past <paramref name="attemptsMax"/> fails it). True when the
    /// run is final, by this call or before it; false when another attempt took it over meanwhile.
    /// </summary>
    public async Task<bool> RunAsync(string runId, int attemptsMax, TimeProvider clock, CancellationToken cancellationToken)
    {
        var claim = await ClaimAsync(runId, attemptsMax, clock.GetUtcNow(), cancellationToken);
        if (claim is null || claim.Status == ReconRunStatuses.Failed)
        {
            return true;
        }

        var source = await sources.FindSourceAsync(claim.TenantId, claim.SourceId, cancellationToken)
                     ?? throw new InvalidOperationException($"reconciliation source {claim.SourceId} of run {runId} is gone");
        var started = clock.GetTimestamp();
        var completed = await MatchAsync(runId, claim, source, clock, cancellationToken);
        LogRun(logger, runId, completed ? "completed" : "was taken over by another attempt", claim.Attempt, clock.GetElapsedTime(started).TotalSeconds);
        return completed;
    }

    private sealed record RunClaim(string Status, int Attempt, string TenantId, string SourceId, DateTimeOffset From, DateTimeOffset To);

    private async Task<RunClaim?> ClaimAsync(string runId, int attemptsMax, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Claim);
        command.Parameters.AddWithValue("id", runId);
        command.Parameters.AddWithValue("attempts_max", attemptsMax);
        command.Parameters.AddWithValue("now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new RunClaim(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5))
            : null;
    }

    private async Task ReportAsync(string runId, int attempt, double progress, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Progress);
        command.Parameters.AddWithValue("id", runId);
        command.Parameters.AddWithValue("attempt", attempt);
        command.Parameters.AddWithValue("progress", (float)progress);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<bool> MatchAsync(string runId, RunClaim claim, ReconSourceView source, TimeProvider clock, CancellationToken cancellationToken)
    {
        var window = TimeSpan.FromSeconds(source.Tolerances.TimeWindowSeconds);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        NpgsqlCommand Command(string sql)
        {
            var command = new NpgsqlCommand(sql, connection, transaction);
            command.Parameters.AddWithValue("id", runId);
            command.Parameters.AddWithValue("from", claim.From);
            command.Parameters.AddWithValue("to", claim.To);
            command.Parameters.AddWithValue("window", window);
            return command;
        }

        // 1. The two sides, each widened by the window.
        string[] wallets;
        await using (var command = Command(Wallets))
        {
            command.Parameters.AddWithValue("tenant", claim.TenantId);
            command.Parameters.AddWithValue("account", source.LedgerAccount);
            command.Parameters.Add(new NpgsqlParameter<string?>("prefix", NpgsqlDbType.Text)
            {
                TypedValue = SystemAccounts.TryParseReference(source.LedgerAccount, out var name) ? SystemAccounts.WalletId(claim.TenantId, name, "") : null,
            });
            wallets = (string[])(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        long seqFrom = 0, seqTo = -1;
        await using (var command = Command(SeqRange))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0))
            {
                (seqFrom, seqTo) = (reader.GetInt64(0), reader.GetInt64(1));
            }
        }

        var codes = new List<string>();
        var records = 0;
        await using (var command = Command(Load))
        {
            command.Parameters.AddWithValue("source", source.Id);
            command.Parameters.AddWithValue("wallets", wallets);
            command.Parameters.AddWithValue("seq_from", seqFrom);
            command.Parameters.AddWithValue("seq_to", seqTo);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                codes.Add(reader.GetString(0));
            }

            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            records = (int)reader.GetInt64(0);
        }

        var scales = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var code in codes)
        {
            scales[code] = (await currencies.FindAsync(claim.TenantId, code, cancellationToken))?.Scale
                           ?? throw new InvalidOperationException($"currency {code} of run {runId} is unknown to tenant {claim.TenantId}");
        }

        await using (var command = Command(Currencies))
        {
            command.Parameters.AddWithValue("codes", scales.Keys.ToArray());
            command.Parameters.AddWithValue("scales", scales.Values.ToArray());
            command.Parameters.AddWithValue("tolerances", scales.Values.Select(source.Tolerances.AmountMinorUnits).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await ReportAsync(runId, claim.Attempt, 0.25, cancellationToken);

        // 2. Exact pairs.
        await using (var command = Command(ExactCandidates))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await MatchMutualBestAsync(Command, ReconItemView.Exact, cancellationToken);
        await ReportAsync(runId, claim.Attempt, 0.5, cancellationToken);

        // 3. Fuzzy pairs among what is left: scored here, chosen in SQL.
        await using (var command = Command(Unmatched))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await CopyByChunksAsync<(int Record, int Entry, float Score)>(connection, Command, records, FuzzyCandidates,
            reader =>
            {
                var score = ReconScore.Of(Side(reader, 2), Side(reader, 7), reader.GetInt64(12), source.Tolerances.TimeWindowSeconds);
                return score >= source.Tolerances.FuzzyThreshold ? (reader.GetInt32(0), reader.GetInt32(1), (float)score) : null;
            },
            "COPY cands (xi, ri, rank, score) FROM STDIN (FORMAT BINARY)",
            async (copy, pair, token) =>
            {
                await copy.WriteAsync(pair.Record, NpgsqlDbType.Integer, token);
                await copy.WriteAsync(pair.Entry, NpgsqlDbType.Integer, token);
                await copy.WriteAsync(-(double)pair.Score, NpgsqlDbType.Double, token);
                await copy.WriteAsync(pair.Score, NpgsqlDbType.Real, token);
            },
            cancellationToken);
        await MatchMutualBestAsync(Command, ReconItemView.Fuzzy, cancellationToken);
        await using (var create = Command("CREATE TEMP TABLE fuzzy_reasons (xi integer PRIMARY KEY, reasons jsonb NOT NULL) ON COMMIT DROP"))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await CopyByChunksAsync<(int Record, string Reasons)>(connection, Command, records, FuzzyMatched,
            reader => (reader.GetInt32(0), JsonSerializer.Serialize(ReconScore.Differences(Side(reader, 1), Side(reader, 6), reader.GetInt32(11)), WalletJson.Options)),
            "COPY fuzzy_reasons (xi, reasons) FROM STDIN (FORMAT BINARY)",
            async (copy, reasons, token) =>
            {
                await copy.WriteAsync(reasons.Record, NpgsqlDbType.Integer, token);
                await copy.WriteAsync(reasons.Reasons, NpgsqlDbType.Jsonb, token);
            },
            cancellationToken);
        await using (var update = Command(FuzzyReasons))
        {
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await ReportAsync(runId, claim.Attempt, 0.75, cancellationToken);

        // 4. The items, the summary, and the run completed, all in this transaction. The run's row is
        // locked first: another attempt at the same time waits here, then finds it no longer its own.
        await using (var command = Command(LockRun))
        {
            command.Parameters.AddWithValue("attempt", claim.Attempt);
            if (await command.ExecuteScalarAsync(cancellationToken) is null)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await using (var command = Command(WriteItems))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var summary = await SummarizeAsync(Command, runId, scales, cancellationToken);
        await using (var command = Command(Complete))
        {
            command.Parameters.AddWithValue("attempt", claim.Attempt);
            command.Parameters.AddWithValue("summary", JsonSerializer.Serialize(summary, WalletJson.Options));
            command.Parameters.AddWithValue("now", clock.GetUtcNow());
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static ReconSide Side(NpgsqlDataReader reader, int first) => new(
        reader.GetString(first), reader.GetInt64(first + 1), reader.GetFieldValue<DateTimeOffset>(first + 2),
        reader.IsDBNull(first + 3) ? null : reader.GetString(first + 3), reader.IsDBNull(first + 4) ? null : reader.GetString(first + 4));

    private static async Task MatchMutualBestAsync(Func<string, NpgsqlCommand> command, string kind, CancellationToken cancellationToken)
    {
        // Each round matches at least the best pair left, so this ends; most sets need one or two rounds.
        while (true)
        {
            await using (var best = command(MutualBest))
            {
                best.Parameters.AddWithValue("kind", kind);
                if (await best.ExecuteNonQueryAsync(cancellationToken) == 0)
                {
                    return;
                }
            }

            await using var drop = command(DropMatched);
            if (!(bool)(await drop.ExecuteScalarAsync(cancellationToken))!)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Reads <paramref name="sql"/>'s rows for the records numbered 1 to <paramref name="records"/>,
    /// <see cref="ChunkRecords"/> at a time, and copies what <paramref name="read"/> makes of each
    /// (nothing for null) into PostgreSQL with <paramref name="copySql"/>, chunk by chunk.
    /// </summary>
    private static async Task CopyByChunksAsync<T>(
        NpgsqlConnection connection, Func<string, NpgsqlCommand> command, int records, string sql, Func<NpgsqlDataReader, T?> read, string copySql,
        Func<NpgsqlBinaryImporter, T, CancellationToken, Task> write, CancellationToken cancellationToken)
        where T : struct
    {
        var rows = new List<T>();
        for (var low = 1; low <= records; low += ChunkRecords)
        {
            await using (var query = command(sql))
            {
                query.Parameters.AddWithValue("low", low);
                query.Parameters.AddWithValue("high", low + ChunkRecords - 1);
                await using var reader = await query.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    if (read(reader) is { } row)
                    {
                        rows.Add(row);
                    }
                }
            }

            await using (var copy = await connection.BeginBinaryImportAsync(copySql, cancellationToken))
            {
                foreach (var row in rows)
                {
                    await copy.StartRowAsync(cancellationToken);
                    await write(copy, row, cancellationToken);
                }

                await copy.CompleteAsync(cancellationToken);
            }

            rows.Clear();
        }
    }

    private static async Task<ReconSummary> SummarizeAsync(
        Func<string, NpgsqlCommand> command, string runId, IReadOnlyDictionary<string, int> scales, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var amounts = new SortedDictionary<string, long[]>(StringComparer.Ordinal); // external, internal, exact, fuzzy, unmatched internal, unmatched external
        await using (var totals = command(Totals))
        await using (var reader = await totals.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var (currency, kind, side, count, external, @internal) =
                    (reader.GetString(0), reader.GetString(1), reader.GetString(2), (int)reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
                var bucket = kind == ReconItemView.Unmatched ? $"{kind}_{side}" : kind;
                counts[bucket] = counts.GetValueOrDefault(bucket) + count;
                if (!amounts.TryGetValue(currency, out var sums))
                {
                    amounts[currency] = sums = new long[6];
                }

                sums[0] += external;
                sums[1] += @internal;
                var column = bucket switch
                {
                    ReconItemView.Exact => 2,
                    ReconItemView.Fuzzy => 3,
                    "unmatched_internal" => 4,
                    _ => 5,
                };
                sums[column] += column == 4 ? @internal : external;
            }
        }

        var perCurrency = amounts.Select(a =>
        {
            var scale = scales[a.Key];
            var s = a.Value;
            return new ReconCurrencySummary(a.Key, Amount.Format(s[0], scale), Amount.Format(s[1], scale), Amount.Format(s[2], scale),
                Amount.Format(s[3], scale), Amount.Format(s[4], scale), Amount.Format(s[5], scale), Amount.Format(s[0] - s[1], scale));
        }).ToList();
        var unmatchedInternal = counts.GetValueOrDefault("unmatched_internal");
        var unmatchedExternal = counts.GetValueOrDefault("unmatched_external");
        return new ReconSummary(runId, ReconRunStatuses.Completed, counts.GetValueOrDefault(ReconItemView.Exact), counts.GetValueOrDefault(ReconItemView.Fuzzy),
            unmatchedInternal, unmatchedExternal, perCurrency, 0, 0, unmatchedInternal + unmatchedExternal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reconciliation run {RunId} {Outcome} (attempt {Attempt}, {Seconds:0.0} s)")]
    private static partial void LogRun(ILogger logger, string runId, string outcome, int attempt, double seconds);
}
