using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains.Ledger;

namespace Wallet.Api.Metrics;

/// <summary>
/// OpenTelemetry, the one pipeline for metrics and traces: Orleans' meters, ASP.NET Core, Npgsql,
/// the .NET runtime and the ledger's own meter (<see cref="LedgerMetrics"/>), served as Prometheus
/// text at <c>GET /metrics</c> (operator key), and with traces sent over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. Traces follow a request from HTTP through grain calls
/// (Orleans' activity propagation) to SQL.
/// </summary>
public static class MetricsEndpoints
{
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters exported besides ASP.NET Core's and the runtime's.</summary>
    public static readonly string[] Meters = ["Microsoft.Orleans", "Npgsql", LedgerMetrics.MeterName];

    /// <summary>
    /// ASP.NET Core's meters that say how the API serves: requests (duration, status, route; a 429
    /// is a rate-limited one), connections and unhandled exceptions. Its other meters (routing,
    /// authentication, authorization, rate-limiter leases, memory pool) record several measurements
    /// on every request, each a look-up of its labels: on a balance read they took about 8% of the
    /// silo's CPU, and a request's duration, route and status say what they would.
    /// </summary>
    public static readonly string[] AspNetCoreMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics"];

    /// <summary>
    /// The activity sources traced: calls of the ledger's grains (caller and callee side) and
    /// Npgsql's commands. Orleans' own system calls (the dashboard's counters, membership) are left
    /// out: they run every second and belong to no request.
    /// </summary>
    public static readonly string[] ActivitySources = ["Microsoft.Orleans.Application", "Npgsql"];

    /// <summary>
    /// Metrics always; traces when <paramref name="configuration"/> names an OTLP endpoint
    /// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, from the environment or any other source).
    /// </summary>
    public static IServiceCollection AddWalletTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddMeter(Meters)
                .AddMeter(AspNetCoreMeters)
                .AddRuntimeInstrumentation()
                // Scrapes read the figures of the moment; the exporter's default cache would hide a second's change.
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

        // Traces only where they go somewhere: recording a span for every request and grain call
        // that no exporter reads would cost the ledger throughput for nothing.
        if (!string.IsNullOrWhiteSpace(configuration[OtlpEndpointSetting]))
        {
            telemetry
                .WithTracing(tracing => tracing
                    .AddSource(ActivitySources)
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)))
                .UseOtlpExporter();
        }

        return services;
    }

    public static IEndpointRouteBuilder MapMetricsEndpoints(this IEndpointRouteBuilder app)
    {
        // The money and verify gauges come from the database: read them (at most every 2 s, however
        // many scrapers) before the exporter collects.
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
        {
            var services = context.RequestServices;
            var totals = await services.GetRequiredService<LedgerTotalsCache>().ReadAsync(context.RequestAborted);
            var lastVerify = await services.GetRequiredService<LedgerVerifier>().LastRunAsync(context.RequestAborted);
            services.GetRequiredService<LedgerMetrics>().UpdateLedgerFigures(totals, lastVerify);
            await next(context);
        }), optionsName: null)
            .RequireAuthorization(Permissions.Administer)
            .WithTags("Operations")
            .ExcludeFromDescription();
        return app;
    }
}
