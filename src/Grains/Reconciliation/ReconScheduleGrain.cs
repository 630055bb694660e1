using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Runs a source on its schedule. Its reminder is set for the cron expression's next time; each
/// tick queues the run of the day before that time (once per day, however many ticks or silos ask:
/// PostgreSQL keeps one scheduled run per source and day), starts it, and sets the reminder for the
/// time after. A tick late by a silo's absence still runs the latest day due.
/// </summary>
[GrainType("recon-schedule")]
internal sealed partial class ReconScheduleGrain(
    ReconStore sources, ReconRunStore runs, TimeProvider clock, ILogger<ReconScheduleGrain> logger) : Grain, IReconScheduleGrain, IRemindable
{
    private const string ScheduleReminder = "recon-schedule";

    // Should a reminder's re-arming fail, the reminder still ticks this often, and each tick re-arms it.
    private static readonly TimeSpan FallbackPeriod = TimeSpan.FromHours(1);

    private string Id => this.GetPrimaryKeyString();

    public async Task Arm() => await ArmAsync(await sources.FindSourceByIdAsync(Id, CancellationToken.None));

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ScheduleReminder)
        {
            return;
        }

        var found = await sources.FindSourceByIdAsync(Id, CancellationToken.None);
        if (found is ({ } tenantId, { Schedule: { } schedule } source) && ReconSchedules.Latest(schedule, clock.GetUtcNow()) is { } occurrence)
        {
            var (from, to) = ReconSchedules.DayBefore(occurrence, schedule.TimeZone);
            var run = await runs.CreateScheduledRunAsync(tenantId, source.Id, from, to, clock.GetUtcNow(), CancellationToken.None);
            if (!ReconRunStatuses.IsFinal(run.Status))
            {
                LogScheduledRun(logger, run.Id, source.Id, from);
                await GrainFactory.GetGrain<IReconRunGrain>(run.Id).Start();
            }
        }

        await ArmAsync(found);
    }

    private async Task ArmAsync((string TenantId, ReconSourceView Source)? found)
    {
        if (found?.Source.Schedule is not { } schedule || ReconSchedules.Next(schedule, clock.GetUtcNow()) is not { } next)
        {
            if (await this.GetReminder(ScheduleReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            return;
        }

        var due = next - clock.GetUtcNow();
        await this.RegisterOrUpdateReminder(ScheduleReminder, due > TimeSpan.FromSeconds(1) ? due : TimeSpan.FromSeconds(1), FallbackPeriod);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduled reconciliation run {RunId} of source {SourceId} for the day from {From}")]
    private static partial void LogScheduledRun(ILogger logger, string runId, string sourceId, DateTimeOffset from);
}
