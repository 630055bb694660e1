using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wallet.Client;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Runtime;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>Two silos and the thin API process (<c>ApiApplication</c>) in front of them, shared by <see cref="ClusterClientTests"/>.</summary>
public sealed class TwoSilosAndApi() : ClusterFixture("cluster_client", 2)
{
    private InProcessHost? _api;

    public InProcessHost Api => _api ?? throw new InvalidOperationException("The fixture is not initialized.");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _api = await Cluster.StartApiAsync();
    }
}

/// <summary>
/// Processes that host no grains: the HTTP API as its own process and a plain service collection
/// with <c>AddWalletClient</c>. Everything they do crosses the cluster endpoint as JSON, so these
/// tests prove each grain contract survives the wire, and that an unreachable cluster fails fast
/// with a retryable error.
/// </summary>
public sealed class ClusterClientTests(TwoSilosAndApi fixture) : IClassFixture<TwoSilosAndApi>, IDisposable
{
    private readonly HttpClient _api = fixture.Api.CreateClient();

    private InProcessCluster Cluster => fixture.Cluster;

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task ApiProcess_AgainstTheCluster_IsReady()
    {
        using var ready = await _api.GetAsync("/health/ready");

        Assert.Equal((HttpStatusCode.OK, "Healthy"), (ready.StatusCode, await ready.Content.ReadAsStringAsync()));
        Assert.Equal(Cluster.Running.Select(s => s.Membership.Self).OrderBy(s => s.Endpoint, StringComparer.Ordinal),
            fixture.Api.GetService<Wallet.Runtime.Client.ClusterClientStatus>().ActiveSilos);
    }

    [Fact]
    public async Task ApiProcess_WalletsAndTransfers_MoveMoneyAndReplayIdempotentRequests()
    {
        var alice = await _api.CreateWalletAsync();
        var bob = await _api.CreateWalletAsync();
        await _api.DepositAsync(alice, "100.00");
        var key = ApiCalls.NewKey();
        var body = new { source = alice, destination = bob, amount = "30.25", reference = "ref-" + Guid.NewGuid().ToString("N") };

        using var first = await _api.PostJsonAsync("/v1/transfers", body, key);
        var created = await first.ExpectAsync(HttpStatusCode.Created);
        using var replay = await _api.PostJsonAsync("/v1/transfers", body, key);
        var replayed = await replay.ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(created.ToString(), replayed.ToString());
        Assert.Equal("true", replay.Header(CardCalls.ReplayedHeader));
        Assert.Equal((alice, bob, "30.25", "posted"), (created.Str("source"), created.Str("destination"), created.Str("amount"), created.Str("status")));
        Assert.Equal("69.75", await _api.PostedAsync(alice));
        Assert.Equal("30.25", await _api.PostedAsync(bob));
        var fromSilo = Cluster[0].CreateClient();
        using (fromSilo)
        {
            Assert.Equal("30.25", await fromSilo.PostedAsync(bob));
        }

        await (await _api.TransferAsync(bob, alice, "31.00")).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await _api.AssertVerifiedAsync();
    }

    [Fact]
    public async Task ApiProcess_HoldPlacedThenCaptured_PostsTheCaptureAndReleasesTheRest()
    {
        var wallet = await _api.FundedWalletAsync("50.00");

        var hold = await (await _api.PostJsonAsync("/v1/holds", new { wallet_id = wallet, amount = "20.00" })).ExpectAsync(HttpStatusCode.Created);
        await _api.AssertBalancesAsync(wallet, "50.00", "20.00", "30.00");
        var capture = await (await _api.PostJsonAsync($"/v1/holds/{hold.Str("id")}/capture", new { amount = "12.00", final = true }))
            .ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("captured", "12.00"), (capture.GetProperty("hold").Str("status"), capture.GetProperty("hold").Str("captured")));
        Assert.Equal("12.00", capture.GetProperty("transfer").Str("amount"));
        await _api.AssertBalancesAsync(wallet, "38.00", "0.00", "38.00");
        await _api.AssertVerifiedAsync();
    }

    [Fact]
    public async Task ApiProcess_CardAuthorizedCapturedAndDeclined_KeepsTheDecisionsAndBalances()
    {
        var (wallet, cardId) = await _api.FundedCardAsync("100.00", new { per_authorization = "60.00" });

        var approved = await _api.ApproveAsync(cardId, "40.00");
        var captured = await (await _api.ActAsync(approved.Str("id"), "capture", new { amount = "25.00" })).ExpectAsync(HttpStatusCode.OK);
        var declined = await (await _api.AuthorizeAsync(cardId, "61.00")).ExpectDeclinedAsync(_api, HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        Assert.Equal(("approved", "40.00", "25.00"), (captured.Str("status"), captured.Str("amount"), captured.Str("captured")));
        Assert.Equal((cardId, wallet), (approved.Str("card_id"), approved.Str("wallet_id")));
        Assert.Equal(approved.Str("id"), (await _api.GetAuthorizationAsync(approved.Str("id"))).Str("id"));
        Assert.Equal("active", (await _api.GetCardAsync(cardId)).Str("status"));
        Assert.Equal([declined.Str("authorization_id"), approved.Str("id")], await _api.DecisionIdsAsync(cardId));
        await _api.AssertBalancesAsync(wallet, "75.00", "15.00", "60.00");
        await _api.AssertVerifiedAsync();
    }

    [Fact]
    public async Task AddWalletClient_InAPlainServiceCollection_ReadsAWalletCreatedOverHttp()
    {
        var wallet = await _api.CreateWalletAsync("EUR", ownerId: "client-test");
        await _api.DepositAsync(wallet, "12.34");
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddWalletClient(o => o.Gateways = [.. Cluster.ClusterEndpoints])
            .BuildServiceProvider();

        var read = await services.GetRequiredService<IClusterClient>().GetGrain<IWalletGrain>(wallet).Get(ApiKeyStore.DefaultTenant);
        var hidden = await services.GetRequiredService<IClusterClient>().GetGrain<IWalletGrain>(wallet).Get("another-tenant");

        Assert.Null(read.Failure);
        var view = read.Wallet!;
        Assert.Equal((wallet, "EUR", "client-test", "active"), (view.Id, view.Currency, view.OwnerId, view.Status));
        Assert.Equal(new BalanceView("12.34", "0.00", "12.34"), view.Balance);
        Assert.Null(hidden.Wallet);
        Assert.Equal("wallet_not_found", hidden.Failure?.Code);
    }

    [Fact]
    public async Task Call_NoSiloListensOnAnyGateway_ThrowsRetryableAfterTryingEachGateway()
    {
        var logs = new CapturedLogs();
        string[] gateways = [.. Enumerable.Range(0, 2).Select(_ => $"127.0.0.1:{InProcessCluster.FreePort().ToString(CultureInfo.InvariantCulture)}")];
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(logs))
            .AddWalletClient(o => o.Gateways = [.. gateways])
            .BuildServiceProvider();
        var client = services.GetRequiredService<IClusterClient>();
        var clock = Stopwatch.StartNew();

        var failure = await Assert.ThrowsAnyAsync<RetryableGrainException>(() => client.GetGrain<IWalletGrain>("wal_nowhere").Get(ApiKeyStore.DefaultTenant));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"failed after {clock.ElapsedMilliseconds} ms");
        var unreachable = Assert.IsType<SiloUnreachableException>(failure);
        Assert.True(unreachable.NotDelivered, "a refused connection is known not to have delivered the call");
        var refused = logs.Lines.Where(l => l.Level == LogLevel.Warning && l.Text.Contains("refused a connection", StringComparison.Ordinal)).ToList();
        Assert.All(gateways, gateway => Assert.Contains(refused, l => l.Text.Contains(gateway, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Members_OnTheClusterPort_ListsTheActiveSilosOverHttp2()
    {
        using var http = new HttpClient
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var members = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://{Cluster.ClusterEndpoints[1]}/cluster/v1/members"))).RootElement;

        var listed = members.GetProperty("Silos").EnumerateArray()
            .Select(s => (s.GetProperty("Endpoint").GetString()!, s.GetProperty("Generation").GetInt64()));
        Assert.Equal(Cluster.Running.Select(s => (s.Membership.Self.Endpoint, s.Membership.Self.Generation)).OrderBy(s => s.Endpoint, StringComparer.Ordinal), listed);
        Assert.Equal(Cluster[1].Membership.View.Version, members.GetProperty("Version").GetInt64());
    }
}
