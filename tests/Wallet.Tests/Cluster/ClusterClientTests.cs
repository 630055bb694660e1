using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Wallet.Client;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
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
/// Processes that host no grains: the HTTP API as its own process and a plain service with
/// <c>AddWalletClient</c>. Everything they do crosses Orleans' gateway and serializer, so these
/// tests prove each grain contract survives the wire.
/// </summary>
public sealed class ClusterClientTests(TwoSilosAndApi fixture) : IClassFixture<TwoSilosAndApi>, IDisposable
{
    private readonly HttpClient _api = fixture.Api.CreateClient();

    private InProcessCluster Cluster => fixture.Cluster;

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task ApiProcess_AgainstTheCluster_IsReadyAndSeesBothSilos()
    {
        using var ready = await _api.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal((HttpStatusCode.OK, "Healthy"), (ready.StatusCode, await ready.Content.ReadAsStringAsync()));
        var hosts = await fixture.Api.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(Cluster.Running.Select(s => s.SiloAddress).Order(), hosts.Keys.Order());
    }

    [Fact]
    public async Task ApiProcess_WalletsAndTransfers_MoveMoneyAndReplayIdempotentRequests()
    {
        var alice = await _api.CreateWalletAsync();
        var bob = await _api.CreateWalletAsync();
        await _api.DepositAsync(alice, "100.00");
        var key = ApiCalls.NewKey();
        var body = new { source = alice, destination = bob, amount = "30.25", reference = "ref-" + Guid.NewGuid().ToString("N"), metadata = new { order = 7 } };

        using var first = await _api.PostJsonAsync("/v1/transfers", body, key);
        var created = await first.ExpectAsync(HttpStatusCode.Created);
        using var replay = await _api.PostJsonAsync("/v1/transfers", body, key);
        var replayed = await replay.ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(created.ToString(), replayed.ToString());
        Assert.Equal("true", replay.Header(CardCalls.ReplayedHeader));
        Assert.Equal((alice, bob, "30.25", "posted"), (created.Str("source"), created.Str("destination"), created.Str("amount"), created.Str("status")));
        Assert.Equal(7, created.GetProperty("metadata").GetProperty("order").GetInt32());
        Assert.Equal("69.75", await _api.PostedAsync(alice));
        Assert.Equal("30.25", await _api.PostedAsync(bob));
        using (var fromSilo = Cluster[0].CreateClient())
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
    public async Task AddWalletClient_ThroughTheMembershipTable_ReadsAWalletCreatedOverHttp()
    {
        var wallet = await _api.CreateWalletAsync("EUR", ownerId: "client-test");
        await _api.DepositAsync(wallet, "12.34");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddWalletClient(o => o.ConnectionString = Cluster.ConnectionString);
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IClusterClient>();

        var read = await client.GetGrain<IWalletGrain>(wallet).Get(ApiKeyStore.DefaultTenant);
        var hidden = await client.GetGrain<IWalletGrain>(wallet).Get("another-tenant");
        await host.StopAsync();

        Assert.Null(read.Failure);
        var view = read.Wallet!;
        Assert.Equal((wallet, "EUR", "client-test", "active"), (view.Id, view.Currency, view.OwnerId, view.Status));
        Assert.Equal(new BalanceView("12.34", "0.00", "12.34"), view.Balance);
        Assert.Null(hidden.Wallet);
        Assert.Equal("wallet_not_found", hidden.Failure?.Code);
    }
}
