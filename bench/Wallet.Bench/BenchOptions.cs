using System.Globalization;

namespace Wallet.Bench;

/// <summary>The bench's command line. Every option has a default; <c>--help</c> lists them.</summary>
public sealed record BenchOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    // The least warm-up; the money workloads warm up on while the JIT is still recompiling (JitSettleMax).
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How much longer than <see cref="Warmup"/> a money workload may warm up while the JIT is still busy:
    /// for the first 20 to 40 s of load it recompiles the hot paths (tiered, with dynamic PGO) and takes
    /// up to a quarter of two cores, so a window measured then measures the JIT. Zero turns it off.
    /// </summary>
    public TimeSpan JitSettleMax { get; init; } = TimeSpan.FromSeconds(60);

    public int Concurrency { get; init; } = 64;

    public int Wallets { get; init; } = 10_000;

    public IReadOnlyList<string> Workloads { get; init; } = ["uniform", "hot", "hot-destination", "deposit-spend", "read", "mixed", "authorize"];

    public IReadOnlyList<string> Paths { get; init; } = ["baseline", "client", "http"];

    /// <summary>Activations for the memory measurement; 0 skips it.</summary>
    public int MemoryActivations { get; init; } = 100_000;

    /// <summary>Whether to run each workload again through HTTP at half of its peak throughput, for latency.</summary>
    public bool HalfPeakLatency { get; init; } = true;

    /// <summary>An existing PostgreSQL to use (a superuser connection string); none starts a private one.</summary>
    public string? Connection { get; init; }

    public bool Fsync { get; init; } = true;

    /// <summary>The silo's GroupCommit:CommitConcurrencyMax; none keeps the silo's default.</summary>
    public int? CommitConcurrency { get; init; }

    /// <summary>Runs only the dashboard-cost phase: uniform transfers with the dashboard closed and open, alternating.</summary>
    public bool DashboardCost { get; init; }

    /// <summary>Open rounds of the dashboard-cost phase; each lies between two closed ones, so there is one closed round more.</summary>
    public int DashboardRounds { get; init; } = 3;

    /// <summary>Runs only the receipts phase: authorizations at <see cref="AuthorizeRate"/> idle, then during an OCR burst.</summary>
    public bool ReceiptBurst { get; init; }

    /// <summary>Runs only the reconciliation import phase with a CSV of this many rows (and one of a tenth of them); 0: not run.</summary>
    public int ReconImportRows { get; init; }

    /// <summary>Runs only the reconciliation matching phase with this many ledger entries and bank records; 0: not run.</summary>
    public int ReconMatchRows { get; init; }

    /// <summary>The fixed rate of the receipts phase's authorizations, per second.</summary>
    public double AuthorizeRate { get; init; } = 100;

    /// <summary>The paths the dashboard-cost phase measures: the ones among http and client that <see cref="Paths"/> names.</summary>
    public IReadOnlyList<string> DashboardPaths => [.. ((string[])["http", "client"]).Where(Paths.Contains)];

    public const string Usage = """
        Wallet.Bench: the ledger against the row-lock baseline, same PostgreSQL, same run.

          --duration <s>        seconds per workload and path (default 10)
          --warmup <s>          seconds of warm-up before each measurement (default 10)
          --jit-settle <s>      then warm up on, 5 s at a time, while the JIT spent over 2% of
                                a core in the last 5 s, for at most this long (default 60, 0 off)
          --concurrency <n>     requests in flight (default 64)
          --wallets <n>         wallets for the uniform workload (default 10000)
          --workloads <list>    uniform,hot,hot-destination,deposit-spend,read,mixed,authorize
                                (default all)
          --paths <list>        baseline,client,http (default all)
          --memory <n>          activations for the memory measurement, 0 to skip (default 100000)
          --no-half-peak        skip the latency runs at half of each workload's HTTP peak
          --connection <cs>     use this PostgreSQL (superuser) instead of starting a private one
          --no-fsync            private PostgreSQL without fsync (not for reported figures)
          --commit-concurrency <n>  batches in flight at once in the silo (default: the silo's)
          --dashboard-cost      only measure what an open dashboard costs: uniform transfers on
                                http and client (of --paths), in rounds of --duration with a
                                signed-in poller fetching every page's figures each second (open)
                                between rounds with nothing polling (closed); then the CPU an open
                                dashboard adds with no workload
          --dashboard-rounds <n>  open rounds of --dashboard-cost, one closed round more (default 3)
          --receipt-burst       only measure receipts: card authorizations through HTTP at
                                --authorize-rate for --duration, idle, then while a burst of
                                receipt pictures is read; prints both p99s and receipts/s per core
          --authorize-rate <n>  authorizations per second of --receipt-burst (default 100)
          --recon-import <rows> only measure reconciliation imports: a bank CSV of a tenth of
                                <rows>, then of <rows>, uploaded through HTTP as it is generated;
                                prints rows/s and the process's peak memory growth for each
          --recon-match <n>     only measure a reconciliation run: <n> withdrawals into @settlement
                                over a day (written in SQL), a bank file of <n> records made from
                                them (97% as booked, 2% a few cents off, 1% missing, 1% unknown)
                                uploaded, then a run over the day; prints rows/s and peak memory
                                of the import and of the run (needs --wallets of at least <n>/200)
          --smoke               a few seconds of everything on small data: for CI (no --dashboard-cost)
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--duration" => options with { Duration = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--warmup" => options with { Warmup = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--jit-settle" => options with { JitSettleMax = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--concurrency" => options with { Concurrency = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--wallets" => options with { Wallets = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--workloads" => options with { Workloads = Next().Split(',') },
                "--paths" => options with { Paths = Next().Split(',') },
                "--memory" => options with { MemoryActivations = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--no-half-peak" => options with { HalfPeakLatency = false },
                "--connection" => options with { Connection = Next() },
                "--no-fsync" => options with { Fsync = false },
                "--commit-concurrency" => options with { CommitConcurrency = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--dashboard-cost" => options with { DashboardCost = true },
                "--receipt-burst" => options with { ReceiptBurst = true },
                "--recon-import" => options with { ReconImportRows = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--recon-match" => options with { ReconMatchRows = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--authorize-rate" => options with { AuthorizeRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--dashboard-rounds" => options with { DashboardRounds = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--smoke" => options with
                {
                    Duration = TimeSpan.FromSeconds(2), Warmup = TimeSpan.FromSeconds(0.5), JitSettleMax = TimeSpan.Zero, Concurrency = 16, Wallets = 1_000,
                    MemoryActivations = 5_000, HalfPeakLatency = true,
                },
                _ => throw new ArgumentException($"unknown option {args[i]}\n\n{Usage}"),
            };
        }

        if (options.Wallets < 2 || options.Concurrency < 1 || options.Duration <= TimeSpan.Zero)
        {
            throw new ArgumentException("--wallets must be at least 2, --concurrency and --duration positive");
        }

        if (options.DashboardCost && (options.DashboardRounds < 1 || options.DashboardPaths.Count == 0))
        {
            throw new ArgumentException("--dashboard-rounds must be at least 1, and --paths must name http or client for --dashboard-cost");
        }

        return options;
    }
}
