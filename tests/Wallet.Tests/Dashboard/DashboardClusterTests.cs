using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Runtime.Cluster;
using Wallet.Tests.Cards;
using Wallet.Tests.Cluster;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>
/// The dashboard of a two-silo cluster, through its JSON: whichever silo a browser talks to, it
/// sees both silos and the calls served by the other one.
/// </summary>
public sealed class DashboardClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private InProcessCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await InProcessCluster.StartAsync("dashboardcluster", siloCount: 2);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Silos_FromEitherSilo_ListBothActiveAndAnswering()
    {
        var addresses = Enumerable.Range(0, 2).Select(i => _cluster[i].Services.GetRequiredService<ClusterMembershipService>().Self.ToString()).Order().ToList();

        foreach (var index in new[] { 0, 1 })
        {
            using var client = _cluster[index].CreateClient();
            // Answering, with a first sample taken (a silo samples once a second from its start).
            var silos = await EventuallyAsync(client, "silos", s => s.EnumerateArray().Count(x =>
                x.GetProperty("answering").GetBoolean() && x.GetProperty("memory_bytes").ValueKind == JsonValueKind.Number) == 2);

            Assert.Equal(addresses, silos.EnumerateArray().Select(s => s.GetProperty("silo").GetString()!).Order());
            Assert.All(silos.EnumerateArray(), s => Assert.Equal("active", s.GetProperty("status").GetString()));
            Assert.All(silos.EnumerateArray(), s => Assert.True(s.GetProperty("memory_bytes").GetInt64() > 0));
        }
    }

    [Fact]
    public async Task Overview_OnOneSilo_CountsCallsAndEntriesServedByTheOther()
    {
        using var first = _cluster[0].CreateClient();
        using var second = _cluster[1].CreateClient();
        // Calls made before a silo's first sample are in no second; begin once both silos sample.
        await EventuallyAsync(first, "silos", s => s.EnumerateArray().All(x => x.GetProperty("memory_bytes").ValueKind == JsonValueKind.Number));

        var wallets = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            wallets.Add(await second.FundedWalletAsync("50.00"));
        }

        var grains = await EventuallyAsync(first, "grains", g =>
            g.GetProperty("methods").EnumerateArray().Any(m => m.GetProperty("method").GetString() == "Transfer" && m.GetProperty("calls").GetInt64() >= 6));
        var overview = await EventuallyAsync(first, "overview", o =>
            o.GetProperty("series").EnumerateArray().Sum(p => p.GetProperty("entries").GetInt64()) >= 6);

        Assert.Equal(2, overview.GetProperty("silos_up").GetInt32());
        Assert.True(overview.GetProperty("series").EnumerateArray().Sum(p => p.GetProperty("calls").GetInt64()) >= 12);
        Assert.Contains(grains.GetProperty("activations_by_type").EnumerateArray(), a => a.GetProperty("name").GetString() == "IWalletGrain");
    }

    [Fact]
    public async Task Grains_WhileOpen_ShowTheWalletBeingCalledOnTheOtherSiloAsHot()
    {
        using var first = _cluster[0].CreateClient();
        using var second = _cluster[1].CreateClient();
        var wallet = await second.FundedWalletAsync("5.00");
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
            // Only an open grains page makes silos walk their activations; it is open from the first poll.
            var grains = await EventuallyAsync(first, "grains", g => g.GetProperty("hot_grains").EnumerateArray().Any(h => h.GetProperty("key").GetString() == wallet));

            var hot = grains.GetProperty("hot_grains").EnumerateArray().First(h => h.GetProperty("key").GetString() == wallet);
            Assert.Equal("IWalletGrain", hot.GetProperty("grain_type").GetString());
            Assert.True(hot.GetProperty("calls_per_second").GetDouble() > 0);
        }
        finally
        {
            await calling.CancelAsync();
            await calls;
        }
    }

    [Fact]
    public async Task Silos_AfterOneStops_ShowItLeavingOrDead()
    {
        using var first = _cluster[0].CreateClient();
        var stopped = _cluster[1].Services.GetRequiredService<ClusterMembershipService>().Self.ToString();

        await _cluster.StopSiloAsync(1);

        var silos = await EventuallyAsync(first, "silos", s => s.EnumerateArray().Any(x => x.GetProperty("silo").GetString() == stopped && x.GetProperty("status").GetString() == "dead"));
        var row = silos.EnumerateArray().Single(x => x.GetProperty("silo").GetString() == stopped);
        Assert.False(row.GetProperty("answering").GetBoolean());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("uptime_seconds").ValueKind);
        var overview = await (await first.GetAsync(new Uri("/dashboard/api/overview", UriKind.Relative))).Content.ReadAsync<JsonElement>();
        Assert.Equal(1, overview.GetProperty("silos_up").GetInt32());
        await _cluster.EnsureAllRunningAsync();
    }

    // The figures follow the cluster a second or two behind: poll as the page does.
    private static async Task<JsonElement> EventuallyAsync(HttpClient client, string path, Func<JsonElement, bool> done)
    {
        var body = default(JsonElement);
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                body = await (await client.GetAsync(new Uri($"/dashboard/api/{path}", UriKind.Relative))).Content.ReadAsync<JsonElement>();
                return (done(body), body.ToString());
            },
            Patience,
            $"/dashboard/api/{path} to show it");
        return body;
    }
}
