using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Reconciliation;

public enum ReconSourceCreation
{
    Created,
    NameTaken,
    IdempotencyKeyExists,
}

/// <summary>The reconciliation sources of each tenant, and the files imported for them.</summary>
public sealed class ReconStore(NpgsqlDataSource dataSource)
{
    private const string SourceColumns = "id, name, ledger_account, format, mapping, tolerances, bad_rows, schedule, created_at";

    private const string InsertSource = $"""
        INSERT INTO recon_sources (id, tenant_id, name, ledger_account, format, mapping, tolerances, bad_rows, schedule, created_at)
        VALUES (@id, @tenant, @name, @ledger_account, @format, @mapping::jsonb, @tolerances::jsonb, @bad_rows, @schedule::jsonb, @created_at)
        ON CONFLICT (tenant_id, name) DO NOTHING
        RETURNING {SourceColumns}
        """;

    private const string SelectSource = $"SELECT {SourceColumns} FROM recon_sources WHERE tenant_id = @tenant AND id = @id";

    private const string SelectSourcePage = $"""
        SELECT {SourceColumns} FROM recon_sources
        WHERE tenant_id = @tenant AND (@after::text IS NULL OR id < @after)
        ORDER BY id DESC LIMIT @limit
        """;

    private const string FileColumns = "id, source_id, name, sha256, size_bytes, rows, imported, duplicates, bad_row_count, bad_rows, created_at";

    private const string SelectFilePage = $"""
        SELECT {FileColumns} FROM recon_files
        WHERE tenant_id = @tenant AND source_id = @source AND (@after::text IS NULL OR id < @after)
        ORDER BY id DESC LIMIT @limit
        """;

    /// <summary>
    /// Keeps <paramref name="source"/> for <paramref name="tenantId"/> with the request's
    /// Idempotency-Key in the same transaction; nothing is written when the tenant has a source of
    /// that name, or the key was taken first.
    /// </summary>
    public async Task<(ReconSourceCreation Outcome, ReconSourceView? Source)> CreateSourceAsync(
        string tenantId, ReconSourceView source, IdempotencyRequest? idempotency, Func<ReconSourceView, StoredAnswer> answer,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand(InsertSource, connection, transaction);
        insert.Parameters.AddWithValue("id", source.Id);
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.AddWithValue("name", source.Name);
        insert.Parameters.AddWithValue("ledger_account", source.LedgerAccount);
        insert.Parameters.AddWithValue("format", source.Format);
        insert.Parameters.AddWithValue("mapping", Json(source.Mapping));
        insert.Parameters.AddWithValue("tolerances", Json(source.Tolerances));
        insert.Parameters.AddWithValue("bad_rows", source.BadRows);
        insert.Parameters.Add(new NpgsqlParameter<string?>("schedule", NpgsqlDbType.Text) { TypedValue = source.Schedule is null ? null : Json(source.Schedule) });
        insert.Parameters.AddWithValue("created_at", source.CreatedAt);
        var created = (await ReadSourcesAsync(insert, cancellationToken)).SingleOrDefault();
        if (created is null)
        {
            return (ReconSourceCreation.NameTaken, null);
        }

        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer(created), cancellationToken))
        {
            return (ReconSourceCreation.IdempotencyKeyExists, null);
        }

        await transaction.CommitAsync(cancellationToken);
        return (ReconSourceCreation.Created, created);
    }

    /// <summary>Whether <paramref name="walletId"/> is one of the tenant's wallets.</summary>
    public async Task<bool> IsWalletAsync(string tenantId, string walletId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM wallets WHERE id = @id AND tenant_id = @tenant AND kind = 'user')");
        command.Parameters.AddWithValue("id", walletId);
        command.Parameters.AddWithValue("tenant", tenantId);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<ReconSourceView?> FindSourceAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectSource);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadSourcesAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>A source of any tenant, with its tenant: for the grains, which know a source by its id alone.</summary>
    public async Task<(string TenantId, ReconSourceView Source)?> FindSourceByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {SourceColumns}, tenant_id FROM recon_sources WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(9), ReadSource(reader)) : null;
    }

    /// <summary>The sources of this name (of <paramref name="tenantId"/> when given), each with its tenant.</summary>
    public async Task<List<(string TenantId, ReconSourceView Source)>> FindSourcesByNameAsync(string name, string? tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {SourceColumns}, tenant_id FROM recon_sources WHERE name = @name AND (@tenant::text IS NULL OR tenant_id = @tenant) ORDER BY tenant_id");
        command.Parameters.AddWithValue("name", name);
        command.Parameters.Add(new NpgsqlParameter<string?>("tenant", NpgsqlDbType.Text) { TypedValue = tenantId });
        var found = new List<(string, ReconSourceView)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add((reader.GetString(9), ReadSource(reader)));
        }

        return found;
    }

    /// <summary>The ids of the sources that have a schedule.</summary>
    public async Task<List<string>> ScheduledSourcesAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM recon_sources WHERE schedule IS NOT NULL ORDER BY id");
        return await command.ReadStringsAsync(cancellationToken);
    }

    /// <summary>The tenant's sources, newest first.</summary>
    public async Task<Page<ReconSourceView>> ListSourcesAsync(string tenantId, int limit, string? after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectSourcePage);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("limit", limit + 1);
        return Page<ReconSourceView>.From(await ReadSourcesAsync(command, cancellationToken), limit, s => s.Id);
    }

    /// <summary>The files imported for a source, newest first.</summary>
    public async Task<Page<ReconImportView>> ListFilesAsync(string tenantId, string sourceId, int limit, string? after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectFilePage);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("source", sourceId);
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("limit", limit + 1);
        var files = new List<ReconImportView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            files.Add(ReadFile(reader));
        }

        return Page<ReconImportView>.From(files, limit, f => f.Id!);
    }

    internal const string SelectSameFile = $"SELECT {FileColumns} FROM recon_files WHERE source_id = @source AND sha256 = @sha256";

    internal static ReconImportView ReadFile(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
        reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetInt32(8),
        JsonSerializer.Deserialize<List<BadRow>>(reader.GetString(9), WalletJson.Options)!, reader.GetFieldValue<DateTimeOffset>(10));

    internal static string Json<T>(T value) => JsonSerializer.Serialize(value, WalletJson.Options);

    private static async Task<List<ReconSourceView>> ReadSourcesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var sources = new List<ReconSourceView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sources.Add(ReadSource(reader));
        }

        return sources;
    }

    private static ReconSourceView ReadSource(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        JsonSerializer.Deserialize<ReconMapping>(reader.GetString(4), WalletJson.Options)!,
        JsonSerializer.Deserialize<ReconTolerances>(reader.GetString(5), WalletJson.Options)!,
        reader.GetString(6),
        reader.IsDBNull(7) ? null : JsonSerializer.Deserialize<ReconSchedule>(reader.GetString(7), WalletJson.Options),
        reader.GetFieldValue<DateTimeOffset>(8));
}
