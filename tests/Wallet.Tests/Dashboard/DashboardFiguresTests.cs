using Wallet.Dashboard.Statistics;
using Wallet.Runtime;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>The figures each page shows, from silo reports made by hand: merging, windows, rankings.</summary>
public sealed class DashboardFiguresTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_000);

    [Fact]
    public void Overview_TwoSilos_AddsSecondsUpToTheLastBothReported()
    {
        var a = Report("a", Sample(100, calls: 10, latencyBucket: 10), Sample(101, calls: 20, latencyBucket: 10), Sample(102, calls: 30, latencyBucket: 10));
        var b = Report("b", Sample(100, calls: 1, latencyBucket: 20), Sample(101, calls: 2, latencyBucket: 20));

        var overview = DashboardFigures.Overview(Snapshot(Active(a), Active(b)), since: 0);

        Assert.Equal([100L, 101L], overview.Series.Select(p => p.T));
        Assert.Equal([11L, 22L], overview.Series.Select(p => p.Calls));
        // 2 of 22 calls sit in the 2^20 µs bucket: more than 1 %, so the p99 is that bucket's bound.
        Assert.Equal((1 << 20) / 1000.0, overview.Series[1].P99Ms);
        Assert.Equal((1 << 10) / 1000.0, DashboardFigures.Overview(Snapshot(Active(a)), 0).Series[0].P99Ms);
    }

    [Fact]
    public void Overview_RecentSeconds_GiveRatesErrorRateAndBatchSize()
    {
        var samples = Enumerable.Range(1, 10).Select(t => Sample(t, calls: t <= 5 ? 0 : 100, errors: t <= 5 ? 0 : 5, entries: t <= 5 ? 0 : 40, batches: 4, items: 40)).ToArray();

        var overview = DashboardFigures.Overview(Snapshot(Active(Report("a", samples))), since: 8);

        Assert.Equal(100, overview.CallsPerSecond);
        Assert.Equal(0.05, overview.ErrorRate, precision: 6);
        Assert.Equal(40, overview.EntriesPerSecond);
        Assert.Equal(10, overview.AverageBatchSize);
        Assert.Equal([9L, 10L], overview.Series.Select(p => p.T));
        Assert.Equal(1, overview.SilosUp);
    }

    [Fact]
    public void Overview_NoSamplesYet_IsAllZeroes()
    {
        var overview = DashboardFigures.Overview(Snapshot(Active(Report("a"))), since: 0);

        Assert.Empty(overview.Series);
        Assert.Equal(0, overview.CallsPerSecond);
        Assert.Equal(0, overview.P99Ms);
        Assert.Equal(0, overview.AverageBatchSize);
    }

    [Fact]
    public void Grains_MethodsOfTwoSilos_AreAddedAndRanked()
    {
        var a = Report("a") with
        {
            Methods = [Method("IWalletGrain", "Transfer", calls: 100, errors: 0, bucket: 12), Method("IWalletGrain", "Get", calls: 50, errors: 5, bucket: 4)],
            HotGrains = [new HotGrain("IWalletGrain", "w1", 30)],
        };
        var b = Report("b") with
        {
            Methods = [Method("IWalletGrain", "Transfer", calls: 100, errors: 2, bucket: 16), Method("ICardGrain", "Authorize", calls: 10, errors: 0, bucket: 8)],
            HotGrains = [new HotGrain("IWalletGrain", "w2", 50), new HotGrain("ICardGrain", "c1", 10)],
            ActivationsByType = [new NamedCount("IWalletGrain", 3)],
        };

        var grains = DashboardFigures.Grains(Snapshot(Active(a), Active(b)));

        var transfer = grains.Methods.Single(m => m.Method == "Transfer");
        Assert.Equal(200, transfer.Calls);
        Assert.Equal(2, transfer.Errors);
        Assert.Equal(0.01, transfer.ErrorRate, precision: 6);
        Assert.Equal((1 << 16) / 1000.0, transfer.P99Ms);
        Assert.Equal(["Transfer", "Authorize", "Get"], grains.Slowest.Select(m => m.Method));
        Assert.Equal(["Get", "Transfer"], grains.MostFailing.Select(m => m.Method));
        Assert.Equal(["w2", "w1", "c1"], grains.HotGrains.Select(h => h.Key));
        Assert.Equal(3, grains.ActivationsByType.Single().Count);
    }

    [Fact]
    public void Cards_WindowOfTwoSilos_CountsDecisionsReasonsAndFlags()
    {
        var a = Report("a",
            Sample(1, approved: 3, declined: 1, declineCodes: [new("fraud_blocked", 1)], fraudRules: [new("max_amount", 1)]),
            Sample(2, approved: 1, declined: 2, reviews: 1, declineCodes: [new("limit_exceeded", 2)], fraudRules: [new("velocity", 1)]));
        var b = Report("b", Sample(1, approved: 0, declined: 1, declineCodes: [new("fraud_blocked", 1)], fraudRules: [new("max_amount", 1)]), Sample(2));

        var cards = DashboardFigures.Cards(Snapshot(Active(a), Active(b)), since: 0);

        Assert.Equal(4, cards.Approved);
        Assert.Equal(4, cards.Declined);
        Assert.Equal(1, cards.Reviews);
        Assert.Equal(0.5, cards.ApprovalRate);
        Assert.Equal([("fraud_blocked", 2L), ("limit_exceeded", 2L)], cards.DeclineReasons.Select(r => (r.Name, r.Count)));
        Assert.Equal([("max_amount", 2L), ("velocity", 1L)], cards.FraudFlags.Select(r => (r.Name, r.Count)));
        Assert.Equal(4, cards.AuthorizationsPerSecond);
    }

    [Fact]
    public void Silos_DeadAndSilentSilos_ShowStatusWithoutFigures()
    {
        var live = Report("a", Sample(1, calls: 10, activations: 7));
        var snapshot = Snapshot(
            Active(live),
            new SiloState("b", "active", "host-b", Now.AddMinutes(-1), Now, Answering: false, Report: null),
            new SiloState("c", "dead", "host-c", Now.AddMinutes(-5), Now.AddMinutes(-2), Answering: false, Report: null));

        var silos = DashboardFigures.Silos(snapshot);

        Assert.Equal(600, silos[0].UptimeSeconds);
        Assert.Equal(7, silos[0].Activations);
        Assert.Equal(10, silos[0].CallsPerSecond);
        Assert.Null(silos[1].CallsPerSecond);
        Assert.Equal(60, silos[1].UptimeSeconds);
        Assert.Null(silos[2].UptimeSeconds);
        Assert.Equal("dead", silos[2].Status);
        var overview = DashboardFigures.Overview(snapshot, 0);
        Assert.Equal(2, overview.SilosUp);
        Assert.Equal(3, overview.SilosShown);
    }

    private static SiloSample Sample(
        long at, long calls = 0, long errors = 0, int latencyBucket = 0, long entries = 0, long batches = 0, long items = 0,
        long approved = 0, long declined = 0, long reviews = 0, NamedCount[]? declineCodes = null, NamedCount[]? fraudRules = null, int activations = 0)
    {
        var buckets = new long[latencyBucket + 1];
        buckets[latencyBucket] = calls;
        return new SiloSample(at, calls, errors, calls * (1L << latencyBucket), buckets, entries, batches, items,
            approved, declined, reviews, declineCodes ?? [], fraudRules ?? [], activations, 10, 1 << 20);
    }

    private static MethodCallSnapshot Method(string grain, string method, long calls, long errors, int bucket)
    {
        var buckets = new long[LatencyHistogram.BucketCount];
        buckets[bucket] = calls;
        return new MethodCallSnapshot(grain, method, calls, errors, calls * (1L << bucket), buckets);
    }

    private static SiloReport Report(string silo, params SiloSample[] samples) =>
        new(silo, "host-" + silo, Now.AddMinutes(-10), 2, samples, [], [], []);

    private static SiloState Active(SiloReport report) => new(report.Silo, "active", report.HostName, report.StartedAt, Now, Answering: true, report);

    private static ClusterSnapshot Snapshot(params SiloState[] silos) => new(Now, silos);
}
