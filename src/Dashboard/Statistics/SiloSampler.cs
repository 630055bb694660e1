using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Wallet.Grains.Ledger;
using Wallet.Runtime;
using Wallet.Runtime.Cluster;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Dashboard.Statistics;

/// <summary>
/// Samples this silo once a second into a ring of the last <see cref="HistoryLength"/> seconds: the
/// call, commit and ledger counters (as deltas), activations, CPU and memory. A sample reads a few
/// dozen counters the silo keeps anyway, so sampling stays on, and a dashboard opened later still
/// has ten minutes to draw.
/// <para>
/// The one costly figure, the hottest grains, walks every activation; it is taken only while a
/// dashboard's grains page is watching (<see cref="MarkWatched"/> in the last <see cref="WatchedFor"/>).
/// </para>
/// </summary>
public sealed class SiloSampler(IServiceProvider services, TimeProvider clock) : BackgroundService
{
    public const int HistoryLength = 600;
    public const int HotGrainsMax = 10;
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan WatchedFor = TimeSpan.FromSeconds(5);

    private readonly SiloSample[] _history = new SiloSample[HistoryLength];
    private readonly Lock _lock = new();
    private readonly DateTimeOffset _startedAt = clock.GetUtcNow();
    private int _next;
    private int _count;
    private long _watchedUntil;
    private IReadOnlyList<HotGrain> _hotGrains = [];
    private bool _lookedLastTick;

    // Resolved when first used, after start: the commit statistics come with the database, which starts with the host.
    private GrainCallStatistics Calls => services.GetRequiredService<GrainCallStatistics>();

    private SiloStatistics Silo => services.GetRequiredService<SiloStatistics>();

    /// <summary>How this silo names itself: its cluster address, or the machine name when it runs alone.</summary>
    public string SiloName => services.GetService<ClusterMembershipService>()?.Self.ToString() ?? Environment.MachineName;

    /// <summary>A grains page is looking: take the hottest grains for the next few seconds.</summary>
    public void MarkWatched() => Volatile.Write(ref _watchedUntil, clock.GetTimestamp() + (long)(WatchedFor.TotalSeconds * clock.TimestampFrequency));

    /// <summary>The samples with <see cref="SiloSample.At"/> after <paramref name="since"/>, oldest first.</summary>
    public IReadOnlyList<SiloSample> Samples(long since)
    {
        lock (_lock)
        {
            var samples = new List<SiloSample>(Math.Min(_count, HistoryLength));
            for (var i = 0; i < _count; i++)
            {
                var sample = _history[(_next - _count + i + HistoryLength) % HistoryLength];
                if (sample.At > since)
                {
                    samples.Add(sample);
                }
            }

            return samples;
        }
    }

    public SiloReport Report(long since) => new(
        SiloName,
        Environment.MachineName,
        _startedAt,
        Environment.ProcessorCount,
        Samples(since),
        Calls.Snapshot(),
        [.. Silo.ActivationsByGrainType().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new NamedCount(p.Key, p.Value))],
        _hotGrains);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var (calls, silo) = (Calls, Silo);
        var commits = services.GetRequiredService<GroupCommitStatistics>();
        var ledger = services.GetRequiredService<LedgerStatistics>();
        var previous = Totals.Read(calls, commits, ledger, clock);

        // Tick on second boundaries, so every silo's samples cover the same seconds and merge by At.
        // The first sample also covers the moments before the first boundary.
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1000 - clock.GetUtcNow().Millisecond), clock, stoppingToken);
            using var timer = new PeriodicTimer(SamplePeriod, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var current = Totals.Read(calls, commits, ledger, clock);
                var elapsed = clock.GetElapsedTime(previous.Timestamp, current.Timestamp);
                Append(current.Since(previous, elapsed, silo.ActivationCount));
                previous = current;
                TakeHotGrains(elapsed);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void Append(SiloSample sample)
    {
        lock (_lock)
        {
            _history[_next] = sample;
            _next = (_next + 1) % HistoryLength;
            _count = Math.Min(_count + 1, HistoryLength);
        }
    }

    // Calls per activation over the last tick. The first look after nobody watched counts from
    // long ago, so it only sets every activation's mark and shows nothing yet.
    private void TakeHotGrains(TimeSpan elapsed)
    {
        var watched = clock.GetTimestamp() <= Volatile.Read(ref _watchedUntil);
        if (!watched)
        {
            _lookedLastTick = false;
            _hotGrains = [];
            return;
        }

        var hottest = Silo.HottestSinceLastLook(HotGrainsMax);
        var seconds = Math.Max(elapsed.TotalSeconds, SamplePeriod.TotalSeconds);
        _hotGrains = _lookedLastTick ? [.. hottest.Select(h => new HotGrain(h.Grain.InterfaceType.Name, h.Grain.Key, h.Calls / seconds))] : [];
        _lookedLastTick = true;
    }

    /// <summary>The silo's counters at one instant; two of them give a sample.</summary>
    private sealed record Totals(
        long Timestamp,
        DateTimeOffset Now,
        long Calls,
        long Errors,
        long LatencyMicroseconds,
        long[] LatencyBuckets,
        long CommitBatches,
        long CommitItems,
        LedgerCounters Ledger,
        TimeSpan CpuTime)
    {
        public static Totals Read(GrainCallStatistics calls, GroupCommitStatistics commits, LedgerStatistics ledger, TimeProvider clock)
        {
            long count = 0, errors = 0, microseconds = 0;
            var buckets = new long[LatencyHistogram.BucketCount];
            foreach (var method in calls.Snapshot())
            {
                count += method.Calls;
                errors += method.Errors;
                microseconds += method.TotalMicroseconds;
                LatencyHistogram.Add(buckets, method.LatencyBuckets);
            }

            return new Totals(clock.GetTimestamp(), clock.GetUtcNow(), count, errors, microseconds, buckets,
                commits.Batches, commits.Items, ledger.Snapshot(), Environment.CpuUsage.TotalTime);
        }

        public SiloSample Since(Totals before, TimeSpan wall, int activations)
        {
            var buckets = new long[LatencyBuckets.Length];
            for (var i = 0; i < buckets.Length; i++)
            {
                buckets[i] = LatencyBuckets[i] - before.LatencyBuckets[i];
            }

            var cpu = wall > TimeSpan.Zero ? (CpuTime - before.CpuTime) / wall / Environment.ProcessorCount * 100 : 0;
            return new SiloSample(
                (long)Math.Round(Now.ToUnixTimeMilliseconds() / 1000.0),
                Calls - before.Calls,
                Errors - before.Errors,
                LatencyMicroseconds - before.LatencyMicroseconds,
                Trim(buckets),
                Ledger.Entries - before.Ledger.Entries,
                CommitBatches - before.CommitBatches,
                CommitItems - before.CommitItems,
                Ledger.Approved - before.Ledger.Approved,
                Ledger.Declined - before.Ledger.Declined,
                Ledger.Reviews - before.Ledger.Reviews,
                Deltas(Ledger.DeclineCodes, before.Ledger.DeclineCodes),
                Deltas(Ledger.FraudRules, before.Ledger.FraudRules),
                activations,
                Math.Round(Math.Clamp(cpu, 0, 100), 1),
                Environment.WorkingSet);
        }

        private static long[] Trim(long[] buckets)
        {
            var length = buckets.Length;
            while (length > 0 && buckets[length - 1] == 0)
            {
                length--;
            }

            return buckets[..length];
        }

        private static IReadOnlyList<NamedCount> Deltas(IReadOnlyDictionary<string, long> now, IReadOnlyDictionary<string, long> before) =>
            [.. now.Select(p => new NamedCount(p.Key, p.Value - before.GetValueOrDefault(p.Key))).Where(c => c.Count > 0)];
    }
}
