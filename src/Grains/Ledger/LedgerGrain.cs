namespace Wallet.Grains.Ledger;

/// <summary>
/// A grain whose turns decide against cached state and stage their rows into the silo's group
/// commit (<see cref="GroupCommitter{TItem,TOutcome}"/>), then let the next call's turn start while
/// the commit is written: pipelined turns.
/// </summary>
/// <remarks>
/// Orleans runs one call at a time per activation unless the grain is reentrant, and then it
/// interleaves calls at every <c>await</c>. Neither is what a ledger wants: a debit's check and its
/// apply must never be split, yet a hot wallet must not wait a whole database round trip between
/// two spends. So the grains deriving from this class are <c>[Reentrant]</c>, and every call runs
/// inside <see cref="Turn{T}"/>, which admits one call at a time through a gate. A turn owns the
/// gate from its start until it stages its item and awaits durability
/// (<see cref="WhenDurable{TItem,TOutcome}"/>, <see cref="WhenDurable{T}"/>): only then may the
/// next turn decide, against state that already counts the staged item. Awaits before that point
/// (reading a row, calling another grain) keep the gate, exactly as a non-reentrant grain would.
/// Code after a durability await runs interleaved with later turns, so it only builds the reply or
/// awaits durability again. Every segment still runs on the activation's scheduler, one at a time,
/// so fields need no locks.
///
/// When a commit fails, or proves the cached state wrong, the state is read again before the next
/// turn decides anything, never in the middle of one.
/// </remarks>
internal abstract class LedgerGrain<TState> : Grain, IStagingOwner where TState : class
{
    /// <summary>Calls waiting for their turn before the grain refuses more as unavailable.</summary>
    internal const int TurnsWaitingMax = 10_000;

    // The turn a call's flow runs in; each call's async flow carries its own.
    private static readonly AsyncLocal<TurnTicket?> CurrentTurn = new();

    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _turnsWaiting;
    private Task _lastStaged = Task.CompletedTask;
    private int _stateEpoch;
    private volatile bool _needsReload;
    private TState? _state;

    protected TState State
    {
        get => _state ?? throw new InvalidOperationException("State is read before the activation read it.");
        set => _state = value;
    }

    /// <summary>Reads the state from the database: at activation, and again after a failed commit.</summary>
    protected abstract Task<TState> ReadStateAsync(CancellationToken cancellationToken);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        try
        {
            _state = await ReadStateAsync(cancellationToken);
        }
        catch (Npgsql.NpgsqlException exception)
        {
            // The activation fails and the caller reads why; the next call activates afresh.
            throw DatabaseFaultFilter.Translate(exception);
        }
    }

    /// <summary>Runs <paramref name="body"/> as a turn: alone until it awaits durability, or ends.</summary>
    protected async Task<T> Turn<T>(Func<Task<T>> body)
    {
        if (_turnsWaiting >= TurnsWaitingMax)
        {
            throw new LedgerUnavailableException($"{TurnsWaitingMax} calls are waiting for {this.GetPrimaryKeyString()}; retry later.");
        }

        _turnsWaiting++;
        try
        {
            await _gate.WaitAsync();
        }
        finally
        {
            _turnsWaiting--;
        }

        var ticket = new TurnTicket(_gate);
        CurrentTurn.Value = ticket;
        try
        {
            if (_needsReload)
            {
                await ReloadStateAsync();
            }

            return await body();
        }
        finally
        {
            ticket.End();
        }
    }

    /// <summary>
    /// Stages <paramref name="item"/> (whose effect the caller applied to the cached state already),
    /// ends the turn and waits for the batch holding it to be durable, or to fail.
    /// </summary>
    protected async Task<TOutcome> WhenDurable<TItem, TOutcome>(GroupCommitter<TItem, TOutcome> committer, TItem item)
    {
        var outcome = committer.Enqueue(item, this);
        EndTurn();
        return await outcome;
    }

    /// <summary>Ends the turn until <paramref name="pending"/>, an outcome another turn or grain decides, is known.</summary>
    protected async Task<T> WhenDurable<T>(Task<T> pending)
    {
        EndTurn();
        return await pending;
    }

    /// <summary>
    /// Ends the turn until everything staged so far is durable, so that a read taken before never
    /// reports an effect that could still be rolled back. Throws a retryable
    /// <see cref="LedgerUnavailableException"/> when any of it failed meanwhile: the read was stale.
    /// </summary>
    protected async Task WhenStagedDurable()
    {
        var staged = _lastStaged;
        var epoch = Volatile.Read(ref _stateEpoch);
        var staleAtStart = _needsReload;
        if (!staged.IsCompleted)
        {
            EndTurn();
            await Settled(staged);
        }

        if (staleAtStart || _needsReload || Volatile.Read(ref _stateEpoch) != epoch)
        {
            throw new LedgerUnavailableException($"{this.GetPrimaryKeyString()}: a commit staged before this read failed; retry the read.");
        }
    }

    /// <summary>
    /// False once a commit proved the cached state wrong, until a turn has read it again. A read
    /// of trusted state needs no turn: the state is only ever replaced whole, and every decision is
    /// applied to it with no await in between, so any point between two segments sees it whole.
    /// </summary>
    protected bool StateTrusted => !_needsReload;

    /// <summary>
    /// Waits for this activation's staged commits, then reads the state again. Keeps the turn. The
    /// state is trusted again only once the read succeeded: a failed one (the database away) leaves
    /// the next turn to read it again.
    /// </summary>
    protected async Task ReloadStateAsync()
    {
        await Settled(_lastStaged);
        Reloading = true;
        try
        {
            _state = Reloaded(await ReadStateAsync(CancellationToken.None));
        }
        finally
        {
            Reloading = false;
        }

        _needsReload = false;
    }

    /// <summary>
    /// True while the state is being read again. What reaches the grain meanwhile without a turn (a
    /// wallet's credit notices) is applied to the state about to be replaced, and may be missing from
    /// the one being read if that read began before its commit: <see cref="Reloaded"/> carries it over.
    /// </summary>
    protected bool Reloading { get; private set; }

    /// <summary>The state just read, before it replaces the cached one; by default taken as it is.</summary>
    protected virtual TState Reloaded(TState fresh) => fresh;

    /// <summary>The cached state can no longer be trusted: read it again before the next turn.</summary>
    protected void ReloadStateBeforeNextTurn()
    {
        Interlocked.Increment(ref _stateEpoch);
        _needsReload = true;
    }

    void IStagingOwner.OnStaged(Task completion) => _lastStaged = completion;

    // Called on the committer's thread, before the outcome is released to the waiting turn.
    void IStagingOwner.OnStagedCompleted(bool stateInvalidated)
    {
        if (stateInvalidated)
        {
            ReloadStateBeforeNextTurn();
        }
    }

    private static void EndTurn() => CurrentTurn.Value?.End();

    // Completes when the staged item's outcome is known, whatever it is: its own caller reads the outcome.
    private static Task Settled(Task staged) =>
        staged.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>One turn's hold on the gate, released once: at its first durability await or at its end.</summary>
    private sealed class TurnTicket(SemaphoreSlim gate)
    {
        private bool _ended;

        public void End()
        {
            if (!_ended)
            {
                _ended = true;
                gate.Release();
            }
        }
    }
}
