using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Cluster;

/// <summary>
/// A Jepsen-style bank: money moves at random between the wallets of one bank through the API
/// process while silos are SIGKILLed and restarted and PostgreSQL itself is restarted. The bank's
/// total never changes, no wallet goes below zero, every transfer a client was told about is in
/// the ledger exactly once, no Idempotency-Key is applied twice, and throughput comes back within
/// seconds of each kill. The report goes to the test output, stderr and <c>artifacts/bank-report.txt</c>.
/// </summary>
/// <remarks>
/// <c>WALLET_BANK_SECONDS</c> sets how long faults are injected (default 30, the CI form: two silo
/// kills and the PostgreSQL restart; 75 for the full run); <c>WALLET_BANK_SEED</c> replays a run's
/// choices of transfers and faults (timings still vary). It runs alone: how fast throughput comes
/// back after a kill is a measure of the machine's two cores, which other test classes would share.
/// </remarks>
[Collection(BankCollection.Name)]
public sealed class BankTests(ITestOutputHelper output)
{
    private const string ApiKey = "bank-test-operator-key";
    private const int WalletCount = 50;
    private const long FundMinorUnits = 1_000_00;

    private const int FaultSecondsDefault = 30;
    private const int FaultSecondsMin = 30;
    // The first phase warms up every process (JIT, pools, caches), the second only the two new silos.
    private const double SingleSiloWarmUpSeconds = 4;
    private const double ThreeSiloWarmUpSeconds = 2;
    private const double MeasuredSeconds = 8;
    private const double TailAfterRecoverySeconds = 3;
    private const double FirstFaultSeconds = Throughput.BaselineSeconds + 1;
    private const double FaultGapMinSeconds = 10;
    private const double FaultGapMaxSeconds = 15;
    private const int SiloKillsMin = 2;
    private const double RestartPauseMinSeconds = 1;
    private const double RestartPauseMaxSeconds = 3;
    private const double DatabaseDownSeconds = 2;
    private const double RecoveryLimitSeconds = 10;

    // Throughput after a kill must be back within RecoveryLimitSeconds to 80% of the rate before
    // it, capped at the fault-free three-silo rate (Throughput.Effect says why the cap). Set false
    // to only report it, e.g. on a machine much busier than the two cores these figures are from.
    private const bool RecoveryAsserted = true;
    private const int SetupConcurrencyMax = 8;
    private const int VerifyAttemptsMax = 30;
    private const int VerifyTimeoutSeconds = 60;

    [Fact]
    public async Task Bank_RandomTransfersWhileSilosAreKilledAndPostgresRestarts_ConserveMoneyAndKeepEachAcknowledgedTransferOnce()
    {
        var faultSeconds = FaultSeconds();
        var seed = Seed();
        var clock = Stopwatch.StartNew();
        var logs = Path.Combine(BankReport.ArtifactsDirectory(), "bank-logs");
        if (Directory.Exists(logs))
        {
            Directory.Delete(logs, recursive: true);
        }

        Directory.CreateDirectory(logs);
        await using var cluster = await ClusterProcesses.CreateAsync(ApiKey, logs);
        BankReport report;
        try
        {
            report = await RunAsync(cluster, clock, faultSeconds, seed);
        }
        catch
        {
            output.WriteLine(cluster.Tails());
            output.WriteLine($"(every process's whole output is in {logs})");
            throw;
        }

        BankReport.Publish(report.Format() + $"Process logs: {logs}\n", output);
        if (report.Failures.Count > 0)
        {
            output.WriteLine(cluster.Tails());
        }

        Assert.True(report.Failures.Count == 0, string.Join(Environment.NewLine, report.Failures));
    }

    private static async Task<BankReport> RunAsync(ClusterProcesses cluster, Stopwatch clock, int faultSeconds, int seed)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var steps = new List<(string Step, double Seconds)>();
        void Step(string step) => steps.Add((step, clock.Elapsed.TotalSeconds));

        Step("database started");
        await cluster.StartSiloAsync(0);
        Step("silo-1 ready");
        await cluster.StartApiAsync();
        Step("API ready");
        using var api = cluster.CreateApiClient(4 * BankWorkload.ClientCount);
        var wallets = await OpenWalletsAsync(api, run);
        Step("wallets funded");
        await using var ledger = new BankLedger(cluster.ConnectionString, run, wallets, WalletCount * FundMinorUnits);
        Assert.True(await ledger.TrySnapshotAsync(), "the first snapshot could not read the database");
        Assert.Empty(ledger.Violations);

        var workload = new BankWorkload(api, run, wallets, clock, seed);
        using var stopSnapshots = new CancellationTokenSource();
        var snapshots = ledger.RunSnapshotsAsync(stopSnapshots.Token);
        BankPhase single, three, faultPhase;
        List<BankFault> faults;
        try
        {
            // The same workload without faults, on one silo and then on three.
            single = await RunFaultFreePhaseAsync(workload, 0, "1 silo", SingleSiloWarmUpSeconds, clock);
            Step("1-silo phase done");
            await Task.WhenAll(cluster.StartSiloAsync(1), cluster.StartSiloAsync(2));
            await cluster.WaitUntilActiveSilosAsync(ClusterProcesses.SiloCount, TimeSpan.FromSeconds(30));
            Step("silo-2 and silo-3 joined");
            await cluster.SpreadOverRunningSilosAsync();
            Step("API restarted, activations spread");
            await Task.Delay(TimeSpan.FromSeconds(2)); // every silo and the API read the membership each second
            three = await RunFaultFreePhaseAsync(workload, 1, "3 silos", ThreeSiloWarmUpSeconds, clock);
            Step("3-silo phase done");

            (faultPhase, faults) = await RunFaultPhaseAsync(cluster, workload, clock, faultSeconds, new Random(seed), three.Rate(workload.AcknowledgementTimes()));
            Step("fault phase done");
        }
        finally
        {
            await stopSnapshots.CancelAsync();
            await snapshots;
        }

        var finalSnapshot = await ledger.TrySnapshotAsync();

        var accounting = await ledger.AccountAsync(workload.Transfers, FundMinorUnits);
        var (verified, verify) = await VerifyAsync(api);
        Step("checks done");
        var report = new BankReport
        {
            Run = run,
            Seed = seed,
            Wallets = WalletCount,
            FundedPerWallet = FundMinorUnits,
            FaultSeconds = faultSeconds,
            RecoveryLimitSeconds = RecoveryLimitSeconds,
            RecoveryAsserted = RecoveryAsserted,
            Phases = [single, three],
            FaultPhase = faultPhase,
            Faults = faults,
            Acknowledgements = workload.AcknowledgementTimes(),
            Transfers = workload.Transfers,
            Counters = workload.Counters,
            Ledger = ledger,
            Accounting = accounting,
            Verify = verify,
            Steps = steps,
        };
        report.Failures = Judge(report, finalSnapshot, verified);
        return report;
    }

    /// <summary>Every check of the run; an empty list is a pass.</summary>
    private static List<string> Judge(BankReport report, bool finalSnapshot, bool verified)
    {
        var failures = new List<string>();
        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add(failure);
            }
        }

        var a = report.Accounting;
        var transfers = report.Transfers;
        Check(a.Lost == 0, $"{a.Lost} acknowledged transfers are not in the ledger");
        Check(a.Duplicated == 0, $"{a.Duplicated} Idempotency-Keys were applied more than once");
        Check(a.ViolationCount == 0, $"{a.ViolationCount} ledger violations: {string.Join("; ", a.Violations)}");
        Check(report.Ledger.ViolationCount == 0, $"{report.Ledger.ViolationCount} snapshot violations: {string.Join("; ", report.Ledger.Violations)}");
        Check(finalSnapshot, "the final snapshot could not read the database");
        Check(verified, $"GET /v1/ledger/verify: {report.Verify}");
        Check(report.Counters.ServerErrorsWithoutRetryAfter == 0,
            $"{report.Counters.ServerErrorsWithoutRetryAfter} 5xx answers without Retry-After: {string.Join("; ", report.Counters.BadAnswers.Take(10))}");

        var unexpected = transfers.Where(t => t.Outcome == BankOutcome.Unexpected).ToList();
        Check(unexpected.Count == 0, $"{unexpected.Count} unexpected definite answers: {string.Join("; ", unexpected.Take(10).Select(t => $"{t.Key}: {t.LastAnswer}"))}");
        var open = transfers.Where(t => t.Outcome is BankOutcome.Indeterminate or BankOutcome.Pending).ToList();
        Check(open.Count == 0, $"{open.Count} transfers got no definite answer: {string.Join("; ", open.Take(10).Select(t => $"{t.Key}: {t.LastAnswer}"))}");

        // The workload must have done what it is for, or the checks above prove little.
        Check(transfers.Any(t => t.Outcome == BankOutcome.Refused), "no transfer was refused: the workload never tried to overdraw");
        foreach (var phase in report.Phases.Append(report.FaultPhase))
        {
            Check(Throughput.Count(report.Acknowledgements, phase.Start, phase.End) > 0, $"no transfer was acknowledged in phase '{phase.Name}'");
        }

        var kills = report.Faults.Where(f => f.Kind == BankFaultKind.SiloKill).ToList();
        Check(kills.Count >= SiloKillsMin, $"only {kills.Count} silo kills were injected");
        Check(report.Faults.Count(f => f.Kind == BankFaultKind.DatabaseRestart) == 1, "PostgreSQL was not restarted once");
        var workloadSeconds = report.FaultPhase.End - report.Phases[0].Start;
        Check(report.Ledger.Snapshots >= workloadSeconds / 3, $"only {report.Ledger.Snapshots} snapshots in {workloadSeconds:0} s");
        foreach (var kill in kills.Where(_ => RecoveryAsserted))
        {
            var recovery = report.EffectOf(kill).RecoverySeconds;
            Check(recovery <= RecoveryLimitSeconds,
                $"after the kill of {kill.Target} at t={kill.At - report.FaultPhase.Start:0.0} s throughput took " +
                $"{(recovery is { } s ? $"{s:0.0} s" : "the rest of the run")} to recover (limit {RecoveryLimitSeconds:0} s)");
        }

        return failures;
    }

    private static async Task<string[]> OpenWalletsAsync(HttpClient api, string run)
    {
        using var window = new SemaphoreSlim(SetupConcurrencyMax);
        return await Task.WhenAll(Enumerable.Range(0, WalletCount).Select(async i =>
        {
            await window.WaitAsync();
            try
            {
                return await BankWorkload.OpenFundedWalletAsync(api, run, i, FundMinorUnits);
            }
            finally
            {
                window.Release();
            }
        }));
    }

    private static async Task<BankPhase> RunFaultFreePhaseAsync(BankWorkload workload, int phase, string name, double warmUpSeconds, Stopwatch clock)
    {
        var start = clock.Elapsed.TotalSeconds;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(warmUpSeconds + MeasuredSeconds));
        await workload.RunAsync(phase, stop.Token);
        return new BankPhase(name, start, start + warmUpSeconds, start + warmUpSeconds + MeasuredSeconds);
    }

    /// <summary>
    /// The workload with faults: injected on <see cref="Schedule"/> during the first
    /// <paramref name="faultSeconds"/>; the next fault comes only once a restarted silo is ready. The
    /// workload goes on until the last fault has settled (see <see cref="WaitForLastRecoveryAsync"/>).
    /// </summary>
    private static async Task<(BankPhase Phase, List<BankFault> Faults)> RunFaultPhaseAsync(
        ClusterProcesses cluster, BankWorkload workload, Stopwatch clock, int faultSeconds, Random random, double faultFreePerSecond)
    {
        var start = clock.Elapsed.TotalSeconds;
        var faults = new List<BankFault>();
        using var stop = new CancellationTokenSource();
        var work = workload.RunAsync(2, stop.Token);
        double end;
        try
        {
            foreach (var (gap, kind) in Schedule(faultSeconds, random))
            {
                // A gap counts from the previous fault as it happened: a slow restart delays what follows.
                await DelayUntilAsync(clock, (faults.Count == 0 ? start : faults[^1].At) + gap);
                faults.Add(kind == BankFaultKind.SiloKill
                    ? await KillAndRestartSiloAsync(cluster, clock, random)
                    : await RestartDatabaseAsync(cluster, clock));
            }

            end = await WaitForLastRecoveryAsync(workload, clock, faults[^1], start + faultSeconds, faultFreePerSecond);
        }
        finally
        {
            await stop.CancelAsync();
            await work;
        }

        return (new BankPhase("faults", start, start, end), faults);
    }

    /// <summary>
    /// The end of the fault phase: <see cref="TailAfterRecoverySeconds"/> after the last fault has
    /// recovered and its restarted silo is ready (so the dip of its rejoining shows too), or when its
    /// dip window is over, whichever comes first, and never before <paramref name="notBefore"/>.
    /// </summary>
    private static async Task<double> WaitForLastRecoveryAsync(BankWorkload workload, Stopwatch clock, BankFault last, double notBefore, double faultFreePerSecond)
    {
        var latest = Math.Max(notBefore, last.At + Throughput.DipWindowSeconds + 1);
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var now = clock.Elapsed.TotalSeconds;
            var recovered = Throughput.Effect(workload.AcknowledgementTimes(), last.At, now, faultFreePerSecond).RecoverySeconds;
            var settled = recovered is { } seconds && now >= Math.Max(last.At + seconds, last.ReadyAt ?? last.At) + TailAfterRecoverySeconds;
            if (now >= latest || (now >= notBefore && settled))
            {
                return now;
            }
        }
    }

    /// <summary>
    /// The faults, each with its delay after the one before (the first: after the start of the phase,
    /// leaving a baseline): every 10-15 s while within <paramref name="faultSeconds"/>; the gaps shrink
    /// towards 10 s when that is what it takes to fit two kills and the database restart. The
    /// database restart is the middle fault.
    /// </summary>
    private static List<(double Gap, BankFaultKind Kind)> Schedule(int faultSeconds, Random random)
    {
        var gapMax = Math.Clamp((faultSeconds - FirstFaultSeconds) / SiloKillsMin, FaultGapMinSeconds, FaultGapMaxSeconds);
        List<double> gaps = [FirstFaultSeconds];
        while (FaultGapMinSeconds + (random.NextDouble() * (gapMax - FaultGapMinSeconds)) is var gap && gaps.Sum() + gap <= faultSeconds)
        {
            gaps.Add(gap);
        }

        var database = gaps.Count / 2;
        return [.. gaps.Select((gap, i) => (gap, i == database ? BankFaultKind.DatabaseRestart : BankFaultKind.SiloKill))];
    }

    private static async Task<BankFault> KillAndRestartSiloAsync(ClusterProcesses cluster, Stopwatch clock, Random random)
    {
        var index = random.Next(ClusterProcesses.SiloCount);
        var pause = RestartPauseMinSeconds + (random.NextDouble() * (RestartPauseMaxSeconds - RestartPauseMinSeconds));
        var fault = new BankFault(BankFaultKind.SiloKill, cluster.SiloNames[index], cluster.ProcessIdOf(index), clock.Elapsed.TotalSeconds);
        cluster.Kill(index);
        await Task.Delay(TimeSpan.FromSeconds(pause));
        fault.ResumedAt = clock.Elapsed.TotalSeconds;
        await cluster.RestartSiloAsync(index);
        fault.ReadyAt = clock.Elapsed.TotalSeconds;
        return fault;
    }

    private static async Task<BankFault> RestartDatabaseAsync(ClusterProcesses cluster, Stopwatch clock)
    {
        var fault = new BankFault(BankFaultKind.DatabaseRestart, "PostgreSQL", 0, clock.Elapsed.TotalSeconds);
        await cluster.StopDatabaseAsync();
        await Task.Delay(TimeSpan.FromSeconds(DatabaseDownSeconds));
        fault.ResumedAt = clock.Elapsed.TotalSeconds;
        await cluster.StartDatabaseAsync();
        fault.ReadyAt = clock.Elapsed.TotalSeconds;
        return fault;
    }

    /// <summary><c>GET /v1/ledger/verify</c> through the API process, retried while it answers 503.</summary>
    private static async Task<(bool Ok, string Summary)> VerifyAsync(HttpClient api)
    {
        var answer = "";
        for (var attempt = 0; attempt < VerifyAttemptsMax; attempt++)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(VerifyTimeoutSeconds));
            using var response = await api.GetAsync(new Uri("/v1/ledger/verify", UriKind.Relative), timeout.Token);
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            answer = $"{(int)response.StatusCode} {body}";
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var result = JsonDocument.Parse(body).RootElement;
                var ok = result.GetProperty("ok").GetBoolean();
                return (ok, ok
                    ? $"ok (wallets_checked {result.GetProperty("wallets_checked")}, entries_checked {result.GetProperty("entries_checked")})"
                    : $"NOT ok: {body}");
            }

            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        return (false, answer);
    }

    private static async Task DelayUntilAsync(Stopwatch clock, double at)
    {
        var wait = at - clock.Elapsed.TotalSeconds;
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(wait));
        }
    }

    private static int FaultSeconds()
    {
        var configured = Environment.GetEnvironmentVariable("WALLET_BANK_SECONDS");
        if (string.IsNullOrWhiteSpace(configured))
        {
            return FaultSecondsDefault;
        }

        return int.TryParse(configured, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= FaultSecondsMin
            ? seconds
            : throw new InvalidOperationException($"WALLET_BANK_SECONDS must be a whole number of seconds, at least {FaultSecondsMin}; got '{configured}'.");
    }

    private static int Seed()
    {
        var configured = Environment.GetEnvironmentVariable("WALLET_BANK_SEED");
        return int.TryParse(configured, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed) ? seed : Random.Shared.Next();
    }
}

/// <summary>The bank test's collection: nothing else runs beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BankCollection
{
    public const string Name = "bank";
}
