namespace Wallet.Grains.Reconciliation;

/// <summary>The states of a reconciliation run.</summary>
public static class ReconRunStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";

    public static bool IsFinal(string status) => status is Completed or Failed;
}

/// <summary>
/// A reconciliation run as the API shows it: a source's records compared with its ledger
/// account's entries from <see cref="From"/> (inclusive) to <see cref="To"/> (exclusive).
/// <see cref="Progress"/> runs from 0 to 1; <see cref="Attempts"/> counts its starts, those cut short included.
/// </summary>
public sealed record ReconRunView(
    string Id,
    string SourceId,
    DateTimeOffset From,
    DateTimeOffset To,
    bool Scheduled,
    string Status,
    double Progress,
    int Attempts,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt);

/// <summary>
/// What a run found, counted (<see cref="Exact"/>, <see cref="Fuzzy"/> pairs, records and entries
/// left unmatched) and, per currency, in amounts. What operators decided since on the unmatched
/// items (<see cref="Manual"/> matches, <see cref="WrittenOff"/>) is counted beside it; <see cref="Open"/>
/// is what still waits for a decision.
/// </summary>
public sealed record ReconSummary(
    string RunId,
    string Status,
    int Exact,
    int Fuzzy,
    int UnmatchedInternal,
    int UnmatchedExternal,
    IReadOnlyList<ReconCurrencySummary> Amounts,
    int Manual,
    int WrittenOff,
    int Open);

/// <summary>
/// A run's amounts in one currency: the records' side of its matched pairs, what was left unmatched
/// on either side, and the difference between the records' total and the ledger's
/// (<c>external − internal</c>, so a fuzzy pair's gap and every unmatched amount show in it).
/// </summary>
public sealed record ReconCurrencySummary(
    string Currency,
    string ExternalTotal,
    string InternalTotal,
    string Exact,
    string Fuzzy,
    string UnmatchedInternal,
    string UnmatchedExternal,
    string Difference);

/// <summary>The external record of an item.</summary>
public sealed record ReconItemExternal(string Id, string Amount, DateTimeOffset At, string? Reference, string? Description);

/// <summary>The ledger entry of an item, with the amount it posted to the source's ledger account.</summary>
public sealed record ReconItemInternal(string EntryId, string Amount, DateTimeOffset At, string? Reference, string? Description);

/// <summary>What an operator decided on an unmatched item: a manual match with <see cref="CounterpartId"/>, or a write-off.</summary>
public sealed record ReconResolution(string Action, string? CounterpartId, string Note, DateTimeOffset CreatedAt)
{
    public const string Match = "match";
    public const string WriteOff = "write_off";

    public static IReadOnlyList<string> Actions { get; } = [Match, WriteOff];
}

/// <summary>
/// One thing a run found: a matched pair (<c>exact</c> or <c>fuzzy</c>, with its score and the
/// reasons for every difference) or a record or entry left <c>unmatched</c> on its <see cref="Side"/>.
/// </summary>
public sealed record ReconItemView(
    string Id,
    string RunId,
    string Kind,
    string? Side,
    string Currency,
    double? Score,
    ReconItemExternal? External,
    ReconItemInternal? Internal,
    IReadOnlyList<string> Reasons,
    ReconResolution? Resolution)
{
    public const string Exact = "exact";
    public const string Fuzzy = "fuzzy";
    public const string Unmatched = "unmatched";
    public const string InternalSide = "internal";
    public const string ExternalSide = "external";

    public static IReadOnlyList<string> Sides { get; } = [InternalSide, ExternalSide];
}

/// <summary>Reconciliation ids: a prefix and a time-ordered GUID; an item's is its run's and its number.</summary>
public static class ReconIds
{
    public const string SourcePrefix = "rsrc_";
    public const string FilePrefix = "rfil_";
    public const string RunPrefix = "rrun_";
    public const string ItemPrefix = "ritm_";

    public static string NewSource() => SourcePrefix + Guid.CreateVersion7().ToString("N");

    public static string NewFile() => FilePrefix + Guid.CreateVersion7().ToString("N");

    public static string NewRun() => RunPrefix + Guid.CreateVersion7().ToString("N");

    public static string Item(string runId, int n) => $"{ItemPrefix}{runId[RunPrefix.Length..]}_{n}";

    /// <summary>Reads an item id back into its run's id and its number.</summary>
    public static bool TryParseItem(string id, out string runId, out int n)
    {
        runId = "";
        n = 0;
        var last = id.LastIndexOf('_');
        if (!id.StartsWith(ItemPrefix, StringComparison.Ordinal) || last <= ItemPrefix.Length
            || !int.TryParse(id.AsSpan(last + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n) || n < 1)
        {
            return false;
        }

        runId = RunPrefix + id[ItemPrefix.Length..last];
        return true;
    }
}
