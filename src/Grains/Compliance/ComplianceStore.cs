using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using CsvHelper;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Compliance;

/// <summary>A watchlist as listed: its name, how many entries it holds, and when it was imported.</summary>
public sealed record WatchlistView(string Id, string Name, int Entries, string Sha256, DateTimeOffset ImportedAt);

/// <summary>A screening of a name: what was asked, what it found and its status.</summary>
public sealed record ScreeningView(
    string Id, string Name, string? Country, DateOnly? DateOfBirth, string Status, IReadOnlyList<ScreeningHit> Hits, DateTimeOffset CreatedAt);

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
        var lists = new List<WatchlistView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lists.Add(new WatchlistView(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return lists;
    }

    /// <summary>Every entry of the tenant's watchlists.</summary>
    public async Task<IReadOnlyList<WatchlistEntry>> EntriesAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT l.name, e.line, e.name, e.aliases, e.date_of_birth, e.country
            FROM watchlists l JOIN watchlist_entries e ON e.watchlist_id = l.id WHERE l.tenant_id = @tenant
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        var entries = new List<WatchlistEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new WatchlistEntry(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetFieldValue<string[]>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateOnly>(4), reader.IsDBNull(5) ? null : reader.GetString(5)));
        }

        return entries;
    }

    public async Task SaveAsync(string tenantId, ScreeningView screening, string actor, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO screenings (id, tenant_id, name, country, date_of_birth, status, hits, created_by, created_at)
            VALUES (@id, @tenant, @name, @country, @dob, @status, @hits::jsonb, @actor, @at)
            """);
        command.Parameters.AddWithValue("id", screening.Id);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("name", screening.Name);
        command.Parameters.Add(new NpgsqlParameter<string?>("country", NpgsqlDbType.Text) { TypedValue = screening.Country });
        command.Parameters.Add(new NpgsqlParameter<DateOnly?>("dob", NpgsqlDbType.Date) { TypedValue = screening.DateOfBirth });
        command.Parameters.AddWithValue("status", screening.Status);
        command.Parameters.AddWithValue("hits", JsonSerializer.Serialize(screening.Hits, WalletJson.Options));
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("at", screening.CreatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ScreeningView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id, name, country, date_of_birth, status, hits, created_at FROM screenings WHERE id = @id AND tenant_id = @tenant");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ScreeningView(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateOnly>(3), reader.GetString(4),
                JsonSerializer.Deserialize<List<ScreeningHit>>(reader.GetString(5), WalletJson.Options)!, reader.GetFieldValue<DateTimeOffset>(6))
            : null;
    }

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
                    born = DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
                        ? parsed
                        : throw new WatchlistFileException($"line {line}: date_of_birth must be a date such as 1970-01-31");
                }

                var country = csv.GetString(indexes[3]).Trim().ToUpperInvariant();
                if (country.Length is not (0 or 2) || !country.All(char.IsAsciiLetterUpper))
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
