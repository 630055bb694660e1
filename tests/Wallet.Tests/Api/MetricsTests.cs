using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>/metrics parses as Prometheus text, line by line, and carries every documented name.</summary>
public sealed partial class MetricsTests
{
    private static readonly string[] DocumentedNames =
    [
        "wallet_grain_calls_total", "wallet_grain_call_errors_total", "wallet_grain_call_duration_seconds_bucket",
        "wallet_grain_call_duration_seconds_sum", "wallet_grain_call_duration_seconds_count", "wallet_activations",
        "wallet_commit_batches_total", "wallet_commit_failed_batches_total", "wallet_commit_items_total",
        "wallet_commit_duration_seconds_total", "process_resident_memory_bytes", "process_cpu_seconds_total",
    ];

    [Fact]
    public async Task Metrics_AfterTransfers_EveryLineValidAndDocumentedNamesPresent()
    {
        await using var factory = await WalletApiFactory.CreateAsync("metrics");
        using var client = factory.CreateOperatorClient();
        var created = await client.PostAsJsonAsync("/v1/wallets", new { currency = "USD" });
        var wallet = (await created.Content.ReadFromJsonAsync<Dictionary<string, object>>())!["id"].ToString()!;
        (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "99.00" })).StatusCode);

        var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var samples = new List<(string Name, string Labels, double Value)>();
        foreach (var line in lines)
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(CommentLine(), line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a valid sample line: {line}");
            var value = match.Groups["value"].Value;
            samples.Add((match.Groups["name"].Value, match.Groups["labels"].Value,
                value == "+Inf" ? double.PositiveInfinity : double.Parse(value, CultureInfo.InvariantCulture)));
        }

        foreach (var name in DocumentedNames)
        {
            Assert.Contains(samples, s => s.Name == name);
        }

        var transferCalls = samples.Single(s => s.Name == "wallet_grain_calls_total" && s.Labels.Contains("method=\"Transfer\"", StringComparison.Ordinal));
        Assert.True(transferCalls.Value >= 2, $"Transfer calls {transferCalls.Value}"); // the deposit and the refused spend
        var buckets = samples.Where(s => s.Name == "wallet_grain_call_duration_seconds_bucket" && s.Labels.Contains("method=\"Transfer\"", StringComparison.Ordinal)).ToList();
        Assert.True(buckets.Zip(buckets.Skip(1)).All(pair => pair.First.Value <= pair.Second.Value), "histogram buckets must be cumulative");
        var count = samples.Single(s => s.Name == "wallet_grain_call_duration_seconds_count" && s.Labels.Contains("method=\"Transfer\"", StringComparison.Ordinal));
        Assert.Equal(count.Value, buckets[^1].Value);
        Assert.Contains("le=\"+Inf\"", buckets[^1].Labels, StringComparison.Ordinal);
        Assert.True(samples.Single(s => s.Name == "wallet_commit_items_total").Value >= 1);
    }

    [Fact]
    public async Task Metrics_WithoutKeyOrWithClientKey_IsRefused()
    {
        await using var factory = await WalletApiFactory.CreateAsync("metricsauth");
        using var anonymous = factory.CreateClient();
        using var tenant = await factory.CreateTenantClientAsync("metrics-tenant");

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.GetAsync(new Uri("/metrics", UriKind.Relative))).StatusCode);
    }

    [GeneratedRegex(@"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$")]
    private static partial Regex CommentLine();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<labels>\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? (?<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|Inf|NaN))$""")]
    private static partial Regex SampleLine();
}
