using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wallet.Grains.Wallets;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The budgets of the accounts that issue money (GET and PUT /v1/system-accounts/{account}/budget):
/// @treasury and @promotions give without limit until an operator sets one, and then never beyond it,
/// whichever way the money leaves them.
/// </summary>
public sealed class BudgetEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Budget_DepositsUpToIt_ThenTheNextIsRefusedWithWhatIsLeft()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallet = await tenant.CreateWalletAsync();

        var set = await (await PutAsync(tenant, "treasury", "USD", "100.00")).ExpectAsync(HttpStatusCode.OK);
        await tenant.DepositAsync(wallet, "60.00");
        var refused = await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "50.00" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");
        await tenant.DepositAsync(wallet, "40.00");
        var read = await (await tenant.GetAsync("/v1/system-accounts/treasury/budget?currency=USD")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("@treasury|USD|0.00|0.00|100.00|100.00", Describe(set));
        Assert.Equal("@treasury has 40.00 USD left of its budget; 50.00 requested", refused.Str("detail"));
        Assert.Equal("@treasury|USD|-100.00|100.00|100.00|0.00", Describe(read));
        Assert.Equal("100.00", await tenant.PostedAsync(wallet));
        Assert.Equal(-10_000, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Treasury, "USD")));
        await tenant.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Budget_ConcurrentDeposits_IssueExactlyTheBudget()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallets = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            wallets.Add(await tenant.CreateWalletAsync());
        }

        await (await PutAsync(tenant, "treasury", "USD", "200.00")).ExpectAsync(HttpStatusCode.OK);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var response = await tenant.PostUntilDecidedAsync($"/v1/wallets/{wallets[i % wallets.Count]}/deposit", new { amount = "10.00" });
            return response.StatusCode;
        }));

        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(30, statuses.Count(s => s == HttpStatusCode.PaymentRequired));
        Assert.Equal(-20_000, await api.Database.BalanceAsync(SystemAccounts.WalletId(tenantId, SystemAccounts.Treasury, "USD")));
        await tenant.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Budget_OnPromotions_LimitsBonusesInADeclaredAsset()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        await (await tenant.PostJsonAsync("/v1/assets", new { code = "GOLD", scale = 0 })).ExpectAsync(HttpStatusCode.Created);
        var wallet = await tenant.CreateWalletAsync("GOLD");
        await (await PutAsync(tenant, "@promotions", "GOLD", "20")).ExpectAsync(HttpStatusCode.OK);

        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/bonus", new { amount = "25" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");
        await tenant.MoveAsync(wallet, "bonus", "20");
        await tenant.DepositAsync(wallet, "100");

        Assert.Equal("120", await tenant.PostedAsync(wallet));
    }

    [Fact]
    public async Task Budget_HoldsForTransfersBetweenSystemAccountsAndMultiLegEntries()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallet = await tenant.CreateWalletAsync();
        await (await PutAsync(tenant, "treasury", "USD", "10.00")).ExpectAsync(HttpStatusCode.OK);

        await (await tenant.TransferAsync("@treasury", "@revenue", "10.01", currency: "USD")).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");
        await (await tenant.PostJsonAsync("/v1/entries", new
        {
            currency = "USD",
            debits = new[] { new { account = "@treasury", amount = "10.01" } },
            credits = new[] { new { account = wallet, amount = "10.01" } },
        })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");
        await (await tenant.TransferAsync("@treasury", "@revenue", "4.00", currency: "USD")).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "6.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");
        await tenant.DepositAsync(wallet, "6.00");

        var read = await (await tenant.GetAsync("/v1/system-accounts/treasury/budget?currency=USD")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("@treasury|USD|-10.00|10.00|10.00|0.00", Describe(read));
    }

    [Fact]
    public async Task Budget_MoneyBackToTheTreasury_CanBeIssuedAgain()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallet = await tenant.CreateWalletAsync();
        await (await PutAsync(tenant, "treasury", "USD", "50.00")).ExpectAsync(HttpStatusCode.OK);
        await tenant.DepositAsync(wallet, "50.00");
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");

        // The credit reaches the treasury's row only; its grain looks again before it refuses.
        await (await tenant.TransferAsync(wallet, "@treasury", "20.00")).ExpectAsync(HttpStatusCode.Created);
        await tenant.DepositAsync(wallet, "20.00");

        var read = await (await tenant.GetAsync("/v1/system-accounts/treasury/budget?currency=USD")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("@treasury|USD|-50.00|50.00|50.00|0.00", Describe(read));
        Assert.Equal("50.00", await tenant.PostedAsync(wallet));
    }

    [Fact]
    public async Task Budget_BelowWhatWasIssued_IsRefusedAndTheOldOneStays()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "50.00");

        var refused = await (await PutAsync(tenant, "treasury", "USD", "49.99")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "budget_below_issued");
        var read = await (await tenant.GetAsync("/v1/system-accounts/treasury/budget?currency=USD")).ExpectAsync(HttpStatusCode.OK);
        var exact = await (await PutAsync(tenant, "treasury", "USD", "50.00")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("@treasury has issued 50.00 USD; a budget may not be below that", refused.Str("detail"));
        Assert.Equal("@treasury|USD|-50.00|50.00|-|-", Describe(read));
        Assert.Equal("@treasury|USD|-50.00|50.00|50.00|0.00", Describe(exact));
    }

    [Fact]
    public async Task Budget_RemovedOrZero_IssuesWithoutLimitOrNotAtAll()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");
        var wallet = await tenant.CreateWalletAsync();
        await (await PutAsync(tenant, "treasury", "USD", "0")).ExpectAsync(HttpStatusCode.OK);
        var refused = await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "0.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "budget_exceeded");

        var removed = await (await PutAsync(tenant, "treasury", "USD", null)).ExpectAsync(HttpStatusCode.OK);
        await tenant.DepositAsync(wallet, "5000.00");

        Assert.Equal("@treasury has 0.00 USD left of its budget; 0.01 requested", refused.Str("detail"));
        Assert.Equal("@treasury|USD|0.00|0.00|-|-", Describe(removed));
        Assert.Equal("5000.00", await tenant.PostedAsync(wallet));
    }

    [Theory]
    [InlineData("revenue", """{"currency":"USD","amount":"5.00"}""", HttpStatusCode.BadRequest, "validation_failed")]
    [InlineData("bank", """{"currency":"USD","amount":"5.00"}""", HttpStatusCode.BadRequest, "validation_failed")]
    [InlineData("treasury", """{"currency":"USD"}""", HttpStatusCode.BadRequest, "validation_failed")]
    [InlineData("treasury", """{"amount":"5.00"}""", HttpStatusCode.BadRequest, "validation_failed")]
    [InlineData("treasury", """{"currency":"XYZ","amount":"5.00"}""", HttpStatusCode.BadRequest, "unknown_currency")]
    [InlineData("treasury", """{"currency":"USD","amount":"5.001"}""", HttpStatusCode.BadRequest, "invalid_amount")]
    [InlineData("treasury", """{"currency":"USD","amount":"-5"}""", HttpStatusCode.BadRequest, "invalid_amount")]
    [InlineData("treasury", """{"currency":"USD","amount":true}""", HttpStatusCode.BadRequest, "validation_failed")]
    public async Task SetBudget_InvalidRequest_IsAProblem(string account, string body, HttpStatusCode status, string code)
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");

        using var response = await tenant.PutAsync($"/v1/system-accounts/{account}/budget", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        await response.ExpectProblemAsync(status, code);
    }

    [Fact]
    public async Task Budget_WithAClientKeyOrWithoutCurrency_IsRefused()
    {
        using var client = await api.Factory.CreateTenantClientAsync($"budgets-{Guid.NewGuid():N}");
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("budgets");

        await (await PutAsync(client, "treasury", "USD", "1.00")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await client.GetAsync("/v1/system-accounts/treasury/budget?currency=USD")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await tenant.GetAsync("/v1/system-accounts/treasury/budget")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient client, string account, string currency, string? amount) =>
        client.PutAsJsonAsync($"/v1/system-accounts/{account}/budget", new { currency, amount });

    /// <summary>account|currency|balance|issued|budget|remaining, "-" for null.</summary>
    private static string Describe(JsonElement budget) => string.Join('|', new[] { "account", "currency", "balance", "issued", "budget", "remaining" }
        .Select(name => budget.GetProperty(name) is { ValueKind: JsonValueKind.Null } ? "-" : budget.Str(name)));
}
