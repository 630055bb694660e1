using Orleans;

namespace Wallet.Grains.Compliance;

/// <summary>
/// A job of the compliance service: what it did (<see cref="Kind"/>, <c>rescreening</c>), why it ran
/// (<see cref="Trigger"/>: a watchlist changed, or the schedule), how far it got, and how it ended.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.ComplianceJobView")]
public sealed record ComplianceJobView(
    string Id,
    string Kind,
    string Trigger,
    string Status,
    int Screened,
    int Flagged,
    string? Error,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt);

public static class ComplianceJobs
{
    public const string Rescreening = "rescreening";

    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";

    /// <summary>A watchlist was imported or replaced.</summary>
    public const string OnWatchlist = "watchlist";

    /// <summary>The tenant's rescreening reminder.</summary>
    public const string OnSchedule = "schedule";
}

/// <summary>
/// The rescreening of a tenant's wallet owners (keyed by the tenant's id): every owner screened
/// again against the watchlists as they are now, each new potential match or match put under
/// review. It runs when a watchlist changes and on a schedule (a reminder, registered the first time
/// the tenant imports a list), in the background, as a job.
/// </summary>
[Alias("wallet.IRescreeningGrain")]
public interface IRescreeningGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts a rescreening and answers its job without waiting for it. While one runs, it answers
    /// that one, and another follows it once it ends (the lists it started with may be stale).
    /// </summary>
    [Alias("Start")]
    Task<ComplianceJobView> Start(string trigger);
}
