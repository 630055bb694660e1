namespace Wallet.Grains.Reconciliation;

/// <summary>The <c>Reconciliation</c> settings: how much one import may bring, and how runs are kept going.</summary>
public sealed class ReconOptions
{
    /// <summary>The largest file of external records taken, in bytes (1 GiB; a million bank rows are about 100 MB).</summary>
    public long MaxFileBytes { get; set; } = 1L << 30;

    /// <summary>The most records one push (<c>POST .../records</c>) may carry.</summary>
    public int RecordsPerPushMax { get; set; } = 10_000;

    /// <summary>The most bad rows an import names (with their lines and reasons); all of them are counted.</summary>
    public int BadRowsReportedMax { get; set; } = 1_000;

    /// <summary>
    /// How soon a run cut short (its silo gone, the database away) starts again: the period of its
    /// reminder, and of the sweep that starts runs whose grain was never reached.
    /// </summary>
    public TimeSpan RunRetryPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many starts a run gets before it is failed (a run that keeps failing its silo must stop).</summary>
    public int RunAttemptsMax { get; set; } = 3;

    /// <summary>The longest period a run may cover.</summary>
    public static readonly TimeSpan PeriodMax = TimeSpan.FromDays(92);
}
