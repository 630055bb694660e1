using Orleans;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// One reconciliation run, keyed by its id: runs it in the background until it is completed or
/// failed. A reminder keeps it going across silo failures and restarts.
/// </summary>
[Alias("wallet.IReconRunGrain")]
public interface IReconRunGrain : IGrainWithStringKey
{
    /// <summary>Runs the run if it is queued or was cut short; returns without waiting for it.</summary>
    [Alias("Start")]
    Task Start();
}

/// <summary>
/// The schedule of one reconciliation source, keyed by the source's id: a reminder due at the next
/// time its cron expression names, which queues and starts that day's run.
/// </summary>
[Alias("wallet.IReconScheduleGrain")]
public interface IReconScheduleGrain : IGrainWithStringKey
{
    /// <summary>Sets the reminder for the source's next scheduled time (none when it has no schedule).</summary>
    [Alias("Arm")]
    Task Arm();
}
