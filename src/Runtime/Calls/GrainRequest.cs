using System.Reflection;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Calls;

/// <summary>
/// One call on its way through an activation. It is also the call's turn: the loop waits for the
/// current <em>segment</em> of it to end, which happens when the method completes or yields at a
/// durability point; the rest of the method later runs as a segment of its own.
/// </summary>
internal abstract class GrainRequest(GrainMethodInvoker invoker, GrainId target, object?[] arguments) : IIncomingGrainCallContext
{
    private IReadOnlyList<IIncomingGrainCallFilter> _filters = [];
    private int _nextFilter;
    private Grain? _grain;

    // Segment signalling between the message loop and whoever ends the segment (see EndSegment).
    private volatile bool _segmentEnded;
    private TaskCompletionSource? _segmentWaiter;

    public GrainMethodInvoker Invoker { get; } = invoker;

    public GrainId TargetId { get; } = target;

    public object?[] Arguments { get; } = arguments;

    public Grain Grain => _grain ?? throw new InvalidOperationException("The request has not reached a grain.");

    public MethodInfo InterfaceMethod => Invoker.Method;

    public object? Result { get; private set; }

    public long StartedTimestamp { get; private set; }

    public Task Invoke()
    {
        if (_nextFilter < _filters.Count)
        {
            return _filters[_nextFilter++].Invoke(this);
        }

        return InvokeGrainMethodAsync();
    }

    /// <summary>Runs the first segment of the turn on the calling (loop) thread.</summary>
    public void Start(Grain grain, IReadOnlyList<IIncomingGrainCallFilter> filters)
    {
        _grain = grain;
        _filters = filters;
        StartedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        BeginSegment();
        Task turn;
        try
        {
            turn = Invoke();
        }
        catch (Exception exception)
        {
            turn = Task.FromException(exception);
        }

        turn.ContinueWith(
            static (task, state) => ((GrainRequest)state!).OnTurnCompleted(task),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public void BeginSegment()
    {
        _segmentWaiter = null;
        _segmentEnded = false;
    }

    /// <summary>Called when the method completes or yields at a durability point.</summary>
    public void EndSegment()
    {
        _segmentEnded = true;
        Interlocked.CompareExchange(ref _segmentWaiter, null, null)?.TrySetResult();
    }

    public Task WhenSegmentEnded()
    {
        if (_segmentEnded)
        {
            return Task.CompletedTask;
        }

        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _segmentWaiter, waiter);
        // EndSegment may have run between the first check and publishing the waiter.
        return _segmentEnded ? Task.CompletedTask : waiter.Task;
    }

    public abstract void Fail(Exception exception);

    protected abstract void Complete(object? result);

    private async Task InvokeGrainMethodAsync()
    {
        var task = (Task)Invoker.Method.Invoke(Grain, BindingFlags.DoNotWrapExceptions, binder: null, Arguments, culture: null)!;
        await task;
        Result = Invoker.ReadResult(task);
    }

    private void OnTurnCompleted(Task turn)
    {
        if (turn.Exception is { } aggregate)
        {
            Fail(aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate);
        }
        else if (turn.IsCanceled)
        {
            Fail(new TaskCanceledException(turn));
        }
        else
        {
            Complete(Result);
        }

        EndSegment();
    }
}

internal sealed class GrainRequest<T>(GrainMethodInvoker invoker, GrainId target, object?[] arguments)
    : GrainRequest(invoker, target, arguments)
{
    private readonly TaskCompletionSource<T> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Reply => _reply.Task;

    public override void Fail(Exception exception) => _reply.TrySetException(exception);

    protected override void Complete(object? result) => _reply.TrySetResult((T)result!);
}
