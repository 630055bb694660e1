using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Drives one reconciliation run. A reminder is registered before the run starts and removed once
/// it is completed or failed, so a run cut short (a silo killed, the database away) starts again on
/// the next tick, on whichever silo then hosts the grain. What PostgreSQL holds decides: each start
/// is a numbered attempt, and only the latest attempt may complete the run, in the same transaction
/// that writes its items, so a run finishes once.
/// </summary>
/// <remarks>Reentrant: a start or a tick never waits for the run, which can take minutes.</remarks>
[Reentrant]
[GrainType("recon-run")]
internal sealed partial class ReconRunGrain(
    ReconMatcher matcher, IOptions<ReconOptions> options, TimeProvider clock, ILogger<ReconRunGrain> logger) : Grain, IReconRunGrain, IRemindable
{
    private const string RunReminder = "recon-run";

    // The run scheduled or running; null when none is.
    private IGrainTimer? _running;

    // A start is registering the reminder, before it schedules the run.
    private bool _starting;

    private string Id => this.GetPrimaryKeyString();

    public async Task Start()
    {
        if (_running is not null || _starting)
        {
            return;
        }

        _starting = true;
        try
        {
            await this.RegisterOrUpdateReminder(RunReminder, options.Value.RunRetryPeriod, options.Value.RunRetryPeriod);
        }
        finally
        {
            _starting = false;
        }

        ScheduleRun();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == RunReminder && _running is null && !_starting)
        {
            ScheduleRun();
        }

        return Task.CompletedTask;
    }

    private void ScheduleRun() =>
        _running = this.RegisterGrainTimer(RunAsync, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (await matcher.RunAsync(Id, options.Value.RunAttemptsMax, clock, cancellationToken) && await this.GetReminder(RunReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRunStopped(logger, e, Id, options.Value.RunRetryPeriod);
        }
        catch (OperationCanceledException)
        {
            // The activation is going away; the reminder brings the run back.
        }

        _running?.Dispose();
        _running = null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciliation run {RunId} stopped; it starts again in {RetryPeriod}")]
    private static partial void LogRunStopped(ILogger logger, Exception exception, string runId, TimeSpan retryPeriod);
}
