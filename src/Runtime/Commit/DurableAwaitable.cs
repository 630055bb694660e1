using System.Runtime.CompilerServices;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Commit;

/// <summary>
/// Awaiting it ends the current turn's segment (the activation takes its next message) and resumes
/// the method as a new turn once the commit is known. See <see cref="ActivationData"/>.
/// </summary>
public readonly struct DurableAwaitable<TOutcome>
{
    private readonly Task<TOutcome> _commit;
    private readonly ActivationData _activation;

    internal DurableAwaitable(Task<TOutcome> commit, ActivationData activation)
    {
        _commit = commit;
        _activation = activation;
    }

    public Awaiter GetAwaiter() => new(_commit, _activation);

    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly Task<TOutcome> _commit;
        private readonly ActivationData _activation;

        internal Awaiter(Task<TOutcome> commit, ActivationData activation)
        {
            _commit = commit;
            _activation = activation;
        }

        public bool IsCompleted => _commit.IsCompleted;

        public TOutcome GetResult() => _commit.GetAwaiter().GetResult();

        public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

        public void UnsafeOnCompleted(Action continuation) => _activation.YieldUntilDurable(_commit, continuation);
    }
}

/// <summary>
/// Awaits everything the activation staged before this point. If any of it failed, or proved the
/// cached state wrong, the read taken before the await is stale and <see cref="Awaiter.GetResult"/>
/// throws a retryable <see cref="CommitFailedException"/>.
/// </summary>
/// <remarks>
/// Staleness is judged by the activation's state epoch and its pending reload, not by whether the
/// last staged item faulted: a failure always bumps the epoch and requests a reload before the item's
/// task faults, and a failure that was already reloaded before this turn says nothing about this read.
/// </remarks>
public readonly struct DurableAwaitable
{
    private readonly Task _staged;
    private readonly ActivationData _activation;
    private readonly int _epoch;
    private readonly bool _staleAtStart;

    internal DurableAwaitable(Task staged, ActivationData activation)
    {
        _staged = staged;
        _activation = activation;
        _epoch = activation.StateEpoch;
        _staleAtStart = activation.NeedsReload;
    }

    public Awaiter GetAwaiter() => new(this);

    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly DurableAwaitable _awaitable;

        internal Awaiter(DurableAwaitable awaitable) => _awaitable = awaitable;

        public bool IsCompleted => _awaitable._staged.IsCompleted;

        public void GetResult()
        {
            var activation = _awaitable._activation;
            if (_awaitable._staleAtStart || activation.NeedsReload || activation.StateEpoch != _awaitable._epoch)
            {
                throw new CommitFailedException($"{_awaitable._activation.GrainId}: a commit staged before this read failed; retry the read.");
            }
        }

        public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

        public void UnsafeOnCompleted(Action continuation) => _awaitable._activation.YieldUntilDurable(_awaitable._staged, continuation);
    }
}
