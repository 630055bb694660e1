using System.Diagnostics;
using System.Net;
using OpenTelemetry.Trace;
using Wallet.Api.Metrics;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>With an OTLP endpoint configured, a request is one trace: HTTP, the grain calls it makes, the SQL they run.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task CreateWallet_WithOtlpConfigured_OneTraceRunsFromHttpThroughTheGrainCallToSql()
    {
        var spans = new List<Activity>();
        // Nothing listens at the endpoint: the spans are read from an in-memory exporter added beside it.
        var settings = new Dictionary<string, string?> { [MetricsEndpoints.OtlpEndpointSetting] = $"http://127.0.0.1:{FreePorts.Next()}" };
        await using var factory = await WalletApiFactory.CreateAsync("tracing", settings,
            services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        using var client = factory.CreateOperatorClient();
        // The exporter hears every test's requests in this process: this one's trace is the one its caller starts.
        var traceId = ActivityTraceId.CreateRandom();
        client.DefaultRequestHeaders.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var wallet = await client.CreateWalletAsync();

        var http = await EventuallyAsync(spans, s => s.TraceId == traceId && s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"
                                                    && s.GetTagItem("http.route") as string == "/v1/wallets/" && s.GetTagItem("http.request.method") as string == "POST");
        Assert.Equal(201, http.GetTagItem("http.response.status_code"));
        Activity[] trace;
        lock (spans)
        {
            trace = [.. spans.Where(s => s.TraceId == http.TraceId)];
        }

        var call = Assert.Single(trace, s => s.Kind == ActivityKind.Client && s.DisplayName == "IWalletGrain/Create");
        Assert.Equal(http.SpanId, call.ParentSpanId);
        var served = Assert.Single(trace, s => s.Kind == ActivityKind.Server && s.DisplayName == "IWalletGrain/Create");
        Assert.Equal(call.SpanId, served.ParentSpanId);
        Assert.Contains(trace, s => s.Source.Name == "Npgsql" && IsUnder(s, served, trace));
        Assert.NotEmpty(wallet);
    }

    private static bool IsUnder(Activity span, Activity ancestor, Activity[] trace)
    {
        for (var parent = span.ParentSpanId; parent != default; parent = trace.FirstOrDefault(s => s.SpanId == parent)?.ParentSpanId ?? default)
        {
            if (parent == ancestor.SpanId)
            {
                return true;
            }
        }

        return false;
    }

    private static string[] Describe(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans.Where(s => s.Source.Name != "Npgsql").Select(s => $"{s.Source.Name} {s.Kind} {s.DisplayName} {string.Join(",", s.TagObjects.Where(t => t.Key.StartsWith("http", StringComparison.Ordinal)).Select(t => $"{t.Key}={t.Value}"))}")];
        }
    }

    // A span is exported when it ends, which for the server span is just after the response.
    private static async Task<Activity> EventuallyAsync(List<Activity> spans, Func<Activity, bool> match)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (spans)
            {
                if (spans.FirstOrDefault(match) is { } found)
                {
                    return found;
                }
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the span was not exported within 10 s; exported: "
                + string.Join("; ", Describe(spans)));
            await Task.Delay(50);
        }
    }
}
