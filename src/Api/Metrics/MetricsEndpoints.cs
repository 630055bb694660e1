using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Api.Infrastructure;
using Wallet.Runtime;
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
        app.MapGet("/metrics", Write).WithTags("Operations").ExcludeFromDescription()
            .RequireAuthorization(ApiKeyAuthenticationHandler.OperatorPolicy);
        return app;
    }

    // A thin API process hosts no grains: it has no grain, activation or commit figures, only its own process's.
    private static IResult Write(HttpContext context)
    {
        var text = new PrometheusText();
        var services = context.RequestServices;
        if (services.GetService<GrainCallStatistics>() is { } calls
            && services.GetService<SiloStatistics>() is { } silo
            && services.GetService<GroupCommitStatistics>() is { } commits)
        {
            WriteSilo(text, calls, silo, commits);
        }

        using var process = Process.GetCurrentProcess();
        text.Family("process_resident_memory_bytes", "gauge", "Resident memory of the process.")
            .Sample("process_resident_memory_bytes", process.WorkingSet64)
            .Family("process_cpu_seconds_total", "counter", "CPU time used by the process.")
            .Sample("process_cpu_seconds_total", process.TotalProcessorTime.TotalSeconds);
        return Results.Text(text.ToString(), PrometheusText.ContentType);
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
