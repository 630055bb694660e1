using Npgsql;
using NpgsqlTypes;
using Wallet.Runtime.Commit;

namespace Wallet.Grains.Ledger;

/// <summary>
/// The group-commit writer of transfers: one transaction per batch, in two round trips.
/// </summary>
/// <remarks>
/// The first round trip begins the transaction, locks every wallet the batch touches in ascending
/// id order (so concurrent writers never deadlock) and reads the idempotency keys and references
/// the batch would reuse. <see cref="LedgerBatch"/> then decides each item against those locked
/// rows. The second round trip applies the balances with the guard repeated in SQL (status in the
/// WHERE clause, overdraw in a CHECK constraint), appends keys, entries and postings set-based,
/// takes the entries' sequence numbers from the head row, and commits.
/// </remarks>
internal sealed class LedgerCommitHandler(NpgsqlDataSource dataSource) : ICommitHandler<StagedTransfer, TransferCommitOutcome>
{
    private const string LockWallets = """
        SELECT id, tenant_id, currency, scale, status, balance, overdraft_limit, may_go_negative, version, pending
        FROM wallets WHERE id = ANY(@ids) ORDER BY id FOR UPDATE
        """;

    private const string ExistingKeys = """
        SELECT k.tenant_id, k.key FROM idempotency_keys k
        JOIN unnest(@tenants::text[], @keys::text[]) AS r(tenant_id, key) ON k.tenant_id = r.tenant_id AND k.key = r.key
        """;

    private const string ExistingReferences = """
        SELECT e.tenant_id, e.reference FROM entries e
        JOIN unnest(@tenants::text[], @references::text[]) AS r(tenant_id, reference) ON e.tenant_id = r.tenant_id AND e.reference = r.reference
        """;

    // The guard repeated in SQL: a wallet whose status no longer allows the movement is not updated,
    // and then the count check aborts the transaction before the COMMIT that follows in the batch.
    private const string UpdateBalances = """
        WITH updated AS (
            UPDATE wallets AS w SET balance = w.balance + d.delta, version = w.version + d.postings
            FROM unnest(@ids::text[], @deltas::bigint[], @postings::bigint[], @debited::boolean[]) AS d(id, delta, postings, debited)
            WHERE w.id = d.id AND (w.status = 'active' OR (NOT d.debited AND w.status = 'frozen'))
            RETURNING 1)
        SELECT ledger_assert(count(*) = cardinality(@ids::text[]), 'the balance guard refused a wallet update') FROM updated
        """;

    private const string InsertKeys = """
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response_body)
        SELECT tenant_id, key, request_hash, 201, response_body
        FROM unnest(@tenants::text[], @keys::text[], @hashes::text[], @bodies::text[]) AS k(tenant_id, key, request_hash, response_body)
        """;

    // Sequence numbers are taken last: the head row is locked from here to COMMIT only, and entries
    // get contiguous numbers in commit order. Seqs in the arrays are relative to the batch (1..n).
    private const string InsertEntriesAndPostings = """
        WITH head AS (
            UPDATE ledger_head SET last_seq = last_seq + cardinality(@entry_ids::text[]) RETURNING last_seq - cardinality(@entry_ids::text[]) AS base),
        written AS (
            INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at)
            SELECT head.base + e.seq, e.id, e.tenant_id, e.source_id, e.destination_id, e.amount, e.currency, e.reference, e.description,
                   e.metadata::jsonb, e.created_at
            FROM head, unnest(@entry_seqs::bigint[], @entry_ids::text[], @tenants::text[], @sources::text[], @destinations::text[],
                              @amounts::bigint[], @currencies::text[], @references::text[], @descriptions::text[], @metadata::text[],
                              @created::timestamptz[])
                 AS e(seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at))
        INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
        SELECT p.wallet_id, head.base + p.seq, p.amount, p.currency, p.balance_after, p.version
        FROM head, unnest(@posting_wallets::text[], @posting_seqs::bigint[], @posting_amounts::bigint[], @posting_currencies::text[],
                          @posting_balances::bigint[], @posting_versions::bigint[])
             AS p(wallet_id, seq, amount, currency, balance_after, version)
        """;

    /// <summary>Any outcome but a commit means the grain's tentative debit did not happen: reload.</summary>
    public bool InvalidatesCachedState(TransferCommitOutcome outcome) => outcome.Status != CommitStatus.Committed;

    /// <summary>Called between the two round trips of a batch; lets tests inject a failure mid-batch.</summary>
    internal Func<NpgsqlConnection, IReadOnlyList<StagedTransfer>, Task>? BeforeWrite { get; set; }

    public async Task<TransferCommitOutcome[]> CommitAsync(IReadOnlyList<StagedTransfer> items, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var snapshot = await BeginAndReadAsync(connection, items, cancellationToken);
            var plan = LedgerBatch.Plan(items, snapshot);
            if (BeforeWrite is { } beforeWrite)
            {
                await beforeWrite(connection, items);
            }

            await WriteAndCommitAsync(connection, plan, cancellationToken);
            return plan.Outcomes;
        }
        catch
        {
            await RollbackQuietlyAsync(connection);
            throw;
        }
    }

    // Round trip 1: BEGIN, lock the wallets in id order, read the keys and references already used.
    private static async Task<BatchSnapshot> BeginAndReadAsync(NpgsqlConnection connection, IReadOnlyList<StagedTransfer> items, CancellationToken cancellationToken)
    {
        var walletIds = items.SelectMany(i => new[] { i.SourceId, i.DestinationId }).Distinct().ToArray();
        var keyed = items.Where(i => i.Idempotency is not null).ToArray();
        var referenced = items.Where(i => i.Reference is not null).ToArray();

        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command("BEGIN"));
        batch.BatchCommands.Add(Command(LockWallets, ("ids", walletIds)));
        // Most batches carry no references, many no keys: ask only about what is there.
        if (keyed.Length > 0)
        {
            batch.BatchCommands.Add(Command(ExistingKeys,
                ("tenants", keyed.Select(i => i.TenantId).ToArray()), ("keys", keyed.Select(i => i.Idempotency!.Key).ToArray())));
        }

        if (referenced.Length > 0)
        {
            batch.BatchCommands.Add(Command(ExistingReferences,
                ("tenants", referenced.Select(i => i.TenantId).ToArray()), ("references", referenced.Select(i => i.Reference!).ToArray())));
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var wallets = new Dictionary<string, LockedWallet>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            wallets[reader.GetString(0)] = new LockedWallet(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt16(3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6), reader.GetBoolean(7), reader.GetInt64(8)) { Pending = reader.GetInt64(9) };
        }

        var keys = keyed.Length > 0 && await reader.NextResultAsync(cancellationToken) ? await ReadPairsAsync(reader, cancellationToken) : [];
        var references = referenced.Length > 0 && await reader.NextResultAsync(cancellationToken) ? await ReadPairsAsync(reader, cancellationToken) : [];
        // Plan with sequence numbers relative to the batch; the head gives the base when writing.
        return new BatchSnapshot(wallets, keys, references, LastSeq: 0);
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

    // Round trip 2: balances (guarded), keys, entries and postings with their sequence numbers, COMMIT.
    private static async Task WriteAndCommitAsync(NpgsqlConnection connection, LedgerBatch plan, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        if (plan.Entries.Count > 0)
        {
            AddWrites(batch, plan);
        }

        batch.BatchCommands.Add(Command("COMMIT"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddWrites(NpgsqlBatch batch, LedgerBatch plan)
    {
        var wallets = plan.ChangedWallets;
        var entries = plan.Entries;
        var postings = plan.Postings;
        // Keys in one order everywhere, so two batches inserting the same keys cannot deadlock.
        var keyed = entries.Select(e => e.Transfer).Where(t => t.Idempotency is not null)
            .OrderBy(t => t.TenantId, StringComparer.Ordinal).ThenBy(t => t.Idempotency!.Key, StringComparer.Ordinal).ToArray();

        batch.BatchCommands.Add(Command(UpdateBalances,
            ("ids", wallets.Select(w => w.Id).ToArray()),
            ("deltas", wallets.Select(w => w.Delta).ToArray()),
            ("postings", wallets.Select(w => (long)w.Postings).ToArray()),
            ("debited", wallets.Select(w => w.Debited).ToArray())));
        if (keyed.Length > 0)
        {
            batch.BatchCommands.Add(Command(InsertKeys,
                ("tenants", keyed.Select(t => t.TenantId).ToArray()),
                ("keys", keyed.Select(t => t.Idempotency!.Key).ToArray()),
                ("hashes", keyed.Select(t => t.Idempotency!.RequestHash).ToArray()),
                ("bodies", keyed.Select(t => t.ResponseBody).ToArray())));
        }

        batch.BatchCommands.Add(Command(InsertEntriesAndPostings,
            ("entry_seqs", entries.Select(e => e.Seq).ToArray()),
            ("entry_ids", entries.Select(e => e.Transfer.TransferId).ToArray()),
            ("tenants", entries.Select(e => e.Transfer.TenantId).ToArray()),
            ("sources", entries.Select(e => e.Transfer.SourceId).ToArray()),
            ("destinations", entries.Select(e => e.Transfer.DestinationId).ToArray()),
            ("amounts", entries.Select(e => e.Transfer.Amount).ToArray()),
            ("currencies", entries.Select(e => e.Transfer.Currency).ToArray()),
            ("references", entries.Select(e => e.Transfer.Reference).ToArray()),
            ("descriptions", entries.Select(e => e.Transfer.Description).ToArray()),
            ("metadata", entries.Select(e => e.Transfer.MetadataJson).ToArray()),
            ("created", entries.Select(e => e.Transfer.CreatedAt).ToArray()),
            ("posting_wallets", postings.Select(p => p.WalletId).ToArray()),
            ("posting_seqs", postings.Select(p => p.EntrySeq).ToArray()),
            ("posting_amounts", postings.Select(p => p.Amount).ToArray()),
            ("posting_currencies", postings.Select(p => p.Currency).ToArray()),
            ("posting_balances", postings.Select(p => p.BalanceAfter).ToArray()),
            ("posting_versions", postings.Select(p => p.WalletVersion).ToArray())));
    }

    // After a failure the server may already have ended the transaction, or the connection may be
    // gone; either way nothing of the batch is committed, and the pool discards a broken connection.
    private static async Task RollbackQuietlyAsync(NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
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
