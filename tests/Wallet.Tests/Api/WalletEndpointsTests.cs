using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Grains.Wallets;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>The wallet routes: amounts and currencies, overdraft, the list and its filters, history.</summary>
public sealed class WalletEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    [Fact]
    public async Task CreateWallet_WithOwnerAndMetadata_ReturnsTheWallet()
    {
        var owner = NewOwner();

        using var response = await Client.PostJsonAsync("/v1/wallets", new { currency = "EUR", owner_id = owner, metadata = new { plan = "gold", tier = 2 } });

        var wallet = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.StartsWith("wal_", wallet.Str("id"), StringComparison.Ordinal);
        Assert.Equal($"/v1/wallets/{wallet.Str("id")}", response.Headers.Location?.OriginalString);
        Assert.Equal("EUR", wallet.Str("currency"));
        Assert.Equal("active", wallet.Str("status"));
        Assert.Equal(owner, wallet.Str("owner_id"));
        Assert.Equal("gold", wallet.GetProperty("metadata").Str("plan"));
        Assert.Equal(2, wallet.GetProperty("metadata").GetProperty("tier").GetInt32());
        var balance = wallet.GetProperty("balance");
        Assert.Equal(("0.00", "0.00", "0.00"), (balance.Str("posted"), balance.Str("pending"), balance.Str("available")));
        Assert.True(wallet.GetProperty("created_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(wallet.ToString(), (await Client.GetWalletAsync(wallet.Str("id"))).ToString());
    }

    [Fact]
    public async Task Deposit_JsonNumberAmount_IsAcceptedExactly()
    {
        var wallet = await Client.CreateWalletAsync();

        var transfer = await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", """{"amount": 149.99}""")).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal("149.99", transfer.Str("amount"));
        Assert.Equal("@treasury", transfer.Str("source"));
        Assert.Equal(wallet, transfer.Str("destination"));
        Assert.Equal("USD", transfer.Str("currency"));
        Assert.Equal("149.99", await Client.PostedAsync(wallet));
        var exponent = await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", """{"amount": 1.5e1}""")).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("15.00", exponent.Str("amount"));
        Assert.Equal("164.99", await Client.PostedAsync(wallet));
    }

    [Fact]
    public async Task Deposit_LargestAmount_IsAcceptedExactly()
    {
        var wallet = await Client.CreateWalletAsync("EUR");

        var transfer = await Client.DepositAsync(wallet, "10000000000000.00");

        Assert.Equal("10000000000000.00", transfer.Str("amount"));
        Assert.Equal("10000000000000.00", await Client.PostedAsync(wallet));
        Assert.Equal(1_000_000_000_000_000, await api.Database.BalanceAsync(wallet));
    }

    [Fact]
    public async Task Deposit_Jpy_HasNoDecimals()
    {
        var wallet = await Client.CreateWalletAsync("JPY");

        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "1.5" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_amount");
        var transfer = await Client.DepositAsync(wallet, "150");

        Assert.Equal("150", transfer.Str("amount"));
        Assert.Equal("JPY", transfer.Str("currency"));
        Assert.Equal("150", await Client.PostedAsync(wallet));
        Assert.Equal(1, await api.Database.PostingCountAsync(wallet));
    }

    [Fact]
    public async Task Deposit_CustomAssetWithScaleThree_AcceptsThreeDecimals()
    {
        await using var factory = await WalletApiFactory.CreateAsync("custom_asset", new() { ["Currencies:Custom:GOLD"] = "3" });
        using var client = factory.CreateOperatorClient();
        var wallet = await client.CreateWalletAsync("GOLD");

        var transfer = await client.DepositAsync(wallet, "1.234");
        await (await client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "0.0001" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_amount");

        Assert.Equal("1.234", transfer.Str("amount"));
        Assert.Equal("GOLD", transfer.Str("currency"));
        Assert.Equal("1.234", await client.PostedAsync(wallet));
        await (await Client.PostJsonAsync("/v1/wallets", new { currency = "GOLD" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
    }

    [Fact]
    public async Task Spend_WithOverdraftLimit_GoesNegativeToTheLimitAndNoFurther()
    {
        var wallet = await Client.CreateWalletAsync(overdraftLimit: "50.00");
        await Client.DepositAsync(wallet, "10.00");
        var created = await Client.GetWalletAsync(wallet);
        Assert.Equal("50.00", created.Str("overdraft_limit"));
        Assert.Equal("60.00", created.GetProperty("balance").Str("available"));

        await Client.MoveAsync(wallet, "spend", "45.00");
        await Client.MoveAsync(wallet, "spend", "15.00");
        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "0.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");

        var balance = (await Client.GetWalletAsync(wallet)).GetProperty("balance");
        Assert.Equal("-50.00", balance.Str("posted"));
        Assert.Equal("0.00", balance.Str("available"));
        Assert.Equal(-5_000, await api.Database.BalanceAsync(wallet));
        Assert.Equal(3, await api.Database.PostingCountAsync(wallet));
    }

    [Fact]
    public async Task TopUpBonusSpend_OnAFreshTenant_EndsAt75WithPromotionsIssuingTheBonus()
    {
        var tenantId = $"seed-{Guid.NewGuid():N}";
        using var tenant = await api.Factory.CreateTenantClientAsync(tenantId);
        var wallet = await tenant.CreateWalletAsync();

        await tenant.DepositAsync(wallet, "100.00");
        var bonus = await tenant.MoveAsync(wallet, "bonus", "25.00");
        await tenant.MoveAsync(wallet, "spend", "50.00");

        Assert.Equal("@promotions", bonus.Str("source"));
        Assert.Equal("75.00", await tenant.PostedAsync(wallet));
        Assert.Equal(["@revenue", "@promotions", "@treasury"], (await tenant.HistoryAsync(wallet)).Select(h => h.Str("counterparty")));
        Assert.Equal(-2_500, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Promotions, "USD")));
        Assert.Equal(-10_000, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Treasury, "USD")));
        Assert.Equal(5_000, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Revenue, "USD")));
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task ListWallets_FilterByOwner_ReturnsOnlyThatOwnersWallets()
    {
        var owner = NewOwner();
        var mine = new[] { await Client.CreateWalletAsync(ownerId: owner), await Client.CreateWalletAsync(ownerId: owner) };
        await Client.CreateWalletAsync(ownerId: NewOwner());
        await Client.CreateWalletAsync();

        var page = await (await Client.GetAsync($"/v1/wallets?owner_id={owner}")).ExpectAsync(HttpStatusCode.OK);

        var ids = page.GetProperty("data").EnumerateArray().Select(w => w.Str("id")).ToArray();
        Assert.Equal(mine.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task ListWallets_FilterByStatusAndCurrency_ReturnsOnlyMatches()
    {
        var owner = NewOwner();
        var active = await Client.CreateWalletAsync("USD", owner);
        var frozen = await Client.CreateWalletAsync("USD", owner);
        var euros = await Client.CreateWalletAsync("EUR", owner);
        await (await Client.PostEmptyAsync($"/v1/wallets/{frozen}/freeze")).ExpectAsync(HttpStatusCode.OK);

        var frozenList = await ListAsync("status=frozen");
        var euroList = await ListAsync("currency=EUR");
        var activeDollarList = await ListAsync("status=active&currency=USD");
        var frozenIds = frozenList.Select(w => w.Str("id")).ToList();
        var euroIds = euroList.Select(w => w.Str("id")).ToList();
        var activeDollarIds = activeDollarList.Select(w => w.Str("id")).ToList();

        Assert.All(frozenList, w => Assert.Equal("frozen", w.Str("status")));
        Assert.All(euroList, w => Assert.Equal("EUR", w.Str("currency")));
        Assert.All(activeDollarList, w => Assert.Equal(("active", "USD"), (w.Str("status"), w.Str("currency"))));
        Assert.Contains(frozen, frozenIds);
        Assert.DoesNotContain(active, frozenIds);
        Assert.DoesNotContain(euros, frozenIds);
        Assert.Contains(euros, euroIds);
        Assert.DoesNotContain(active, euroIds);
        Assert.Contains(active, activeDollarIds);
        Assert.DoesNotContain(frozen, activeDollarIds);
        Assert.DoesNotContain(euros, activeDollarIds);
        await (await Client.GetAsync("/v1/wallets?status=sleeping")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task ListWallets_SmallLimit_WalksAllPagesWithoutDuplicates()
    {
        var created = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            created.Add(await Client.CreateWalletAsync());
        }

        var seen = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await (await Client.GetAsync("/v1/wallets?limit=3" + (cursor is null ? "" : $"&cursor={cursor}"))).ExpectAsync(HttpStatusCode.OK);
            var data = page.GetProperty("data").EnumerateArray().Select(w => w.Str("id")).ToList();
            Assert.InRange(data.Count, 1, 3);
            seen.AddRange(data);
            cursor = page.GetProperty("next_cursor").GetString();
            Assert.True(cursor is null || data.Count == 3, "only the last page may be short");
            pages++;
            Assert.True(pages < 1_000, "the cursor never ends");
        }
        while (cursor is not null);

        Assert.Equal(seen.Count, seen.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Subset(seen.ToHashSet(StringComparer.Ordinal), created.ToHashSet(StringComparer.Ordinal)); // every wallet made here was listed
        Assert.True(pages >= 3);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=500")]
    [InlineData("limit=-1")]
    [InlineData("limit=ten")]
    public async Task ListWallets_LimitOutOfRange_Returns400ValidationFailed(string query)
    {
        await (await Client.GetAsync($"/v1/wallets?{query}")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task History_AfterMixedMovements_IsNewestFirstWithRunningBalanceAndCounterparty()
    {
        var wallet = await Client.CreateWalletAsync();
        var friend = await Client.CreateWalletAsync();
        await Client.DepositAsync(friend, "10.00");
        await (await Client.TransferAsync("@treasury", "@promotions", "5.00", currency: "USD")).ExpectAsync(HttpStatusCode.Created);

        await Client.DepositAsync(wallet, "100.00");
        await Client.MoveAsync(wallet, "spend", "30.00");
        await (await Client.TransferAsync(wallet, friend, "20.00")).ExpectAsync(HttpStatusCode.Created);
        await (await Client.TransferAsync(friend, wallet, "5.00")).ExpectAsync(HttpStatusCode.Created);
        await Client.MoveAsync(wallet, "bonus", "2.50");
        await Client.MoveAsync(wallet, "withdraw", "7.50");

        var history = await Client.HistoryAsync(wallet, limit: 2);

        var expected = new (string Direction, string Amount, string BalanceAfter, string Counterparty)[]
        {
            ("debit", "7.50", "50.00", "@settlement"),
            ("credit", "2.50", "57.50", "@promotions"),
            ("credit", "5.00", "55.00", friend),
            ("debit", "20.00", "50.00", friend),
            ("debit", "30.00", "70.00", "@revenue"),
            ("credit", "100.00", "100.00", "@treasury"),
        };
        Assert.Equal(expected, history.Select(h => (h.Str("direction"), h.Str("amount").TrimStart('-'), h.Str("balance_after"), h.Str("counterparty"))));
        var seqs = history.Select(h => h.GetProperty("seq").GetInt64()).ToArray();
        Assert.Equal(seqs.OrderDescending(), seqs);
        Assert.Equal(seqs.Length, seqs.Distinct().Count());
        Assert.All(history, h => Assert.Equal("USD", h.Str("currency")));
        Assert.All(history, h => Assert.StartsWith("tr_", h.Str("transfer_id"), StringComparison.Ordinal));
        Assert.Equal("50.00", await Client.PostedAsync(wallet));
    }

    [Fact]
    public async Task History_RunningBalance_MatchesSignedAmounts()
    {
        var wallet = await Client.CreateWalletAsync();
        foreach (var (shorthand, amount) in new[] { ("deposit", "12.34"), ("spend", "0.34"), ("deposit", "8.00"), ("withdraw", "19.99") })
        {
            await Client.MoveAsync(wallet, shorthand, amount);
        }

        var history = await Client.HistoryAsync(wallet);

        // Oldest first, each balance_after is the previous one plus the signed movement.
        decimal running = 0;
        foreach (var item in Enumerable.Reverse(history))
        {
            var amount = decimal.Parse(item.Str("amount").TrimStart('-'), CultureInfo.InvariantCulture);
            running += item.Str("direction") == "credit" ? amount : -amount;
            Assert.Equal(running.ToString("0.00", CultureInfo.InvariantCulture), item.Str("balance_after"));
        }

        Assert.Equal("0.01", await Client.PostedAsync(wallet));
        Assert.Equal("0.01", history[0].Str("balance_after"));
    }

    private async Task<List<JsonElement>> ListAsync(string filter)
    {
        var wallets = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await (await Client.GetAsync($"/v1/wallets?{filter}&limit=200" + (cursor is null ? "" : $"&cursor={cursor}"))).ExpectAsync(HttpStatusCode.OK);
            wallets.AddRange(page.GetProperty("data").EnumerateArray());
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        return wallets;
    }

    private static string NewOwner() => "owner-" + Guid.NewGuid().ToString("N");
}
