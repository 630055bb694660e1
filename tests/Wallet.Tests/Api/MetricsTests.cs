using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The tests of /metrics run alone: OpenTelemetry listens to meters by name across the process, so
/// a silo's /metrics also carries what other silos of the test process record meanwhile. A silo
/// process in service hosts one silo.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}

/// <summary>/metrics (the OpenTelemetry exporter's) parses as Prometheus text, line by line, and carries every documented name.</summary>
[Collection(MetricsCollection.Name)]
public sealed partial class MetricsTests
{
    private static readonly HttpStatusCode FraudBlockedStatus = (HttpStatusCode)Wallet.Api.Infrastructure.Problems.StatusFor("fraud_blocked");

    // The names the README's metrics table documents: the test fails when the two drift apart.
    private static readonly string[] DocumentedNames = ReadDocumentedNames();

    [Fact]
    public async Task Metrics_AfterTransfers_EveryLineValidAndDocumentedNamesPresent()
    {
        await using var factory = await WalletApiFactory.CreateAsync("metrics");
        using var client = factory.CreateOperatorClient();
        var created = await client.PostAsJsonAsync("/v1/wallets", new { currency = "USD" });
        var wallet = (await created.Content.ReadFromJsonAsync<Dictionary<string, object>>())!["id"].ToString()!;
        (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "99.00" })).StatusCode);

        var (_, card) = await client.FundedCardAsync("100.00");
        await client.ApproveAsync(card, "5.00");
        await (await client.AuthorizeAsync(card, "6000.00")).ExpectDeclinedAsync(client, FraudBlockedStatus, "fraud_blocked");
        await Wallet.Tests.Receipts.ReceiptSamples.UploadAndReadAsync(
            client, Wallet.Tests.Receipts.ReceiptSamples.TextPdf(["CORNER GROCERY", "TOTAL 5.00"]), authorizationId: null);
        await client.AssertVerifiedAsync();

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

        var missing = DocumentedNames.Where(name => !samples.Any(s => s.Name == name)).ToList();
        Assert.True(missing.Count == 0, "documented but not served: " + string.Join(", ", missing));

        // Grain calls, as the API saw them: at least the deposit, the refused spend and the card's calls.
        var buckets = samples.Where(s => s.Name == "orleans_app_requests_latency_milliseconds_bucket").ToList();
        Assert.True(buckets.Zip(buckets.Skip(1)).All(pair => pair.First.Value <= pair.Second.Value), "histogram buckets must be cumulative");
        Assert.Contains("le=\"+Inf\"", buckets[^1].Labels, StringComparison.Ordinal);
        Assert.Equal(Value(samples, "orleans_app_requests_latency_milliseconds_count"), buckets[^1].Value);
        Assert.True(buckets[^1].Value >= 4, $"grain calls {buckets[^1].Value}");
        Assert.True(Value(samples, "orleans_grains", "type=\"wallet\"") >= 1);
        Assert.True(Value(samples, "wallet_commit_items_total") >= 1);
        Assert.True(Value(samples, "wallet_commit_duration_seconds_count") >= 1);
        Assert.True(Value(samples, "wallet_ledger_entries_total") >= 1);
        Assert.True(Value(samples, "wallet_card_authorizations_total", "decision=\"approved\"") >= 1);
        Assert.True(Value(samples, "wallet_card_authorizations_total", "decision=\"declined\"") >= 1);
        Assert.True(Value(samples, "wallet_card_declines_total", "code=\"fraud_blocked\"") >= 1);
        Assert.True(Value(samples, "wallet_card_fraud_rule_hits_total", "rule=\"max_amount\"") >= 1);
        Assert.Contains(samples, s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.Contains("http_route=\"/v1/wallets/{id}/deposit\"", StringComparison.Ordinal));
        Assert.Equal(1, Value(samples, "wallet_ledger_last_verify_ok"));
        // Issued money is where every other figure came from: the books balance per currency.
        Assert.Equal(
            Value(samples, "wallet_money_issued", "currency=\"USD\""),
            Value(samples, "wallet_money_held_by_users", "currency=\"USD\"") + Value(samples, "wallet_money_in_system_accounts", "currency=\"USD\""),
            precision: 2);
        Assert.True(Value(samples, "wallet_money_pending_in_holds", "currency=\"USD\"") >= 5);
    }

    [Fact]
    public void DocumentedNames_ReadFromTheReadme_CoverEveryFamily()
    {
        Assert.Contains("wallet_money_issued", DocumentedNames);
        Assert.Contains("wallet_commit_duration_seconds_bucket", DocumentedNames);
        Assert.Contains("orleans_app_requests_latency_milliseconds_bucket", DocumentedNames);
        Assert.True(DocumentedNames.Length >= 30, $"only {DocumentedNames.Length} names read from the README");
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

    private static double Value(List<(string Name, string Labels, double Value)> samples, string name, string labels = "") =>
        samples.Single(s => s.Name == name && s.Labels.Contains(labels, StringComparison.Ordinal)).Value;

    // Rows of the table under "### Metrics": | `name` | type | ... ; a histogram exposes three series.
    private static string[] ReadDocumentedNames()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), "README.md"));
        var section = readme[readme.IndexOf("### Metrics", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", StringComparison.Ordinal)];
        return
        [
            .. DocumentedRow().Matches(section).SelectMany(m => m.Groups["type"].Value == "histogram"
                ? new[] { m.Groups["name"].Value + "_bucket", m.Groups["name"].Value + "_sum", m.Groups["name"].Value + "_count" }
                : [m.Groups["name"].Value]),
        ];
    }

    [GeneratedRegex(@"^\| `(?<name>[a-z_]+)` \| (?<type>counter|gauge|histogram) \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedRow();

    [GeneratedRegex(@"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$")]
    private static partial Regex CommentLine();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<labels>\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? (?<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|Inf|NaN))$""")]
    private static partial Regex SampleLine();
}
