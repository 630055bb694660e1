using Wallet.Runtime;

namespace Wallet.Dashboard.Statistics;

/// <summary>
/// One silo's second: counts of what happened in it (deltas) and gauges read at its end.
/// <see cref="At"/> is the Unix second it ends on, the same on every silo, so samples merge by it.
/// </summary>
public sealed record SiloSample(
    long At,
    long Calls,
    long Errors,
    long LatencyMicroseconds,
    long[] LatencyBuckets,
    long Entries,
    long CommitBatches,
    long CommitItems,
    long Approved,
    long Declined,
    long Reviews,
    IReadOnlyList<NamedCount> DeclineCodes,
    IReadOnlyList<NamedCount> FraudRules,
    int Activations,
    double CpuPercent,
    long MemoryBytes);

public sealed record NamedCount(string Name, long Count);

/// <summary>A grain and the calls per second it received over the last sampled second.</summary>
public sealed record HotGrain(string GrainType, string Key, double CallsPerSecond);

/// <summary>
/// What a silo tells the dashboard about itself: who it is, its samples after the caller's
/// <c>since</c>, and its cumulative figures. Silos send it to each other over the cluster port.
/// </summary>
public sealed record SiloReport(
    string Silo,
    string HostName,
    DateTimeOffset StartedAt,
    int ProcessorCount,
    IReadOnlyList<SiloSample> Samples,
    IReadOnlyList<MethodCallSnapshot> Methods,
    IReadOnlyList<NamedCount> ActivationsByType,
    IReadOnlyList<HotGrain> HotGrains);
