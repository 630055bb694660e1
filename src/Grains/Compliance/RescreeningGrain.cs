using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;

namespace Wallet.Grains.Compliance;

/// <summary>
/// Runs a tenant's rescreenings, one at a time, each in the background as a job. Its reminder ticks
/// <see cref="ComplianceOptions.RescreenEvery"/> after the last rescreening started, once the tenant
/// has imported a watchlist. A
/// job left running by an activation that is gone is failed when the grain activates again; the
/// next change or tick screens everyone anew.
/// </summary>
[GrainType("compliance-rescreening")]
internal sealed partial class RescreeningGrain(
    ComplianceScreening screening, ComplianceJobStore jobs, IOptions<ComplianceOptions> options, TimeProvider clock, ILogger<RescreeningGrain> logger)
    : Grain, IRescreeningGrain, IRemindable
{
    private const string RescreenReminder = "compliance-rescreening";

    // The job running, if any, and the trigger of the one to run after it.
    private ComplianceJobView? _running;
    private string? _next;
    private IGrainTimer? _timer;

    private string TenantId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken) =>
        await jobs.FailInterruptedAsync(TenantId, LedgerTime.Truncate(clock.GetUtcNow()), cancellationToken);

    public async Task<ComplianceJobView> Start(string trigger)
    {
        // Each rescreening moves the next scheduled one a whole period on.
        await this.RegisterOrUpdateReminder(RescreenReminder, options.Value.RescreenEvery, options.Value.RescreenEvery);

        if (_running is { } running)
        {
            _next = trigger;
            return running;
        }

        var job = _running = await jobs.StartAsync(TenantId, ComplianceJobs.Rescreening, trigger, LedgerTime.Truncate(clock.GetUtcNow()), CancellationToken.None);
        _timer?.Dispose();
        // Interleaved: a start while it runs (a list imported again) is answered at once, and queues the next.
        _timer = this.RegisterGrainTimer(RunAsync, job, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true, Interleave = true });
        return job;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == RescreenReminder)
        {
            await Start(ComplianceJobs.OnSchedule);
        }
    }

    private async Task RunAsync(ComplianceJobView job, CancellationToken cancellationToken)
    {
        int screened = 0, flagged = 0;
        string? error = null;
        try
        {
            var (count, wallets) = await screening.RescreenOwnersAsync(TenantId, job.Id, cancellationToken);
            screened = count;
            flagged = wallets.Count;
            foreach (var walletId in wallets)
            {
                // The row says the wallet is under review already; its grain is told to read it.
                await GrainFactory.Wallet(walletId).RefreshCompliance();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(logger, e, job.Id, TenantId);
            error = e.Message;
        }

        await jobs.EndAsync(job.Id, screened, flagged, error, LedgerTime.Truncate(clock.GetUtcNow()), CancellationToken.None);
        LogEnded(logger, job.Id, TenantId, screened, flagged);
        _running = null;
        if (_next is { } next)
        {
            _next = null;
            await Start(next);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rescreening {JobId} of tenant {TenantId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string jobId, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rescreening {JobId} of tenant {TenantId} ended: {Screened} owners screened, {Flagged} put under review")]
    private static partial void LogEnded(ILogger logger, string jobId, string tenantId, int screened, int flagged);
}
