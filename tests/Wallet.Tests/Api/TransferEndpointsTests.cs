using System.Net;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>POST and GET /v1/transfers: the transfer as created is the transfer as read, within its tenant only.</summary>
public sealed class TransferEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    [Fact]
    public async Task GetTransfer_AfterCreate_ReturnsTheSameTransfer()
    {
        var alice = await Client.CreateWalletAsync();
        var bob = await Client.CreateWalletAsync();
        await Client.DepositAsync(alice, "50.00");
        var reference = "ref-" + Guid.NewGuid().ToString("N");

        using var response = await Client.PostJsonAsync("/v1/transfers",
            new { source = alice, destination = bob, amount = "12.30", reference, description = "lunch", metadata = new { table = 7 } });
        var created = await response.ExpectAsync(HttpStatusCode.Created);
        var read = await (await Client.GetAsync($"/v1/transfers/{created.Str("id")}")).ExpectAsync(HttpStatusCode.OK);

        Assert.StartsWith("tr_", created.Str("id"), StringComparison.Ordinal);
        Assert.Equal($"/v1/transfers/{created.Str("id")}", response.Headers.Location?.OriginalString);
        Assert.Equal(alice, created.Str("source"));
        Assert.Equal(bob, created.Str("destination"));
        Assert.Equal("12.30", created.Str("amount"));
        Assert.Equal("USD", created.Str("currency"));
        Assert.Equal("posted", created.Str("status"));
        Assert.Equal(reference, created.Str("reference"));
        Assert.Equal("lunch", created.Str("description"));
        Assert.Equal(7, created.GetProperty("metadata").GetProperty("table").GetInt32());
        foreach (var field in (string[])["id", "source", "destination", "amount", "currency", "status", "reference", "description"])
        {
            Assert.Equal(created.Str(field), read.Str(field));
        }

        Assert.Equal(created.GetProperty("created_at").GetDateTimeOffset(), read.GetProperty("created_at").GetDateTimeOffset());
        Assert.Equal(created.GetProperty("metadata").ToString(), read.GetProperty("metadata").ToString());
    }

    [Fact]
    public async Task GetTransfer_SystemAccounts_AreShownByName()
    {
        var wallet = await Client.CreateWalletAsync();
        var deposit = await Client.DepositAsync(wallet, "3.00");
        var spend = await Client.MoveAsync(wallet, "spend", "1.00");

        var readDeposit = await (await Client.GetAsync($"/v1/transfers/{deposit.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
        var readSpend = await (await Client.GetAsync($"/v1/transfers/{spend.Str("id")}")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("@treasury", wallet), (readDeposit.Str("source"), readDeposit.Str("destination")));
        Assert.Equal((wallet, "@revenue"), (readSpend.Str("source"), readSpend.Str("destination")));
        Assert.Equal("1.00", readSpend.Str("amount"));
    }

    [Fact]
    public async Task GetTransfer_UnknownOrAnotherTenants_Returns404TransferNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync("transfers-other");
        var theirWallet = await other.CreateWalletAsync();
        var theirs = await other.DepositAsync(theirWallet, "5.00");

        await (await Client.GetAsync("/v1/transfers/tr_doesnotexist")).ExpectProblemAsync(HttpStatusCode.NotFound, "transfer_not_found");
        await (await Client.GetAsync($"/v1/transfers/{theirs.Str("id")}")).ExpectProblemAsync(HttpStatusCode.NotFound, "transfer_not_found");
        Assert.Equal(theirs.Str("id"), (await (await other.GetAsync($"/v1/transfers/{theirs.Str("id")}")).ExpectAsync(HttpStatusCode.OK)).Str("id"));
    }

    [Fact]
    public async Task Transfer_ReferenceUsedTwice_Returns409WithoutSecondEffect()
    {
        var alice = await Client.CreateWalletAsync();
        var bob = await Client.CreateWalletAsync();
        await Client.DepositAsync(alice, "50.00");
        var reference = "invoice-" + Guid.NewGuid().ToString("N");

        await (await Client.PostJsonAsync("/v1/transfers", new { source = alice, destination = bob, amount = "10.00", reference })).ExpectAsync(HttpStatusCode.Created);
        using var again = await Client.PostJsonAsync("/v1/transfers", new { source = alice, destination = bob, amount = "10.00", reference });

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(ApiCalls.ProblemContentType, again.Content.Headers.ContentType?.MediaType);
        Assert.Equal("40.00", await Client.PostedAsync(alice));
        Assert.Equal("10.00", await Client.PostedAsync(bob));
        Assert.Equal(1, await api.Database.EntriesFromAsync(alice));
    }

    [Fact]
    public async Task Transfer_SystemToSystemWithoutCurrency_Returns400ValidationFailed()
    {
        await (await Client.PostJsonAsync("/v1/transfers", new { source = "@treasury", destination = "@promotions", amount = "1.00" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.TransferAsync("@treasury", "@promotions", "1.00", currency: "XYZ"))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
    }

    [Fact]
    public async Task Transfer_FromSystemAccountThatMayNotGoNegative_Returns402()
    {
        var wallet = await Client.CreateWalletAsync("SEK");

        foreach (var source in (string[])["@revenue", "@settlement", "@fees"])
        {
            await (await Client.TransferAsync(source, wallet, "1.00")).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        }

        Assert.Equal("0.00", await Client.PostedAsync(wallet));
    }

    /// <summary>
    /// Wallets that never moved are read from the row their activation loaded. Each pair is read
    /// first (activated, nothing committed yet), then the transfer is acknowledged: the destination,
    /// whose leg the source's commit wrote, and the source both show it at once.
    /// </summary>
    [Fact]
    public async Task Transfer_BetweenWalletsReadBeforeTheirFirstMovement_ShowsAtOnceOnBothSides()
    {
        for (var i = 0; i < 10; i++)
        {
            var (source, destination) = (await Client.CreateWalletAsync(), await Client.CreateWalletAsync());
            Assert.Equal("0.00", await Client.PostedAsync(source));
            Assert.Equal("0.00", await Client.PostedAsync(destination));

            await Client.DepositAsync(source, "10.00");
            Assert.Equal("10.00", await Client.PostedAsync(source));
            await (await Client.TransferAsync(source, destination, "2.50")).ExpectAsync(HttpStatusCode.Created);

            Assert.Equal("2.50", await Client.PostedAsync(destination));
            Assert.Equal("7.50", await Client.PostedAsync(source));
        }
    }
}
