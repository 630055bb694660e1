using Npgsql;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Ledger;

namespace Wallet.Grains.Transactions;

/// <summary>
/// One grain's transactional state in PostgreSQL (<c>transactional_states</c> and
/// <c>transactional_prepares</c>), written through the silo's group commit of states.
/// </summary>
/// <remarks>
/// Orleans runs one <see cref="Store"/> at a time per state and calls <see cref="Load"/> first and
/// after any failed <see cref="Store"/>; this instance keeps what it last loaded or wrote (the
/// version, the committed sequence and the prepared states) to plan each write, and refuses to
/// write again after a failure until a load has replaced it. Every write checks the version in SQL
/// and advances it, also when nothing else changes, so a stale writer (a duplicate activation, an
/// instance that missed a write) is refused with <see cref="InconsistentStateException"/> and
/// changes nothing. The committed state is kept as its own copy, so the prepared states at or below
/// the committed sequence go. States, metadata and participants are written with Orleans' own
/// serializer, which keeps whatever the state's type declares for the wire.
///
/// A state that is an <see cref="ILedgerCarrier"/> also writes the relational ledger: a prepared
/// state's rows of its own transaction wait in <c>ledger_prepared</c>; a commit writes the rows its
/// state carries with every other participant's prepared rows of the same transactions, in the
/// same PostgreSQL transaction (<c>ledger_write_transactions</c>).
/// The first participant to commit a transaction is its manager, so an entry appears whole, at the
/// manager's commit; an abort removes the rows it prepared. Each row is written once: the version
/// of the state's wallet row says how far its rows are in the ledger (it takes the version of the
/// newest row written), and the grain's <see cref="LedgerWatermark"/> lets it drop them. A batch
/// locks no row of a state another silo stores, and takes the ledger head before any row it shares
/// with other silos' batches, so two silos' batches never deadlock.
/// </remarks>
internal sealed class PostgresTransactionalStateStorage<TState>(
    string stateKey,
    NpgsqlDataSource dataSource,
    GroupCommitter<StateWrite, StateWriteOutcome> committer,
    Serializer serializer,
    LedgerWatermark watermark,
    CommittedState committedState) : ITransactionalStateStorage<TState>, IStagingOwner
    where TState : class, new()
{
    // The committed state, the wallet row's version and the prepared states above the committed one,
    // in a function that keeps its plan (migration 0042); a state with no prepared state is one row
    // whose prepared columns are null.
    private const string Select = """
        SELECT etag, committed_sequence, committed_state, metadata, ledger_version,
               sequence_id, transaction_id, time_stamp, transaction_manager, state
        FROM transactional_state_load(@key) ORDER BY sequence_id
        """;

    private readonly SortedList<long, PendingTransactionState<TState>> _prepared = [];
    private long? _etag;
    private long _committedSequence;
    // Nothing may be stored before the first load, nor after a failed store or load until a load succeeds.
    private bool _requiresLoad = true;

    public string StateKey => stateKey;

    /// <summary>
    /// Loads the state, waiting out a database that is briefly away (restarting, unreachable) for up
    /// to <see cref="LoadPatience"/> before failing.
    /// </summary>
    /// <remarks>
    /// Orleans' queue of a transactional state restores by loading after every failure, and each
    /// request that finds it failed starts another restore. Failing fast while the database restarts
    /// would fail ten restores in a second, and at ten consecutive failures Orleans deactivates the
    /// grain in the middle of its protocol: a participant's confirmation then waits on an activation
    /// that is going away, and the transactions behind it stall until their locks time out. A load
    /// that waits keeps one restore in flight, which the requests behind it await.
    /// </remarks>
    public async Task<TransactionalStorageLoadResponse<TState>> Load()
    {
        var waited = TimeSpan.Zero;
        var pause = LoadRetryPauseMin;
        while (true)
        {
            try
            {
                return await LoadAsync();
            }
            catch (NpgsqlException exception) when (DatabaseFaultFilter.Retryable(exception) && waited < LoadPatience)
            {
                await Task.Delay(pause);
                waited += pause;
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LoadRetryPauseMax.Ticks));
            }
            catch (NpgsqlException exception)
            {
                // Orleans carries a load's failure into faults it serializes (a grain's failed activation,
                // an aborted transaction), and a database exception cannot be serialized.
                throw DatabaseFaultFilter.Translate(exception);
            }
        }
    }

    /// <summary>How long a load waits for the database to come back (a restart here takes about 3 s).</summary>
    public static readonly TimeSpan LoadPatience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LoadRetryPauseMin = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LoadRetryPauseMax = TimeSpan.FromMilliseconds(500);

    private async Task<TransactionalStorageLoadResponse<TState>> LoadAsync()
    {
        // One statement, one snapshot: the committed state and the prepared states above it agree.
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("key", stateKey);
        // Until this load has read everything, nothing this instance holds may plan a write.
        _requiresLoad = true;
        await using var reader = await command.ExecuteReaderAsync();
        _prepared.Clear();
        if (!await reader.ReadAsync())
        {
            (_etag, _committedSequence, _requiresLoad) = (null, 0, false);
            committedState.Publish(null, settled: true);
            return new TransactionalStorageLoadResponse<TState>();
        }

        var etag = reader.GetInt64(0);
        var committedSequence = reader.GetInt64(1);
        var committed = committedSequence == 0 ? new TState() : Deserialize<TState>(reader.GetFieldValue<byte[]>(2));
        var metadata = Deserialize<TransactionalStateMetaData>(reader.GetFieldValue<byte[]>(3));
        watermark.Advance(reader.GetInt64(4));
        do
        {
            if (!reader.IsDBNull(5))
            {
                var sequence = reader.GetInt64(5);
                _prepared[sequence] = new PendingTransactionState<TState>
                {
                    SequenceId = sequence,
                    TransactionId = reader.GetString(6),
                    TimeStamp = new DateTime(reader.GetInt64(7), DateTimeKind.Utc),
                    TransactionManager = serializer.Deserialize<ParticipantId>(reader.GetFieldValue<byte[]>(8)),
                    State = Deserialize<TState>(reader.GetFieldValue<byte[]>(9)),
                };
            }
        }
        while (await reader.ReadAsync());

        (_etag, _committedSequence, _requiresLoad) = (etag, committedSequence, false);
        committedState.Publish(committedSequence == 0 ? null : committed, settled: _prepared.Count == 0);
        return new TransactionalStorageLoadResponse<TState>(
            etag.ToString(System.Globalization.CultureInfo.InvariantCulture), committed, committedSequence, metadata, [.. _prepared.Values]);
    }

    public async Task<string> Store(
        string? expectedETag, TransactionalStateMetaData metadata, List<PendingTransactionState<TState>>? statesToPrepare, long? commitUpTo, long? abortAfter)
    {
        if (_requiresLoad)
        {
            throw new InvalidOperationException($"Transactional state {stateKey} must be loaded before it is stored (again after a failed store).");
        }

        if (expectedETag != Format(_etag))
        {
            throw new InconsistentStateException($"Transactional state {stateKey} is at version {Format(_etag) ?? "none"}, not {expectedETag ?? "none"}.",
                Format(_etag), expectedETag);
        }

        // Everything is planned and serialized before the first await: Orleans mutates the metadata
        // object for its next batch while this one is being written.
        var (write, prepared, committing) = Plan(metadata, statesToPrepare ?? [], commitUpTo, abortAfter);
        StateWriteOutcome outcome;
        try
        {
            outcome = await committer.Enqueue(write, this);
        }
        catch
        {
            _requiresLoad = true;
            throw;
        }

        if (outcome != StateWriteOutcome.Written)
        {
            _requiresLoad = true;
            throw new InconsistentStateException($"Transactional state {stateKey} was changed by another writer since version {expectedETag ?? "none"}.",
                "unknown", expectedETag);
        }

        _etag = write.Etag;
        _committedSequence = write.CommittedSequence;
        if (write.LedgerWrittenUpTo is { } writtenUpTo)
        {
            watermark.Advance(writtenUpTo);
        }

        // The committed state is Orleans' now, and every later transaction starts from a copy of it:
        // it keeps no row the ledger holds. Still on the grain's scheduler, so no turn is reading it.
        if (committing is ILedgerCarrier carrier)
        {
            carrier.ForgetWritten(watermark.WrittenVersion);
        }

        _prepared.Clear();
        foreach (var state in prepared)
        {
            _prepared[state.SequenceId] = state;
        }

        committedState.Publish(write.CommittedState is null ? committedState.State : committing, settled: _prepared.Count == 0);
        return Format(_etag)!;
    }

    void IStagingOwner.OnStaged(Task completion)
    {
    }

    void IStagingOwner.OnStagedCompleted(bool stateInvalidated) => _requiresLoad |= stateInvalidated;

    /// <summary>
    /// The write that takes the state from what this instance holds to what the call asks: aborted
    /// states go first, then prepared ones replace theirs (those the commit makes obsolete are not
    /// written at all), then the commit takes the state prepared under <paramref name="commitUpTo"/>.
    /// </summary>
    private (StateWrite Write, List<PendingTransactionState<TState>> Prepared, TState? Committing) Plan(
        TransactionalStateMetaData metadata, List<PendingTransactionState<TState>> statesToPrepare, long? commitUpTo, long? abortAfter)
    {
        var states = new SortedList<long, PendingTransactionState<TState>>(_prepared);
        if (abortAfter is { } above)
        {
            while (states.Count > 0 && states.Keys[^1] > above)
            {
                states.RemoveAt(states.Count - 1);
            }
        }

        var committedSequence = _committedSequence;
        var obsoleteBelow = commitUpTo ?? committedSequence;
        var written = new List<PendingTransactionState<TState>>();
        foreach (var state in statesToPrepare.Where(s => s.SequenceId >= obsoleteBelow))
        {
            states[state.SequenceId] = state;
            written.Add(state);
        }

        byte[]? committedBytes = null;
        // The ledger rows this write adds: those a commit makes final (every row its state still
        // carries; the SQL skips the ones already written), and each prepared state's own.
        var committedRows = new SortedList<long, PreparedLedgerRow>();
        var preparedRows = new SortedList<long, PreparedLedgerRow>();
        IReadOnlyList<string> committingTransactions = [];
        long? ledgerWrittenUpTo = null;
        LedgerPosition? position = null;
        TState? committedObject = null;
        if (commitUpTo is { } upTo && upTo > committedSequence)
        {
            if (!states.TryGetValue(upTo, out var committing))
            {
                throw new InvalidOperationException($"Transactional state {stateKey} has no prepared state {upTo} to commit.");
            }

            committedBytes = serializer.SerializeToArray(committing.State);
            committedObject = committing.State;
            committedSequence = upTo;
            var carrier = committing.State as ILedgerCarrier;
            position = carrier?.Position;
            // Rows at or below the watermark are known to be written; the SQL checks the rest. A
            // participant's confirmation (its state names a manager) follows the manager's commit,
            // which wrote every row of it; the rows of its earlier transactions went with theirs.
            var unwritten = carrier?.UnwrittenRows.Where(r => r.Version > watermark.WrittenVersion).ToList() ?? [];
            if (unwritten.Count > 0 && committing.TransactionManager.Reference is not null)
            {
                ledgerWrittenUpTo = unwritten.Max(r => r.Version);
            }
            else if (unwritten.Count > 0)
            {
                AddLedgerRows(committedRows, upTo, unwritten);
                // Other participants' prepared rows are taken only for a transaction that has them.
                // Orleans writes a manager's commit record with the commit and removes it in a later
                // write, once the other write participants confirmed; a transaction of this state
                // alone leaves none (removed in the write that commits it), and its rows are all here.
                committingTransactions = [.. unwritten.Select(r => r.TransactionId).Distinct(StringComparer.Ordinal)
                    .Where(id => Guid.TryParse(id, out var transaction)
                        && metadata.CommitRecords.TryGetValue(transaction, out var record) && record.WriteParticipants.Count > 1)];
                ledgerWrittenUpTo = unwritten.Max(r => r.Version);
            }
        }

        // The prepared states this write keeps: those the commit does not make obsolete.
        var preparing = written.Where(s => s.SequenceId > committedSequence).ToList();
        foreach (var state in preparing)
        {
            if (state.State is ILedgerCarrier carrier)
            {
                AddLedgerRows(preparedRows, state.SequenceId, carrier.UnwrittenRows.Where(r => r.TransactionId == state.TransactionId));
            }
        }

        var remaining = states.Values.Where(s => s.SequenceId > committedSequence).ToList();
        var rows = preparing
            .Select(s => new PreparedRow(s.SequenceId, s.TransactionId, s.TimeStamp.Ticks,
                serializer.SerializeToArray(s.TransactionManager), serializer.SerializeToArray(s.State)))
            .ToList();
        var write = new StateWrite(
            stateKey,
            _etag,
            (_etag ?? 0) + 1,
            committedSequence,
            committedBytes,
            serializer.SerializeToArray(metadata),
            // Only rows that are there are deleted: most commits have none below them, most writes abort nothing.
            DropUpTo: _prepared.Count > 0 && _prepared.Keys[0] <= committedSequence ? committedSequence : null,
            DropAbove: abortAfter is { } cancelled && _prepared.Count > 0 && _prepared.Keys[^1] > cancelled ? cancelled : null,
            rows)
        {
            PreparedLedgerRows = [.. preparedRows.Values],
            CommittedLedgerRows = [.. committedRows.Values],
            CommittingTransactions = committingTransactions,
            LedgerWrittenUpTo = ledgerWrittenUpTo,
            Position = position,
        };
        return (write, remaining, committedObject);
    }

    private void AddLedgerRows(SortedList<long, PreparedLedgerRow> into, long sequenceId, IEnumerable<LedgerRow> rows)
    {
        foreach (var row in rows)
        {
            if (row.Idempotency is not null && (row.Answer is null || (row.Entry is null && row.KeyTenantId is null)))
            {
                throw new ArgumentException($"Transactional state {stateKey}: a ledger row with an Idempotency-Key must carry the answer, and its entry's header or the key's tenant.");
            }

            into[row.Version] = PreparedLedgerRow.From(stateKey, sequenceId, row);
        }
    }

    private T Deserialize<T>(byte[] bytes) =>
        serializer.Deserialize<T>(bytes) ?? throw new InvalidOperationException($"Transactional state {stateKey} holds an empty {typeof(T).Name}.");

    private static string? Format(long? etag) => etag?.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
