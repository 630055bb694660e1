using Microsoft.Extensions.Logging;
using Wallet.Runtime.Calls;

namespace Wallet.Runtime.Catalog;

/// <summary>
/// One activation of a grain: its instance, its mailbox and its message loop.
/// </summary>
/// <remarks>
/// The message loop is not a thread or a long-lived task. It starts on the thread pool when a
/// message reaches an idle activation and ends when the mailbox is empty, so an idle activation
/// costs only its memory. Inside the loop, turns never overlap: the loop starts the next turn
/// only when the current segment has ended, which happens when the grain method completes or
/// when it awaits <see cref="Grain.WhenDurable{TItem,TOutcome}"/>. In the second case the rest of
/// the method is queued as a resume item once the group commit is done, and it runs as a segment
/// of its own, ahead of any new request. That is how a hot activation keeps validating and
/// staging new commands while earlier ones are being written: pipelined turns.
///
/// Two queues, one lock: requests are bounded by <c>MailboxCapacityMax</c> (a full mailbox rejects
/// with a retryable error), resumes are not bounded because each belongs to a request already
/// admitted. When a commit fails, the state is reloaded before the next request turn, never in
/// the middle of one.
/// </remarks>
internal sealed partial class ActivationData
{
    private readonly Lock _lock = new();
    private readonly Queue<GrainRequest> _requests = new();
    private readonly Queue<(GrainRequest Request, Action Continuation)> _resumes = new();
    private readonly GrainCatalog _catalog;
    private readonly ILogger _logger;

    private ActivationStatus _status = ActivationStatus.Creating;
    private bool _loopRunning;
    private bool _deactivateOnIdle;
    private int _stagedInFlight;
    private int _pendingResumes;
    private long _lastActiveTicks = Environment.TickCount64;
    private long _receivedCalls;
    private long _receivedAtLastLook;
    private volatile bool _needsReload;
    private int _stateEpoch;
    private Task _lastStaged = Task.CompletedTask;
    private TaskCompletionSource? _deactivated;
    private Grain? _grain;

    public ActivationData(GrainId grainId, GrainCatalog catalog, ILogger logger)
    {
        GrainId = grainId;
        _catalog = catalog;
        _logger = logger;
    }

    public GrainId GrainId { get; }

    /// <summary>Requests queued to this activation since it was created; counted under its lock, read without it.</summary>
    public long ReceivedCalls => Volatile.Read(ref _receivedCalls);

    /// <summary>Requests queued since the previous call of this method (since creation, the first time). One caller at a time.</summary>
    public long TakeReceivedSinceLastLook()
    {
        var received = ReceivedCalls;
        var delta = received - _receivedAtLastLook;
        _receivedAtLastLook = received;
        return delta;
    }

    public IGrainFactory GrainFactory => _catalog.GrainFactory;

    /// <summary>The request whose segment is running now; set only while the loop waits on it.</summary>
    public GrainRequest? CurrentRequest { get; private set; }

    /// <summary>The completion of the last item this activation staged into a group commit.</summary>
    public Task LastStaged
    {
        get
        {
            lock (_lock)
            {
                return _lastStaged;
            }
        }
    }

    /// <summary>Bumped whenever the cached state is known to be wrong (a failed or rejected commit).</summary>
    public int StateEpoch => Volatile.Read(ref _stateEpoch);

    /// <summary>The cached state is known to be wrong and has not been reloaded yet.</summary>
    public bool NeedsReload => _needsReload;

    public ActivationStatus Status
    {
        get
        {
            lock (_lock)
            {
                return _status;
            }
        }
    }

    /// <summary>Queues a request. False when this activation is going away: resolve it again.</summary>
    public bool TryEnqueue(GrainRequest request)
    {
        lock (_lock)
        {
            if (_status is ActivationStatus.Deactivating or ActivationStatus.Invalid)
            {
                return false;
            }

            if (_requests.Count >= _catalog.Options.MailboxCapacityMax)
            {
                throw new MailboxFullException(GrainId, _catalog.Options.MailboxCapacityMax);
            }

            _requests.Enqueue(request);
            _receivedCalls++;
            StartLoopIfIdle();
            return true;
        }
    }

    public void DeactivateOnIdle()
    {
        lock (_lock)
        {
            _deactivateOnIdle = true;
        }
    }

    public void RequestReload()
    {
        Interlocked.Increment(ref _stateEpoch);
        _needsReload = true;
    }

    /// <summary>Called by a group committer as an item of this activation enters its queue.</summary>
    public void OnStaged(Task completion)
    {
        lock (_lock)
        {
            _stagedInFlight++;
            _lastStaged = completion;
        }
    }

    /// <summary>Called by a group committer once an item's outcome is known, before it is released.</summary>
    public void OnStagedCompleted(bool stateInvalidated)
    {
        if (stateInvalidated)
        {
            RequestReload();
        }

        lock (_lock)
        {
            _stagedInFlight--;
            _lastActiveTicks = Environment.TickCount64;
        }
    }

    public Task WaitForStagedAsync() =>
        LastStaged.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// The current segment awaits a group commit: end the segment so the loop can go on, and
    /// queue the method's continuation as a resume item once <paramref name="durable"/> completes.
    /// </summary>
    public void YieldUntilDurable(Task durable, Action continuation)
    {
        if (CurrentRequest is not { } request)
        {
            // Awaited outside a turn (from a detached task, say): a programming error, but throwing from
            // an awaiter would take the process down. Resume as an ordinary continuation instead.
            LogAwaitedOutsideTurn(_logger, GrainId);
            durable.ContinueWith(_ => continuation(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            return;
        }

        lock (_lock)
        {
            _pendingResumes++;
        }

        request.EndSegment();
        durable.ContinueWith(
            (_, state) => EnqueueResume(((GrainRequest)state!, continuation)),
            request,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Deactivates if nothing is queued, running or staged and the last activity is older than <paramref name="idleMs"/>.</summary>
    public bool TryBeginIdleDeactivation(long idleMs)
    {
        lock (_lock)
        {
            if (_status != ActivationStatus.Valid || !IsIdleLocked() || Environment.TickCount64 - _lastActiveTicks < idleMs)
            {
                return false;
            }

            BeginDeactivationLocked();
            return true;
        }
    }

    public async Task DeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            if (_grain is not null)
            {
                await _grain.OnDeactivateAsync(reason, cancellationToken);
            }
        }
        catch (Exception exception)
        {
            LogDeactivationFailed(_logger, exception, GrainId);
        }
        finally
        {
            lock (_lock)
            {
                _status = ActivationStatus.Invalid;
            }

            _deactivated?.TrySetResult();
        }
    }

    // The catalog learns of the deactivation under the activation's lock, before any caller can see
    // the status, so a successor activation always waits for this one's OnDeactivateAsync.
    private void BeginDeactivationLocked()
    {
        _status = ActivationStatus.Deactivating;
        _deactivated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _catalog.NoteDeactivating(GrainId, _deactivated.Task);
    }

    private bool IsIdleLocked() =>
        !_loopRunning && _requests.Count == 0 && _resumes.Count == 0 && _stagedInFlight == 0 && _pendingResumes == 0;

    private void EnqueueResume((GrainRequest, Action) resume)
    {
        lock (_lock)
        {
            _resumes.Enqueue(resume);
            StartLoopIfIdle();
        }
    }

    private void StartLoopIfIdle()
    {
        if (_loopRunning)
        {
            return;
        }

        _loopRunning = true;
        _ = Task.Run(RunMessageLoopAsync);
    }

    private async Task RunMessageLoopAsync()
    {
        if (_status == ActivationStatus.Creating && !await ActivateAsync())
        {
            return;
        }

        while (true)
        {
            GrainRequest request;
            Action? resume = null;
            var deactivate = false;
            lock (_lock)
            {
                if (_resumes.TryDequeue(out var next))
                {
                    (request, resume) = next;
                    _pendingResumes--;
                }
                else if (!_requests.TryDequeue(out request!))
                {
                    _loopRunning = false;
                    _lastActiveTicks = Environment.TickCount64;
                    if (_deactivateOnIdle && IsIdleLocked())
                    {
                        BeginDeactivationLocked();
                        deactivate = true;
                    }
                }
            }

            if (request is null)
            {
                if (deactivate)
                {
                    await _catalog.CompleteDeactivationAsync(this, DeactivationReason.ApplicationRequested);
                }

                return;
            }

            if (resume is not null)
            {
                await RunSegmentAsync(request, resume);
            }
            else
            {
                await RunRequestAsync(request);
            }
        }
    }

    private async Task RunRequestAsync(GrainRequest request)
    {
        if (_needsReload && !await TryReloadAsync(request))
        {
            return;
        }

        CurrentRequest = request;
        request.Start(_grain!, _catalog.Filters);
        await request.WhenSegmentEnded();
        CurrentRequest = null;
    }

    private async Task RunSegmentAsync(GrainRequest request, Action continuation)
    {
        CurrentRequest = request;
        request.BeginSegment();
        try
        {
            continuation();
        }
        catch (Exception exception)
        {
            // Continuations of async methods do not throw; anything here is a runtime fault.
            LogResumeFailed(_logger, exception, GrainId);
            request.Fail(exception);
            request.EndSegment();
        }

        await request.WhenSegmentEnded();
        CurrentRequest = null;
    }

    private async Task<bool> TryReloadAsync(GrainRequest request)
    {
        try
        {
            _needsReload = false;
            await WaitForStagedAsync();
            await _grain!.LoadStateAsync(CancellationToken.None);
            return true;
        }
        catch (Exception exception)
        {
            _needsReload = true;
            LogReloadFailed(_logger, exception, GrainId);
            request.Fail(new CommitFailedException($"{GrainId} could not reload its state; retry later.", exception));
            return false;
        }
    }

    private async Task<bool> ActivateAsync()
    {
        try
        {
            await _catalog.WaitForPreviousDeactivationAsync(GrainId);
            var grain = _catalog.CreateGrainInstance(GrainId, this);
            await grain.LoadStateAsync(CancellationToken.None);
            await grain.OnActivateAsync(CancellationToken.None);
            _grain = grain;
            lock (_lock)
            {
                _status = ActivationStatus.Valid;
            }

            return true;
        }
        catch (Exception exception)
        {
            LogActivationFailed(_logger, exception, GrainId);
            List<GrainRequest> failed;
            lock (_lock)
            {
                _status = ActivationStatus.Invalid;
                _loopRunning = false;
                failed = [.. _requests];
                _requests.Clear();
            }

            _catalog.Remove(this);
            foreach (var request in failed)
            {
                request.Fail(exception);
            }

            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Activation of {GrainId} failed")]
    private static partial void LogActivationFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deactivation of {GrainId} failed")]
    private static partial void LogDeactivationFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A resumed turn of {GrainId} threw")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{GrainId} awaited a durability point outside a turn; it resumes without the turn's guarantees")]
    private static partial void LogAwaitedOutsideTurn(ILogger logger, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{GrainId} could not reload its state after a failed commit")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception, GrainId grainId);
}

internal enum ActivationStatus
{
    Creating,
    Valid,
    Deactivating,
    Invalid,
}
