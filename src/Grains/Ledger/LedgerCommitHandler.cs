using Npgsql;
using NpgsqlTypes;
using Wallet.Runtime.Commit;

namespace Wallet.Grains.Ledger;

/// <summary>
/// The group-commit writer of transfers: one transaction per batch, in two round trips.
/// </summary>
/// <remarks>
/// The first round trip locks every wallet the batch touches, in ascending id order (so concurrent
/// writers never deadlock), then the ledger head, and reads the idempotency keys and references
/// the batch would reuse. <see cref="LedgerBatch"/> then decides each item against those locked
/// rows. The second round trip applies the balances with the guard repeated in SQL (status in the
/// WHERE clause, overdraw in a CHECK constraint), appends entries, postings and keys with one
/// set-based statement each, and moves the head.
/// </remarks>
internal sealed class LedgerCommitHandler(NpgsqlDataSource dataSource) : ICommitHandler<StagedTransfer, TransferCommitOutcome>
{
    private const string LockWallets = """
        SELECT id, tenant_id, currency, scale, status, balance, overdraft_limit, may_go_negative, version
        FROM wallets WHERE id = ANY(@ids) ORDER BY id FOR UPDATE
        """;

    private const string LockHead = "SELECT last_seq FROM ledger_head FOR UPDATE";

    private const string ExistingKeys = """
        SELECT k.tenant_id, k.key FROM idempotency_keys k
        JOIN unnest(@tenants::text[], @keys::text[]) AS r(tenant_id, key) ON k.tenant_id = r.tenant_id AND k.key = r.key
        """;

    private const string ExistingReferences = """
        SELECT e.tenant_id, e.reference FROM entries e
        JOIN unnest(@tenants::text[], @references::text[]) AS r(tenant_id, reference) ON e.tenant_id = r.tenant_id AND e.reference = r.reference
        """;

    private const string UpdateBalances = """
        UPDATE wallets AS w SET balance = w.balance + d.delta, version = w.version + d.postings
        FROM unnest(@ids::text[], @deltas::bigint[], @postings::bigint[], @debited::boolean[]) AS d(id, delta, postings, debited)
        WHERE w.id = d.id AND (w.status = 'active' OR (NOT d.debited AND w.status = 'frozen'))
        """;

    private const string InsertEntries = """
        INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at)
        SELECT seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata::jsonb, created_at
        FROM unnest(@seqs::bigint[], @ids::text[], @tenants::text[], @sources::text[], @destinations::text[], @amounts::bigint[],
                    @currencies::text[], @references::text[], @descriptions::text[], @metadata::text[], @created::timestamptz[])
             AS e(seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at)
        """;

    private const string InsertPostings = """
        INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
        SELECT * FROM unnest(@wallets::text[], @seqs::bigint[], @amounts::bigint[], @currencies::text[], @balances::bigint[], @versions::bigint[])
        """;

    private const string InsertKeys = """
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response_body)
        SELECT tenant_id, key, request_hash, 201, response_body
        FROM unnest(@tenants::text[], @keys::text[], @hashes::text[], @bodies::text[]) AS k(tenant_id, key, request_hash, response_body)
        """;

    private const string MoveHead = "UPDATE ledger_head SET last_seq = @seq";

    /// <summary>Any outcome but a commit means the grain's tentative debit did not happen: reload.</summary>
    public bool InvalidatesCachedState(TransferCommitOutcome outcome) => outcome.Status != CommitStatus.Committed;

    /// <summary>Called between the two round trips of a batch; lets tests inject a failure mid-batch.</summary>
    internal Func<NpgsqlConnection, IReadOnlyList<StagedTransfer>, Task>? BeforeWrite { get; set; }

    public async Task<TransferCommitOutcome[]> CommitAsync(IReadOnlyList<StagedTransfer> items, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var snapshot = await ReadSnapshotAsync(connection, transaction, items, cancellationToken);
        var plan = LedgerBatch.Plan(items, snapshot);
        if (BeforeWrite is { } beforeWrite)
        {
            await beforeWrite(connection, items);
        }

        if (plan.Entries.Count > 0)
        {
            await WriteAsync(connection, transaction, plan, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return plan.Outcomes;
    }

    private static async Task<BatchSnapshot> ReadSnapshotAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<StagedTransfer> items, CancellationToken cancellationToken)
    {
        var walletIds = items.SelectMany(i => new[] { i.SourceId, i.DestinationId }).Distinct().ToArray();
        var keyed = items.Where(i => i.Idempotency is not null).ToArray();
        var referenced = items.Where(i => i.Reference is not null).ToArray();

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(LockWallets, ("ids", walletIds)));
        batch.BatchCommands.Add(Command(LockHead));
        batch.BatchCommands.Add(Command(ExistingKeys,
            ("tenants", keyed.Select(i => i.TenantId).ToArray()), ("keys", keyed.Select(i => i.Idempotency!.Key).ToArray())));
        batch.BatchCommands.Add(Command(ExistingReferences,
            ("tenants", referenced.Select(i => i.TenantId).ToArray()), ("references", referenced.Select(i => i.Reference!).ToArray())));

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var wallets = new Dictionary<string, LockedWallet>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            wallets[reader.GetString(0)] = new LockedWallet(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt16(3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6), reader.GetBoolean(7), reader.GetInt64(8));
        }

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var lastSeq = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken);
        var keys = await ReadPairsAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var references = await ReadPairsAsync(reader, cancellationToken);
        return new BatchSnapshot(wallets, keys, references, lastSeq);
    }

    private static async Task<HashSet<(string, string)>> ReadPairsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var pairs = new HashSet<(string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            pairs.Add((reader.GetString(0), reader.GetString(1)));
        }

        return pairs;
    }

    private async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, LedgerBatch plan, CancellationToken cancellationToken)
    {
        var wallets = plan.ChangedWallets;
        var entries = plan.Entries;
        var postings = plan.Postings;
        var keyed = entries.Where(e => e.Transfer.Idempotency is not null).Select(e => e.Transfer).ToArray();

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(UpdateBalances,
            ("ids", wallets.Select(w => w.Id).ToArray()),
            ("deltas", wallets.Select(w => w.Delta).ToArray()),
            ("postings", wallets.Select(w => (long)w.Postings).ToArray()),
            ("debited", wallets.Select(w => w.Debited).ToArray())));
        batch.BatchCommands.Add(Command(InsertEntries,
            ("seqs", entries.Select(e => e.Seq).ToArray()),
            ("ids", entries.Select(e => e.Transfer.TransferId).ToArray()),
            ("tenants", entries.Select(e => e.Transfer.TenantId).ToArray()),
            ("sources", entries.Select(e => e.Transfer.SourceId).ToArray()),
            ("destinations", entries.Select(e => e.Transfer.DestinationId).ToArray()),
            ("amounts", entries.Select(e => e.Transfer.Amount).ToArray()),
            ("currencies", entries.Select(e => e.Transfer.Currency).ToArray()),
            ("references", entries.Select(e => e.Transfer.Reference).ToArray()),
            ("descriptions", entries.Select(e => e.Transfer.Description).ToArray()),
            ("metadata", entries.Select(e => e.Transfer.MetadataJson).ToArray()),
            ("created", entries.Select(e => e.Transfer.CreatedAt).ToArray())));
        batch.BatchCommands.Add(Command(InsertPostings,
            ("wallets", postings.Select(p => p.WalletId).ToArray()),
            ("seqs", postings.Select(p => p.EntrySeq).ToArray()),
            ("amounts", postings.Select(p => p.Amount).ToArray()),
            ("currencies", postings.Select(p => p.Currency).ToArray()),
            ("balances", postings.Select(p => p.BalanceAfter).ToArray()),
            ("versions", postings.Select(p => p.WalletVersion).ToArray())));
        batch.BatchCommands.Add(Command(InsertKeys,
            ("tenants", keyed.Select(t => t.TenantId).ToArray()),
            ("keys", keyed.Select(t => t.Idempotency!.Key).ToArray()),
            ("hashes", keyed.Select(t => t.Idempotency!.RequestHash).ToArray()),
            ("bodies", keyed.Select(t => t.ResponseBody).ToArray())));
        batch.BatchCommands.Add(Command(MoveHead, ("seq", plan.LastSeq)));
        await batch.ExecuteNonQueryAsync(cancellationToken);

        // The guard in SQL: a wallet whose status changed under us is not updated, and that fails the batch.
        var updated = batch.BatchCommands[0].RecordsAffected;
        if (updated != wallets.Count)
        {
            throw new InvalidOperationException($"Balance guard refused {wallets.Count - updated} of {wallets.Count} wallet updates; the batch is rolled back.");
        }
    }

    private static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is string?[] texts
                ? new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = texts }
                : new NpgsqlParameter(name, value));
        }

        return command;
    }
}
