using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Grains.Wallets;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// Custom assets a tenant declares (POST and GET /v1/assets): the seed's GOLD flow on a fresh
/// tenant, what a declaration accepts, and that an asset is the declaring tenant's alone.
/// </summary>
public sealed class AssetEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task SeedFlow_InGoldOnAFreshTenant_EndsAt75GoldWithThreeBalancedEntries()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");
        var declared = await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0, name = "Gold (grams)" })).ExpectAsync(HttpStatusCode.Created);
        var wallet = await tenant.CreateWalletAsync("GOLD");

        var moves = new[] { await tenant.DepositAsync(wallet, "100"), await tenant.MoveAsync(wallet, "bonus", "25"), await tenant.MoveAsync(wallet, "spend", "50") };

        Assert.Equal(("GOLD", 0, "Gold (grams)", "declared"), (declared.Str("code"), declared.GetProperty("scale").GetInt32(), declared.Str("name"), declared.Str("kind")));
        Assert.Equal(["code", "scale", "name", "kind", "created_at"], declared.EnumerateObject().Select(p => p.Name));
        Assert.Equal("75", await tenant.PostedAsync(wallet));
        Assert.Equal(["@revenue", "@promotions", "@treasury"], (await tenant.HistoryAsync(wallet)).Select(h => h.Str("counterparty")));
        foreach (var move in moves)
        {
            var entry = await (await tenant.GetAsync($"/v1/entries/{move.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal("GOLD", entry.Str("currency"));
            Assert.Equal(Sum(entry, "debits"), Sum(entry, "credits"));
        }

        Assert.Equal(-100, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Treasury, "GOLD")));
        Assert.Equal(-25, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Promotions, "GOLD")));
        Assert.Equal(50, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Revenue, "GOLD")));
        await tenant.AssertVerifiedAsync();
    }

    [Fact]
    public async Task DeclaredAsset_TakesAmountsAtItsScaleOnly()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");
        await (await tenant.PostJsonAsync("/v1/assets", new { code = "PTS", scale = 0 })).ExpectAsync(HttpStatusCode.Created);
        var wallet = await tenant.CreateWalletAsync("PTS");

        var problem = await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "1.5" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_amount");

        Assert.Contains("PTS", problem.Str("detail"), StringComparison.Ordinal);
        await tenant.DepositAsync(wallet, "3");
        Assert.Equal("3", await tenant.PostedAsync(wallet));
    }

    [Fact]
    public async Task DeclareAsset_TheSameCodeAgain_IsAConflictAndTheFirstStays()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");
        await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0 })).ExpectAsync(HttpStatusCode.Created);

        var problem = await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 3 })).ExpectProblemAsync(HttpStatusCode.Conflict, "asset_exists");

        Assert.Contains("scale 0", problem.Str("detail"), StringComparison.Ordinal);
        var list = await (await tenant.GetAsync("/v1/assets")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(["GOLD/0"], list.GetProperty("data").EnumerateArray().Select(a => $"{a.Str("code")}/{a.GetProperty("scale").GetInt32()}"));
    }

    [Theory]
    [InlineData("USD", "ISO 4217")]
    [InlineData("JPY", "ISO 4217")]
    public async Task DeclareAsset_AnIsoCurrency_IsAConflict(string code, string said)
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");

        var problem = await (await tenant.PostJsonAsync("/v1/assets", new { code, scale = 2 })).ExpectProblemAsync(HttpStatusCode.Conflict, "asset_exists");

        Assert.Contains(said, problem.Str("detail"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"code":"gold","scale":0}""", "code")]
    [InlineData("""{"code":"GO","scale":0}""", "code")]
    [InlineData("""{"code":"1GOLD","scale":0}""", "code")]
    [InlineData("""{"code":"GOLD-BAR","scale":0}""", "code")]
    [InlineData("""{"code":"GOLD","scale":9}""", "scale")]
    [InlineData("""{"code":"GOLD","scale":-1}""", "scale")]
    [InlineData("""{"code":"GOLD","scale":"2"}""", "scale")]
    [InlineData("""{"code":"GOLD"}""", "scale")]
    [InlineData("""{"scale":0}""", "code")]
    [InlineData("""{"code":"GOLD","scale":0,"name":""}""", "name")]
    public async Task DeclareAsset_InvalidFields_Are400NamingTheField(string body, string field)
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");

        var problem = await (await tenant.PostJsonAsync("/v1/assets", body)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Contains(field, problem.Str("detail"), StringComparison.Ordinal);
        var list = await (await tenant.GetAsync("/v1/assets")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task DeclaredAsset_IsTheDeclaringTenantsAlone()
    {
        var (_, owner) = await api.Factory.CreateOperatorTenantAsync("assets");
        var (_, other) = await api.Factory.CreateOperatorTenantAsync("assets");
        await (await owner.PostJsonAsync("/v1/assets", new { code = "MILES", scale = 0 })).ExpectAsync(HttpStatusCode.Created);

        var problem = await (await other.PostJsonAsync("/v1/wallets", new { currency = "MILES" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");

        Assert.Contains("POST /v1/assets", problem.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(0, (await (await other.GetAsync("/v1/assets")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        // The other tenant may declare the code for itself, with a scale of its own.
        await (await other.PostJsonAsync("/v1/assets", new { code = "MILES", scale = 2 })).ExpectAsync(HttpStatusCode.Created);
        await other.CreateWalletAsync("MILES");
    }

    [Fact]
    public async Task UndeclaredAsset_IsAnUnknownCurrencyEverywhereItCanBeNamed()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");
        var wallet = await tenant.CreateWalletAsync();

        await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "GEMS" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
        await (await tenant.TransferAsync("@treasury", wallet, "1", currency: "GEMS")).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
        await (await tenant.PostJsonAsync("/v1/entries", new
        {
            currency = "GEMS",
            debits = new[] { new { account = "@treasury", amount = "1" } },
            credits = new[] { new { account = wallet, amount = "1" } },
        })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
    }

    [Fact]
    public async Task Assets_WithAClientKey_AreForbidden()
    {
        using var client = await api.Factory.CreateTenantClientAsync($"assets-{Guid.NewGuid():N}");

        await (await client.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0 })).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await client.GetAsync("/v1/assets")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task DeclareAsset_RetriedWithItsIdempotencyKey_ReplaysTheFirstAnswer()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("assets");
        var key = ApiCalls.NewKey();

        using var first = await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0 }, key);
        using var retry = await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0 }, key);
        using var other = await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 1 }, key);

        Assert.Equal((await first.ExpectAsync(HttpStatusCode.Created)).ToString(), (await retry.ExpectAsync(HttpStatusCode.Created)).ToString());
        Assert.Equal("true", retry.Header("Idempotent-Replayed"));
        await other.ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
    }

    [Fact]
    public async Task ConfiguredAsset_IsListedForEveryTenantAndCannotBeDeclared()
    {
        await using var factory = await WalletApiFactory.CreateAsync("configured_asset", new() { ["Currencies:Custom:GOLD"] = "3" });
        using var tenant = await factory.CreateTenantClientAsync($"assets-{Guid.NewGuid():N}", role: "operator");
        await (await tenant.PostJsonAsync("/v1/assets", new { code = "PTS", scale = 0 })).ExpectAsync(HttpStatusCode.Created);

        var list = await (await tenant.GetAsync("/v1/assets")).ExpectAsync(HttpStatusCode.OK);
        var problem = await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 3 })).ExpectProblemAsync(HttpStatusCode.Conflict, "asset_exists");

        Assert.Equal(["GOLD/3/configured", "PTS/0/declared"],
            list.GetProperty("data").EnumerateArray().Select(a => $"{a.Str("code")}/{a.GetProperty("scale").GetInt32()}/{a.Str("kind")}"));
        Assert.Equal(JsonValueKind.Null, list.GetProperty("data")[0].GetProperty("created_at").ValueKind);
        Assert.Contains("configured", problem.Str("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAConfiguredAssetATenantDeclaredAtAnotherScale_IsRefused()
    {
        string connectionString;
        var tenantId = $"assets-{Guid.NewGuid():N}";
        await using (var first = await WalletApiFactory.CreateAsync("asset_clash"))
        {
            using var tenant = await first.CreateTenantClientAsync(tenantId, role: "operator");
            await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 3 })).ExpectAsync(HttpStatusCode.Created);
            connectionString = first.ConnectionString;
        }

        var refused = Assert.ThrowsAny<Exception>(() => WalletApiFactory.Start(connectionString, new() { ["Currencies:Custom:GOLD"] = "0" }));
        await using var sameScale = WalletApiFactory.Start(connectionString, new() { ["Currencies:Custom:GOLD"] = "3" });

        Assert.Contains($"Currencies:Custom:GOLD is 0, tenant '{tenantId}' declared GOLD with scale 3.", refused.ToString(), StringComparison.Ordinal);
        using var client = await sameScale.CreateTenantClientAsync(tenantId, role: "operator");
        var wallet = await client.CreateWalletAsync("GOLD");
        await client.DepositAsync(wallet, "7.125");
        Assert.Equal("7.125", await client.PostedAsync(wallet));
        // Declared and configured, GOLD is listed once: as the configured asset that serves it.
        Assert.Equal(["GOLD/configured"], (await client.ListAllAsync("/v1/assets", limit: 1)).Select(a => $"{a.Str("code")}/{a.Str("kind")}"));
    }

    [Fact]
    public async Task ListAssets_PageByPage_GivesConfiguredAndDeclaredOnceEachInCodeOrder()
    {
        await using var factory = await WalletApiFactory.CreateAsync("asset_pages", new() { ["Currencies:Custom:GOLD"] = "3", ["Currencies:Custom:MILES"] = "0" });
        using var tenant = await factory.CreateTenantClientAsync($"assets-{Guid.NewGuid():N}", role: "operator");
        foreach (var code in new[] { "ZED", "AAA", "PTS" })
        {
            await (await tenant.PostJsonAsync("/v1/assets", new { code, scale = 0 })).ExpectAsync(HttpStatusCode.Created);
        }

        var pages = await tenant.ListAllAsync("/v1/assets", limit: 2);
        var first = await (await tenant.GetAsync("/v1/assets?limit=2")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(["AAA/declared", "GOLD/configured", "MILES/configured", "PTS/declared", "ZED/declared"], pages.Select(a => $"{a.Str("code")}/{a.Str("kind")}"));
        Assert.Equal("GOLD", first.Str("next_cursor"));
        await (await tenant.GetAsync("/v1/assets?cursor=not-a-code")).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_cursor");
    }

    private static decimal Sum(JsonElement entry, string side) =>
        entry.GetProperty(side).EnumerateArray().Sum(leg => decimal.Parse(leg.Str("amount"), CultureInfo.InvariantCulture));
}
