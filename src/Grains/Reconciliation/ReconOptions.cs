namespace Wallet.Grains.Reconciliation;

/// <summary>The <c>Reconciliation</c> settings: how much one import may bring.</summary>
public sealed class ReconOptions
{
    /// <summary>The largest file of external records taken, in bytes (1 GiB; a million bank rows are about 100 MB).</summary>
    public long MaxFileBytes { get; set; } = 1L << 30;

    /// <summary>The most records one push (<c>POST .../records</c>) may carry.</summary>
    public int RecordsPerPushMax { get; set; } = 10_000;

    /// <summary>The most bad rows an import names (with their lines and reasons); all of them are counted.</summary>
    public int BadRowsReportedMax { get; set; } = 1_000;
}
