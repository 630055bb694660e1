using Wallet.Runtime.Catalog;
using Wallet.Runtime.Commit;

namespace Wallet.Runtime;

public enum DeactivationReason
{
    IdleCollected,
    ApplicationRequested,
    ActivationFailed,
    ShuttingDown,

    /// <summary>The cluster view changed and another silo owns the grain now.</summary>
    PlacementChanged,
}

/// <summary>
/// The base class of every grain. An activation runs one turn at a time: a method call runs
/// alone until it completes or yields at a durability point (<see cref="WhenDurable{T}"/>).
/// </summary>
public abstract class Grain
{
    private ActivationData? _activation;

    internal ActivationData Activation => _activation ?? throw new InvalidOperationException("The grain is not activated.");

    internal void Attach(ActivationData activation) => _activation = activation;

    public GrainId GrainId => Activation.GrainId;

    public string GetPrimaryKeyString() => Activation.GrainId.Key;

    protected IGrainFactory GrainFactory => Activation.GrainFactory;

    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivate once the mailbox is empty; the next call makes a fresh activation.</summary>
    protected void DeactivateOnIdle() => Activation.DeactivateOnIdle();

    /// <summary>
    /// Stages <paramref name="item"/> into the silo's group commit and yields the turn: the next
    /// turn of this activation may start at once, while this method resumes, as a turn of its own,
    /// only after the batch holding the item is durable (or failed). Code after the await must not
    /// assume that no other turn ran in between: keep it to building the reply.
    /// </summary>
    protected DurableAwaitable<TOutcome> WhenDurable<TItem, TOutcome>(GroupCommitter<TItem, TOutcome> committer, TItem item)
        => new(committer.Enqueue(item, Activation), Activation);

    /// <summary>
    /// Yields the turn until <paramref name="pendingOutcome"/>, the durable outcome another turn of
    /// this activation is waiting for, is known; then resumes as a turn of its own.
    /// </summary>
    protected DurableAwaitable<TOutcome> WhenDurable<TOutcome>(Task<TOutcome> pendingOutcome) => new(pendingOutcome, Activation);

    /// <summary>
    /// Yields until everything this activation staged so far is durable, so that a read taken in
    /// this turn never reports an effect that could still be rolled back.
    /// </summary>
    protected DurableAwaitable WhenStagedDurable() => new(Activation.LastStaged, Activation);

    /// <summary>The cached state can no longer be trusted: reload it before the next request turn.</summary>
    protected void ReloadStateBeforeNextTurn() => Activation.RequestReload();

    internal virtual Task LoadStateAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// A grain whose state is read by an <see cref="IGrainStorage{TState}"/> before
/// <see cref="Grain.OnActivateAsync"/>, and read again after a failed commit.
/// </summary>
public abstract class Grain<TState> : Grain where TState : class
{
    private TState? _state;

    protected TState State
    {
        get => _state ?? throw new InvalidOperationException("State is read before the first turn.");
        set => _state = value;
    }

    internal IGrainStorage<TState>? Storage { get; set; }

    internal override async Task LoadStateAsync(CancellationToken cancellationToken)
    {
        var storage = Storage ?? throw new InvalidOperationException($"No IGrainStorage<{typeof(TState).Name}> is registered.");
        _state = await storage.ReadStateAsync(GrainId, cancellationToken);
    }

    /// <summary>Waits for this activation's staged commits, then reads the state again.</summary>
    protected async Task ReloadStateAsync(CancellationToken cancellationToken = default)
    {
        await Activation.WaitForStagedAsync();
        await LoadStateAsync(cancellationToken);
    }
}

/// <summary>Reads a grain's state from durable storage.</summary>
public interface IGrainStorage<TState> where TState : class
{
    Task<TState> ReadStateAsync(GrainId grainId, CancellationToken cancellationToken);
}
