using System.Globalization;

namespace Wallet.Bench;

public sealed record MemoryResult(int Activations, long ResidentBefore, long ResidentAfter)
{
    public double BytesPerActivation => Activations == 0 ? 0 : (ResidentAfter - ResidentBefore) / (double)Activations;
}

/// <summary>Prints the figures: one row per workload and path, then the ratios against the baseline.</summary>
public static class Report
{
    // The targets of the performance issue: the ledger's throughput over the baseline's.
    private static readonly Dictionary<(string Workload, string Path), double> Targets = new()
    {
        [("uniform", "http")] = 2.5,
        [("uniform", "client")] = 4,
        [("hot", "http")] = 8,
        [("hot", "client")] = 12,
    };

    public static void Print(IReadOnlyList<RunResult> results, RunResult? halfPeak, MemoryResult? memory)
    {
        Console.WriteLine();
        Console.WriteLine("| workload | path | ops/s | p50 ms | p90 ms | p99 ms | max ms | declined | errors |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Workload} | {r.Path} | {r.Throughput:N0} | {r.Percentile(0.5):N2} | {r.Percentile(0.9):N2} | {r.Percentile(0.99):N2} | {r.Percentile(1):N2} | {r.Declined} | {r.Errors} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| workload | path | ratio to baseline | target |");
        Console.WriteLine("|---|---|---:|---:|");
        foreach (var r in results.Where(r => r.Path != "baseline"))
        {
            var baseline = results.FirstOrDefault(b => b.Workload == r.Workload && b.Path == "baseline");
            if (baseline is null || baseline.Throughput == 0)
            {
                continue;
            }

            var ratio = r.Throughput / baseline.Throughput;
            var target = Targets.TryGetValue((r.Workload, r.Path), out var t)
                ? string.Create(CultureInfo.InvariantCulture, $"≥ {t:0.#}× {(ratio >= t ? "met" : "MISSED")}")
                : "-";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Workload} | {r.Path} | {ratio:0.00}× | {target} |"));
        }

        if (halfPeak is not null)
        {
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"HTTP uniform at half of peak ({halfPeak.Throughput:N0} ops/s): p50 {halfPeak.Percentile(0.5):N2} ms, p99 {halfPeak.Percentile(0.99):N2} ms (target ≤ 25 ms {(halfPeak.Percentile(0.99) <= 25 ? "met" : "MISSED")})"));
        }

        if (memory is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Activations: {memory.Activations:N0} added, resident memory {memory.ResidentBefore / 1048576.0:N0} MB → {memory.ResidentAfter / 1048576.0:N0} MB, {memory.BytesPerActivation:N0} bytes per activation"));
        }

        Console.WriteLine();
    }
}
