using System.Text.Json;
using Wallet.Tests.Cards;
using Wallet.Tests.Cluster;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>
/// The operator views of a two-silo cluster, through their JSON: Orleans' dashboard lists the silos
/// as Orleans sees them and counts the calls of both, and the ledger's cards page shows every
/// silo's decisions, whichever silo a browser talks to.
/// </summary>
public sealed class DashboardClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private InProcessCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await InProcessCluster.StartAsync("dashboardcluster", siloCount: 2);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Silos_FromEitherSilo_ListBothActiveAsOrleansSeesThem()
    {
        var addresses = Enumerable.Range(0, 2).Select(i => _cluster[i].SiloAddress.ToParsableString()).Order().ToList();

        foreach (var index in new[] { 0, 1 })
        {
            using var client = _cluster[index].CreateClient();
            var counters = await EventuallyAsync(client, "/dashboard/DashboardCounters", c => c.GetProperty("totalActiveHostCount").GetInt32() == 2);

            var hosts = counters.GetProperty("hosts").EnumerateArray().ToList();
            Assert.Equal(addresses, hosts.Select(h => h.GetProperty("siloAddress").GetString()!).Order());
            Assert.All(hosts, h => Assert.Equal("Active", h.GetProperty("status").GetString()));
        }
    }

    [Fact]
    public async Task Calls_ServedByOneSilo_CountedOnTheOthersDashboard()
    {
        using var first = _cluster[0].CreateClient();
        using var second = _cluster[1].CreateClient();
        // Orleans' dashboard times grain calls only while it is being looked at: look first.
        await EventuallyAsync(first, "/dashboard/DashboardCounters", c => c.GetProperty("totalActiveHostCount").GetInt32() == 2);
        var wallet = await _cluster.WalletOwnedByAsync(second, 1);
        var secondSilo = _cluster[1].SiloAddress.ToParsableString();

        using var calling = new CancellationTokenSource();
        var calls = Task.Run(async () =>
        {
            while (!calling.IsCancellationRequested)
            {
                await second.GetAsync(new Uri($"/v1/wallets/{wallet}", UriKind.Relative), CancellationToken.None);
            }
        });

        try
        {
            var counters = await EventuallyAsync(first, "/dashboard/DashboardCounters", c =>
                WalletStats(c).Any(s => s.GetProperty("siloAddress").GetString() == secondSilo && s.GetProperty("totalCalls").GetInt64() > 0));

            Assert.Contains(WalletStats(counters), s => s.GetProperty("siloAddress").GetString() == secondSilo && s.GetProperty("activationCount").GetInt32() >= 1);
        }
        finally
        {
            await calling.CancelAsync();
            await calls;
        }
    }

    [Fact]
    public async Task Cards_DecidedThroughOneSilo_ShowOnTheOthersCardsPage()
    {
        using var first = _cluster[0].CreateClient();
        using var second = _cluster[1].CreateClient();
        var (_, card) = await second.FundedCardAsync("100.00");
        await second.ApproveAsync(card, "5.00");
        await (await second.AuthorizeAsync(card, "6000.00")).ExpectDeclinedAsync(second, System.Net.HttpStatusCode.Forbidden, "fraud_blocked");

        var cards = await EventuallyAsync(first, "/dashboard/api/cards", c => c.GetProperty("approved").GetInt64() >= 1 && c.GetProperty("declined").GetInt64() >= 1);

        Assert.Contains(cards.GetProperty("decline_reasons").EnumerateArray(), r => r.GetProperty("name").GetString() == "fraud_blocked");
        Assert.Contains(cards.GetProperty("fraud_flags").EnumerateArray(), r => r.GetProperty("name").GetString() == "max_amount");
        Assert.True(cards.GetProperty("series").GetArrayLength() >= 1);
    }

    [Fact]
    public async Task Silos_AfterOneStops_TheOtherListsItNoLonger()
    {
        using var first = _cluster[0].CreateClient();
        var stopped = _cluster[1].SiloAddress.ToParsableString();

        await _cluster.StopSiloAsync(1);

        var counters = await EventuallyAsync(first, "/dashboard/DashboardCounters", c => c.GetProperty("totalActiveHostCount").GetInt32() == 1);
        Assert.DoesNotContain(counters.GetProperty("hosts").EnumerateArray(), h => h.GetProperty("siloAddress").GetString() == stopped);
    }

    private static IEnumerable<JsonElement> WalletStats(JsonElement counters) =>
        counters.GetProperty("simpleGrainStats").EnumerateArray().Where(s => s.GetProperty("grainType").GetString() == "Wallet.Grains.Wallets.WalletGrain");

    // The figures follow the cluster a second or two behind: poll as the pages do.
    private static async Task<JsonElement> EventuallyAsync(HttpClient client, string path, Func<JsonElement, bool> done)
    {
        var body = default(JsonElement);
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                body = await (await client.GetAsync(new Uri(path, UriKind.Relative))).Content.ReadAsync<JsonElement>();
                return (done(body), body.ToString());
            },
            Patience,
            $"{path} to show it");
        return body;
    }
}
