using System.Net;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

// Malformed, out-of-range and foreign input: refused without effect.
public sealed partial class HoldTests
{
    public static TheoryData<string> BadExpiries => ["0", "-1", "2678401", "1.5", "\"60\"", "true", "{}"];

    [Theory]
    [MemberData(nameof(BadRequestTests.BadAmounts), MemberType = typeof(BadRequestTests))]
    public async Task PlaceHold_BadAmount_Returns400WithoutEffect(string amountJson, string code)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        await (await PlaceAsync(Client, $$"""{"wallet_id": "{{wallet}}", "amount": {{amountJson}}}""")).ExpectProblemAsync(HttpStatusCode.BadRequest, code);

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Theory]
    [MemberData(nameof(BadRequestTests.BadAmounts), MemberType = typeof(BadRequestTests))]
    public async Task CaptureHold_BadAmount_Returns400WithoutEffect(string amountJson, string code)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await CaptureAsync(Client, holdId, $$"""{"amount": {{amountJson}}}""")).ExpectProblemAsync(HttpStatusCode.BadRequest, code);

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(0, await api.Database.EntriesFromAsync(wallet));
    }

    [Fact]
    public async Task PlaceHold_UnknownOrAnotherTenantsWallet_Returns404WalletNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var theirs = await FundedWalletAsync(other, "40.00");

        await (await PlaceAsync(Client, new { wallet_id = UnknownWallet, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = theirs, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");

        await AssertBalancesAsync(other, theirs, "40.00", "0.00", "40.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(theirs, "open"));
    }

    [Theory]
    [MemberData(nameof(BadExpiries))]
    public async Task PlaceHold_ExpiryNotAWholeNumberOfSecondsInRange_Returns400ValidationFailed(string secondsJson)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        await (await PlaceAsync(Client, $$"""{"wallet_id": "{{wallet}}", "amount": "10.00", "expires_in_seconds": {{secondsJson}}}"""))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task PlaceHold_LongestExpiry_IsAccepted()
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        var hold = await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", expires_in_seconds = LongestExpirySeconds })).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(TimeSpan.FromSeconds(LongestExpirySeconds), hold.GetProperty("expires_at").GetDateTimeOffset() - hold.GetProperty("created_at").GetDateTimeOffset());
        await AssertBalancesAsync(Client, wallet, "50.00", "10.00", "40.00");
    }

    [Fact]
    public async Task PlaceHold_BadDestination_IsRefusedWithoutEffect()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var theirs = await other.CreateWalletAsync();
        var wallet = await FundedWalletAsync(Client, "50.00");
        var euros = await Client.CreateWalletAsync("EUR");

        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = euros }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = wallet }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "same_wallet");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = UnknownWallet }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = theirs }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = "@nowhere" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        await AssertBalancesAsync(Client, euros, "0.00", "0.00", "0.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task HoldRoutes_MalformedOrMistypedBody_Return400WithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await PlaceAsync(Client, "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        await (await PlaceAsync(Client, new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = wallet })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = 7, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "1.00", metadata = "text" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await CaptureAsync(Client, holdId, "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        await (await CaptureAsync(Client, holdId, new { amount = "1.00", final = "yes" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.PostJsonAsync($"/v1/holds/{holdId}/void", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task HoldRoutes_UnknownOrAnotherTenantsHold_Return404HoldNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await other.GetAsync($"/v1/holds/{holdId}")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await CaptureAsync(other, holdId, new { amount = "5.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await VoidAsync(other, holdId)).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await Client.GetAsync("/v1/holds/hold_doesnotexist")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await CaptureAsync(Client, "hold_doesnotexist", new { })).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await VoidAsync(Client, "hold_doesnotexist")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(0, await api.Database.EntriesFromAsync(wallet));
    }
}
