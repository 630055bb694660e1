using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Wallet.Bench;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Wallets;
using Wallet.Silo.Hosting;

// Wallet.Bench: the ledger (through the grain client and through HTTP) against the seeds' row-lock
// design, on one PostgreSQL server in one run. Prints a table, the ratios, the memory cost of an
// activation, then verifies both ledgers and exits non-zero if any invariant fails.

BenchOptions options;
try
{
    options = args.Contains("--help") ? throw new ArgumentException(BenchOptions.Usage) : BenchOptions.Parse(args);
}
catch (Exception exception) when (exception is ArgumentException or FormatException)
{
    Console.Error.WriteLine(exception.Message);
    return 2;
}

const string apiKey = "bench-operator-key";
var seeded = Math.Max(options.Wallets, options.MemoryActivations);
Console.WriteLine($"Wallet.Bench: {options.Duration.TotalSeconds:0.#} s per run, concurrency {options.Concurrency}, {options.Wallets} wallets, {Environment.ProcessorCount} cores");

await using var databases = await BenchDatabases.StartAsync(options);
var cardsPerPath = options.Workloads.Contains("authorize") && !options.DashboardCost ? Seed.CardsPerPath(options.Wallets) : 0;
await Seed.BaselineAsync(databases.Baseline, options.Wallets, cardsPerPath);
var port = FreePort();
var settings = new Dictionary<string, string?>
{
    ["ConnectionStrings:Wallet"] = databases.Wallet,
    ["Bootstrap:ApiKey"] = apiKey,
    ["Cards:NumberHashKey"] = "bench-card-number-hash-key-32-chars!",
    ["Auth:SigningKey"] = "bench-access-token-signing-key-32-chars!",
    ["Auth:MfaKey"] = "bench-second-factor-sealing-key-32-chars!",
    // One key carries every request of the bench: its bucket is set past any rate the machine reaches.
    ["RateLimits:RequestsPerSecond"] = "10000000",
    ["RateLimits:Burst"] = "10000000",
    ["Logging:LogLevel:Default"] = "Warning",
    ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
    // Whatever the environment, the dashboard poller must sign in and pay for its session as a browser does.
    ["Dashboard:AllowLocalhostWithoutSignIn"] = "false",
};
if (options.CommitConcurrency is { } commitConcurrency)
{
    settings["GroupCommit:CommitConcurrencyMax"] = commitConcurrency.ToString(CultureInfo.InvariantCulture);
}

var app = SiloApplication.Build(["--urls", $"http://127.0.0.1:{port}"], builder => builder.Configuration.AddInMemoryCollection(settings));
await app.StartAsync();
await Seed.LedgerAsync(databases.Wallet, seeded);
Console.WriteLine($"Seeded {seeded} wallets on each side with {Seed.StartingBalance / 100:N0}.00 USD each.");
var client = app.Services.GetRequiredService<IClusterClient>();
var clientCards = await Seed.LedgerCardsAsync(client, firstWallet: 0, cardsPerPath);
var httpCards = await Seed.LedgerCardsAsync(client, firstWallet: cardsPerPath, cardsPerPath);
if (cardsPerPath > 0)
{
    Console.WriteLine($"Issued {cardsPerPath} cards per path, one per wallet, each with a daily limit of {Seed.CardDailyLimit / 100:N0}.00 USD.");
}

await using var baselineSource = NpgsqlDataSource.Create(databases.Baseline);
using var http = new HttpTarget(new Uri($"http://127.0.0.1:{port}"), apiKey, options.Concurrency, httpCards);
// PostgreSQL's CPU per operation is read from its backends (both sides share the one server, and
// the paths run one after the other), the figure that bounds a deployment whose silos have cores of
// their own.
var cpu = await CpuMeter.StartAsync(databases.Wallet);
var targets = new Dictionary<string, IBenchTarget>
{
    ["baseline"] = new BaselineTarget(baselineSource),
    ["client"] = new GrainClientTarget(client, clientCards),
    ["http"] = http,
};

using var counters = new LedgerCounters();
using var coreUse = CoreUse.Start();
using var pauseMeter = new PauseMeter(coreUse);
var driver = new Driver(options, cpu, counters, pauseMeter);
var results = new List<RunResult>();
var dashboardCosts = new List<DashboardCostResult>();
DashboardIdle? dashboardIdle = null;
if (options.DashboardCost)
{
    foreach (var path in options.DashboardPaths)
    {
        using var poller = await DashboardPoller.SignInAsync(new Uri($"http://127.0.0.1:{port}"), apiKey);
        dashboardCosts.Add(await DashboardCost.RunAsync(options, targets[path], poller, cpu));
    }

    // Last, with the activations and entries the rounds left, as a silo in service has them.
    using (var poller = await DashboardPoller.SignInAsync(new Uri($"http://127.0.0.1:{port}"), apiKey))
    {
        dashboardIdle = await DashboardCost.IdleAsync(options, poller, cpu);
    }

    Report.PrintDashboardCost(dashboardCosts, dashboardIdle, options, cpu.ReadsPostgres);
}

ReceiptBurstResult? receiptBurst = null;
if (options.ReceiptBurst)
{
    var ocrSlots = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Wallet.Grains.Receipts.ReceiptOptions>>().Value.OcrConcurrencyMax;
    receiptBurst = await ReceiptBurst.RunAsync(options, driver, http, new Uri($"http://127.0.0.1:{port}"), apiKey, httpCards, databases.Wallet, ocrSlots);
    ReceiptBurst.Print(receiptBurst);
}

IReadOnlyList<ReconImportResult>? reconImports = null;
if (options.ReconImportRows > 0)
{
    reconImports = await ReconImport.RunAsync(options.ReconImportRows, new Uri($"http://127.0.0.1:{port}"), apiKey);
    ReconImport.Print(reconImports);
}

ReconMatchResult? reconMatch = null;
if (options.ReconMatchRows > 0)
{
    reconMatch = await ReconMatch.RunAsync(options.ReconMatchRows, options.Wallets, databases.Wallet, new Uri($"http://127.0.0.1:{port}"), apiKey);
    ReconMatch.Print(reconMatch);
}

// The dashboard-cost, receipts and reconciliation phases run alone: the other workloads would only lengthen them.
var alone = options.DashboardCost || options.ReceiptBurst || options.ReconImportRows > 0 || options.ReconMatchRows > 0;
foreach (var workload in alone ? [] : options.Workloads)
{
    foreach (var path in options.Paths)
    {
        var settled = await databases.SettleAsync();
        var result = await driver.RunAsync(workload, targets[path], untilJitSettles: true);
        results.Add(result);
        var batchSize = path == "baseline" ? 0 : result.Ledger?.AverageBatch ?? 0;
        Console.WriteLine($"  {workload,-15} {path,-9} {result.Throughput,9:N0} ops/s  p99 {result.Percentile(0.99),7:N2} ms  settled {settled.TotalSeconds,3:N0} s  warm-up {result.WarmupSeconds,3:N0} s" +
            (result.PostgresMicrosecondsPerOp is { } postgres ? $"  PostgreSQL {postgres,6:N0} µs/op" : "") +
            (batchSize == 0 ? "" : $"  (avg commit batch {batchSize:N1} in {result.Ledger!.AverageCommitMilliseconds:N1} ms, commits busy {result.Ledger.CommitBusy(result.Seconds):P0}," +
                                   $" longest {result.Ledger.LongestCommitMilliseconds:N0} ms, aborted {result.Ledger.Aborted:N0}, in doubt {result.Ledger.InDoubt:N0}," +
                                   $" activations {result.Ledger.Activated:N0})") + PausesOf(result));
    }
}

// Each workload again through HTTP at half of the rate it peaked at: the latency a user sees
// when the system is busy but not saturated.
var halfPeaks = new List<RunResult>();
foreach (var peak in options.HalfPeakLatency ? results.Where(r => r.Path == "http" && r.Throughput > 0).ToList() : [])
{
    await databases.SettleAsync();
    var result = await driver.RunAsync(peak.Workload, http, peak.Throughput / 2, untilJitSettles: true);
    halfPeaks.Add(result);
    Console.WriteLine($"  {peak.Workload,-15} half peak {result.Throughput,9:N0} ops/s  p99 {result.Percentile(0.99),7:N2} ms  max {result.Percentile(1),7:N0} ms" +
        (result.Ledger is not { } ledger ? "" : $"  (longest commit {ledger.LongestCommitMilliseconds:N0} ms, aborted {ledger.Aborted:N0}, activations {ledger.Activated:N0})") +
        SlowOf(result) + PausesOf(result));
}

var memory = options.MemoryActivations > 0 && !alone
    ? await MeasureActivationsAsync(app.Services, options.MemoryActivations)
    : null;

if (!alone)
{
    Report.Print(results, halfPeaks, memory);
}

var failures = new List<string>();
failures.AddRange(dashboardCosts.SelectMany(DashboardCost.Failures));
failures.AddRange(dashboardIdle is null ? [] : DashboardCost.Failures(dashboardIdle));
failures.AddRange(receiptBurst is null ? [] : ReceiptBurst.Failures(receiptBurst));
failures.AddRange(reconImports is null ? [] : ReconImport.Failures(reconImports));
failures.AddRange(reconMatch is null ? [] : ReconMatch.Failures(reconMatch));

failures.AddRange(results.Where(r => r.Errors > 0).Select(r => $"{r.Workload}/{r.Path}: {r.Errors} errors"));
var verify = await app.Services.GetRequiredService<LedgerVerifier>().VerifyAsync(CancellationToken.None);
Console.WriteLine($"Ledger verify: {(verify.Ok ? "ok" : "FAILED")} ({verify.WalletsChecked} wallets, {verify.EntriesChecked} entries)");
failures.AddRange(verify.Problems.Take(10).Select(p => $"verify: {p.Code} {p.WalletId}{p.EntryId} {p.Detail}"));
failures.AddRange(await Invariants.CheckLedgerAsync(databases.Wallet));
failures.AddRange(await Invariants.CheckBaselineAsync(databases.Baseline, options.Wallets, results.Where(r => r.Path == "baseline")));

await app.StopAsync();
await app.DisposeAsync();
foreach (var failure in failures)
{
    Console.WriteLine("FAILED " + failure);
}

Console.WriteLine(failures.Count == 0 ? "All invariants hold." : $"{failures.Count} invariant failures.");
return failures.Count == 0 ? 0 : 1;

// How many requests were slower than the bound, and the seconds of the window most of them started in: "slow 950 (mostly at 29 s 700, 30 s 200)".
static string SlowOf(RunResult result)
{
    var busiest = result.SlowBySecond.OrderByDescending(s => s.Value).Take(3).Select(s => $"{s.Key} s {s.Value:N0}");
    return result.SlowBySecond.Count == 0 ? "  slow 0"
        : string.Create(CultureInfo.InvariantCulture, $"  slow {result.SlowBySecond.Values.Sum():N0} (mostly at {string.Join(", ", busiest)})");
}

// The window's pauses in the bench process, and when the longest came (seconds into the window).
static string PausesOf(RunResult result)
{
    if (result.Pauses is not { } p)
    {
        return "";
    }

    var longest = p.Longest.Count == 0 ? "" : $" [{string.Join(", ", p.Longest.Select(l => $"{l.Milliseconds:N0} ms (GC {l.GcMilliseconds:N0}) at {l.AtSecond:N1} s{CoresOf(l.Cores)}"))}]";
    return string.Create(CultureInfo.InvariantCulture,
        $"  pauses: longest {p.LongestThreadMilliseconds:N0} ms (thread pool {p.LongestPoolMilliseconds:N0} ms), GC {p.GcPauseMilliseconds:N0} ms in all, {p.Gen2Collections} gen-2{longest}{CollectionsOf(p.Ephemeral)}");
}

// What the window's gen-0 and gen-1 collections promoted and paused, each generation on its own:
// "; gen-0: 9, promoted 28 MB mean (35 most), pause 84 ms mean (101 longest)".
static string CollectionsOf(IReadOnlyList<Collection> collections) =>
    string.Concat(collections.GroupBy(c => c.Generation).OrderBy(g => g.Key).Select(g => string.Create(CultureInfo.InvariantCulture,
        $"; gen-{g.Key}: {g.Count()}, promoted {g.Average(c => c.PromotedBytes) / 1e6:N0} MB mean ({g.Max(c => c.PromotedBytes) / 1e6:N0} most), pause {g.Average(c => c.PauseMilliseconds):N0} ms mean ({g.Max(c => c.PauseMilliseconds):N0} longest)")));

// Who had the cores around a pause, in ms of CPU time: "; cores: postgres backend 120, bench .NET TP Worker 80, idle 0".
static string CoresOf(IReadOnlyList<(string Name, double Milliseconds)> cores) =>
    cores.Count == 0 ? "" : "; cores: " + string.Join(", ", cores.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Name} {c.Milliseconds:N0}")));

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

// Activates wallets through the grain client and reads what the process's resident memory grew by.
static async Task<MemoryResult> MeasureActivationsAsync(IServiceProvider services, int count)
{
    var client = services.GetRequiredService<IClusterClient>();
    var management = client.GetGrain<IManagementGrain>(0);
    await management.ForceActivationCollection(TimeSpan.Zero);
    var before = ResidentBytes();
    var activeBefore = await management.GetTotalActivationCount();
    const int InFlight = 512;
    for (var start = 0; start < count; start += InFlight)
    {
        await Task.WhenAll(Enumerable.Range(start, Math.Min(InFlight, count - start))
            .Select(i => client.Wallet(Seed.WalletId(i)).Get(Seed.TenantId)));
    }

    var after = ResidentBytes();
    return new MemoryResult(await management.GetTotalActivationCount() - activeBefore, before, after);
}

static long ResidentBytes()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    using var process = Process.GetCurrentProcess();
    process.Refresh();
    return process.WorkingSet64;
}
