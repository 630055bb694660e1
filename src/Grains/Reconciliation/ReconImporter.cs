using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Reconciliation;

/// <summary>A record as it arrived: its line (or its place in a pushed batch) and its fields by name.</summary>
public sealed record RawRecord(int Line, Func<string, string?> Field)
{
    /// <summary>Why the row cannot be read at all (malformed CSV), before any field is looked at.</summary>
    public string? Problem { get; init; }
}

/// <summary>
/// Records arriving for a source: a CSV file read as it streams in, or a pushed batch. A file
/// knows its SHA-256 and size once it has been read to its end.
/// </summary>
public interface IRecordFeed
{
    /// <summary>The file's name as uploaded; null for pushed records.</summary>
    string? Name { get; }

    /// <summary>The file's SHA-256 (hex), once read to its end; null for pushed records.</summary>
    string? Sha256 { get; }

    long? SizeBytes { get; }

    /// <summary>The records; throws <see cref="ReconFileException"/> when the file itself cannot be read.</summary>
    IAsyncEnumerable<RawRecord> ReadAsync(ExternalRecordReader reader, CancellationToken cancellationToken);
}

/// <summary>A file that cannot be read at all (not CSV, a mapped column missing, too large): nothing of it is imported.</summary>
public sealed class ReconFileException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

public enum ReconImportOutcome
{
    /// <summary>Imported: the records new to the source are kept.</summary>
    Imported,

    /// <summary>The same file was imported for the source before: nothing new is kept, the first import is the answer.</summary>
    SameFile,

    /// <summary>Refused whole: a row could not be read and the source refuses such files, or the file cannot be read.</summary>
    Refused,

    IdempotencyKeyExists,
}

/// <summary>
/// Imports external records for a source in one transaction: every record is read through the
/// source's mapping as it arrives and copied (binary COPY) into a staging table, so a file of a
/// million rows is never held in memory; then the records new to the source are kept, at most one
/// per external id. A file already imported (by SHA-256), or one with a bad row under
/// <see cref="ReconSourceView.RefuseFile"/>, leaves nothing behind.
/// </summary>
public sealed class ReconImporter(NpgsqlDataSource dataSource, CurrencyCatalog currencies, IOptions<ReconOptions> options)
{
    private const string CreateStaging = """
        CREATE TEMPORARY TABLE recon_staging (
            external_id text NOT NULL, amount bigint NOT NULL, currency text NOT NULL, occurred_at timestamptz NOT NULL,
            reference text, description text, line integer NOT NULL) ON COMMIT DROP
        """;

    private const string Copy =
        "COPY recon_staging (external_id, amount, currency, occurred_at, reference, description, line) FROM STDIN (FORMAT BINARY)";

    private const string InsertFile = """
        INSERT INTO recon_files (id, tenant_id, source_id, name, sha256, size_bytes, rows, imported, duplicates, bad_rows, bad_row_count, created_at)
        VALUES (@id, @tenant, @source, @name, @sha256, @size, 0, 0, 0, '[]', 0, @now)
        ON CONFLICT (source_id, sha256) DO NOTHING
        RETURNING id
        """;

    // One record per external id: the first line of a file that repeats one, and none already kept.
    private const string InsertRecords = """
        WITH kept AS (
            INSERT INTO recon_records (source_id, external_id, amount, currency, occurred_at, reference, description, file_id, line, created_at)
            SELECT DISTINCT ON (external_id) @source, external_id, amount, currency, occurred_at, reference, description, @file, line, @now
            FROM recon_staging ORDER BY external_id, line
            ON CONFLICT (source_id, external_id) DO NOTHING
            RETURNING 1)
        SELECT count(*)::int FROM kept
        """;

    private const string CompleteFile = """
        UPDATE recon_files SET rows = @rows, imported = @imported, duplicates = @duplicates, bad_rows = @bad_rows::jsonb, bad_row_count = @bad_row_count
        WHERE id = @id
        """;

    /// <summary>
    /// Imports <paramref name="feed"/> for <paramref name="source"/>. The Idempotency-Key (made from
    /// the file's SHA-256 once it is known, by <paramref name="idempotency"/>) is kept in the same
    /// transaction with the answer <paramref name="answer"/> gives.
    /// </summary>
    public async Task<(ReconImportOutcome Outcome, ReconImportView? Import, LedgerFailure? Failure)> ImportAsync(
        string tenantId, ReconSourceView source, string importId, IRecordFeed feed, DateTimeOffset at,
        Func<IRecordFeed, IdempotencyRequest?> idempotency, Func<ReconImportOutcome, ReconImportView, StoredAnswer> answer,
        CancellationToken cancellationToken)
    {
        var known = new Dictionary<string, Currency?>(StringComparer.Ordinal);
        var reader = new ExternalRecordReader(source.Mapping, code => known.GetValueOrDefault(code));
        var badRows = new List<BadRow>();
        var (rows, badRowCount) = (0, 0);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var staging = new NpgsqlCommand(CreateStaging, connection, transaction))
        {
            await staging.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await using var copy = await connection.BeginBinaryImportAsync(Copy, cancellationToken);
            await foreach (var raw in feed.ReadAsync(reader, cancellationToken))
            {
                rows++;
                if (reader.CurrencyCodeOf(raw.Field) is { } code && !known.ContainsKey(code))
                {
                    known[code] = await currencies.FindAsync(tenantId, code, cancellationToken);
                }

                var (record, reason) = raw.Problem is { } problem ? (default(ExternalRecord), problem) : reader.Read(raw.Field, raw.Line);
                if (reason is not null)
                {
                    if (++badRowCount <= options.Value.BadRowsReportedMax)
                    {
                        badRows.Add(new BadRow(raw.Line, reason));
                    }

                    continue;
                }

                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(record.ExternalId, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(record.Amount, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(record.Currency, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(record.OccurredAt, NpgsqlDbType.TimestampTz, cancellationToken);
                await WriteOptionalAsync(copy, record.Reference, cancellationToken);
                await WriteOptionalAsync(copy, record.Description, cancellationToken);
                await copy.WriteAsync(record.Line, NpgsqlDbType.Integer, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }
        catch (ReconFileException unreadable)
        {
            return (ReconImportOutcome.Refused, null, new LedgerFailure(unreadable.Code, unreadable.Message));
        }

        if (feed.Sha256 is { } sha256)
        {
            await using var file = new NpgsqlCommand(InsertFile, connection, transaction);
            file.Parameters.AddWithValue("id", importId);
            file.Parameters.AddWithValue("tenant", tenantId);
            file.Parameters.AddWithValue("source", source.Id);
            file.Parameters.Add(new NpgsqlParameter<string?>("name", NpgsqlDbType.Text) { TypedValue = feed.Name });
            file.Parameters.AddWithValue("sha256", sha256);
            file.Parameters.AddWithValue("size", feed.SizeBytes ?? 0);
            file.Parameters.AddWithValue("now", at);
            if (await file.ExecuteScalarAsync(cancellationToken) is null)
            {
                await transaction.RollbackAsync(cancellationToken);
                var first = await FindSameFileAsync(source.Id, sha256, cancellationToken);
                return await AnswerAsync(tenantId, ReconImportOutcome.SameFile, first, feed, idempotency, answer, cancellationToken);
            }
        }

        if (badRowCount > 0 && source.BadRows == ReconSourceView.RefuseFile)
        {
            return (ReconImportOutcome.Refused, null, new LedgerFailure(LedgerErrors.RecordsRejected,
                $"{badRowCount} of {rows} records could not be read, and the source refuses a file with a bad row (bad_rows: refuse_file); nothing was imported",
                StoredAnswers.Extensions(new { BadRowCount = badRowCount, BadRows = badRows })));
        }

        int imported;
        await using (var insert = new NpgsqlCommand(InsertRecords, connection, transaction))
        {
            insert.Parameters.AddWithValue("source", source.Id);
            insert.Parameters.Add(new NpgsqlParameter<string?>("file", NpgsqlDbType.Text) { TypedValue = feed.Sha256 is null ? null : importId });
            insert.Parameters.AddWithValue("now", at);
            imported = (int)(await insert.ExecuteScalarAsync(cancellationToken))!;
        }

        var view = new ReconImportView(feed.Sha256 is null ? null : importId, source.Id, feed.Name, feed.Sha256, feed.SizeBytes, rows, imported,
            rows - badRowCount - imported, badRowCount, badRows, at);
        if (feed.Sha256 is not null)
        {
            await using var complete = new NpgsqlCommand(CompleteFile, connection, transaction);
            complete.Parameters.AddWithValue("id", importId);
            complete.Parameters.AddWithValue("rows", view.Rows);
            complete.Parameters.AddWithValue("imported", view.Imported);
            complete.Parameters.AddWithValue("duplicates", view.Duplicates);
            complete.Parameters.AddWithValue("bad_rows", ReconStore.Json(badRows));
            complete.Parameters.AddWithValue("bad_row_count", badRowCount);
            await complete.ExecuteNonQueryAsync(cancellationToken);
        }

        if (idempotency(feed) is { } key && !await IdempotencyStore.TryInsertAsync(connection, tenantId, key, answer(ReconImportOutcome.Imported, view), cancellationToken))
        {
            return (ReconImportOutcome.IdempotencyKeyExists, null, null);
        }

        await transaction.CommitAsync(cancellationToken);
        return (ReconImportOutcome.Imported, view, null);
    }

    /// <summary>The answer for a file imported before, with the request's Idempotency-Key kept for it.</summary>
    private async Task<(ReconImportOutcome, ReconImportView?, LedgerFailure?)> AnswerAsync(
        string tenantId, ReconImportOutcome outcome, ReconImportView view, IRecordFeed feed, Func<IRecordFeed, IdempotencyRequest?> idempotency,
        Func<ReconImportOutcome, ReconImportView, StoredAnswer> answer, CancellationToken cancellationToken)
    {
        if (idempotency(feed) is { } key)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            if (!await IdempotencyStore.TryInsertAsync(connection, tenantId, key, answer(outcome, view), cancellationToken))
            {
                return (ReconImportOutcome.IdempotencyKeyExists, null, null);
            }
        }

        return (outcome, view, null);
    }

    private async Task<ReconImportView> FindSameFileAsync(string sourceId, string sha256, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReconStore.SelectSameFile);
        command.Parameters.AddWithValue("source", sourceId);
        command.Parameters.AddWithValue("sha256", sha256);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return ReconStore.ReadFile(reader);
    }

    private static async Task WriteOptionalAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await copy.WriteNullAsync(cancellationToken);
        }
        else
        {
            await copy.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);
        }
    }
}
