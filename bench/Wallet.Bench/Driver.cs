using System.Diagnostics;
using System.Runtime;

namespace Wallet.Bench;

/// <summary>What one workload did on one path; <see cref="Cpu"/> is the CPU time its measured window took, when read.</summary>
public sealed record RunResult(string Workload, string Path, double Seconds, long Ok, long Declined, long Errors, long TransfersOk, long[] LatencyTicks)
{
    public double Throughput => (Ok + Declined) / Seconds;

    public CpuSpent? Cpu { get; init; }

    /// <summary>What the ledger's meter counted in the measured window (commits, aborts, in doubt); null when not listened to.</summary>
    public LedgerCounts? Ledger { get; init; }

    /// <summary>The bench process's pauses in the measured window; null when not watched.</summary>
    public Pauses? Pauses { get; init; }

    /// <summary>The requests slower than <see cref="Driver.SlowMilliseconds"/>, by the second of the window they started in.</summary>
    public IReadOnlyDictionary<int, int> SlowBySecond { get; init; } = new Dictionary<int, int>();

    /// <summary>How long the workload warmed up before this window, in seconds.</summary>
    public double WarmupSeconds { get; init; }

    /// <summary>PostgreSQL's CPU time per operation, in microseconds, when its backends were read.</summary>
    public double? PostgresMicrosecondsPerOp => Cpu?.Postgres is { } postgres && Ok + Declined > 0 ? postgres.TotalMicroseconds / (Ok + Declined) : null;

    /// <summary>The bench process's CPU time per operation (silo, HTTP, load generator), in microseconds.</summary>
    public double? ProcessMicrosecondsPerOp => Cpu is { } cpu && Ok + Declined > 0 ? cpu.Process.TotalMicroseconds / (Ok + Declined) : null;

    public double Percentile(double quantile)
    {
        if (LatencyTicks.Length == 0)
        {
            return 0;
        }

        var index = Math.Clamp((int)Math.Ceiling(quantile * LatencyTicks.Length) - 1, 0, LatencyTicks.Length - 1);
        return LatencyTicks[index] * 1000.0 / Stopwatch.Frequency;
    }
}

/// <summary>
/// Drives a workload against a target: closed loop (a fixed number of operations in flight, as
/// fast as they complete) or open loop (a fixed rate, latency counted from each operation's
/// scheduled start so that a stall is not hidden).
/// </summary>
public sealed class Driver(BenchOptions options, CpuMeter? cpu = null, LedgerCounters? counters = null, PauseMeter? pauses = null)
{
    /// <summary>A request slower than this counts as slow: the bound on p99 at half of peak.</summary>
    public const double SlowMilliseconds = 100;

    // An authorization's amount in cents, 0.01 to 5.00: small, so the wallets' funds last and only the cards' limits decline.
    private const long AuthorizationAmountMin = 1;
    private const long AuthorizationAmountMax = 500;

    // The JIT counts as settled when it compiled for less than this share of one core over a round of warm-up.
    private static readonly TimeSpan JitSettleRound = TimeSpan.FromSeconds(5);
    private const double JitSettledShare = 0.02;

    /// <summary>
    /// Warms up for <see cref="BenchOptions.Warmup"/>, then, when <paramref name="untilJitSettles"/>, on in
    /// rounds while the JIT is still recompiling (at most <see cref="BenchOptions.JitSettleMax"/> more),
    /// and measures for <see cref="BenchOptions.Duration"/>.
    /// </summary>
    public async Task<RunResult> RunAsync(string workload, IBenchTarget target, double? ratePerSecond = null, bool untilJitSettles = false)
    {
        var warmupStarted = Stopwatch.GetTimestamp();
        if (options.Warmup > TimeSpan.Zero)
        {
            await MeasureAsync(workload, target, options.Warmup, ratePerSecond);
        }

        if (untilJitSettles && options.JitSettleMax > TimeSpan.Zero)
        {
            var settleBy = Stopwatch.GetTimestamp() + (long)(options.JitSettleMax.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < settleBy)
            {
                var compiling = JitInfo.GetCompilationTime();
                var round = Stopwatch.GetTimestamp();
                await MeasureAsync(workload, target, JitSettleRound, ratePerSecond);
                if ((JitInfo.GetCompilationTime() - compiling) < Stopwatch.GetElapsedTime(round) * JitSettledShare)
                {
                    break;
                }
            }
        }

        var warmedUp = Stopwatch.GetElapsedTime(warmupStarted).TotalSeconds;
        return await MeasureAsync(workload, target, options.Duration, ratePerSecond) with { WarmupSeconds = warmedUp };
    }

    private async Task<RunResult> MeasureAsync(string workload, IBenchTarget target, TimeSpan duration, double? ratePerSecond)
    {
        var workers = options.Concurrency;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var interval = ratePerSecond is { } rate ? (long)(workers / rate * Stopwatch.Frequency) : 0;
        var cpuBefore = cpu?.Read();
        var countsBefore = counters?.Read();
        var window = pauses?.Mark();
        var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(worker =>
            Task.Run(() => WorkerAsync(workload, target, worker, stopAt, interval))));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var spent = cpuBefore is null ? (CpuSpent?)null : cpu!.Read().Since(cpuBefore);
        var counted = countsBefore is null ? null : counters!.Since(countsBefore);
        var paused = window is { } marked ? pauses!.Since(marked) : null;
        var latencies = results.SelectMany(r => r.Latencies).ToArray();
        Array.Sort(latencies);
        var slow = results.SelectMany(r => r.SlowStarts).GroupBy(at => (int)((at - started) / Stopwatch.Frequency)).ToDictionary(g => g.Key, g => g.Count());
        return new RunResult(workload, target.Name, seconds, results.Sum(r => r.Ok), results.Sum(r => r.Declined), results.Sum(r => r.Errors),
            results.Sum(r => r.TransfersOk), latencies) { Cpu = spent, Ledger = counted, Pauses = paused, SlowBySecond = slow };
    }

    private async Task<WorkerResult> WorkerAsync(string workload, IBenchTarget target, int worker, long stopAt, long interval)
    {
        var random = new Random(worker * 7919 + 17);
        var result = new WorkerResult();
        // Spread the workers' first operations over one interval so an open loop starts smoothly.
        var scheduled = Stopwatch.GetTimestamp() + (interval * worker / Math.Max(1, options.Concurrency));
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (interval > 0 && scheduled > now)
            {
                await Task.Delay(TimeSpan.FromTicks((scheduled - now) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            }

            var start = interval > 0 ? scheduled : Stopwatch.GetTimestamp();
            if (start >= stopAt)
            {
                return result;
            }

            OpOutcome outcome;
            var (operation, transfer) = Next(workload, target, random);
            try
            {
                outcome = await operation;
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                outcome = OpOutcome.Error;
                if (result.Errors == 0)
                {
                    Console.Error.WriteLine($"  {target.Name}/{workload}: {exception.GetType().Name}: {exception.Message}");
                }
            }

            var latency = Stopwatch.GetTimestamp() - start;
            result.Latencies.Add(latency);
            if (latency > SlowMilliseconds / 1000 * Stopwatch.Frequency)
            {
                result.SlowStarts.Add(start);
            }

            switch (outcome)
            {
                case OpOutcome.Ok:
                    result.Ok++;
                    result.TransfersOk += transfer ? 1 : 0;
                    break;
                case OpOutcome.Declined: result.Declined++; break;
                default: result.Errors++; break;
            }

            scheduled += interval;
        }
    }

    // The next operation of the workload, and whether it moves money.
    private (Task<OpOutcome> Operation, bool Transfer) Next(string workload, IBenchTarget target, Random random)
    {
        var wallets = options.Wallets;
        var cards = Seed.CardsPerPath(wallets);
        var amount = random.NextInt64(1, 101);
        var source = random.Next(wallets);
        var other = (source + 1 + random.Next(wallets - 1)) % wallets;
        return workload switch
        {
            "uniform" => (target.TransferAsync(source, other, amount), true),
            "hot" => (target.TransferAsync(0, 1 + random.Next(wallets - 1), amount), true),
            "hot-destination" => (target.TransferAsync(1 + random.Next(wallets - 1), 0, amount), true),
            "deposit-spend" when random.Next(2) == 0 => (target.DepositAsync(source, amount), true),
            "deposit-spend" => (target.SpendAsync(source, amount), true),
            "read" => (target.ReadAsync(source), false),
            "mixed" when random.Next(100) < 80 => (target.ReadAsync(source), false),
            "mixed" => (target.TransferAsync(source, other, amount), true),
            "authorize" => (target.AuthorizeAsync(random.Next(cards), random.NextInt64(AuthorizationAmountMin, AuthorizationAmountMax + 1)), false),
            _ => throw new ArgumentException($"unknown workload {workload}"),
        };
    }

    private sealed class WorkerResult
    {
        public List<long> Latencies { get; } = new(16_384);

        public List<long> SlowStarts { get; } = [];

        public long Ok { get; set; }

        public long Declined { get; set; }

        public long Errors { get; set; }

        public long TransfersOk { get; set; }
    }
}
