using System.Globalization;
using System.Text;
using Wallet.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Wallet.Tests.Cluster;

internal enum BankFaultKind
{
    SiloKill,
    DatabaseRestart,
}

/// <summary>One injected fault. Times are seconds on the run's clock.</summary>
internal sealed class BankFault(BankFaultKind kind, string target, int processId, double at)
{
    public BankFaultKind Kind { get; } = kind;

    public string Target { get; } = target;

    public int ProcessId { get; } = processId;

    /// <summary>When the SIGKILL was sent, or the database stop began.</summary>
    public double At { get; } = at;

    /// <summary>When the silo's restart, or the database's start, began.</summary>
    public double? ResumedAt { get; set; }

    /// <summary>When the restarted silo answered <c>/health/ready</c>, or the database accepted connections.</summary>
    public double? ReadyAt { get; set; }
}

/// <summary>A stretch of the workload; acknowledgements in [<see cref="MeasureFrom"/>, <see cref="End"/>) give its rate.</summary>
internal sealed record BankPhase(string Name, double Start, double MeasureFrom, double End)
{
    public double MeasuredSeconds => End - MeasureFrom;

    public double Rate(double[] acknowledgements) => Throughput.Count(acknowledgements, MeasureFrom, End) / MeasuredSeconds;
}

/// <summary>
/// What a fault did to throughput: the rate before it, the rate it had to return to (the lower of
/// that and the cluster's fault-free rate), the worst second after it, and when it recovered, to the
/// baseline and, for comparison, to the rate just before it.
/// </summary>
internal sealed record FaultEffect(double BeforePerSecond, double BaselinePerSecond, int MinPerSecond, double? RecoverySeconds, double? RecoveryToBeforeSeconds);

/// <summary>
/// Acknowledged transfers per second around a fault. The baseline is the mean rate of the
/// <see cref="BaselineSeconds"/> before the fault, capped at the fault-free rate of the full cluster
/// when one is given: Orleans never moves a grain once placed, so how the wallets happen to sit on the
/// silos before a kill can run the cluster faster than its fault-free rate (on two cores, fewer
/// silos doing the work is faster), and a recovery is a return to normal service, not to that
/// placement. The dip is the lowest of the <see cref="DipWindowSeconds"/> one-second windows after the
/// fault; the recovery time is the end of the first one-second window, slid from the fault in
/// <see cref="SlideStepSeconds"/> steps, whose rate reaches <see cref="RecoveryFraction"/> of the
/// baseline and holds it through the second after (1.0 s means no visible dip).
/// </summary>
internal static class Throughput
{
    public const double RecoveryFraction = 0.8;
    public const int BaselineSeconds = 5;
    public const int DipWindowSeconds = 10;
    public const double SlideStepSeconds = 0.1;

    /// <summary>Acknowledgements in [<paramref name="from"/>, <paramref name="to"/>) of a sorted array.</summary>
    public static int Count(double[] sorted, double from, double to) => LowerBound(sorted, to) - LowerBound(sorted, from);

    public static FaultEffect Effect(double[] acknowledgements, double at, double end, double? faultFreePerSecond = null)
    {
        var before = Count(acknowledgements, at - BaselineSeconds, at) / (double)BaselineSeconds;
        var baseline = faultFreePerSecond is { } normal ? Math.Min(before, normal) : before;
        var min = Enumerable.Range(0, DipWindowSeconds)
            .Where(k => at + k + 1 <= end)
            .Select(k => Count(acknowledgements, at + k, at + k + 1))
            .DefaultIfEmpty(0)
            .Min();
        return new FaultEffect(before, baseline, min, Recovery(acknowledgements, at, end, baseline), Recovery(acknowledgements, at, end, before));
    }

    // A window counts only when the next second holds the rate too: work still finishing in the
    // first moments after a kill, before the dead silo's callers stall, is not a recovery.
    private static double? Recovery(double[] acknowledgements, double at, double end, double baseline)
    {
        var bar = RecoveryFraction * baseline;
        for (var step = 0; at + (step * SlideStepSeconds) + 2 <= end; step++)
        {
            var from = at + (step * SlideStepSeconds);
            if (Count(acknowledgements, from, from + 1) >= bar && Count(acknowledgements, from + 1, from + 2) >= bar)
            {
                return (step * SlideStepSeconds) + 1;
            }
        }

        return null;
    }

    /// <summary>Acknowledgements in each whole second from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public static int[] PerSecond(double[] acknowledgements, double start, double end) =>
        [.. Enumerable.Range(0, (int)Math.Floor(end - start)).Select(k => Count(acknowledgements, start + k, start + k + 1))];

    private static int LowerBound(double[] sorted, double value)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (sorted[middle] < value)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}

/// <summary>Everything the report shows; <see cref="Format"/> writes it as text.</summary>
internal sealed class BankReport
{
    private const int PerSecondValuesPerLine = 15;

    public required string Run { get; init; }

    public required int Seed { get; init; }

    public required int Wallets { get; init; }

    public required long FundedPerWallet { get; init; }

    public required int FaultSeconds { get; init; }

    public required double RecoveryLimitSeconds { get; init; }

    /// <summary>Whether a kill's recovery beyond <see cref="RecoveryLimitSeconds"/> fails the run, or is only reported.</summary>
    public required bool RecoveryAsserted { get; init; }

    public required IReadOnlyList<BankPhase> Phases { get; init; }

    public required BankPhase FaultPhase { get; init; }

    public required IReadOnlyList<BankFault> Faults { get; init; }

    public required double[] Acknowledgements { get; init; }

    public required IReadOnlyCollection<BankTransfer> Transfers { get; init; }

    public required BankCounters Counters { get; init; }

    public required BankLedger Ledger { get; init; }

    public required BankAccounting Accounting { get; init; }

    public required string Verify { get; init; }

    /// <summary>Milestones of the run, in seconds on the run's clock (0 = before the database started).</summary>
    public required IReadOnlyList<(string Step, double Seconds)> Steps { get; init; }

    /// <summary>The checks that failed; empty for a pass.</summary>
    public IReadOnlyList<string> Failures { get; set; } = [];

    /// <summary>The fault-free rate of the full cluster, the most a fault's baseline may be.</summary>
    public double FaultFreePerSecond => Phases[^1].Rate(Acknowledgements);

    public FaultEffect EffectOf(BankFault fault) => Throughput.Effect(Acknowledgements, fault.At, FaultPhase.End, FaultFreePerSecond);

    public string Format()
    {
        var text = new StringBuilder();
        Line(text, $"===== Bank test, run {Run}, seed {Seed} =====");
        Line(text, $"{ClusterProcesses.SiloCount} silo processes and 1 API process over one PostgreSQL (fsync on); {Wallets} wallets funded " +
            $"{Money(FundedPerWallet)} USD each ({Money(FundedPerWallet * Wallets)} in all); {BankWorkload.ClientCount} clients; any client may send any transfer");
        Line(text, "Timeline: " + string.Join(", ", Steps.Select(s => $"{s.Step} {s.Seconds:0.0} s")));
        FormatThroughput(text);
        FormatFaults(text);
        FormatOperations(text);
        FormatChecks(text);
        Line(text, Failures.Count == 0 ? "Verdict: PASS" : $"Verdict: FAIL ({Failures.Count} failed checks)");
        foreach (var failure in Failures)
        {
            Line(text, $"  - {failure}");
        }

        return text.ToString();
    }

    /// <summary>Writes the report to the test output, to stderr (so a CI log shows it) and to <c>artifacts/bank-report.txt</c>.</summary>
    public static string Publish(string report, ITestOutputHelper output)
    {
        var path = Path.Combine(ArtifactsDirectory(), "bank-report.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, report);
        output.WriteLine(report);
        output.WriteLine($"(written to {path})");
        Console.Error.WriteLine(report);
        return path;
    }

    /// <summary><c>artifacts/</c> at the repository root.</summary>
    public static string ArtifactsDirectory() => RepositoryPaths.Artifacts();

    private void FormatThroughput(StringBuilder text)
    {
        Line(text, "Throughput without faults (acknowledged transfers/s; 2 cores shared by every process, so more silos need not be faster):");
        foreach (var phase in Phases)
        {
            Line(text, $"  {phase.Name,-8} {phase.Rate(Acknowledgements),8:0.0}/s  ({phase.MeasuredSeconds:0.0} s measured after {phase.MeasureFrom - phase.Start:0.0} s of warm-up)");
        }

        if (Phases.Count == 2 && Phases[0].Rate(Acknowledgements) > 0)
        {
            Line(text, $"  {Phases[1].Name} / {Phases[0].Name}: {Phases[1].Rate(Acknowledgements) / Phases[0].Rate(Acknowledgements):0.00}");
        }
    }

    private void FormatFaults(StringBuilder text)
    {
        var kills = Faults.Count(f => f.Kind == BankFaultKind.SiloKill);
        var restarts = Faults.Count(f => f.Kind == BankFaultKind.DatabaseRestart);
        Line(text, $"Fault phase: {FaultPhase.End - FaultPhase.Start:0.0} s of workload (until the last fault recovered and a few seconds more), faults injected in the first {FaultSeconds} s: " +
            $"{kills} silo kills (SIGKILL, restarted after 1-3 s), {restarts} PostgreSQL restart (stop -m fast, start ~2 s later); " +
            $"{FaultPhase.Rate(Acknowledgements):0.0} transfers/s overall");
        foreach (var fault in Faults)
        {
            var effect = EffectOf(fault);
            var t = fault.At - FaultPhase.Start;
            var what = fault.Kind == BankFaultKind.SiloKill
                ? $"SIGKILL {fault.Target} (pid {fault.ProcessId}); restart began +{Since(fault, fault.ResumedAt)}, ready +{Since(fault, fault.ReadyAt)}"
                : $"PostgreSQL stopped; start began +{Since(fault, fault.ResumedAt)}, accepting connections +{Since(fault, fault.ReadyAt)}";
            var limit = fault.Kind == BankFaultKind.SiloKill && RecoveryAsserted ? $"limit {RecoveryLimitSeconds:0} s"
                : fault.Kind == BankFaultKind.SiloKill ? $"reported against {RecoveryLimitSeconds:0} s, not asserted" : "not asserted";
            var share = effect.BaselinePerSecond > 0 ? effect.MinPerSecond / effect.BaselinePerSecond : 0;
            Line(text, $"  t={t,5:0.0} s  {what}");
            var window = Math.Min(Throughput.DipWindowSeconds, (int)Math.Floor(FaultPhase.End - fault.At));
            Line(text, $"             before {effect.BeforePerSecond:0.0}/s, baseline {effect.BaselinePerSecond:0.0}/s; worst second of the next {window} s " +
                $"{effect.MinPerSecond}/s ({share:0%} of baseline); recovered in {Seconds(effect.RecoverySeconds)} ({limit}); " +
                $"back to 80% of the rate before it in {Seconds(effect.RecoveryToBeforeSeconds)}");
        }

        var perSecond = Throughput.PerSecond(Acknowledgements, FaultPhase.Start, FaultPhase.End);
        Line(text, "  acknowledged per second of the fault phase:");
        for (var i = 0; i < perSecond.Length; i += PerSecondValuesPerLine)
        {
            var values = perSecond.Skip(i).Take(PerSecondValuesPerLine).Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(5));
            Line(text, $"    t={i,3}: {string.Join("", values)}");
        }

        Line(text, $"  recovery = end of the first 1 s window (slid in {Throughput.SlideStepSeconds:0.0} s steps from the fault) reaching, and holding " +
            $"through the next second, {Throughput.RecoveryFraction:0%} of the baseline: the mean of the {Throughput.BaselineSeconds} s before the fault, at most the " +
            $"fault-free {Phases[^1].Name} rate ({FaultFreePerSecond:0.0}/s)");
    }

    private static string Seconds(double? seconds) => seconds is { } s ? $"{s:0.0} s" : "not within the run";

    private void FormatOperations(StringBuilder text)
    {
        var c = Counters;
        Line(text, "Operations:");
        Line(text, $"  transfers attempted (one Idempotency-Key each) {Transfers.Count,8}");
        Line(text, $"  HTTP requests                                  {c.Requests,8}");
        Line(text, $"  retries (same key, same body)                  {c.Retries,8}  (503/429 with Retry-After {c.Unavailable}, timeouts {c.Timeouts}, " +
            $"connection failures {c.ConnectionFailures}, 409 conflict {c.Conflicts}, 5xx without Retry-After {c.ServerErrorsWithoutRetryAfter})");
        Line(text, $"  acknowledged (201)                             {Count(BankOutcome.Acknowledged),8}  ({c.Replayed} of them replays: an earlier attempt had committed unseen)");
        Line(text, $"  refused (402 insufficient_funds)               {Count(BankOutcome.Refused),8}");
        Line(text, $"  other definite answers                         {Count(BankOutcome.Unexpected),8}");
        Line(text, $"  no definite answer by the end                  {Count(BankOutcome.Indeterminate) + Count(BankOutcome.Pending),8}");
        Line(text, $"  5xx without Retry-After                        {c.ServerErrorsWithoutRetryAfter,8}");
    }

    private void FormatChecks(StringBuilder text)
    {
        var a = Accounting;
        Line(text, $"Snapshots: {Ledger.Snapshots} consistent reads of all {Wallets} balances (REPEATABLE READ), {Ledger.Unavailable} more failed while the database was down; " +
            $"{Ledger.ViolationCount} violations (total != funded, a balance below zero, ledger sum != 0)");
        Line(text, $"Ledger: {a.Entries} entries of the run; acknowledged {a.Acknowledged}, found exactly once {a.FoundOnce}; lost {a.Lost}, duplicated {a.Duplicated}, " +
            $"altered {a.Altered}; unacknowledged but applied {a.UnacknowledgedButApplied} (reported, not a loss); applied but refused {a.AppliedButRefused}; " +
            $"phantom {a.Phantom}; key/entry mismatches {a.KeyMismatches}");
        Line(text, $"Balances: {Wallets} wallets against funded +/- acknowledged (+ unacknowledged but applied): {a.BalanceMismatches} mismatches");
        Line(text, $"GET /v1/ledger/verify: {Verify}");
    }

    private int Count(BankOutcome outcome) => Transfers.Count(t => t.Outcome == outcome);

    private static string Since(BankFault fault, double? at) => at is { } value ? $"{value - fault.At:0.0} s" : "never";

    private static string Money(long minorUnits) => Wallet.Grains.Money.Amount.Format(minorUnits, BankWorkload.Scale);

    private static void Line(StringBuilder text, string line) => text.Append(line).Append('\n');
}
