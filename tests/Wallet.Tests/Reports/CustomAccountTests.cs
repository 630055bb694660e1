using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Reports;

/// <summary>
/// Custom system accounts: an operator adds one of a type in an asset; transfers, entries and holds
/// name it like a built-in account, within what its type allows, and the reports show it under its type.
/// </summary>
public sealed class CustomAccountTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task ACustomAccount_TakesPostingsAsItsTypeAllows_AndTheReportsShowItUnderItsType()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("accounts");
        var start = (await (await tenant.GetAsync("/v1/reports/trial-balance")).ExpectAsync(HttpStatusCode.OK)).Str("as_of");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100.00");
        var marketing = await (await tenant.PostJsonAsync("/v1/accounts", new { name = "marketing", type = "expense", asset = "USD" })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(("@marketing", "expense", "USD", false), (marketing.Str("account"), marketing.Str("type"), marketing.Str("asset"), marketing.GetProperty("built_in").GetBoolean()));
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "escrow", type = "liability", asset = "usd" })).ExpectAsync(HttpStatusCode.Created);

        // An expense pays the wallet (an expense account may go below zero); the escrow holds what it was given, and no more.
        await (await tenant.PostJsonAsync("/v1/entries", new
        {
            currency = "USD",
            debits = new[] { new { account = "@marketing", amount = "15.00" } },
            credits = new[] { new { account = wallet, amount = "15.00" } },
        })).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.TransferAsync(wallet, "@escrow", "40.00")).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync("/v1/transfers", new { source = "@escrow", destination = wallet, amount = "10.00" })).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync("/v1/transfers", new { source = "@escrow", destination = wallet, amount = "31.00" }))
            .ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await (await tenant.PostJsonAsync("/v1/holds", new { wallet_id = wallet, destination = "@escrow", amount = "5.00" })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("85.00", await tenant.PostedAsync(wallet));

        var trial = (await (await tenant.GetAsync("/v1/reports/trial-balance?asset=USD")).ExpectAsync(HttpStatusCode.OK)).GetProperty("by_asset")[0];
        Assert.True(trial.GetProperty("balanced").GetBoolean());
        var lines = trial.GetProperty("accounts").EnumerateArray().ToDictionary(l => l.Str("account"));
        Assert.Equal(("expense", "15.00"), (lines["@marketing"].Str("type"), lines["@marketing"].Str("debit")));
        Assert.Equal(("liability", "30.00"), (lines["@escrow"].Str("type"), lines["@escrow"].Str("credit")));
        var now = (await (await tenant.GetAsync("/v1/reports/trial-balance")).ExpectAsync(HttpStatusCode.OK)).Str("as_of");
        var income = (await (await tenant.GetAsync($"/v1/reports/income-statement?from={Uri.EscapeDataString(start)}&to={Uri.EscapeDataString(now)}")).ExpectAsync(HttpStatusCode.OK))
            .GetProperty("by_asset")[0];
        Assert.Contains(income.GetProperty("expenses").EnumerateArray(), l => l.Str("account") == "@marketing" && l.Str("amount") == "15.00");
        var sheet = (await (await tenant.GetAsync("/v1/reports/balance-sheet?asset=USD")).ExpectAsync(HttpStatusCode.OK)).GetProperty("by_asset")[0];
        Assert.True(sheet.GetProperty("check").GetProperty("balanced").GetBoolean());
        Assert.Contains(sheet.GetProperty("liabilities").EnumerateArray(), l => l.Str("account") == "@escrow");

        var chart = (await (await tenant.GetAsync("/v1/accounts")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        Assert.Contains(chart, a => a.Str("account") == "@treasury" && a.Str("type") == "asset" && a.GetProperty("built_in").GetBoolean());
        Assert.Equal(["@escrow", "@marketing"], chart.Where(a => !a.GetProperty("built_in").GetBoolean()).Select(a => a.Str("account")));
        var audit = await (await tenant.GetAsync("/v1/audit?action=account.created")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, audit.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AnAccountNotAdded_OrInAnotherAsset_IsRefused()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("accounts-refused");
        var dollars = await tenant.CreateWalletAsync();
        var euros = await tenant.CreateWalletAsync("EUR");
        await tenant.DepositAsync(dollars, "10.00");
        await tenant.DepositAsync(euros, "10.00");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "escrow", type = "liability", asset = "USD" })).ExpectAsync(HttpStatusCode.Created);

        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "escrow", type = "liability", asset = "USD" })).ExpectProblemAsync(HttpStatusCode.Conflict, "account_exists");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "treasury", type = "asset", asset = "USD" })).ExpectProblemAsync(HttpStatusCode.Conflict, "account_exists");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "vault", type = "cash", asset = "USD" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "Vault!", type = "asset", asset = "USD" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "vault", type = "asset", asset = "ZZQ" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");

        // A name the tenant has in no asset is no account; one it has in another asset only is not found in this one.
        await (await tenant.TransferAsync(dollars, "@nowhere", "1.00")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/holds", new { wallet_id = dollars, destination = "@nowhere", amount = "1.00" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/accounts", new { name = "vault", type = "asset", asset = "EUR" })).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.TransferAsync(euros, "@escrow", "1.00")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await tenant.PostJsonAsync("/v1/holds", new { wallet_id = euros, destination = "@escrow", amount = "1.00" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await tenant.PostJsonAsync("/v1/entries", new
        {
            currency = "EUR",
            debits = new[] { new { account = euros, amount = "1.00" } },
            credits = new[] { new { account = "@escrow", amount = "1.00" } },
        })).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await tenant.PostJsonAsync("/v1/transfers", new { source = "@escrow", destination = "@vault", amount = "1.00", currency = "USD" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        Assert.Equal(("10.00", "10.00"), (await tenant.PostedAsync(dollars), await tenant.PostedAsync(euros)));
        var verify = await (await tenant.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
    }
}
