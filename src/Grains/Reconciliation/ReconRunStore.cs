using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Reconciliation;

public enum ReconResolveOutcome
{
    Resolved,
    ItemNotFound,
    CounterpartNotFound,
    AlreadyResolved,
    NotResolvable,
}

/// <summary>Reconciliation runs, their items and summaries, and operators' decisions on what they left unmatched.</summary>
public sealed class ReconRunStore(NpgsqlDataSource dataSource, CurrencyCatalog currencies)
{
    private const string RunColumns = "id, source_id, period_from, period_to, scheduled, status, progress, attempts, error, created_at, started_at, completed_at";

    private const string InsertRun = $"""
        INSERT INTO recon_runs (id, tenant_id, source_id, period_from, period_to, scheduled, status, progress, attempts, created_at, touched_at)
        VALUES (@id, @tenant, @source, @from, @to, @scheduled, 'queued', 0, 0, @now, @now)
        ON CONFLICT (source_id, period_from) WHERE scheduled DO NOTHING
        RETURNING {RunColumns}
        """;

    private const string SelectScheduledRun = $"SELECT {RunColumns} FROM recon_runs WHERE source_id = @source AND period_from = @from AND scheduled";

    private const string SelectRun = $"SELECT {RunColumns} FROM recon_runs WHERE tenant_id = @tenant AND id = @id";

    private const string SelectRunPage = $"""
        SELECT {RunColumns} FROM recon_runs
        WHERE tenant_id = @tenant AND (@source::text IS NULL OR source_id = @source) AND (@after::text IS NULL OR id < @after)
        ORDER BY id DESC LIMIT @limit
        """;

    private const string SelectSummary = "SELECT status, summary FROM recon_runs WHERE tenant_id = @tenant AND id = @id";

    private const string CountResolutions = """
        SELECT count(*) FILTER (WHERE action = 'match'), count(*) FILTER (WHERE action = 'write_off') FROM recon_resolutions WHERE run_id = @id
        """;

    private const string ItemColumns = """
        i.n, i.kind, i.side, i.currency, i.score, i.external_id, i.external_amount, i.external_at, i.external_reference, i.external_description,
        i.entry_id, i.internal_amount, i.internal_at, i.internal_reference, i.internal_description, i.reasons,
        z.action, z.counterpart, z.note, z.created_at
        """;

    private const string SelectItemPage = $"""
        SELECT {ItemColumns}
        FROM recon_items i LEFT JOIN recon_resolutions z ON z.run_id = i.run_id AND z.n = i.n
        WHERE i.run_id = @run AND i.n > @after
          AND (@matched::boolean IS NULL OR (i.kind <> 'unmatched') = @matched)
          AND (@side::text IS NULL OR i.side IS NULL OR i.side = @side)
        ORDER BY i.n LIMIT @limit
        """;

    private const string SelectItems = $"""
        SELECT {ItemColumns}
        FROM recon_items i LEFT JOIN recon_resolutions z ON z.run_id = i.run_id AND z.n = i.n
        WHERE i.run_id = @run AND i.n = ANY (@numbers)
        FOR UPDATE OF i
        """;

    private const string InsertResolution = """
        INSERT INTO recon_resolutions (run_id, n, action, counterpart, note, created_at) VALUES (@run, @n, @action, @counterpart, @note, @now)
        """;

    private const string SelectUnattended = """
        SELECT id FROM recon_runs
        WHERE (status = 'queued' AND touched_at < @queued_before) OR (status = 'running' AND touched_at < @running_before)
        ORDER BY touched_at LIMIT @limit
        """;

    /// <summary>
    /// Queues a run asked for through the API, with its Idempotency-Key in the same transaction; null
    /// when the key was taken first.
    /// </summary>
    public async Task<ReconRunView?> CreateRunAsync(
        string tenantId, string sourceId, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now, IdempotencyRequest? idempotency,
        Func<ReconRunView, StoredAnswer> answer, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var run = await InsertRunAsync(connection, tenantId, sourceId, from, to, scheduled: false, now, cancellationToken);
        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer(run!), cancellationToken))
        {
            return null;
        }

        await transaction.CommitAsync(cancellationToken);
        return run;
    }

    /// <summary>The run a schedule asks for the period starting <paramref name="from"/>: queued once, however often asked.</summary>
    public async Task<ReconRunView> CreateScheduledRunAsync(
        string tenantId, string sourceId, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await InsertRunAsync(connection, tenantId, sourceId, from, to, scheduled: true, now, cancellationToken) is { } created)
        {
            return created;
        }

        await using var command = new NpgsqlCommand(SelectScheduledRun, connection);
        command.Parameters.AddWithValue("source", sourceId);
        command.Parameters.AddWithValue("from", from);
        return (await ReadRunsAsync(command, cancellationToken)).Single();
    }

    private static async Task<ReconRunView?> InsertRunAsync(
        NpgsqlConnection connection, string tenantId, string sourceId, DateTimeOffset from, DateTimeOffset to, bool scheduled, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand(InsertRun, connection);
        insert.Parameters.AddWithValue("id", ReconIds.NewRun());
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.AddWithValue("source", sourceId);
        insert.Parameters.AddWithValue("from", from);
        insert.Parameters.AddWithValue("to", to);
        insert.Parameters.AddWithValue("scheduled", scheduled);
        insert.Parameters.AddWithValue("now", now);
        return (await ReadRunsAsync(insert, cancellationToken)).SingleOrDefault();
    }

    public async Task<ReconRunView?> FindRunAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectRun);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadRunsAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The tenant's runs (of one source, when given), newest first.</summary>
    public async Task<Page<ReconRunView>> ListRunsAsync(string tenantId, string? sourceId, int limit, string? after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectRunPage);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("source", NpgsqlDbType.Text) { TypedValue = sourceId });
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("limit", limit + 1);
        return Page<ReconRunView>.From(await ReadRunsAsync(command, cancellationToken), limit, r => r.Id);
    }

    /// <summary>
    /// A completed run's summary with the decisions taken since on its unmatched items; null when the
    /// run is not the tenant's or has not completed.
    /// </summary>
    public async Task<(bool Found, ReconSummary? Summary)> SummaryAsync(string tenantId, string runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        ReconSummary summary;
        await using (var command = new NpgsqlCommand(SelectSummary, connection))
        {
            command.Parameters.AddWithValue("tenant", tenantId);
            command.Parameters.AddWithValue("id", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (false, null);
            }

            if (reader.IsDBNull(1))
            {
                return (true, null);
            }

            summary = JsonSerializer.Deserialize<ReconSummary>(reader.GetString(1), WalletJson.Options)!;
        }

        await using (var command = new NpgsqlCommand(CountResolutions, connection))
        {
            command.Parameters.AddWithValue("id", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var (manual, writtenOff) = ((int)reader.GetInt64(0), (int)reader.GetInt64(1));
            return (true, summary with { Manual = manual, WrittenOff = writtenOff, Open = summary.UnmatchedInternal + summary.UnmatchedExternal - manual - writtenOff });
        }
    }

    /// <summary>A run's items in their order, filtered: matched pairs or unmatched items, and unmatched ones of one side.</summary>
    public async Task<Page<ReconItemView>> ListItemsAsync(
        string tenantId, string runId, bool? matched, string? side, int limit, int after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectItemPage);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("after", after);
        command.Parameters.Add(new NpgsqlParameter<bool?>("matched", NpgsqlDbType.Boolean) { TypedValue = matched });
        command.Parameters.Add(new NpgsqlParameter<string?>("side", NpgsqlDbType.Text) { TypedValue = side });
        command.Parameters.AddWithValue("limit", limit + 1);
        var items = await ReadItemsAsync(command, tenantId, runId, cancellationToken);
        return Page<ReconItemView>.From(items, limit, i => ItemNumber(i.Id).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Records an operator's decision on an unmatched item of a completed run: a write-off, or a
    /// manual match with an unmatched item of the other side in the same currency (both recorded,
    /// each naming the other). The run and its items stay as they were.
    /// </summary>
    public async Task<(ReconResolveOutcome Outcome, ReconItemView? Item, string? Why)> ResolveAsync(
        string tenantId, string itemId, string action, string? counterpartId, string note, string actor, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (!ReconIds.TryParseItem(itemId, out var runId, out var n))
        {
            return (ReconResolveOutcome.ItemNotFound, null, null);
        }

        var other = 0;
        if (counterpartId is not null && (!ReconIds.TryParseItem(counterpartId, out var otherRun, out other) || otherRun != runId))
        {
            return (ReconResolveOutcome.CounterpartNotFound, null, null);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await FindRunAsync(connection, tenantId, runId, cancellationToken) is not { Status: ReconRunStatuses.Completed })
        {
            return (ReconResolveOutcome.ItemNotFound, null, null);
        }

        List<ReconItemView> items;
        await using (var command = new NpgsqlCommand(SelectItems, connection, transaction))
        {
            command.Parameters.AddWithValue("run", runId);
            command.Parameters.AddWithValue("numbers", counterpartId is null ? new[] { n } : new[] { n, other });
            items = await ReadItemsAsync(command, tenantId, runId, cancellationToken);
        }

        var item = items.SingleOrDefault(i => i.Id == itemId);
        var counterpart = counterpartId is null ? null : items.SingleOrDefault(i => i.Id == counterpartId);
        if (item is null)
        {
            return (ReconResolveOutcome.ItemNotFound, null, null);
        }

        if (counterpartId is not null && counterpart is null)
        {
            return (ReconResolveOutcome.CounterpartNotFound, null, null);
        }

        foreach (var one in (ReconItemView?[])[item, counterpart])
        {
            if (one?.Resolution is not null)
            {
                return (ReconResolveOutcome.AlreadyResolved, null, $"item {one.Id} was resolved already ({one.Resolution.Action})");
            }

            if (one is { Kind: not ReconItemView.Unmatched })
            {
                return (ReconResolveOutcome.NotResolvable, null, $"item {one.Id} is matched ({one.Kind}); only unmatched items are resolved");
            }
        }

        if (counterpart is not null && (counterpart.Side == item.Side || counterpart.Currency != item.Currency))
        {
            return (ReconResolveOutcome.NotResolvable, null,
                $"a manual match pairs an unmatched record with an unmatched entry in the same currency; {counterpart.Id} is {counterpart.Side} in {counterpart.Currency}");
        }

        try
        {
            await InsertResolutionAsync(connection, transaction, runId, n, action, counterpart is null ? null : other, note, now, cancellationToken);
            if (counterpart is not null)
            {
                await InsertResolutionAsync(connection, transaction, runId, other, action, n, note, now, cancellationToken);
            }

            await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, AuditActions.ReconciliationItemResolved, itemId,
                new { run_id = runId, action, counterpart_id = counterpartId }, cancellationToken);

            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
        {
            // Another operator resolved one of them between our read and our write.
            return (ReconResolveOutcome.AlreadyResolved, null, "the item was resolved meanwhile");
        }

        return (ReconResolveOutcome.Resolved, item with { Resolution = new ReconResolution(action, counterpartId, note, now) }, null);
    }

    /// <summary>
    /// Runs nothing has moved on for a while: queued before <paramref name="queuedBefore"/> and never
    /// started (their grain was not reached when they were asked for), or running but untouched since
    /// <paramref name="runningBefore"/> (the process running them died without a reminder to bring
    /// them back, such as the command line's).
    /// </summary>
    public async Task<List<string>> UnattendedAsync(DateTimeOffset queuedBefore, DateTimeOffset runningBefore, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectUnattended);
        command.Parameters.AddWithValue("queued_before", queuedBefore);
        command.Parameters.AddWithValue("running_before", runningBefore);
        command.Parameters.AddWithValue("limit", limit);
        return await command.ReadStringsAsync(cancellationToken);
    }

    private static async Task InsertResolutionAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string runId, int n, string action, int? counterpart, string note, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(InsertResolution, connection, transaction);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("n", n);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.Add(new NpgsqlParameter<int?>("counterpart", NpgsqlDbType.Integer) { TypedValue = counterpart });
        command.Parameters.AddWithValue("note", note);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<ReconRunView?> FindRunAsync(NpgsqlConnection connection, string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(SelectRun, connection);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadRunsAsync(command, cancellationToken)).SingleOrDefault();
    }

    private static int ItemNumber(string itemId) => ReconIds.TryParseItem(itemId, out _, out var n) ? n : 0;

    private async Task<List<ReconItemView>> ReadItemsAsync(NpgsqlCommand command, string tenantId, string runId, CancellationToken cancellationToken)
    {
        var rows = new List<(ReconItemView Item, long? External, long? Internal)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                var external = reader.IsDBNull(5) ? null
                    : new ReconItemExternal(reader.GetString(5), "", reader.GetFieldValue<DateTimeOffset>(7), Text(8), Text(9));
                var @internal = reader.IsDBNull(10) ? null
                    : new ReconItemInternal(reader.GetString(10), "", reader.GetFieldValue<DateTimeOffset>(12), Text(13), Text(14));
                var resolution = reader.IsDBNull(16) ? null
                    : new ReconResolution(reader.GetString(16), reader.IsDBNull(17) ? null : ReconIds.Item(runId, reader.GetInt32(17)),
                        reader.GetString(18), reader.GetFieldValue<DateTimeOffset>(19));
                var item = new ReconItemView(
                    ReconIds.Item(runId, reader.GetInt32(0)), runId, reader.GetString(1), Text(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : Math.Round(reader.GetFloat(4), 4), external, @internal,
                    JsonSerializer.Deserialize<List<string>>(reader.GetString(15), WalletJson.Options)!, resolution);
                rows.Add((item, reader.IsDBNull(6) ? null : reader.GetInt64(6), reader.IsDBNull(11) ? null : reader.GetInt64(11)));
            }
        }

        var items = new List<ReconItemView>(rows.Count);
        foreach (var (item, external, @internal) in rows)
        {
            var scale = (await currencies.FindAsync(tenantId, item.Currency, cancellationToken))?.Scale ?? 0;
            items.Add(item with
            {
                External = item.External is null ? null : item.External with { Amount = Amount.Format(external!.Value, scale) },
                Internal = item.Internal is null ? null : item.Internal with { Amount = Amount.Format(@internal!.Value, scale) },
            });
        }

        return items;
    }

    private static async Task<List<ReconRunView>> ReadRunsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var runs = new List<ReconRunView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            runs.Add(new ReconRunView(
                reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.GetBoolean(4), reader.GetString(5), Math.Round(reader.GetFloat(6), 2), reader.GetInt32(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11)));
        }

        return runs;
    }
}
