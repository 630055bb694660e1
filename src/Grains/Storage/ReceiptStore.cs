using Npgsql;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Storage;

/// <summary>A receipt as the API shows it; its file is read apart (<see cref="ReceiptStore.ReadFileAsync"/>).</summary>
public sealed record ReceiptView(
    string Id, string Status, string? AuthorizationId, string ContentType, int SizeBytes, string FileSha256, DateTimeOffset CreatedAt)
{
    /// <summary>Taken, and waiting to be read.</summary>
    public const string Processing = "processing";
}

/// <summary>A file to keep as a receipt: its bytes, the type its bytes show and their SHA-256.</summary>
public sealed record ReceiptFile(byte[] Content, string ContentType, string Sha256);

public enum ReceiptUpload
{
    /// <summary>A new receipt, or the one the same file was uploaded as before.</summary>
    Stored,
    IdempotencyKeyExists,
}

/// <summary>The receipts tenants upload, with their files.</summary>
public sealed class ReceiptStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, status, authorization_id, content_type, size_bytes, file_sha256, created_at";

    private const string Insert =
        "INSERT INTO receipts (id, tenant_id, authorization_id, file_sha256, content_type, size_bytes, content, status, created_at, updated_at) "
        + "VALUES (@id, @tenant, @authorization, @sha256, @content_type, @size, @content, @status, @created_at, @created_at) "
        + $"ON CONFLICT DO NOTHING RETURNING {Columns}";

    private const string SelectSameFile =
        $"SELECT {Columns} FROM receipts WHERE tenant_id = @tenant AND coalesce(authorization_id, '') = coalesce(@authorization, '') AND file_sha256 = @sha256";

    private const string Select = $"SELECT {Columns} FROM receipts WHERE tenant_id = @tenant AND id = @id";

    private const string SelectFile = "SELECT content_type, content FROM receipts WHERE tenant_id = @tenant AND id = @id";

    /// <summary>
    /// Keeps <paramref name="file"/> as receipt <paramref name="id"/> of <paramref name="tenantId"/>,
    /// or finds the receipt the same file for the same authorization already is; with the request's
    /// Idempotency-Key and the answer <paramref name="answer"/> gives for that receipt, in the same
    /// transaction. Nothing is written when the key was taken first.
    /// </summary>
    public async Task<(ReceiptUpload Outcome, ReceiptView? Receipt)> UploadAsync(
        string tenantId, string id, string? authorizationId, ReceiptFile file, DateTimeOffset at, IdempotencyRequest? idempotency,
        Func<ReceiptView, StoredAnswer> answer, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand(Insert, connection, transaction);
        insert.Parameters.AddWithValue("id", id);
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.Add(new NpgsqlParameter<string?>("authorization", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = authorizationId });
        insert.Parameters.AddWithValue("sha256", file.Sha256);
        insert.Parameters.AddWithValue("content_type", file.ContentType);
        insert.Parameters.AddWithValue("size", file.Content.Length);
        insert.Parameters.AddWithValue("content", file.Content);
        insert.Parameters.AddWithValue("status", ReceiptView.Processing);
        insert.Parameters.AddWithValue("created_at", at);
        var receipt = (await ReadAsync(insert, cancellationToken)).SingleOrDefault();
        if (receipt is null)
        {
            await using var same = new NpgsqlCommand(SelectSameFile, connection, transaction);
            same.Parameters.AddWithValue("tenant", tenantId);
            same.Parameters.Add(new NpgsqlParameter<string?>("authorization", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = authorizationId });
            same.Parameters.AddWithValue("sha256", file.Sha256);
            receipt = (await ReadAsync(same, cancellationToken)).Single();
        }

        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer(receipt), cancellationToken))
        {
            return (ReceiptUpload.IdempotencyKeyExists, null);
        }

        await transaction.CommitAsync(cancellationToken);
        return (ReceiptUpload.Stored, receipt);
    }

    public async Task<ReceiptView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The receipt's file as it was uploaded, with the type its bytes show; null when the tenant has no such receipt.</summary>
    public async Task<(string ContentType, byte[] Content)?> ReadFileAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectFile);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetFieldValue<byte[]>(1)) : null;
    }

    private static async Task<List<ReceiptView>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var receipts = new List<ReceiptView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            receipts.Add(new ReceiptView(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3), reader.GetInt32(4), reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return receipts;
    }
}
