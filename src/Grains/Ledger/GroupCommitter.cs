using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Wallet.Grains.Ledger;

/// <summary>Writes a batch of staged items in one database transaction.</summary>
internal interface ICommitHandler<TItem, TOutcome>
{
    /// <summary>
    /// Commits every item of <paramref name="items"/> in one transaction and returns one outcome per
    /// item, in order. An item the database refuses (a business rule seen only there) is an outcome,
    /// not an exception; throwing fails the whole batch.
    /// </summary>
    Task<TOutcome[]> CommitAsync(IReadOnlyList<TItem> items, CancellationToken cancellationToken);

    /// <summary>True when the outcome shows that the staging activation's cached state was wrong.</summary>
    bool InvalidatesCachedState(TOutcome outcome);
}

/// <summary>
/// The activation whose turn staged an item: told as the item enters the queue and once its outcome
/// is known, before the outcome is released, so it can reload state the commit proved wrong.
/// </summary>
internal interface IStagingOwner
{
    void OnStaged(Task completion);

    void OnStagedCompleted(bool stateInvalidated);
}

public sealed class GroupCommitOptions
{
    /// <summary>The most items one transaction carries.</summary>
    public int CommitBatchSizeMax { get; set; } = 512;

    /// <summary>
    /// How many batches may be in flight at once. Above 1, a batch is read and planned while the one
    /// before it waits for its flush; the handler must keep them from deadlocking each other.
    /// </summary>
    public int CommitConcurrencyMax { get; set; } = 1;
}

/// <summary>
/// Group commit for one kind of staged item, shared by every activation of the silo.
/// </summary>
/// <remarks>
/// Turns stage items and yield; a single loop takes whatever has queued up (at most
/// <see cref="GroupCommitOptions.CommitBatchSizeMax"/>) and hands it to the handler as one
/// transaction. While that transaction is being written, the next batch is filling up, so
/// the batch size grows by itself with the load and a lone call still commits at once. With
/// <see cref="GroupCommitOptions.CommitConcurrencyMax"/> above 1, several batches are in flight;
/// an activation's items still commit in staging order because every item of a wallet locks that
/// wallet's row. Before any outcome is released, every activation whose state the batch proved
/// wrong is told to reload; only then are the waiting turns resumed.
/// </remarks>
internal sealed partial class GroupCommitter<TItem, TOutcome> : IAsyncDisposable
{
    private readonly Channel<PendingItem> _queue = Channel.CreateUnbounded<PendingItem>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly ICommitHandler<TItem, TOutcome> _handler;
    private readonly int _batchSizeMax;
    private readonly int _concurrencyMax;
    private readonly LedgerMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly Task _loop;

    /// <param name="metrics">Where its batches are counted (the ledger's <c>wallet.commit.*</c>); null for a committer whose batches are not the ledger's.</param>
    public GroupCommitter(ICommitHandler<TItem, TOutcome> handler, GroupCommitOptions options, LedgerMetrics? metrics, ILogger<GroupCommitter<TItem, TOutcome>> logger)
    {
        _handler = handler;
        _batchSizeMax = options.CommitBatchSizeMax > 0
            ? options.CommitBatchSizeMax
            : throw new ArgumentOutOfRangeException(nameof(options), "CommitBatchSizeMax must be positive.");
        _concurrencyMax = options.CommitConcurrencyMax > 0
            ? options.CommitConcurrencyMax
            : throw new ArgumentOutOfRangeException(nameof(options), "CommitConcurrencyMax must be positive.");
        _metrics = metrics;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Drains what is queued, then stops. Items staged afterwards fail as unavailable.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    internal Task<TOutcome> Enqueue(TItem item, IStagingOwner owner)
    {
        var pending = new PendingItem(item, owner);
        owner.OnStaged(pending.Completion.Task);
        if (!_queue.Writer.TryWrite(pending))
        {
            owner.OnStagedCompleted(stateInvalidated: true);
            pending.Completion.SetException(new LedgerUnavailableException("The silo is stopping and commits nothing more; retry."));
        }

        return pending.Completion.Task;
    }

    private async Task RunAsync()
    {
        using var slots = new SemaphoreSlim(_concurrencyMax);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            await slots.WaitAsync();
            var batch = new List<PendingItem>();
            while (batch.Count < _batchSizeMax && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            _ = CommitAndReleaseAsync(batch, slots);
        }

        // Drained: wait for the batches still in flight.
        for (var i = 0; i < _concurrencyMax; i++)
        {
            await slots.WaitAsync();
        }
    }

    private async Task CommitAndReleaseAsync(List<PendingItem> batch, SemaphoreSlim slots)
    {
        try
        {
            await CommitBatchAsync(batch, batch.ConvertAll(p => p.Item));
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task CommitBatchAsync(List<PendingItem> batch, List<TItem> items)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        TOutcome[] outcomes;
        try
        {
            outcomes = await _handler.CommitAsync(items, CancellationToken.None);
            if (outcomes.Length != batch.Count)
            {
                throw new InvalidOperationException($"The commit handler returned {outcomes.Length} outcomes for {batch.Count} items.");
            }
        }
        catch (Exception exception)
        {
            _metrics?.RecordCommit(batch.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started), failed: true);
            LogBatchFailed(_logger, exception, batch.Count);
            // The commit's own outcome may be unknown (the connection broke during COMMIT): the turns
            // fail as retryable, and an Idempotency-Key makes the retry find what did commit.
            var failure = new LedgerUnavailableException($"The commit of a batch of {batch.Count} failed; retry.");
            foreach (var pending in batch)
            {
                pending.Owner.OnStagedCompleted(stateInvalidated: true);
            }

            foreach (var pending in batch)
            {
                pending.Completion.SetException(failure);
            }

            return;
        }

        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        _metrics?.RecordCommit(batch.Count, elapsed, failed: false);
        if (elapsed.TotalMilliseconds > SlowBatchMs)
        {
            LogSlowBatch(_logger, batch.Count, elapsed.TotalMilliseconds);
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Owner.OnStagedCompleted(_handler.InvalidatesCachedState(outcomes[i]));
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.SetResult(outcomes[i]);
        }
    }

    // A batch normally takes a few milliseconds; one this slow means the database is struggling or blocked.
    private const int SlowBatchMs = 1_000;

    [LoggerMessage(Level = LogLevel.Warning, Message = "A group commit of {Count} items took {ElapsedMs:0} ms")]
    private static partial void LogSlowBatch(ILogger logger, int count, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A group commit of {Count} items failed; every turn in it fails")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    private sealed class PendingItem(TItem item, IStagingOwner owner)
    {
        public TItem Item { get; } = item;

        public IStagingOwner Owner { get; } = owner;

        public TaskCompletionSource<TOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
