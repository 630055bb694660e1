using Npgsql;
using Wallet.Grains.Ledger;
using static Wallet.Grains.Storage.SqlBatch;

namespace Wallet.Grains.Transactions;

/// <summary>A state prepared under its sequence number, as it is written.</summary>
internal sealed record PreparedRow(long SequenceId, string TransactionId, long TimeStampTicks, byte[] TransactionManager, byte[] State);

/// <summary>
/// One <c>Store</c> of one transactional state, planned by its storage: the version it expects
/// (null: the state has never been written), the row as it must be after the write, and which
/// prepared states go. <see cref="CommittedState"/> is null when the committed state stays.
/// Prepared states at or below <see cref="DropUpTo"/> and above <see cref="DropAbove"/> are removed
/// before <see cref="Prepared"/> are written.
/// </summary>
internal sealed record StateWrite(
    string StateKey,
    long? ExpectedEtag,
    long Etag,
    long CommittedSequence,
    byte[]? CommittedState,
    byte[] Metadata,
    long? DropUpTo,
    long? DropAbove,
    IReadOnlyList<PreparedRow> Prepared)
{
    /// <summary>Ledger rows of prepared states, kept in <c>ledger_prepared</c> until their transactions commit or abort.</summary>
    public IReadOnlyList<PreparedLedgerRow> PreparedLedgerRows { get; init; } = [];

    /// <summary>The ledger rows the committed state carries: written with this write, unless written already.</summary>
    public IReadOnlyList<PreparedLedgerRow> CommittedLedgerRows { get; init; } = [];

    /// <summary>
    /// Transactions this write commits that have other write participants: the ledger rows those
    /// prepared are written with it. A transaction of this state alone has all its rows in
    /// <see cref="CommittedLedgerRows"/>.
    /// </summary>
    public IReadOnlyList<string> CommittingTransactions { get; init; } = [];

    /// <summary>Once written, every ledger row of the state up to this version is in the ledger.</summary>
    public long? LedgerWrittenUpTo { get; init; }

    /// <summary>Where the committed state stands in the ledger, when this write commits one that carries rows.</summary>
    public LedgerPosition? Position { get; init; }
}

internal enum StateWriteOutcome
{
    Written,

    /// <summary>The row was not at the expected version (or already existed): nothing of this write was kept.</summary>
    StaleEtag,
}

/// <summary>
/// Writes the <c>Store</c> calls of many grains in one PostgreSQL transaction. Each write is fenced
/// by its own version check, so a stale one changes nothing and fails alone while the others commit.
/// </summary>
internal sealed class TransactionalStateWriter(NpgsqlDataSource dataSource, LedgerMetrics? metrics = null) : ICommitHandler<StateWrite, StateWriteOutcome>
{
    // The writes' rows as RowColumns passes them: a state never written has no expected version.
    private const string Rows = """
        unnest(@keys::text[], @expected::bigint[], @etags::bigint[], @sequences::bigint[], @states::bytea[], @metadata::bytea[],
               @wallets::text[], @versions::bigint[], @balances::bigint[], @pendings::bigint[])
            AS w(state_key, expected, etag, committed_sequence, committed_state, metadata, wallet_id, version, balance, pending)
        """;

    // Moves every state row at its expected version (or, for a state never written, inserts it). One
    // statement, so that a batch can check its fence inside the round trip that writes and commits it.
    private const string Moves = $"""
        updated AS (
            UPDATE transactional_states s
            SET etag = w.etag, committed_sequence = w.committed_sequence,
                committed_state = coalesce(w.committed_state, s.committed_state), metadata = w.metadata, updated_at = now(),
                ledger_wallet_id = coalesce(w.wallet_id, s.ledger_wallet_id), ledger_version = coalesce(w.version, s.ledger_version),
                ledger_balance = coalesce(w.balance, s.ledger_balance), ledger_pending = coalesce(w.pending, s.ledger_pending)
            FROM {Rows}
            WHERE w.expected IS NOT NULL AND s.state_key = w.state_key AND s.etag = w.expected
            RETURNING s.state_key),
        inserted AS (
            INSERT INTO transactional_states (state_key, etag, committed_sequence, committed_state, metadata,
                                              ledger_wallet_id, ledger_version, ledger_balance, ledger_pending)
            SELECT state_key, etag, committed_sequence, coalesce(committed_state, ''::bytea), metadata, wallet_id, version, balance, pending
            FROM {Rows}
            WHERE w.expected IS NULL
            ON CONFLICT (state_key) DO NOTHING
            RETURNING state_key)
        """;

    /// <summary>The fence alone: the keys of the states it moved.</summary>
    private const string Fence = $"""
        WITH {Moves}
        SELECT state_key FROM updated UNION ALL SELECT state_key FROM inserted
        """;

    /// <summary>The fence of a batch written in one round trip: a state it does not move aborts the batch.</summary>
    private const string FenceEvery = $"""
        WITH {Moves}
        SELECT ledger_assert((SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted) = cardinality(@keys::text[]),
                             'a state is not at the version its write expects')
        """;

    // Both prepared tables are queues (migration 0013): until vacuum has run, their dead rows make a
    // scan of the whole table cost far more than its statistics say, and a delete joined to the keys
    // alone was planned as one (in the first minute of uniform transfers, before autovacuum had run,
    // this delete read 74 pages a transfer; 7 with the keys given to the index as a list).
    private const string DropPrepared = """
        DELETE FROM transactional_prepares p
        USING unnest(@keys::text[], @up_to::bigint[], @above::bigint[]) AS d(state_key, up_to, above)
        WHERE p.state_key = ANY (@keys::text[]) AND p.state_key = d.state_key AND (p.sequence_id <= d.up_to OR p.sequence_id > d.above)
        """;

    private const string UpsertPrepared = """
        INSERT INTO transactional_prepares (state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state)
        SELECT state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state
        FROM unnest(@keys::text[], @sequences::bigint[], @transactions::text[], @stamps::bigint[], @managers::bytea[], @states::bytea[])
             AS p(state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state)
        ON CONFLICT (state_key, sequence_id) DO UPDATE
        SET transaction_id = excluded.transaction_id, time_stamp = excluded.time_stamp,
            transaction_manager = excluded.transaction_manager, state = excluded.state
        """;

    // A row prepared again under a version an aborted row had replaces it whole: every column but the
    // key, or a hold, a status or a multi-leg entry's legs of the first transaction would ride on the
    // second into the ledger. The columns are the record's, so none added later can be left out.
    private static readonly string PrepareLedgerRows = $"""
        INSERT INTO ledger_prepared AS p
        SELECT r.* FROM jsonb_populate_recordset(null::ledger_prepared, @rows::jsonb) r
        WHERE r.version > (SELECT w.version FROM wallets w WHERE w.id = r.wallet_id)
        ON CONFLICT (state_key, version) DO UPDATE SET {PreparedLedgerRow.ReplacingColumns}
        """;

    // A queue too: the keys as a list keep the delete on the index (see DropPrepared).
    private const string DropAbortedLedgerRows = """
        DELETE FROM ledger_prepared p
        USING unnest(@keys::text[], @above::bigint[]) AS d(state_key, above)
        WHERE p.state_key = ANY (@keys::text[]) AND p.state_key = d.state_key AND p.sequence_id > d.above
        """;

    private const string WriteLedger = "SELECT ledger_write_transactions(@rows::jsonb, @transactions::text[])";

    /// <summary>Called with a batch's connection before the batch is sent; lets tests make a batch fail.</summary>
    internal Func<NpgsqlConnection, IReadOnlyList<StateWrite>, Task>? BeforeWrite { get; set; }

    public async Task<StateWriteOutcome[]> CommitAsync(IReadOnlyList<StateWrite> items, CancellationToken cancellationToken)
    {
        var outcomes = new StateWriteOutcome[items.Count];
        // One write per state in a transaction: a second write of the same state in one batch comes
        // from a second activation or a stale instance, and cannot expect the version the first makes.
        var firsts = new Dictionary<string, int>(StringComparer.Ordinal);
        // One commit per Idempotency-Key too: two requests with one key at the same moment (on two
        // wallets) may both have found it free; the first keeps it, the second fails alone and its
        // retry finds the key. (A key a prepared row carries is checked by the ledger's write.)
        var keys = new HashSet<(string?, string)>();
        for (var i = 0; i < items.Count; i++)
        {
            if (!firsts.TryAdd(items[i].StateKey, i))
            {
                outcomes[i] = StateWriteOutcome.StaleEtag;
            }
            else if (items[i].CommittedLedgerRows.Where(r => r.Key is not null).Any(r => !keys.Add((r.KeyTenantId, r.Key!))))
            {
                firsts.Remove(items[i].StateKey);
                outcomes[i] = StateWriteOutcome.StaleEtag;
            }
        }

        // Rows in one order, which keeps most lock waits between two silos' batches (only duplicate
        // activations write the same state from two silos) from turning into deadlocks; PostgreSQL
        // breaks any that remains, and that batch fails and is retried like any failed store.
        var writes = firsts.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => items[f.Value]).ToList();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (BeforeWrite is { } beforeWrite)
        {
            await beforeWrite(connection, writes);
        }

        HashSet<string> written;
        long entries;
        try
        {
            // Almost every batch holds no stale write: its fence, its writes and its commit go in one
            // round trip, the batch's implicit transaction, which a state the fence does not move aborts.
            entries = await WriteAsync(connection, null, writes, fenced: false, cancellationToken);
            written = [.. writes.Select(w => w.StateKey)];
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation)
        {
            // A state was not at its version, or a guard of the ledger's failed: nothing was kept. The
            // fence alone tells which writes are stale; the others are written (a failed guard fails again).
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            written = await FenceAsync(connection, transaction, writes, cancellationToken);
            var kept = writes.Where(w => written.Contains(w.StateKey)).ToList();
            entries = kept.Count > 0 ? await WriteAsync(connection, transaction, kept, fenced: true, cancellationToken) : 0;
            await transaction.CommitAsync(cancellationToken);
        }

        metrics?.RecordEntries((int)entries);
        for (var i = 0; i < items.Count; i++)
        {
            if (firsts.TryGetValue(items[i].StateKey, out var first) && first == i)
            {
                outcomes[i] = written.Contains(items[i].StateKey) ? StateWriteOutcome.Written : StateWriteOutcome.StaleEtag;
            }
        }

        return outcomes;
    }

    public bool InvalidatesCachedState(StateWriteOutcome outcome) => outcome == StateWriteOutcome.StaleEtag;

    /// <summary>Moves every state row whose version is the expected one; the keys of those that moved.</summary>
    private static async Task<HashSet<string>> FenceAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, List<StateWrite> writes, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlBatch(connection, transaction) { BatchCommands = { Command(Fence, RowColumns(writes)) } };
        var written = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            written.Add(reader.GetString(0));
        }

        return written;
    }

    /// <summary>
    /// Writes the batch's prepared states and ledger rows, after its fence unless <paramref name="fenced"/>;
    /// in <paramref name="transaction"/>, or when null in the batch's own implicit transaction, committed with it.
    /// </summary>
    /// <returns>How many entries the ledger's write wrote.</returns>
    private static async Task<long> WriteAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, List<StateWrite> writes, bool fenced, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (!fenced)
        {
            batch.BatchCommands.Add(Command(FenceEvery, RowColumns(writes)));
        }

        AddPreparedChanges(batch, writes);
        var ledger = AddLedgerChanges(batch, writes) ? batch.BatchCommands.Count - 1 : -1;
        if (batch.BatchCommands.Count == 0)
        {
            return 0;
        }

        // Every statement has a result; the ledger's write, the last when there is one, says how many entries it wrote.
        long entries = 0;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        for (var i = 0; ; i++)
        {
            if (i == ledger && await reader.ReadAsync(cancellationToken))
            {
                entries = reader.GetInt64(0);
            }

            if (!await reader.NextResultAsync(cancellationToken))
            {
                return entries;
            }
        }
    }

    /// <summary>
    /// Aborted ledger rows go, the rows the writes carry wait in <c>ledger_prepared</c>, and the
    /// transactions the writes commit are written to the ledger, every participant's rows at once.
    /// </summary>
    /// <returns>True when the batch writes the ledger: its one command that returns a row.</returns>
    private static bool AddLedgerChanges(NpgsqlBatch batch, List<StateWrite> kept)
    {
        var aborts = kept.Where(w => w.DropAbove is not null).ToList();
        if (aborts.Count > 0)
        {
            batch.BatchCommands.Add(Command(DropAbortedLedgerRows,
                ("keys", aborts.Select(w => w.StateKey).ToArray()),
                ("above", aborts.Select(w => w.DropAbove!.Value).ToArray())));
        }

        var prepared = kept.SelectMany(w => w.PreparedLedgerRows).ToList();
        if (prepared.Count > 0)
        {
            batch.BatchCommands.Add(Command(PrepareLedgerRows, ("rows", PreparedLedgerRow.ToJson(prepared))));
        }

        // A committing state's own rows go straight to the ledger, with the other participants' prepared ones.
        var committed = kept.SelectMany(w => w.CommittedLedgerRows).ToList();
        var writesLedger = committed.Count > 0;
        if (writesLedger)
        {
            batch.BatchCommands.Add(Command(WriteLedger, ("rows", PreparedLedgerRow.ToJson(committed)),
                ("transactions", kept.SelectMany(w => w.CommittingTransactions).Distinct(StringComparer.Ordinal).ToArray())));
        }

        return writesLedger;
    }

    /// <summary>The state rows as the writes leave them, one array per column, for the fence.</summary>
    private static (string Name, object Value)[] RowColumns(List<StateWrite> writes) =>
    [
        ("keys", writes.Select(w => w.StateKey).ToArray()),
        ("expected", writes.Select(w => w.ExpectedEtag).ToArray()),
        ("etags", writes.Select(w => w.Etag).ToArray()),
        ("sequences", writes.Select(w => w.CommittedSequence).ToArray()),
        ("states", writes.Select(w => w.CommittedState).ToArray()),
        ("metadata", writes.Select(w => w.Metadata).ToArray()),
        ("wallets", writes.Select(w => w.Position?.WalletId).ToArray()),
        ("versions", writes.Select(w => w.Position?.Version).ToArray()),
        ("balances", writes.Select(w => w.Position?.Balance).ToArray()),
        ("pendings", writes.Select(w => w.Position?.Pending).ToArray()),
    ];

    private static void AddPreparedChanges(NpgsqlBatch batch, List<StateWrite> kept)
    {
        var drops = kept.Where(w => w.DropUpTo is not null || w.DropAbove is not null).ToList();
        if (drops.Count > 0)
        {
            batch.BatchCommands.Add(Command(DropPrepared,
                ("keys", drops.Select(w => w.StateKey).ToArray()),
                ("up_to", drops.Select(w => w.DropUpTo).ToArray()),
                ("above", drops.Select(w => w.DropAbove).ToArray())));
        }

        var rows = kept.SelectMany(w => w.Prepared.Select(p => (w.StateKey, Row: p))).ToList();
        if (rows.Count > 0)
        {
            batch.BatchCommands.Add(Command(UpsertPrepared,
                ("keys", rows.Select(r => r.StateKey).ToArray()),
                ("sequences", rows.Select(r => r.Row.SequenceId).ToArray()),
                ("transactions", rows.Select(r => r.Row.TransactionId).ToArray()),
                ("stamps", rows.Select(r => r.Row.TimeStampTicks).ToArray()),
                ("managers", rows.Select(r => r.Row.TransactionManager).ToArray()),
                ("states", rows.Select(r => r.Row.State).ToArray())));
        }
    }
}
