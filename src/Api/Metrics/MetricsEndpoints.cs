using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Api.Infrastructure;
using Wallet.Grains.Ledger;
using Wallet.Runtime;
using Wallet.Runtime.Cluster;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Api.Metrics;

/// <summary>
/// <c>GET /metrics</c>: the silo's figures in the Prometheus text format. The metric names are listed
/// in the README; scrape with an operator key (<c>authorization: {credentials: ...}</c> in Prometheus).
/// </summary>
public static class MetricsEndpoints
{
    public static IEndpointRouteBuilder MapMetricsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", WriteAsync).WithTags("Operations").ExcludeFromDescription()
            .RequireAuthorization(ApiKeyAuthenticationHandler.OperatorPolicy);
        return app;
    }

    // A thin API process hosts no grains: it has no grain, activation, commit or card figures, only
    // the ledger's (from the database) and its own process's.
    private static async Task<IResult> WriteAsync(HttpContext context, LedgerTotalsCache totals, LedgerVerifier verifier, CancellationToken cancellationToken)
    {
        var text = new PrometheusText();
        var services = context.RequestServices;
        if (services.GetService<GrainCallStatistics>() is { } calls
            && services.GetService<SiloStatistics>() is { } silo
            && services.GetService<GroupCommitStatistics>() is { } commits
            && services.GetService<LedgerStatistics>() is { } ledger)
        {
            WriteSilo(text, calls, silo, commits);
            WriteLedger(text, ledger.Snapshot());
            WriteSilos(text, services.GetService<ClusterMembershipService>());
        }

        WriteMoney(text, await totals.ReadAsync(cancellationToken));
        if (await verifier.LastRunAsync(cancellationToken) is { } verify)
        {
            text.Family("wallet_ledger_last_verify_ok", "gauge", "1 when the last ledger verify (any process's) found no problem, else 0.")
                .Sample("wallet_ledger_last_verify_ok", verify.Ok ? 1 : 0)
                .Family("wallet_ledger_last_verify_timestamp_seconds", "gauge", "When the last ledger verify ran, in Unix seconds.")
                .Sample("wallet_ledger_last_verify_timestamp_seconds", verify.RanAt.ToUnixTimeMilliseconds() / 1000.0);
        }

        using var process = Process.GetCurrentProcess();
        text.Family("process_resident_memory_bytes", "gauge", "Resident memory of the process.")
            .Sample("process_resident_memory_bytes", process.WorkingSet64)
            .Family("process_cpu_seconds_total", "counter", "CPU time used by the process.")
            .Sample("process_cpu_seconds_total", process.TotalProcessorTime.TotalSeconds)
            .Family("process_start_time_seconds", "gauge", "When the process started, in Unix seconds.")
            .Sample("process_start_time_seconds", new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        return Results.Text(text.ToString(), PrometheusText.ContentType);
    }

    private static void WriteLedger(PrometheusText text, LedgerCounters ledger)
    {
        text.Family("wallet_ledger_entries_total", "counter", "Ledger entries this silo committed.")
            .Sample("wallet_ledger_entries_total", ledger.Entries)
            .Family("wallet_card_authorizations_total", "counter", "Card authorizations this silo decided, by decision.")
            .Sample("wallet_card_authorizations_total", ledger.Approved, ("decision", "approved"))
            .Sample("wallet_card_authorizations_total", ledger.Declined, ("decision", "declined"))
            .Family("wallet_card_reviews_total", "counter", "Card authorizations flagged for review by a fraud rule.")
            .Sample("wallet_card_reviews_total", ledger.Reviews);
        text.Family("wallet_card_declines_total", "counter", "Declined card authorizations, by problem code.");
        foreach (var (code, count) in ledger.DeclineCodes.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Sample("wallet_card_declines_total", count, ("code", code));
        }

        text.Family("wallet_card_fraud_rule_hits_total", "counter", "Fraud rules that fired on card authorizations, by rule.");
        foreach (var (rule, count) in ledger.FraudRules.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Sample("wallet_card_fraud_rule_hits_total", count, ("rule", rule));
        }
    }

    // Alone, a silo is its own cluster of one.
    private static void WriteSilos(PrometheusText text, ClusterMembershipService? membership)
    {
        var entries = membership?.LastSnapshot?.Entries;
        text.Family("wallet_cluster_silos", "gauge", "Silos in the membership table as this silo last read it, by status (dead ones are not counted).")
            .Sample("wallet_cluster_silos", entries?.Count(e => e.Status == SiloStatus.Active) ?? 1, ("status", "active"))
            .Sample("wallet_cluster_silos", entries?.Count(e => e.Status == SiloStatus.Leaving) ?? 0, ("status", "leaving"));
    }

    private static void WriteMoney(PrometheusText text, IReadOnlyList<CurrencyTotals> totals)
    {
        (string Name, string Help, Func<CurrencyTotals, string> Value)[] families =
        [
            ("wallet_money_issued", "Money the treasury has issued, in the currency's major unit.", t => t.Issued),
            ("wallet_money_held_by_users", "Money in user wallets, pending holds included, in the major unit.", t => t.HeldByUsers),
            ("wallet_money_pending_in_holds", "Money of user wallets held for open holds, in the major unit.", t => t.PendingInHolds),
            ("wallet_money_in_system_accounts", "Money in revenue, fees, settlement and other system accounts, in the major unit.", t => t.InSystemAccounts),
        ];
        foreach (var (name, help, value) in families)
        {
            text.Family(name, "gauge", help);
            foreach (var currency in totals)
            {
                text.Sample(name, double.Parse(value(currency), CultureInfo.InvariantCulture), ("currency", currency.Currency));
            }
        }
    }

    private static void WriteSilo(PrometheusText text, GrainCallStatistics calls, SiloStatistics silo, GroupCommitStatistics commits)
    {
        WriteCalls(text, calls.Snapshot());
        text.Family("wallet_activations", "gauge", "Grain activations in this silo, by grain type.");
        foreach (var (grainType, count) in silo.ActivationsByGrainType())
        {
            text.Sample("wallet_activations", count, ("grain", grainType));
        }

        text.Family("wallet_commit_batches_total", "counter", "Group-commit transactions attempted.")
            .Sample("wallet_commit_batches_total", commits.Batches)
            .Family("wallet_commit_failed_batches_total", "counter", "Group-commit transactions that failed; every turn in them failed.")
            .Sample("wallet_commit_failed_batches_total", commits.FailedBatches)
            .Family("wallet_commit_items_total", "counter", "Transfers carried by group-commit transactions.")
            .Sample("wallet_commit_items_total", commits.Items)
            .Family("wallet_commit_duration_seconds_total", "counter", "Time spent in group-commit transactions.")
            .Sample("wallet_commit_duration_seconds_total", commits.CommitTime.TotalSeconds);
    }

    private static void WriteCalls(PrometheusText text, IReadOnlyList<MethodCallSnapshot> methods)
    {
        text.Family("wallet_grain_calls_total", "counter", "Calls received by grains, by grain type and method.");
        foreach (var m in methods)
        {
            text.Sample("wallet_grain_calls_total", m.Calls, ("grain", m.GrainType), ("method", m.Method));
        }

        text.Family("wallet_grain_call_errors_total", "counter", "Calls that ended in an exception, by grain type and method.");
        foreach (var m in methods)
        {
            text.Sample("wallet_grain_call_errors_total", m.Errors, ("grain", m.GrainType), ("method", m.Method));
        }

        // Buckets are powers of two microseconds, cumulative as Prometheus wants them.
        text.Family("wallet_grain_call_duration_seconds", "histogram", "Time from a call's arrival to its reply, durability included.");
        foreach (var m in methods)
        {
            long cumulative = 0;
            for (var i = 0; i < m.LatencyBuckets.Length - 1; i++)
            {
                cumulative += m.LatencyBuckets[i];
                var bound = ((1L << i) / 1_000_000.0).ToString("R", CultureInfo.InvariantCulture);
                text.Sample("wallet_grain_call_duration_seconds_bucket", cumulative, ("grain", m.GrainType), ("method", m.Method), ("le", bound));
            }

            text.Sample("wallet_grain_call_duration_seconds_bucket", m.Calls, ("grain", m.GrainType), ("method", m.Method), ("le", "+Inf"))
                .Sample("wallet_grain_call_duration_seconds_sum", m.TotalMicroseconds / 1_000_000.0, ("grain", m.GrainType), ("method", m.Method))
                .Sample("wallet_grain_call_duration_seconds_count", m.Calls, ("grain", m.GrainType), ("method", m.Method));
        }
    }
}
