using Wallet.Runtime;

namespace Wallet.Dashboard.Statistics;

/// <summary>One second of the whole cluster: every answering silo's sample for it, added up.</summary>
public sealed record SeriesPoint(
    long T,
    long Calls,
    long Errors,
    double AverageMs,
    double P99Ms,
    long Entries,
    long CommitBatches,
    long CommitItems,
    long Approved,
    long Declined,
    long Reviews,
    long Activations);

public sealed record OverviewFigures(
    DateTimeOffset At,
    int SilosUp,
    int SilosShown,
    long Activations,
    double CallsPerSecond,
    double ErrorRate,
    double AverageMs,
    double P99Ms,
    double EntriesPerSecond,
    double AverageBatchSize,
    IReadOnlyList<SeriesPoint> Series);

public sealed record SiloRow(
    string Silo,
    string Status,
    string HostName,
    DateTimeOffset? StartedAt,
    double? UptimeSeconds,
    DateTimeOffset? HeartbeatAt,
    bool Answering,
    int? ProcessorCount,
    double? CpuPercent,
    long? MemoryBytes,
    long? Activations,
    double? CallsPerSecond,
    IReadOnlyList<NamedCount> ActivationsByType);

public sealed record MethodRow(string GrainType, string Method, long Calls, long Errors, double ErrorRate, double AverageMs, double P99Ms);

public sealed record GrainFigures(
    DateTimeOffset At,
    IReadOnlyList<MethodRow> Methods,
    IReadOnlyList<MethodRow> Slowest,
    IReadOnlyList<MethodRow> MostFailing,
    IReadOnlyList<HotGrain> HotGrains,
    IReadOnlyList<NamedCount> ActivationsByType);

public sealed record CardFigures(
    DateTimeOffset At,
    double AuthorizationsPerSecond,
    long Approved,
    long Declined,
    long Reviews,
    double ApprovalRate,
    IReadOnlyList<NamedCount> DeclineReasons,
    IReadOnlyList<NamedCount> FraudFlags,
    IReadOnlyList<SeriesPoint> Series);

/// <summary>
/// The dashboard's figures, computed from a <see cref="ClusterSnapshot"/>: pure functions, so what
/// each page shows is tested without a browser. "Now" figures are over the last
/// <see cref="RecentSeconds"/> complete seconds; card figures over the whole window (ten minutes).
/// </summary>
public static class DashboardFigures
{
    public const int RecentSeconds = 5;
    public const int TopMethodsMax = 5;

    public static OverviewFigures Overview(ClusterSnapshot snapshot, long since)
    {
        var series = Merge(snapshot);
        var recent = series.TakeLast(RecentSeconds).ToList();
        var calls = recent.Sum(p => p.Point.Calls);
        var buckets = new long[LatencyHistogram.BucketCount];
        foreach (var (_, pointBuckets) in recent)
        {
            LatencyHistogram.Add(buckets, pointBuckets);
        }

        var batches = recent.Sum(p => p.Point.CommitBatches);
        var answering = snapshot.Silos.Where(s => s.Report is not null).ToList();
        return new OverviewFigures(
            snapshot.At,
            snapshot.Silos.Count(s => s.Status == "active"),
            snapshot.Silos.Count,
            answering.Sum(s => (long)(s.Report!.Samples.LastOrDefault()?.Activations ?? 0)),
            PerSecond(calls, recent.Count),
            calls == 0 ? 0 : (double)recent.Sum(p => p.Point.Errors) / calls,
            calls == 0 ? 0 : Math.Round(recent.Sum(p => p.Point.AverageMs * p.Point.Calls) / calls, 3),
            LatencyHistogram.QuantileMilliseconds(buckets, 0.99),
            PerSecond(recent.Sum(p => p.Point.Entries), recent.Count),
            batches == 0 ? 0 : Math.Round((double)recent.Sum(p => p.Point.CommitItems) / batches, 1),
            [.. series.Select(p => p.Point).Where(p => p.T > since)]);
    }

    public static IReadOnlyList<SiloRow> Silos(ClusterSnapshot snapshot) =>
    [
        .. snapshot.Silos.Select(s =>
        {
            var report = s.Report;
            var last = report?.Samples.LastOrDefault();
            var recent = report?.Samples.TakeLast(RecentSeconds).ToList() ?? [];
            return new SiloRow(
                s.Silo,
                s.Status,
                s.HostName,
                s.StartedAt,
                s.Status == "dead" || s.StartedAt is null ? null : Math.Round((snapshot.At - s.StartedAt.Value).TotalSeconds),
                s.HeartbeatAt,
                s.Answering,
                report?.ProcessorCount,
                last?.CpuPercent,
                last?.MemoryBytes,
                last?.Activations,
                report is null ? null : PerSecond(recent.Sum(x => x.Calls), recent.Count),
                report?.ActivationsByType ?? []);
        }),
    ];

    public static GrainFigures Grains(ClusterSnapshot snapshot)
    {
        var reports = snapshot.Silos.Select(s => s.Report).OfType<SiloReport>().ToList();
        var methods = reports
            .SelectMany(r => r.Methods)
            .GroupBy(m => (m.GrainType, m.Method))
            .Select(g =>
            {
                var buckets = new long[LatencyHistogram.BucketCount];
                foreach (var m in g)
                {
                    LatencyHistogram.Add(buckets, m.LatencyBuckets);
                }

                var calls = g.Sum(m => m.Calls);
                var errors = g.Sum(m => m.Errors);
                return new MethodRow(
                    g.Key.GrainType,
                    g.Key.Method,
                    calls,
                    errors,
                    calls == 0 ? 0 : (double)errors / calls,
                    calls == 0 ? 0 : Math.Round(g.Sum(m => m.TotalMicroseconds) / 1000.0 / calls, 3),
                    LatencyHistogram.QuantileMilliseconds(buckets, 0.99));
            })
            .OrderBy(m => m.GrainType, StringComparer.Ordinal).ThenBy(m => m.Method, StringComparer.Ordinal)
            .ToList();
        return new GrainFigures(
            snapshot.At,
            methods,
            [.. methods.Where(m => m.Calls > 0).OrderByDescending(m => m.P99Ms).ThenByDescending(m => m.AverageMs).Take(TopMethodsMax)],
            [.. methods.Where(m => m.Errors > 0).OrderByDescending(m => m.Errors).ThenByDescending(m => m.ErrorRate).Take(TopMethodsMax)],
            [.. reports.SelectMany(r => r.HotGrains).OrderByDescending(h => h.CallsPerSecond).Take(SiloSampler.HotGrainsMax)],
            Sum(reports.SelectMany(r => r.ActivationsByType)));
    }

    public static CardFigures Cards(ClusterSnapshot snapshot, long since)
    {
        var series = Merge(snapshot).Select(p => p.Point).ToList();
        var samples = snapshot.Silos.Select(s => s.Report).OfType<SiloReport>().SelectMany(r => r.Samples).ToList();
        var approved = samples.Sum(s => s.Approved);
        var declined = samples.Sum(s => s.Declined);
        var recent = series.TakeLast(RecentSeconds).ToList();
        return new CardFigures(
            snapshot.At,
            PerSecond(recent.Sum(p => p.Approved + p.Declined), recent.Count),
            approved,
            declined,
            samples.Sum(s => s.Reviews),
            approved + declined == 0 ? 0 : (double)approved / (approved + declined),
            Sum(samples.SelectMany(s => s.DeclineCodes)),
            Sum(samples.SelectMany(s => s.FraudRules)),
            [.. series.Where(p => p.T > since)]);
    }

    /// <summary>
    /// The answering silos' samples added up second by second, up to the last second every one of
    /// them has reported (a later second would still be missing someone's share).
    /// </summary>
    internal static List<(SeriesPoint Point, long[] Buckets)> Merge(ClusterSnapshot snapshot)
    {
        var reports = snapshot.Silos.Select(s => s.Report).OfType<SiloReport>().Where(r => r.Samples.Count > 0).ToList();
        if (reports.Count == 0)
        {
            return [];
        }

        var complete = reports.Min(r => r.Samples[^1].At);
        return
        [
            .. reports.SelectMany(r => r.Samples).Where(s => s.At <= complete).GroupBy(s => s.At).OrderBy(g => g.Key).Select(g =>
            {
                var buckets = new long[LatencyHistogram.BucketCount];
                foreach (var sample in g)
                {
                    LatencyHistogram.Add(buckets, sample.LatencyBuckets);
                }

                var calls = g.Sum(s => s.Calls);
                var point = new SeriesPoint(
                    g.Key,
                    calls,
                    g.Sum(s => s.Errors),
                    calls == 0 ? 0 : Math.Round(g.Sum(s => s.LatencyMicroseconds) / 1000.0 / calls, 3),
                    LatencyHistogram.QuantileMilliseconds(buckets, 0.99),
                    g.Sum(s => s.Entries),
                    g.Sum(s => s.CommitBatches),
                    g.Sum(s => s.CommitItems),
                    g.Sum(s => s.Approved),
                    g.Sum(s => s.Declined),
                    g.Sum(s => s.Reviews),
                    g.Sum(s => (long)s.Activations));
                return (point, buckets);
            }),
        ];
    }

    private static double PerSecond(long count, int seconds) => seconds == 0 ? 0 : Math.Round((double)count / seconds, 1);

    private static IReadOnlyList<NamedCount> Sum(IEnumerable<NamedCount> counts) =>
        [.. counts.GroupBy(c => c.Name, StringComparer.Ordinal).Select(g => new NamedCount(g.Key, g.Sum(c => c.Count)))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Name, StringComparer.Ordinal)];
}
