using Xunit;
using Xunit.Abstractions;
using Wallet.Tests.Infrastructure;

namespace Wallet.Tests.Bench;

/// <summary>
/// Runs the benchmark for a few seconds on small data, as CI's smoke test: every workload and path
/// must run without errors and both ledgers must verify. No speed is asserted here.
/// </summary>
public sealed class BenchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Bench_Smoke_RunsEveryWorkloadAndVerifies()
    {
        var bench = FindBench();
        var (exitCode, text) = await BuiltProgram.RunAsync(bench, ["--smoke"], TimeSpan.FromMinutes(5), output);
        Assert.Equal(0, exitCode);
        Assert.Contains("Ledger verify: ok", text, StringComparison.Ordinal);
        Assert.Contains("All invariants hold.", text, StringComparison.Ordinal);
        foreach (var workload in (string[])["uniform", "hot", "hot-destination", "deposit-spend", "read", "mixed", "authorize"])
        {
            foreach (var path in (string[])["baseline", "client", "http"])
            {
                Assert.Contains($"| {workload} | {path} |", text, StringComparison.Ordinal);
            }
        }
    }

    // The bench is built with the tests (a project reference that adds no assembly) into its own
    // bin folder, in the same configuration as this test assembly: bench/Wallet.Bench/bin/<configuration>/<tfm>,
    // or, built with --artifacts-path, the artifacts' bin/Wallet.Bench/<configuration> beside this assembly's.
    private static string FindBench()
    {
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory);
        var artifacts = Path.Combine(testDirectory.Parent!.Parent!.FullName, "Wallet.Bench", testDirectory.Name, "Wallet.Bench.dll");
        if (testDirectory.Parent.Name == "Wallet.Tests" && File.Exists(artifacts))
        {
            return artifacts;
        }

        var configuration = testDirectory.Parent.Name;
        for (var directory = testDirectory; directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "bench", "Wallet.Bench", "bin", configuration, testDirectory.Name, "Wallet.Bench.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"Wallet.Bench.dll ({configuration}) was not found above {testDirectory.FullName}");
    }
}
