using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Runtime;
using Wallet.Api;
using Wallet.Api.Metrics;
using Wallet.Dashboard;
using Wallet.Grains;
using Wallet.Grains.Compliance;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Receipts;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Transactions;

namespace Wallet.Silo.Hosting;

/// <summary>
/// The silo's composition: database, an Orleans silo with the wallet grains, and the HTTP API
/// co-hosted on the silo's client. The silo process, the test clusters and the benchmark host the
/// same thing through it. A lone silo and a cluster run one code path: membership is always the
/// table in the ledger's database (<c>Migrations/0007_orleans_clustering.sql</c>).
/// </summary>
public static class SiloApplication
{
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddWalletApiDefaults();
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddWalletDatabase(builder.Configuration);
        builder.Services.Configure<GroupCommitOptions>(builder.Configuration.GetSection("GroupCommit"));
        builder.Services.AddWalletGrains(sp => sp.GetRequiredService<WalletDatabase>().DataSource);
        var cluster = builder.Configuration.GetSection("Cluster").Get<SiloClusterOptions>() ?? new SiloClusterOptions();
        var advertised = cluster.ResolveAdvertisedAddress();
        builder.UseOrleans(silo => ConfigureSilo(silo, builder.Configuration, cluster, advertised));
        builder.Services.AddWalletApi();
        builder.Services.AddWalletTelemetry(builder.Configuration, "wallet-silo");
        builder.Services.AddWalletDashboard(builder.Configuration, builder.Environment, clustered: !IPAddress.IsLoopback(advertised));
        builder.Services.AddHealthChecks().AddCheck<SiloActiveHealthCheck>("cluster", tags: [WalletApi.ReadyTag]);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapWalletApi();
        app.MapWalletDashboard();
        return app;
    }

    /// <summary>
    /// A silo that misses three 1 s probes is suspected, and declared dead once enough peers agree;
    /// with the table re-read every 2 s its grains serve again elsewhere within about 5 s (README:
    /// Running a cluster). Orleans' defaults take about a minute. <c>Cluster:Membership:*</c> overrides.
    /// </summary>
    public static void ConfigureFailureDetection(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.MaxProbeTimeout = TimeSpan.FromSeconds(2);
        options.NumMissedProbesLimit = 3;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
    }

    /// <summary>
    /// Orleans' transactions, over the PostgreSQL transactional storage the grains register, each
    /// timing out after <see cref="TransactionTimeout.Limit"/> rather than Orleans' fixed 10 s.
    /// </summary>
    public static void UseWalletTransactions(ISiloBuilder silo)
    {
        silo.UseTransactions();
        silo.Services.LimitTransactionTimeout();
    }

    /// <summary>
    /// Hold expiry, receipt readings and reconciliation runs ride on reminders (one per wallet with
    /// open holds, one per receipt being read, one per run and scheduled source). A silo reads its
    /// share of the reminder table every <see cref="HoldOptions.ExpiryRetryPeriod"/> (or
    /// <see cref="ReceiptOptions.RetryPeriod"/> or <see cref="ReconOptions.RunRetryPeriod"/>, the
    /// shortest, or <see cref="ComplianceOptions.RescreenEvery"/> if shorter still), and a reminder
    /// ticks again after its period, so work missed while no silo ran is picked up within about two
    /// periods of a start. Orleans refuses periods under a minute unless told (tests use seconds).
    /// </summary>
    public static void ConfigureReminders(
        ISiloBuilder silo, HoldOptions holds, ReceiptOptions? receipts = null, ReconOptions? recon = null, ComplianceOptions? compliance = null) =>
        silo.Configure<ReminderOptions>(o =>
    {
        TimeSpan[] periods = [holds.ExpiryRetryPeriod, receipts?.RetryPeriod ?? TimeSpan.MaxValue, recon?.RunRetryPeriod ?? TimeSpan.MaxValue,
            compliance?.RescreenEvery ?? TimeSpan.MaxValue];
        var shortest = periods.Min();
        o.MinimumReminderPeriod = shortest < o.MinimumReminderPeriod ? shortest : o.MinimumReminderPeriod;
        o.RefreshReminderListPeriod = shortest;
    });

    /// <summary>
    /// Grains are found through Orleans' distributed grain directory. The default one deactivates
    /// every activation whose registration lived on a silo that died; a wallet in the middle of a
    /// transaction then waits to deactivate for a request that waits on a message the deactivation
    /// holds back, and stops answering for up to Orleans' two-hour stuck-activation limit (seen in
    /// the silo-kill tests). The distributed directory takes the dead silo's registrations over from
    /// the survivors instead, so their activations keep serving. Its lease on a dead silo's grains
    /// (by default 30 s from the failure, in case the silo still runs) is off: every write the ledger
    /// makes is checked against the version PostgreSQL holds, so a duplicate activation at worst
    /// fails a call that is retried, and the grains serve again as soon as the silo is declared dead.
    /// </summary>
    public static void UseGrainDirectory(ISiloBuilder silo)
    {
#pragma warning disable ORLEANSEXP003 // marked experimental; Orleans' own test clusters run on it
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Configure<GrainDirectoryOptions>(o => o.RangeLeaseDuration = TimeSpan.Zero);
    }

    private static void ConfigureSilo(ISiloBuilder silo, IConfiguration configuration, SiloClusterOptions cluster, IPAddress advertised)
    {
        // Orleans' dashboard collects on every silo; the live log stream stays off (it shows grain state and logs).
        silo.AddDashboard(o => o.HideTrace = true);
        // It times every grain call while a dashboard is open, and stops 5 s after the last look.
        silo.Services.Configure<GrainProfilerOptions>(o => o.DeactivationTime = TimeSpan.FromSeconds(5));
        // Grain calls join the HTTP request's trace (and a client's, which propagates it too).
        silo.AddActivityPropagation();
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        silo.ConfigureEndpoints(advertised, cluster.SiloPort, cluster.GatewayPort, cluster.ListenOnAnyHostAddress);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            ConfigureFailureDetection(o);
            configuration.GetSection("Cluster:Membership").Bind(o);
        });

        // Membership and reminders live in the ledger's database (WalletDatabase knows where before
        // it starts it; Orleans connects only once the silo starts, after the database is up).
        silo.UseAdoNetClustering(o => o.Invariant = WalletDatabase.Invariant);
        silo.Services.AddOptions<AdoNetClusteringSiloOptions>()
            .Configure<WalletDatabase>((o, database) => o.ConnectionString = database.ConnectionString);
        silo.UseAdoNetReminderService(o => o.Invariant = WalletDatabase.Invariant);
        silo.Services.AddOptions<AdoNetReminderTableOptions>()
            .Configure<WalletDatabase>((o, database) => o.ConnectionString = database.ConnectionString);
        UseWalletTransactions(silo);
        UseGrainDirectory(silo);
        ConfigureReminders(silo, configuration.GetSection("Holds").Get<HoldOptions>() ?? new HoldOptions(),
            configuration.GetSection("Receipts").Get<ReceiptOptions>() ?? new ReceiptOptions(),
            configuration.GetSection("Reconciliation").Get<ReconOptions>() ?? new ReconOptions(),
            configuration.GetSection("Compliance").Get<ComplianceOptions>() ?? new ComplianceOptions());
    }
}

/// <summary>Ready also means the silo has joined its cluster and is not leaving.</summary>
internal sealed class SiloActiveHealthCheck(ILocalSiloDetails silo, IClusterMembershipService membership) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var view = membership.CurrentSnapshot;
        var active = view.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return Task.FromResult(view.GetSiloStatus(silo.SiloAddress) == SiloStatus.Active
            ? HealthCheckResult.Healthy($"silo {silo.SiloAddress} active; {active} active silos")
            : HealthCheckResult.Unhealthy($"silo {silo.SiloAddress} has not joined the cluster, or is leaving"));
    }
}
