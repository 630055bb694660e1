using System.Globalization;

namespace Wallet.Bench;

public sealed record MemoryResult(int Activations, long ResidentBefore, long ResidentAfter)
{
    public double BytesPerActivation => Activations == 0 ? 0 : (ResidentAfter - ResidentBefore) / (double)Activations;
}

/// <summary>Prints the figures: one row per workload and path, then the ratios against the baseline.</summary>
public static class Report
{
    // The targets through HTTP: the ledger's throughput over the baseline's, and where one is set,
    // the most PostgreSQL CPU per operation it may spend against the baseline's.
    private static readonly Dictionary<string, double> Targets = new()
    {
        ["deposit-spend"] = 3,
        ["hot"] = 1.5,
        ["hot-destination"] = 1.5,
        ["uniform"] = 0.5,
        ["authorize"] = 0.5,
    };

    private static readonly Dictionary<string, double> PostgresCpuTargets = new()
    {
        ["uniform"] = 0.5,
    };

    // No request may take longer than this in any workload: a longer one is a stall.
    private const double StallMilliseconds = 2_000;

    // The p99 bound at half of peak throughput.
    private const double HalfPeakP99Milliseconds = 100;

    public static void Print(IReadOnlyList<RunResult> results, IReadOnlyList<RunResult> halfPeaks, MemoryResult? memory)
    {
        Console.WriteLine();
        Console.WriteLine("| workload | path | ops/s | p50 ms | p90 ms | p99 ms | max ms | declined | errors | aborted (retried / gave up) | in doubt | PostgreSQL µs/op | bench process µs/op |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Workload} | {r.Path} | {r.Throughput:N0} | {r.Percentile(0.5):N2} | {r.Percentile(0.9):N2} | {r.Percentile(0.99):N2} | {r.Percentile(1):N2} | {r.Declined} | {r.Errors} | {Aborts(r)} | {InDoubt(r)} | {Micros(r.PostgresMicrosecondsPerOp)} | {Micros(r.ProcessMicrosecondsPerOp)} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| workload | path | ratio to baseline | PostgreSQL CPU per op, to baseline | target (HTTP) |");
        Console.WriteLine("|---|---|---:|---:|---|");
        foreach (var r in results.Where(r => r.Path != "baseline"))
        {
            var baseline = results.FirstOrDefault(b => b.Workload == r.Workload && b.Path == "baseline");
            if (baseline is null || baseline.Throughput == 0)
            {
                continue;
            }

            var ratio = r.Throughput / baseline.Throughput;
            double? cpuRatio = r.PostgresMicrosecondsPerOp is { } ours && baseline.PostgresMicrosecondsPerOp is { } theirs && theirs > 0 ? ours / theirs : null;
            var targets = new List<string>();
            if (r.Path == "http" && Targets.TryGetValue(r.Workload, out var t))
            {
                targets.Add(string.Create(CultureInfo.InvariantCulture, $"≥ {t:0.#}× {(ratio >= t ? "met" : "MISSED")}"));
            }

            if (r.Path == "http" && PostgresCpuTargets.TryGetValue(r.Workload, out var c))
            {
                targets.Add(string.Create(CultureInfo.InvariantCulture, $"PostgreSQL CPU ≤ {c:0.#}× {(cpuRatio <= c ? "met" : "MISSED")}"));
            }

            var target = targets.Count == 0 ? "-" : string.Join("; ", targets);
            var postgres = cpuRatio is { } cpu ? string.Create(CultureInfo.InvariantCulture, $"{cpu:0.00}×") : "-";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Workload} | {r.Path} | {ratio:0.00}× | {postgres} | {target} |"));
        }

        var stalled = results.Concat(halfPeaks).Where(r => r.Percentile(1) > StallMilliseconds).ToList();
        Console.WriteLine();
        Console.WriteLine(stalled.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"No request took longer than {StallMilliseconds:N0} ms in any run (target met).")
            : string.Create(CultureInfo.InvariantCulture,
                $"Requests longer than {StallMilliseconds:N0} ms (target MISSED): {string.Join(", ", stalled.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Workload}/{r.Path} max {r.Percentile(1):N0} ms")))}."));

        if (halfPeaks.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| workload at half of its HTTP peak | ops/s | p50 ms | p99 ms | max ms | p99 ≤ {HalfPeakP99Milliseconds:N0} ms |"));
            Console.WriteLine("|---|---:|---:|---:|---:|---|");
            foreach (var r in halfPeaks)
            {
                var p99 = r.Percentile(0.99);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Workload} | {r.Throughput:N0} | {r.Percentile(0.5):N2} | {p99:N2} | {r.Percentile(1):N2} | {(p99 <= HalfPeakP99Milliseconds ? "met" : "MISSED")} |"));
            }
        }

        if (memory is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Activations: {memory.Activations:N0} added, resident memory {memory.ResidentBefore / 1048576.0:N0} MB → {memory.ResidentAfter / 1048576.0:N0} MB, {memory.BytesPerActivation:N0} bytes per activation"));
        }

        Console.WriteLine();
    }

    private static string Aborts(RunResult r) =>
        r.Path == "baseline" || r.Ledger is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{r.Ledger.Aborted:N0} ({r.Ledger.Retried:N0} / {r.Ledger.GaveUp:N0})");

    private static string InDoubt(RunResult r) =>
        r.Path == "baseline" || r.Ledger is null ? "-" : r.Ledger.InDoubt.ToString("N0", CultureInfo.InvariantCulture);

    private static string Micros(double? microseconds) =>
        microseconds is { } value ? value.ToString("N0", CultureInfo.InvariantCulture) : "-";

    /// <summary>Each path's medians, closed and open, their ratio and the cost against the issue's bound; then CPU per operation.</summary>
    public static void PrintDashboardCost(IReadOnlyList<DashboardCostResult> results, DashboardIdle? idle, BenchOptions options, bool postgresCpu)
    {
        // The issue's bound: throughput with the dashboard open differs from closed by less than this.
        const double CostPercentMax = 5;
        static string List(IEnumerable<DashboardRound> rounds, Func<DashboardRound, double> value, string format) =>
            string.Join(", ", rounds.Select(r => value(r).ToString(format, CultureInfo.InvariantCulture)));

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Dashboard cost: {DashboardCost.Workload} transfers, {options.DashboardRounds} open rounds of {options.Duration.TotalSeconds:0.#} s per path, each between two closed ones."));
        Console.WriteLine("Open = a signed-in poller fetching every page's figures each second (overview, money, silos, grains, cards, ledger, receipts),");
        Console.WriteLine("more than one open page asks for, and running in the bench's own process: an upper bound on one open dashboard.");
        foreach (var r in results)
        {
            Console.WriteLine($"  {r.Path,-6} ops/s     closed {List(r.Closed, d => d.Run.Throughput, "N0")}; open {List(r.Open, d => d.Run.Throughput, "N0")}");
            Console.WriteLine($"  {r.Path,-6} CPU µs/op closed {List(r.Closed, d => d.CpuMicrosecondsPerOp, "N1")}; open {List(r.Open, d => d.CpuMicrosecondsPerOp, "N1")}");
        }

        foreach (var r in results)
        {
            var met = Math.Abs(r.CostPercent) < CostPercentMax;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dashboard open vs closed ({r.Path} {DashboardCost.Workload}): closed median {r.ClosedMedian:N0}/s, open median {r.OpenMedian:N0}/s, open/closed {r.Ratio:0.000} (cost {r.CostPercent:0.0}%, target < {CostPercentMax:0}% {(met ? "met" : "MISSED")}), poller {r.PollRounds} fetch rounds ({r.Fetches} fetches), {r.PollErrors} errors"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  CPU per operation ({(postgresCpu ? "bench process and PostgreSQL backends" : "bench process only")}): closed median {r.ClosedCpuMedian:N1} µs, open median {r.OpenCpuMedian:N1} µs, open/closed {(r.ClosedCpuMedian == 0 ? 0 : r.OpenCpuMedian / r.ClosedCpuMedian):0.000}"));
        }

        if (idle is not null)
        {
            var (process, postgres) = idle.AddedMillisecondsPerSecond;
            var added = process + (postgres ?? 0);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dashboard open at rest (no workload, {idle.Closed.Count} closed and {idle.Open.Count} open windows of {idle.OpenSeconds / Math.Max(1, idle.Open.Count):0.#} s, {idle.PollRounds} fetch rounds, {idle.PollErrors} errors): {added:+0.0;-0.0} ms CPU per second (bench process {process:+0.0;-0.0}{(postgres is { } pg ? $", PostgreSQL {pg:+0.0;-0.0}" : "")}), {added / (10 * Environment.ProcessorCount):0.0}% of {Environment.ProcessorCount} cores"));
        }

        Console.WriteLine();
    }
}
