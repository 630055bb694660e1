using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Receipts;

/// <summary>What was read from a receipt, and how its merchant compared (0 to 100) with the authorization's.</summary>
public sealed record ReceiptExtracted(ReceiptField? Total, ReceiptField? Date, ReceiptField? Merchant, int? MerchantSimilarity, string Source, string Text);

/// <summary>When the receipt's last reading started and its outcome was written, and how long the reading itself took.</summary>
public sealed record ReceiptTimings(DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt, int? OcrMs);

/// <summary>A receipt as the API shows it; its file is read apart (<see cref="ReceiptStore.ReadFileAsync"/>).</summary>
public sealed record ReceiptView(
    string Id,
    string Status,
    string? AuthorizationId,
    string ContentType,
    int SizeBytes,
    string FileSha256,
    ReceiptExtracted? Extracted,
    IReadOnlyList<string> Reasons,
    string? Error,
    int Attempts,
    ReceiptTimings Timings,
    DateTimeOffset CreatedAt);

/// <summary>A file to keep as a receipt: its bytes, the type its bytes show and their SHA-256.</summary>
public sealed record ReceiptFile(byte[] Content, string ContentType, string Sha256);

/// <summary>
/// A receipt to read: whose it is, its file, the number of this reading (what its outcome is
/// written against) and how many readings it has begun since it was uploaded or retried, this one included.
/// </summary>
public sealed record ReceiptWork(string TenantId, string? AuthorizationId, string ContentType, byte[] Content, int Reading, int Attempts);

public sealed record ReceiptQuery(string TenantId, string? Status, string? AuthorizationId, int Limit, string? Before);

public enum ReceiptUpload
{
    /// <summary>A new receipt, or the one the same file was uploaded as before.</summary>
    Stored,
    IdempotencyKeyExists,
}

public enum ReceiptRetry
{
    /// <summary>Back to processing (or it was processing already).</summary>
    Restarted,
    NotFound,
    /// <summary>A verified receipt is not read again.</summary>
    Verified,
    IdempotencyKeyExists,
}

/// <summary>The receipts tenants upload, with their files and what reading them found.</summary>
public sealed class ReceiptStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "id, status, authorization_id, content_type, size_bytes, file_sha256, extracted::text, reasons, error, attempts, started_at, completed_at, ocr_ms, created_at";

    private const string Insert =
        "INSERT INTO receipts (id, tenant_id, authorization_id, file_sha256, content_type, size_bytes, content, status, created_at, updated_at) "
        + "VALUES (@id, @tenant, @authorization, @sha256, @content_type, @size, @content, 'processing', @created_at, @created_at) "
        + $"ON CONFLICT DO NOTHING RETURNING {Columns}";

    private const string SelectSameFile =
        $"SELECT {Columns} FROM receipts WHERE tenant_id = @tenant AND coalesce(authorization_id, '') = coalesce(@authorization, '') AND file_sha256 = @sha256";

    private const string Select = $"SELECT {Columns} FROM receipts WHERE tenant_id = @tenant AND id = @id";

    private const string SelectFile = "SELECT content_type, content FROM receipts WHERE tenant_id = @tenant AND id = @id";

    // A reading begins only within the attempts left; when none is left (every earlier reading
    // failed or was cut short by its silo's death) the receipt is failed instead. That comes first,
    // so that the reading begun here, even the last one allowed, is not failed before it runs.
    private const string StartReading = """
        UPDATE receipts SET status = 'failed', completed_at = @now, updated_at = @now,
                            error = coalesce(error, 'its readings were cut short ' || attempts || ' times (the silo reading it stopped)')
        WHERE id = @id AND status = 'processing' AND attempts >= @attempts_max
        RETURNING id;
        UPDATE receipts SET reading = reading + 1, attempts = attempts + 1, started_at = @now, updated_at = @now
        WHERE id = @id AND status = 'processing' AND attempts < @attempts_max
        RETURNING tenant_id, authorization_id, content_type, content, reading, attempts
        """;

    private const string Complete = """
        UPDATE receipts SET status = @status, extracted = @extracted::jsonb, reasons = @reasons, error = NULL, ocr_ms = @ocr_ms,
                            completed_at = @now, updated_at = @now
        WHERE id = @id AND status = 'processing' AND reading = @reading
        """;

    private const string FailAttempt = """
        UPDATE receipts SET error = @error, updated_at = @now,
                            status = CASE WHEN attempts >= @attempts_max THEN 'failed' ELSE status END,
                            completed_at = CASE WHEN attempts >= @attempts_max THEN @now ELSE completed_at END
        WHERE id = @id AND status = 'processing' AND reading = @reading
        RETURNING status
        """;

    private const string Restart = $$"""
        UPDATE receipts SET status = 'processing', attempts = 0, error = NULL, reasons = '{}', extracted = NULL,
                            started_at = NULL, completed_at = NULL, ocr_ms = NULL, updated_at = @now
        WHERE tenant_id = @tenant AND id = @id AND status IN ('mismatch', 'unreadable', 'failed')
        RETURNING {{Columns}}
        """;

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
        insert.Parameters.Add(new NpgsqlParameter<string?>("authorization", NpgsqlDbType.Text) { TypedValue = authorizationId });
        insert.Parameters.AddWithValue("sha256", file.Sha256);
        insert.Parameters.AddWithValue("content_type", file.ContentType);
        insert.Parameters.AddWithValue("size", file.Content.Length);
        insert.Parameters.AddWithValue("content", file.Content);
        insert.Parameters.AddWithValue("created_at", at);
        var receipt = (await ReadAsync(insert, cancellationToken)).SingleOrDefault();
        if (receipt is null)
        {
            await using var same = new NpgsqlCommand(SelectSameFile, connection, transaction);
            same.Parameters.AddWithValue("tenant", tenantId);
            same.Parameters.Add(new NpgsqlParameter<string?>("authorization", NpgsqlDbType.Text) { TypedValue = authorizationId });
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

    /// <summary>
    /// Puts a receipt whose reading ended (mismatch, unreadable, failed) back to processing, with the
    /// request's Idempotency-Key in the same transaction. A processing receipt stays as it is; a
    /// verified one is refused.
    /// </summary>
    public async Task<(ReceiptRetry Outcome, ReceiptView? Receipt)> RetryAsync(
        string tenantId, string id, DateTimeOffset at, IdempotencyRequest? idempotency, Func<ReceiptView, StoredAnswer> answer, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var restart = new NpgsqlCommand(Restart, connection, transaction);
        restart.Parameters.AddWithValue("tenant", tenantId);
        restart.Parameters.AddWithValue("id", id);
        restart.Parameters.AddWithValue("now", at);
        var receipt = (await ReadAsync(restart, cancellationToken)).SingleOrDefault();
        if (receipt is null)
        {
            await using var select = new NpgsqlCommand(Select, connection, transaction);
            select.Parameters.AddWithValue("tenant", tenantId);
            select.Parameters.AddWithValue("id", id);
            receipt = (await ReadAsync(select, cancellationToken)).SingleOrDefault();
            if (receipt is null || receipt.Status == ReceiptStatuses.Verified)
            {
                return (receipt is null ? ReceiptRetry.NotFound : ReceiptRetry.Verified, receipt);
            }
        }

        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer(receipt), cancellationToken))
        {
            return (ReceiptRetry.IdempotencyKeyExists, null);
        }

        await transaction.CommitAsync(cancellationToken);
        return (ReceiptRetry.Restarted, receipt);
    }

    public async Task<ReceiptView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The tenant's receipts, newest first, by status or authorization.</summary>
    public async Task<Page<ReceiptView>> ListAsync(ReceiptQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {Columns} FROM receipts WHERE tenant_id = @tenant");
        await using var command = dataSource.CreateCommand();
        command.Parameters.AddWithValue("tenant", query.TenantId);
        if (query.Status is { } status)
        {
            sql.Append(" AND status = @status");
            command.Parameters.AddWithValue("status", status);
        }

        if (query.AuthorizationId is { } authorization)
        {
            sql.Append(" AND authorization_id = @authorization");
            command.Parameters.AddWithValue("authorization", authorization);
        }

        if (query.Before is { } before)
        {
            sql.Append(" AND id < @before");
            command.Parameters.AddWithValue("before", before);
        }

        sql.Append(" ORDER BY id DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        return Page<ReceiptView>.From(await ReadAsync(command, cancellationToken), query.Limit, r => r.Id);
    }

    /// <summary>Receipts of every tenant still processing and unchanged since <paramref name="before"/>, the oldest first.</summary>
    public async Task<IReadOnlyList<string>> UntouchedSinceAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id FROM receipts WHERE status = 'processing' AND updated_at < @before ORDER BY updated_at LIMIT @limit");
        command.Parameters.AddWithValue("before", before);
        command.Parameters.AddWithValue("limit", limit);
        return await command.ReadStringsAsync(cancellationToken);
    }

    /// <summary>How many receipts the tenant has in each status (the statuses it has none in left out).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByStatusAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT status, count(*) FROM receipts WHERE tenant_id = @tenant GROUP BY status");
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
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

    /// <summary>
    /// The receipt to read, its reading begun now; null when it is not processing (or not there),
    /// or when it had no attempt left: it is failed then, and <c>FailedNow</c> says so.
    /// </summary>
    public async Task<(ReceiptWork? Work, bool FailedNow)> StartReadingAsync(string id, int attemptsMax, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(StartReading);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("attempts_max", attemptsMax);
        command.Parameters.AddWithValue("now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var failedNow = await reader.ReadAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var work = await reader.ReadAsync(cancellationToken)
            ? new ReceiptWork(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetFieldValue<byte[]>(3),
                reader.GetInt32(4), reader.GetInt32(5))
            : null;
        return (work, failedNow);
    }

    /// <summary>Writes a reading's outcome, unless another reading or a retry came since it began (then false).</summary>
    public async Task<bool> CompleteAsync(string id, ReceiptWork work, ReceiptVerdict verdict, ReceiptExtracted extracted, int ocrMs, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Complete);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("reading", work.Reading);
        command.Parameters.AddWithValue("status", verdict.Status);
        command.Parameters.AddWithValue("extracted", JsonSerializer.Serialize(extracted, WalletJson.Options));
        command.Parameters.AddWithValue("reasons", verdict.Reasons.ToArray());
        command.Parameters.AddWithValue("ocr_ms", ocrMs);
        command.Parameters.AddWithValue("now", now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Records a failed reading's error; the receipt's status after it (failed after <paramref name="attemptsMax"/>), or null when it changed meanwhile.</summary>
    public async Task<string?> FailAttemptAsync(string id, ReceiptWork work, string error, int attemptsMax, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FailAttempt);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("reading", work.Reading);
        command.Parameters.AddWithValue("attempts_max", attemptsMax);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("now", now);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<List<ReceiptView>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var receipts = new List<ReceiptView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            receipts.Add(new ReceiptView(
                reader.GetString(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3),
                reader.GetInt32(4),
                reader.GetString(5),
                reader.IsDBNull(6) ? null : JsonSerializer.Deserialize<ReceiptExtracted>(reader.GetString(6), WalletJson.Options),
                reader.GetFieldValue<string[]>(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetInt32(9),
                new ReceiptTimings(
                    reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                    reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
                    reader.IsDBNull(12) ? null : reader.GetInt32(12)),
                reader.GetFieldValue<DateTimeOffset>(13)));
        }

        return receipts;
    }
}
