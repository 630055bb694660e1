using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using CsvHelper;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Compliance;

/// <summary>A watchlist as listed: its name, how many entries it holds, and when it was imported.</summary>
public sealed record WatchlistView(string Id, string Name, int Entries, string Sha256, DateTimeOffset ImportedAt);

/// <summary>
/// A screening of a name: what was screened (<see cref="ScreeningSubjects"/>), for which wallet and by
/// which job, what it found, its status, and how an operator resolved it, when they have.
/// </summary>
public sealed record ScreeningView(
    string Id,
    string Subject,
    string Name,
    string? Country,
    DateOnly? DateOfBirth,
    string Status,
    IReadOnlyList<ScreeningHit> Hits,
    string? WalletId,
    string? JobId,
    ScreeningResolution? Resolution,
    DateTimeOffset CreatedAt);

/// <summary>An operator's decision on a potential match or a match: <c>cleared</c> (not the listed person) or <c>confirmed</c>.</summary>
public sealed record ScreeningResolution(string Decision, string? Note, string ResolvedBy, DateTimeOffset ResolvedAt);

public static class ScreeningSubjects
{
    /// <summary>A name asked about (<c>POST /v1/compliance/screenings</c>).</summary>
    public const string Name = "name";

    /// <summary>A wallet's owner, when the wallet is created or when owners are screened again.</summary>
    public const string Owner = "owner";

    /// <summary>The counterparty a withdrawal names.</summary>
    public const string Counterparty = "counterparty";
}

public static class ScreeningDecisions
{
    public const string Cleared = "cleared";
    public const string Confirmed = "confirmed";
}

/// <summary>What resolving a screening came to.</summary>
public enum ResolveOutcome
{
    Resolved,
    NotFound,
    Clear,
    AlreadyResolved,
}

/// <summary>A watchlist file that cannot be imported, and why.</summary>
public sealed class WatchlistFileException(string message) : Exception(message);

/// <summary>
/// The compliance tables: a tenant's watchlists, imported from CSV (<c>name,aliases,date_of_birth,country</c>,
/// aliases separated by <c>;</c>) and replaced whole when imported again under their name, and the
/// screenings made against them.
/// </summary>
public sealed class ComplianceStore(NpgsqlDataSource dataSource)
{
    public const int NameLengthMax = 300;
    private const int AliasesMax = 50;

    // The tenants whose entries this silo keeps; past it, it starts afresh rather than grow.
    private const int CachedTenantsMax = 64;

    // Per tenant: the ids of its lists, and their entries as read.
    private readonly ConcurrentDictionary<string, (string Lists, IReadOnlyList<WatchlistEntry> Entries)> _entries = new(StringComparer.Ordinal);

    private static readonly string[] Columns = ["name", "aliases", "date_of_birth", "country"];

    /// <summary>Reads the whole file (a watchlist is small), then replaces the tenant's list of that name with it, audited, in one transaction.</summary>
    public async Task<WatchlistView> ImportAsync(string tenantId, string name, Stream file, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer, cancellationToken);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        buffer.Position = 0;
        var entries = await ReadAsync(name, buffer, cancellationToken);

        var view = new WatchlistView("wl_" + Guid.CreateVersion7().ToString("N"), name, entries.Count, sha256, now);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var replace = new NpgsqlCommand("""
            DELETE FROM watchlists WHERE tenant_id = @tenant AND name = @name;
            INSERT INTO watchlists (id, tenant_id, name, entries, sha256, imported_at) VALUES (@id, @tenant, @name, @entries, @sha, @now);
            INSERT INTO watchlist_entries (watchlist_id, line, name, aliases, date_of_birth, country)
            SELECT @id, e.line, e.name, ARRAY(SELECT jsonb_array_elements_text(e.aliases)), e.date_of_birth, e.country
            FROM jsonb_to_recordset(@rows::jsonb) AS e(line integer, name text, aliases jsonb, date_of_birth date, country text);
            """, connection, transaction))
        {
            replace.Parameters.AddWithValue("id", view.Id);
            replace.Parameters.AddWithValue("tenant", tenantId);
            replace.Parameters.AddWithValue("name", name);
            replace.Parameters.AddWithValue("entries", entries.Count);
            replace.Parameters.AddWithValue("sha", sha256);
            replace.Parameters.AddWithValue("now", now);
            replace.Parameters.AddWithValue("rows", JsonSerializer.Serialize(entries, WalletJson.Options));
            await replace.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, "watchlist.imported", view.Id,
            new { name, entries = entries.Count, sha256 }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return view;
    }

    public async Task<IReadOnlyList<WatchlistView>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, entries, sha256, imported_at FROM watchlists WHERE tenant_id = @tenant ORDER BY name");
        command.Parameters.AddWithValue("tenant", tenantId);
        return await command.ReadRowsAsync(
            reader => new WatchlistView(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4)),
            cancellationToken);
    }

    /// <summary>
    /// Every entry of the tenant's watchlists. An import replaces a list by a new one (a new id) and a
    /// list's entries never change after, so the ids of a tenant's lists name their entries: what was
    /// read is kept with them, and a screening reads the ids alone (one index lookup) while they hold.
    /// </summary>
    public async Task<IReadOnlyList<WatchlistEntry>> EntriesAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (_entries.TryGetValue(tenantId, out var kept) && kept.Lists == await ListIdsAsync(connection, null, tenantId, cancellationToken))
        {
            return kept.Entries;
        }

        // The ids and the entries from one snapshot: a list replaced in between would leave entries out.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var lists = await ListIdsAsync(connection, transaction, tenantId, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT l.name, e.line, e.name, e.aliases, e.date_of_birth, e.country
            FROM watchlists l JOIN watchlist_entries e ON e.watchlist_id = l.id WHERE l.tenant_id = @tenant
            """, connection, transaction);
        command.Parameters.AddWithValue("tenant", tenantId);
        var entries = await command.ReadRowsAsync(
            reader => new WatchlistEntry(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetFieldValue<string[]>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateOnly>(4), reader.IsDBNull(5) ? null : reader.GetString(5)),
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (_entries.Count >= CachedTenantsMax)
        {
            _entries.Clear();
        }

        _entries[tenantId] = (lists, entries);
        return entries;
    }

    private static async Task<string> ListIdsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenantId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM watchlists WHERE tenant_id = @tenant", connection, transaction);
        command.Parameters.AddWithValue("tenant", tenantId);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private const string ScreeningColumns =
        "id, subject, name, country, date_of_birth, status, hits::text, wallet_id, job_id, decision, decision_note, resolved_by, resolved_at, created_at";

    public Task SaveAsync(string tenantId, ScreeningView screening, string actor, CancellationToken cancellationToken) =>
        SaveAsync(tenantId, screening, actor, review: false, cancellationToken);

    /// <summary>
    /// Keeps <paramref name="screening"/>; with <paramref name="review"/>, in the same transaction puts
    /// its wallet under review for it, unless the wallet is under review already or closed. False
    /// when the wallet was not put under review (the screening is kept all the same).
    /// </summary>
    public async Task<bool> SaveAsync(string tenantId, ScreeningView screening, string actor, bool review, CancellationToken cancellationToken)
    {
        var batch = new NpgsqlBatch();
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO screenings (id, tenant_id, subject, name, name_key, country, date_of_birth, status, hits, wallet_id, job_id, created_by, created_at)
            VALUES (@id, @tenant, @subject, @name, @key, @country, @dob, @status, @hits::jsonb, @wallet, @job, @actor, @at)
            """);
        insert.Parameters.AddWithValue("id", screening.Id);
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.AddWithValue("subject", screening.Subject);
        insert.Parameters.AddWithValue("name", screening.Name);
        insert.Parameters.AddWithValue("key", NameScreening.Normalize(screening.Name));
        insert.Parameters.Add(new NpgsqlParameter<string?>("country", NpgsqlDbType.Text) { TypedValue = screening.Country });
        insert.Parameters.Add(new NpgsqlParameter<DateOnly?>("dob", NpgsqlDbType.Date) { TypedValue = screening.DateOfBirth });
        insert.Parameters.AddWithValue("status", screening.Status);
        insert.Parameters.AddWithValue("hits", JsonSerializer.Serialize(screening.Hits, WalletJson.Options));
        insert.Parameters.Add(new NpgsqlParameter<string?>("wallet", NpgsqlDbType.Text) { TypedValue = screening.WalletId });
        insert.Parameters.Add(new NpgsqlParameter<string?>("job", NpgsqlDbType.Text) { TypedValue = screening.JobId });
        insert.Parameters.AddWithValue("actor", actor);
        insert.Parameters.AddWithValue("at", screening.CreatedAt);
        batch.BatchCommands.Add(insert);
        if (review)
        {
            var flag = new NpgsqlBatchCommand("""
                UPDATE wallets SET review_screening_id = @id
                WHERE id = @wallet AND tenant_id = @tenant AND review_screening_id IS NULL AND status <> 'closed'
                """);
            flag.Parameters.AddWithValue("id", screening.Id);
            flag.Parameters.AddWithValue("wallet", screening.WalletId ?? "");
            flag.Parameters.AddWithValue("tenant", tenantId);
            batch.BatchCommands.Add(flag);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        batch.Connection = connection;
        batch.Transaction = transaction;
        await using (batch)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return review && batch.BatchCommands[1].RecordsAffected == 1;
    }

    /// <summary>Forgets a screening made for a wallet that was then not created.</summary>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM screenings WHERE id = @id AND decision IS NULL");
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ScreeningView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {ScreeningColumns} FROM screenings WHERE id = @id AND tenant_id = @tenant");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadScreening(reader) : null;
    }

    /// <summary>
    /// The review queue: the potential matches and matches of the tenant's wallet owners and
    /// withdrawals' counterparties that no one has resolved yet, oldest first. A name asked about on
    /// its own holds no money back, so it is not queued (it may still be resolved).
    /// </summary>
    public async Task<Page<ScreeningView>> OpenAsync(string tenantId, int limit, string? after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {ScreeningColumns} FROM screenings
            WHERE tenant_id = @tenant AND status <> 'clear' AND decision IS NULL AND subject <> 'name' AND (@after::text IS NULL OR id > @after)
            ORDER BY id LIMIT @limit
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("limit", limit + 1);
        return Page<ScreeningView>.From(await command.ReadRowsAsync(ReadScreening, cancellationToken), limit, s => s.Id);
    }

    /// <summary>
    /// Records an operator's decision on an open potential match or match, audited, and lifts the
    /// review it put a wallet under when the decision is <see cref="ScreeningDecisions.Cleared"/>:
    /// all in one transaction. Answers the wallet whose review was lifted, if any.
    /// </summary>
    public async Task<(ResolveOutcome Outcome, string? Lifted)> ResolveAsync(
        string tenantId, string id, string decision, string? note, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var find = new NpgsqlCommand("SELECT status, decision, wallet_id FROM screenings WHERE id = @id AND tenant_id = @tenant FOR UPDATE", connection, transaction))
        {
            find.Parameters.AddWithValue("id", id);
            find.Parameters.AddWithValue("tenant", tenantId);
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (ResolveOutcome.NotFound, null);
            }

            if (reader.GetString(0) == ScreeningStatuses.Clear)
            {
                return (ResolveOutcome.Clear, null);
            }

            if (!reader.IsDBNull(1))
            {
                return (ResolveOutcome.AlreadyResolved, null);
            }
        }

        await using var resolve = new NpgsqlCommand("""
            UPDATE screenings SET decision = @decision, decision_note = @note, resolved_by = @actor, resolved_at = @now WHERE id = @id;
            UPDATE wallets SET review_screening_id = NULL WHERE review_screening_id = @id AND tenant_id = @tenant AND @decision = 'cleared'
            RETURNING id;
            """, connection, transaction);
        resolve.Parameters.AddWithValue("id", id);
        resolve.Parameters.AddWithValue("tenant", tenantId);
        resolve.Parameters.AddWithValue("decision", decision);
        resolve.Parameters.Add(new NpgsqlParameter<string?>("note", NpgsqlDbType.Text) { TypedValue = note });
        resolve.Parameters.AddWithValue("actor", actor);
        resolve.Parameters.AddWithValue("now", now);
        var lifted = (string?)await resolve.ExecuteScalarAsync(cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, AuditActions.ScreeningResolved, id,
            new { decision, note, review_lifted = lifted }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (ResolveOutcome.Resolved, lifted);
    }

    /// <summary>
    /// The hits of the screenings an operator cleared for this subject: a wallet's owner, or a
    /// counterparty known by its name as compared and its country. A new screening that finds
    /// nothing they did not is no new finding.
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<ScreeningHit>>> ClearedHitsAsync(
        string tenantId, string subject, string? walletId, string? nameKey, string? country, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT hits::text FROM screenings
            WHERE tenant_id = @tenant AND subject = @subject AND decision = 'cleared'
              AND (CASE WHEN @subject = 'owner' THEN wallet_id = @wallet ELSE name_key = @key AND country IS NOT DISTINCT FROM @country END)
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("subject", subject);
        command.Parameters.Add(new NpgsqlParameter<string?>("wallet", NpgsqlDbType.Text) { TypedValue = walletId });
        command.Parameters.Add(new NpgsqlParameter<string?>("key", NpgsqlDbType.Text) { TypedValue = nameKey });
        command.Parameters.Add(new NpgsqlParameter<string?>("country", NpgsqlDbType.Text) { TypedValue = country });
        return await command.ReadRowsAsync<IReadOnlyList<ScreeningHit>>(
            reader => JsonSerializer.Deserialize<List<ScreeningHit>>(reader.GetString(0), WalletJson.Options)!, cancellationToken);
    }

    /// <summary>The tenant's wallets that name an owner, are not closed and are not under review already: whom a rescreening screens.</summary>
    public async Task<IReadOnlyList<(string WalletId, WalletOwner Owner)>> OwnersToScreenAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, owner::text FROM wallets
            WHERE tenant_id = @tenant AND kind = 'user' AND owner IS NOT NULL AND status <> 'closed' AND review_screening_id IS NULL
              AND NOT coalesce((owner ->> 'erased')::boolean, false)
            ORDER BY id
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        return await command.ReadRowsAsync(reader => (reader.GetString(0), WalletStore.ReadOwner(reader.GetString(1))), cancellationToken);
    }

    private static ScreeningView ReadScreening(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateOnly>(4),
        reader.GetString(5),
        JsonSerializer.Deserialize<List<ScreeningHit>>(reader.GetString(6), WalletJson.Options)!,
        reader.IsDBNull(7) ? null : reader.GetString(7),
        reader.IsDBNull(8) ? null : reader.GetString(8),
        reader.IsDBNull(9) ? null : new ScreeningResolution(reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10),
            reader.GetString(11), reader.GetFieldValue<DateTimeOffset>(12)),
        reader.GetFieldValue<DateTimeOffset>(13));

    /// <summary>The file's entries: a header naming the four columns, a name on every row; a row that cannot be read refuses the file.</summary>
    private static async Task<List<WatchlistEntry>> ReadAsync(string list, Stream file, CancellationToken cancellationToken)
    {
        var options = new CsvReaderOptions { HasHeader = true, TrimWhitespace = true, TrackLineNumbers = true };
        await using var csv = CsvReader.Create(file, options, leaveOpen: true);
        try
        {
            await csv.ReadHeaderAsync(cancellationToken);
            var indexes = new int[Columns.Length];
            for (var i = 0; i < Columns.Length; i++)
            {
                if (!csv.TryGetFieldIndex(Columns[i], out indexes[i]))
                {
                    throw new WatchlistFileException($"the header row must name the columns {string.Join(",", Columns)}; '{Columns[i]}' is missing");
                }
            }

            var entries = new List<WatchlistEntry>();
            while (await csv.ReadAsync(cancellationToken))
            {
                var line = (int)csv.LineNumber;
                var name = csv.GetString(indexes[0]).Trim();
                if (name.Length is 0 or > NameLengthMax)
                {
                    throw new WatchlistFileException($"line {line}: a name is required, at most {NameLengthMax} characters");
                }

                var aliases = csv.GetString(indexes[1]).Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (aliases.Length > AliasesMax || aliases.Any(a => a.Length > NameLengthMax))
                {
                    throw new WatchlistFileException($"line {line}: at most {AliasesMax} aliases of at most {NameLengthMax} characters");
                }

                DateOnly? born = null;
                if (csv.GetString(indexes[2]).Trim() is { Length: > 0 } date)
                {
                    born = NameScreening.TryParseDate(date, out var parsed)
                        ? parsed
                        : throw new WatchlistFileException($"line {line}: date_of_birth must be a date such as 1970-01-31");
                }

                var country = csv.GetString(indexes[3]).Trim().ToUpperInvariant();
                if (country.Length > 0 && !NameScreening.IsCountry(country))
                {
                    throw new WatchlistFileException($"line {line}: country must be a two-letter ISO 3166 code");
                }

                entries.Add(new WatchlistEntry(list, line, name, aliases, born, country.Length == 0 ? null : country));
            }

            return entries.Count > 0 ? entries : throw new WatchlistFileException("the file has no entries: a header row, then a name a row");
        }
        catch (CsvFormatException malformed)
        {
            throw new WatchlistFileException("the file is not readable CSV: " + malformed.Message);
        }
    }
}
