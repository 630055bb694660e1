using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Wallet.Api.Infrastructure;
using Wallet.Grains.Ledger;

namespace Wallet.Api.Metrics;

/// <summary>
/// OpenTelemetry, the one pipeline for metrics and traces: Orleans' meters, ASP.NET Core, Npgsql,
/// the .NET runtime and the ledger's own meter (<see cref="LedgerMetrics"/>), served as Prometheus
/// text at <c>GET /metrics</c> (operator key) and sent over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// is set. Traces follow a request from HTTP through grain calls to SQL.
/// </summary>
public static class MetricsEndpoints
{
    /// <summary>The meters exported besides ASP.NET Core's and the runtime's.</summary>
    public static readonly string[] Meters = ["Microsoft.Orleans", "Npgsql", LedgerMetrics.MeterName];

    /// <summary>The activity sources traced: Orleans' grain calls (client and server side) and Npgsql's commands.</summary>
    public static readonly string[] ActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Npgsql"];

    public static IServiceCollection AddWalletTelemetry(this IServiceCollection services, string serviceName)
    {
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddMeter(Meters)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                // Scrapes read the figures of the moment; the exporter's default cache would hide a second's change.
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing => tracing
                .AddSource(ActivitySources)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)));
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
        {
            telemetry.UseOtlpExporter();
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
            .RequireAuthorization(ApiKeyAuthenticationHandler.OperatorPolicy)
            .WithTags("Operations")
            .ExcludeFromDescription();
        return app;
    }
}
