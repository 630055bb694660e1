namespace Wallet.Runtime.Cluster;

/// <summary>
/// Wakes a periodic loop early: <see cref="Set"/> any number of times, and the loop's next
/// <see cref="WaitAsync"/> returns at once, once. Loops that re-read the world need no count.
/// </summary>
internal sealed class WakeSignal : IDisposable
{
    private readonly SemaphoreSlim _set = new(0, 1);

    public void Set()
    {
        if (_set.CurrentCount > 0)
        {
            return;
        }

        try
        {
            _set.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another thread set it between the check and the release: it is set, as wanted.
        }
    }

    /// <summary>Waits until set or until <paramref name="period"/> passed.</summary>
    public Task WaitAsync(TimeSpan period, CancellationToken cancellationToken) => _set.WaitAsync(period, cancellationToken);

    public void Dispose() => _set.Dispose();
}

/// <summary>What both invokers hand back for a one-way call that went to another silo.</summary>
internal static partial class OneWayCalls
{
    /// <summary>Completes once the owner queued the message, as a local one-way call does; the callee's failure is logged, not reported.</summary>
    public static Task Queued(Task<object?> call, Microsoft.Extensions.Logging.ILogger logger) => call.ContinueWith(
        static (task, state) =>
        {
            if (task.Exception is { } failure)
            {
                LogOneWayFailed((Microsoft.Extensions.Logging.ILogger)state!, failure.InnerException!);
            }
        },
        logger, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "A one-way call to another silo failed")]
    private static partial void LogOneWayFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception);
}
