using System.Net;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// Every refused request: the status, the problem's stable code, problem+json, and no effect on
/// any wallet it named (the wallet as GET shows it and its postings are unchanged).
/// </summary>
public sealed class BadRequestTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string UnknownWallet = "wal_doesnotexist0000";

    private HttpClient Client => api.Client;

    public static TheoryData<string, string> BadAmounts => new()
    {
        { "\"0\"", "invalid_amount" },
        { "\"-5\"", "invalid_amount" },
        { "\"1.001\"", "invalid_amount" },
        { "\"abc\"", "invalid_amount" },
        { "\"99999999999999999999999\"", "invalid_amount" },
        { "0", "invalid_amount" },
        { "-5", "invalid_amount" },
        { "1e400", "invalid_amount" },
        { "\"10000000000000.01\"", "invalid_amount" },
        { "true", "validation_failed" },
        { "{}", "validation_failed" },
        { "\"\"", "invalid_amount" },
    };

    [Theory]
    [MemberData(nameof(BadAmounts))]
    public async Task MoneyRoutes_BadAmount_Return400WithoutEffect(string amountJson, string code)
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");
        var body = $$"""{"amount": {{amountJson}}}""";
        var transfer = $$"""{"source": "{{wallet}}", "destination": "{{other}}", "amount": {{amountJson}}}""";

        await AssertNoEffectAsync([wallet, other], async () =>
        {
            foreach (var shorthand in (string[])["deposit", "withdraw", "spend", "bonus"])
            {
                await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/{shorthand}", body)).ExpectProblemAsync(HttpStatusCode.BadRequest, code);
            }

            await (await Client.PostJsonAsync("/v1/transfers", transfer)).ExpectProblemAsync(HttpStatusCode.BadRequest, code);
        });
    }

    [Fact]
    public async Task CreateWallet_UnknownCurrency_Returns400UnknownCurrency()
    {
        var owner = "unknown-currency-" + Guid.NewGuid().ToString("N");

        await (await Client.PostJsonAsync("/v1/wallets", new { currency = "XYZ", owner_id = owner }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");

        Assert.Equal(0, await api.Database.WalletCountAsync("default", owner));
    }

    [Fact]
    public async Task CreateWallet_BadOverdraftLimit_Returns400InvalidAmount()
    {
        var owner = "bad-overdraft-" + Guid.NewGuid().ToString("N");

        await (await Client.PostJsonAsync("/v1/wallets", new { currency = "USD", owner_id = owner, overdraft_limit = "-5" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_amount");
        await (await Client.PostJsonAsync("/v1/wallets", new { currency = "USD", owner_id = owner, overdraft_limit = "1.001" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_amount");

        Assert.Equal(0, await api.Database.WalletCountAsync("default", owner));
    }

    [Fact]
    public async Task MutatingRoutes_MalformedJson_Return400MalformedJson()
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");

        await AssertNoEffectAsync([wallet, other], async () =>
        {
            await (await Client.PostJsonAsync("/v1/wallets", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", "{\"amount\": \"1.00\"")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
            await (await Client.PostJsonAsync("/v1/transfers", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/freeze", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        });
        Assert.Equal("active", (await Client.GetWalletAsync(wallet)).Str("status"));
    }

    [Fact]
    public async Task MutatingRoutes_MissingOrMistypedField_Return400ValidationFailed()
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");

        await AssertNoEffectAsync([wallet, other], async () =>
        {
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", "{}")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = (string?)null }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/wallets", new { owner_id = "no-currency" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/wallets", new { currency = 840 })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/wallets", "[]")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { destination = other, amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { source = wallet, amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { source = wallet, destination = other }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { source = "@bank", destination = other, amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { source = wallet, destination = other, amount = "1.00", metadata = "text" }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync("/v1/transfers", new { source = wallet, destination = other, amount = "1.00", metadata = new { blob = new string('x', 17_000) } }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "1.00", description = new string('x', 70_000) }))
                .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        });
    }

    [Fact]
    public async Task WalletRoutes_UnknownWallet_Return404WalletNotFound()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");

        await AssertNoEffectAsync([wallet], async () =>
        {
            await (await Client.GetAsync($"/v1/wallets/{UnknownWallet}")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.GetAsync($"/v1/wallets/{UnknownWallet}/history")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostJsonAsync($"/v1/wallets/{UnknownWallet}/deposit", new { amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostJsonAsync($"/v1/wallets/{UnknownWallet}/spend", new { amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.TransferAsync(wallet, UnknownWallet, "1.00")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.TransferAsync(UnknownWallet, wallet, "1.00")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostEmptyAsync($"/v1/wallets/{UnknownWallet}/freeze")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.GetAsync("/v1/wallets/not-a-wallet-id")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        });
        Assert.Equal(0, await api.Database.PostingCountAsync(UnknownWallet));
    }

    [Fact]
    public async Task WalletRoutes_AnotherTenantsWallet_Return404WalletNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync("bad-request-other");
        var theirs = await other.CreateWalletAsync();
        await other.DepositAsync(theirs, "40.00");
        var mine = await Client.CreateWalletAsync();
        await Client.DepositAsync(mine, "50.00");
        var theirsBefore = await other.GetStringAsync($"/v1/wallets/{theirs}");
        var theirPostings = await api.Database.PostingCountAsync(theirs);

        await AssertNoEffectAsync([mine], async () =>
        {
            await (await Client.GetAsync($"/v1/wallets/{theirs}")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.GetAsync($"/v1/wallets/{theirs}/history")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostJsonAsync($"/v1/wallets/{theirs}/spend", new { amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostJsonAsync($"/v1/wallets/{theirs}/deposit", new { amount = "1.00" }))
                .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.TransferAsync(mine, theirs, "1.00")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            await (await Client.PostEmptyAsync($"/v1/wallets/{theirs}/freeze")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        });

        Assert.Equal(theirsBefore, await other.GetStringAsync($"/v1/wallets/{theirs}"));
        Assert.Equal(theirPostings, await api.Database.PostingCountAsync(theirs));
        var list = await (await Client.GetAsync("/v1/wallets?limit=200")).ExpectAsync(HttpStatusCode.OK);
        Assert.DoesNotContain(list.GetProperty("data").EnumerateArray(), w => w.Str("id") == theirs);
    }

    [Fact]
    public async Task AnyRoute_MissingOrWrongApiKey_Returns401Unauthorized()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");
        using var anonymous = api.Factory.CreateClient();
        using var wrongKey = api.Factory.CreateClient();
        wrongKey.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-key");
        using var wrongScheme = api.Factory.CreateClient();
        wrongScheme.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", WalletApiFactory.OperatorKey);

        await AssertNoEffectAsync([wallet], async () =>
        {
            foreach (var client in (HttpClient[])[anonymous, wrongKey, wrongScheme])
            {
                await (await client.GetAsync($"/v1/wallets/{wallet}")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
                await (await client.GetAsync("/v1/wallets")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
                await (await client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "1.00" }))
                    .ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
                await (await client.PostJsonAsync("/v1/wallets", new { currency = "USD" })).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
            }
        });
    }

    [Fact]
    public async Task OperatorRoutes_ClientRoleKey_Return403Forbidden()
    {
        using var client = await api.Factory.CreateTenantClientAsync("bad-request-client");

        await (await client.GetAsync("/v1/ledger/verify")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await client.PostJsonAsync("/v1/api-keys", new { tenant_id = "escalated", role = "operator" }))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        // The same key is good for the tenant's own routes.
        var wallet = await client.CreateWalletAsync();
        Assert.Equal("0.00", await client.PostedAsync(wallet));
    }

    [Fact]
    public async Task Transfer_AcrossCurrencies_Returns422CurrencyMismatch()
    {
        var dollars = await Client.CreateWalletAsync("USD");
        var euros = await Client.CreateWalletAsync("EUR");
        await Client.DepositAsync(dollars, "50.00");
        await Client.DepositAsync(euros, "50.00");

        await AssertNoEffectAsync([dollars, euros], async () =>
        {
            await (await Client.TransferAsync(dollars, euros, "10.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
            await (await Client.TransferAsync(euros, dollars, "10.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
            await (await Client.TransferAsync(dollars, "@revenue", "10.00", currency: "EUR"))
                .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
            await (await Client.TransferAsync("@treasury", dollars, "10.00", currency: "EUR"))
                .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
        });
    }

    [Fact]
    public async Task Transfer_ToItself_Returns400SameWallet()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");

        await AssertNoEffectAsync([wallet], async () =>
        {
            await (await Client.TransferAsync(wallet, wallet, "10.00")).ExpectProblemAsync(HttpStatusCode.BadRequest, "same_wallet");
            await (await Client.TransferAsync("@treasury", "@treasury", "10.00", currency: "USD")).ExpectProblemAsync(HttpStatusCode.BadRequest, "same_wallet");
        });
    }

    [Fact]
    public async Task Spend_FrozenWallet_Returns422WalletFrozenUntilUnfrozen()
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "50.00");
        await Client.DepositAsync(other, "1.00");

        var frozen = await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/freeze")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("frozen", frozen.Str("status"));
        await AssertNoEffectAsync([wallet, other], async () =>
        {
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "10.00" }))
                .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
            await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", new { amount = "10.00" }))
                .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
            await (await Client.TransferAsync(wallet, other, "10.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
        });

        // Credits still land on a frozen wallet.
        await Client.DepositAsync(wallet, "5.00");
        await (await Client.TransferAsync(other, wallet, "1.00")).ExpectAsync(HttpStatusCode.Created);
        var stillFrozen = await Client.GetWalletAsync(wallet);
        Assert.Equal("frozen", stillFrozen.Str("status"));
        Assert.Equal("56.00", stillFrozen.GetProperty("balance").Str("posted"));

        var unfrozen = await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/unfreeze")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("active", unfrozen.Str("status"));
        await Client.MoveAsync(wallet, "spend", "10.00");
        Assert.Equal("46.00", await Client.PostedAsync(wallet));
    }

    [Fact]
    public async Task Close_WalletHoldingMoney_Returns422InvalidStatusChange()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "10.00");

        await AssertNoEffectAsync([wallet], async () =>
            await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/close")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "invalid_status_change"));

        Assert.Equal("active", (await Client.GetWalletAsync(wallet)).Str("status"));
    }

    [Fact]
    public async Task EveryOperation_ClosedWallet_Returns422WalletClosed()
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "10.00");
        await Client.DepositAsync(other, "10.00");
        await Client.MoveAsync(wallet, "withdraw", "10.00");
        var closed = await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/close")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("closed", closed.Str("status"));

        await AssertNoEffectAsync([wallet, other], async () =>
        {
            foreach (var shorthand in (string[])["deposit", "spend", "withdraw"])
            {
                await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/{shorthand}", new { amount = "1.00" }))
                    .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_closed");
            }

            foreach (var change in (string[])["freeze", "unfreeze", "close"])
            {
                await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/{change}")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_closed");
            }

            await (await Client.TransferAsync(other, wallet, "1.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_closed");
            await (await Client.TransferAsync(wallet, other, "1.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_closed");
        });

        var shown = await Client.GetWalletAsync(wallet);
        Assert.Equal("closed", shown.Str("status"));
        Assert.Equal("0.00", shown.GetProperty("balance").Str("posted"));
        Assert.Equal(2, (await Client.HistoryAsync(wallet)).Count);
    }

    /// <summary>Runs <paramref name="act"/> and asserts that each wallet reads the same, with as many postings, after it.</summary>
    private async Task AssertNoEffectAsync(string[] wallets, Func<Task> act)
    {
        var before = await SnapshotAsync(wallets);
        await act();
        Assert.Equal(before, await SnapshotAsync(wallets));
    }

    private async Task<List<string>> SnapshotAsync(string[] wallets)
    {
        var snapshot = new List<string>();
        foreach (var wallet in wallets)
        {
            snapshot.Add($"{await Client.GetStringAsync($"/v1/wallets/{wallet}")} postings={await api.Database.PostingCountAsync(wallet)}");
        }

        return snapshot;
    }
}
