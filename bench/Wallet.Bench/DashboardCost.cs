using System.Diagnostics;
using System.Globalization;

namespace Wallet.Bench;

/// <summary>One measured round of the dashboard-cost phase: the run, and the CPU time it used.</summary>
public sealed record DashboardRound(RunResult Run, bool Open, CpuSpent Cpu, long PollRounds)
{
    /// <summary>CPU time per completed operation, in microseconds: the bench's process and, when read, PostgreSQL's.</summary>
    public double CpuMicrosecondsPerOp => Run.Ok + Run.Declined == 0 ? 0 : Cpu.Total.TotalMicroseconds / (Run.Ok + Run.Declined);
}

/// <summary>One path's rounds of the dashboard-cost phase, and what the poller did in the open ones.</summary>
public sealed record DashboardCostResult(string Path, IReadOnlyList<DashboardRound> Rounds, double OpenSeconds, long Fetches, long PollErrors, string? FirstPollError)
{
    public IEnumerable<DashboardRound> Closed => Rounds.Where(r => !r.Open);

    public IEnumerable<DashboardRound> Open => Rounds.Where(r => r.Open);

    public double ClosedMedian => Median(Closed.Select(r => r.Run.Throughput));

    public double OpenMedian => Median(Open.Select(r => r.Run.Throughput));

    public double Ratio => ClosedMedian == 0 ? 0 : OpenMedian / ClosedMedian;

    /// <summary>The throughput an open dashboard takes away, in percent of closed; negative when open was faster (noise).</summary>
    public double CostPercent => (1 - Ratio) * 100;

    public double ClosedCpuMedian => Median(Closed.Select(r => r.CpuMicrosecondsPerOp));

    public double OpenCpuMedian => Median(Open.Select(r => r.CpuMicrosecondsPerOp));

    public long PollRounds => Open.Sum(r => r.PollRounds);

    private static double Median(IEnumerable<double> values) => DashboardCost.Median(values);
}

/// <summary>CPU time with no workload, in windows with the dashboard closed and open, alternating.</summary>
public sealed record DashboardIdle(IReadOnlyList<(CpuSpent Cpu, double Seconds)> Closed, IReadOnlyList<(CpuSpent Cpu, double Seconds)> Open, long PollRounds, long PollErrors, string? FirstPollError)
{
    public double OpenSeconds => Open.Sum(w => w.Seconds);

    /// <summary>
    /// CPU milliseconds per second the open dashboard adds, each side's median window against the
    /// other's: the bench's process (silo and poller), and PostgreSQL's backends when read.
    /// </summary>
    public (double Process, double? Postgres) AddedMillisecondsPerSecond =>
        (Median(Open, c => c.Process) - Median(Closed, c => c.Process),
         Open.All(w => w.Cpu.Postgres is not null) && Closed.All(w => w.Cpu.Postgres is not null)
            ? Median(Open, c => c.Postgres!.Value) - Median(Closed, c => c.Postgres!.Value)
            : null);

    private static double Median(IReadOnlyList<(CpuSpent Cpu, double Seconds)> windows, Func<CpuSpent, TimeSpan> part) =>
        DashboardCost.Median(windows.Select(w => w.Seconds == 0 ? 0 : part(w.Cpu).TotalMilliseconds / w.Seconds));
}

/// <summary>
/// What an open dashboard costs the ledger: uniform transfers on one path, in rounds with nothing
/// polling the dashboard (closed) and rounds with <see cref="DashboardPoller"/> running (open),
/// alternating so that noise falls on both sides alike, and starting and ending closed so that a
/// steady drift (code still warming up, tables growing) does too: the open rounds' mean position is
/// the closed rounds'. Each side's median is compared.
/// </summary>
public static class DashboardCost
{
    public const string Workload = "uniform";

    // Orleans' dashboard keeps profiling grain calls for 5 s after the last dashboard fetch (the
    // silo's GrainProfilerOptions.DeactivationTime); every round's measurement starts later than that
    // (this pause, then the unmeasured warm-up), so no closed round pays for the open one before it.
    private static readonly TimeSpan Settled = TimeSpan.FromSeconds(6);

    /// <summary>Runs the phase on <paramref name="target"/>; <paramref name="poller"/> is this path's own, signed in and not yet started.</summary>
    public static async Task<DashboardCostResult> RunAsync(BenchOptions options, IBenchTarget target, DashboardPoller poller, CpuMeter cpu)
    {
        // The warm-up and the measurement as separate runs, so the CPU time read covers the measurement only.
        var warmup = new Driver(options with { Duration = options.Warmup, Warmup = TimeSpan.Zero });
        var measure = new Driver(options with { Warmup = TimeSpan.Zero });

        // One unmeasured round, open, so the first closed round does not pay for cold code and
        // caches nor the first open one for the dashboard's.
        poller.Start();
        var warm = await new Driver(options).RunAsync(Workload, target);
        await poller.StopAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {target.Name,-6} warm-up  {warm.Throughput,9:N0} ops/s (open, not counted)"));

        var rounds = new List<DashboardRound>();
        var (fetches, openSeconds) = (0L, 0.0);
        var total = (options.DashboardRounds * 2) + 1;
        for (var round = 0; round < total; round++)
        {
            var open = round % 2 == 1;
            if (Settled - options.Warmup is { Ticks: > 0 } pause)
            {
                await Task.Delay(pause);
            }

            var (roundsBefore, fetchesBefore) = (poller.Rounds, poller.Fetches);
            if (open)
            {
                poller.Start();
            }

            if (options.Warmup > TimeSpan.Zero)
            {
                await warmup.RunAsync(Workload, target);
            }

            var cpuBefore = cpu.Read();
            var result = await measure.RunAsync(Workload, target);
            var used = cpu.Read().Since(cpuBefore);
            if (open)
            {
                await poller.StopAsync();
                fetches += poller.Fetches - fetchesBefore;
                openSeconds += result.Seconds + options.Warmup.TotalSeconds;
            }

            var measured = new DashboardRound(result, open, used, poller.Rounds - roundsBefore);
            rounds.Add(measured);
            var polled = open ? $"  (poller {measured.PollRounds} fetch rounds)" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {target.Name,-6} round {round + 1}/{total} {(open ? "open" : "closed"),-6} {result.Throughput,9:N0} ops/s  p99 {result.Percentile(0.99),7:N2} ms  CPU {measured.CpuMicrosecondsPerOp,6:N1} µs/op{polled}"));
        }

        return new DashboardCostResult(target.Name, rounds, openSeconds, fetches, poller.Errors, poller.FirstError);
    }

    /// <summary>
    /// CPU time per second with no workload, in windows of a third of <see cref="BenchOptions.Duration"/>,
    /// <see cref="BenchOptions.DashboardRounds"/> with the dashboard open, each between two with it
    /// closed: what the dashboard itself costs, which under load hides in the rounds' noise. Run it
    /// after the rounds, with the activations and entries they left.
    /// </summary>
    public static async Task<DashboardIdle> IdleAsync(BenchOptions options, DashboardPoller poller, CpuMeter cpu)
    {
        var window = options.Duration / 3;
        var closed = new List<(CpuSpent, double)>();
        var open = new List<(CpuSpent, double)>();
        var roundsBefore = poller.Rounds;
        for (var round = 0; round < (options.DashboardRounds * 2) + 1; round++)
        {
            var isOpen = round % 2 == 1;
            if (!isOpen)
            {
                // After the load or an open window: past the grain-call profiling, and the silo's commits drained.
                await Task.Delay(Settled);
            }
            else
            {
                poller.Start();
            }

            var (before, clock) = (cpu.Read(), Stopwatch.StartNew());
            await Task.Delay(window);
            if (isOpen)
            {
                await poller.StopAsync();
            }

            (isOpen ? open : closed).Add((cpu.Read().Since(before), clock.Elapsed.TotalSeconds));
        }

        return new DashboardIdle(closed, open, poller.Rounds - roundsBefore, poller.Errors, poller.FirstError);
    }

    /// <summary>Why the measurement at rest is not to be trusted: a poller that got errors or hardly fetched.</summary>
    public static IEnumerable<string> Failures(DashboardIdle idle)
    {
        if (idle.PollErrors > 0 || idle.PollRounds < idle.OpenSeconds / DashboardPoller.Period.TotalSeconds / 2)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"dashboard cost at rest: the poller completed {idle.PollRounds} fetch rounds in {idle.OpenSeconds:N0} s open and got {idle.PollErrors} errors (first: {idle.FirstPollError})");
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Why the phase measured nothing trustworthy: run errors, or a poller that got errors or hardly fetched.</summary>
    public static IEnumerable<string> Failures(DashboardCostResult result)
    {
        foreach (var round in result.Rounds.Where(r => r.Run.Errors > 0))
        {
            yield return $"dashboard cost {result.Path}: {round.Run.Errors} errors in a round";
        }

        if (result.PollErrors > 0)
        {
            yield return $"dashboard cost {result.Path}: the poller got {result.PollErrors} errors (first: {result.FirstPollError})";
        }

        // About one round per second open; far fewer means the poller did not load the silo as an open page would.
        if (result.PollRounds < result.OpenSeconds / DashboardPoller.Period.TotalSeconds / 2)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"dashboard cost {result.Path}: the poller completed only {result.PollRounds} fetch rounds in {result.OpenSeconds:N0} s open");
        }
    }
}
