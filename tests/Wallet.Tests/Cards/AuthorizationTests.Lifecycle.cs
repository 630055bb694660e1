using System.Net;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// What follows an approval: captures (partial, final, all that is held), reversals, increments
/// against the card's limits and the wallet's funds, and their refusal once the authorization is
/// closed; each replayed under its Idempotency-Key.
/// </summary>
public sealed partial class AuthorizationTests
{
    [Fact]
    public async Task Capture_PartialThenFinal_PostsToSettlementAndReleasesTheRest()
    {
        var tenantId = CardCalls.NewTenant("captures");
        using var tenant = await api.Factory.CreateTenantClientAsync(tenantId);
        var (wallet, cardId) = await tenant.FundedCardAsync("150.00");
        var id = (await tenant.ApproveAsync(cardId, "100.00")).Str("id");

        var first = await (await tenant.ActAsync(id, "capture", new { amount = "30.00" })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("approved", "100.00", "30.00"), Summary(first));
        await tenant.AssertBalancesAsync(wallet, "120.00", "70.00", "50.00");

        var second = await (await tenant.ActAsync(id, "capture", new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("approved", "100.00", "50.00"), Summary(second));

        var last = await (await tenant.ActAsync(id, "capture", new { amount = "5.00", final = true })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("captured", "100.00", "55.00"), Summary(last));
        Assert.Equal((id, cardId, last.Str("hold_id")), (last.Str("id"), last.Str("card_id"), (await tenant.GetAuthorizationAsync(id)).Str("hold_id")));
        Assert.Equal(last.ToString(), (await tenant.GetAuthorizationAsync(id)).ToString());
        await tenant.AssertBalancesAsync(wallet, "95.00", "0.00", "95.00");
        Assert.Equal(5_500, await api.Database.BalanceAsync($"sys:{tenantId}:settlement:USD"));
        Assert.Equal(["5.00", "20.00", "30.00"], (await tenant.HistoryAsync(wallet)).Where(h => h.Str("direction") == "debit").Select(h => h.Str("amount").TrimStart('-')));

        await (await tenant.ActAsync(id, "capture", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
        await tenant.AssertBalancesAsync(wallet, "95.00", "0.00", "95.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Capture_WithoutAmount_CapturesAllThatIsHeld()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "64.00")).Str("id");
        await (await Client.ActAsync(id, "capture", new { amount = "14.00" })).ExpectAsync(HttpStatusCode.OK);

        var rest = await (await Client.PostEmptyAsync($"/v1/authorizations/{id}/capture")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("captured", "64.00", "64.00"), Summary(rest));
        await Client.AssertBalancesAsync(wallet, "36.00", "0.00", "36.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Capture_MoreThanHeld_Returns422AndChangesNothing()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "50.00")).Str("id");
        await (await Client.ActAsync(id, "capture", new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);

        await (await Client.ActAsync(id, "capture", new { amount = "30.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "amount_exceeds_hold");
        await (await Client.ActAsync(id, "capture", new { amount = "0" })).ExpectAsync(HttpStatusCode.BadRequest);

        Assert.Equal(("approved", "50.00", "20.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "80.00", "30.00", "50.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Capture_FinalBelowTheAmount_CountsOnlyWhatWasCapturedAgainstTheLimit()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { daily = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "100.00")).Str("id");
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        await (await Client.ActAsync(id, "capture", new { amount = "30.00", final = true })).ExpectAsync(HttpStatusCode.OK);

        await Client.ApproveAsync(cardId, "70.00");
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await Client.AssertBalancesAsync(wallet, "470.00", "70.00", "400.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Reverse_Partial_ReducesAmountPendingAndWhatCountsAgainstTheLimit()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { daily = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "100.00")).Str("id");

        var reversed = await (await Client.ActAsync(id, "reverse", new { amount = "40.00" })).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("approved", "60.00", "0.00"), Summary(reversed));
        Assert.Equal(reversed.ToString(), (await Client.GetAuthorizationAsync(id)).ToString());
        await Client.AssertBalancesAsync(wallet, "500.00", "60.00", "440.00");
        await Client.ApproveAsync(cardId, "40.00");
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await (await Client.ActAsync(id, "reverse", new { amount = "60.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "amount_exceeds_hold");
        await Client.AssertBalancesAsync(wallet, "500.00", "100.00", "400.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Reverse_WithoutAmount_MarksReversedAndReleasesEverything()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00", new { daily = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "70.00")).Str("id");
        await (await Client.ActAsync(id, "capture", new { amount = "10.00" })).ExpectAsync(HttpStatusCode.OK);

        var reversed = await (await Client.PostEmptyAsync($"/v1/authorizations/{id}/reverse")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("reversed", reversed.Str("status"));
        Assert.Equal("reversed", (await Client.GetAuthorizationAsync(id)).Str("status"));
        await Client.AssertBalancesAsync(wallet, "90.00", "0.00", "90.00");
        await Client.ApproveAsync(cardId, "90.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task ClosedOrDeclinedAuthorization_CaptureReverseIncrement_Return422AuthorizationClosed()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var captured = (await Client.ApproveAsync(cardId, "10.00")).Str("id");
        await (await Client.ActAsync(captured, "capture", new { })).ExpectAsync(HttpStatusCode.OK);
        var reversed = (await Client.ApproveAsync(cardId, "10.00")).Str("id");
        await (await Client.ActAsync(reversed, "reverse", new { })).ExpectAsync(HttpStatusCode.OK);
        var declined = (await (await Client.AuthorizeAsync(cardId, "500.00")).ExpectDeclinedAsync(Client, HttpStatusCode.PaymentRequired, "insufficient_funds")).Str("authorization_id");

        foreach (var id in new[] { captured, reversed, declined })
        {
            await (await Client.ActAsync(id, "capture", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
            await (await Client.ActAsync(id, "reverse", new { })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
            await (await Client.ActAsync(id, "increment", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
        }

        Assert.Equal("declined", (await Client.GetAuthorizationAsync(declined)).Str("status"));
        await Client.AssertBalancesAsync(wallet, "90.00", "0.00", "90.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Increment_WithinLimitsAndFunds_RaisesAmountAndPending()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("200.00", new { per_authorization = "100.00", daily = "150.00" });
        var id = (await Client.ApproveAsync(cardId, "50.00")).Str("id");

        var incremented = await (await Client.ActAsync(id, "increment", new { amount = "25.00" })).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("approved", "75.00", "0.00"), Summary(incremented));
        Assert.Equal(incremented.ToString(), (await Client.GetAuthorizationAsync(id)).ToString());
        await Client.AssertBalancesAsync(wallet, "200.00", "75.00", "125.00");
        await (await Client.ActAsync(id, "capture", new { })).ExpectAsync(HttpStatusCode.OK);
        await Client.AssertBalancesAsync(wallet, "125.00", "0.00", "125.00");
        await Client.ApproveAsync(cardId, "75.00");
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Increment_BeyondPerAuthorizationLimit_Returns422LimitExceededAndChangesNothing()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { per_authorization = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "80.00")).Str("id");

        var problem = await (await Client.ActAsync(id, "increment", new { amount = "20.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        Assert.Equal("per_authorization", problem.Str("limit"));
        Assert.Equal(("approved", "80.00", "0.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "500.00", "80.00", "420.00");
        await (await Client.ActAsync(id, "increment", new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);
        await Client.AssertBalancesAsync(wallet, "500.00", "100.00", "400.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Increment_BeyondDailyLimit_Returns422LimitExceededAndChangesNothing()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { daily = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "60.00")).Str("id");
        await Client.ApproveAsync(cardId, "30.00");

        var problem = await (await Client.ActAsync(id, "increment", new { amount = "10.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        Assert.Equal("daily", problem.Str("limit"));
        Assert.Equal(("approved", "60.00", "0.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "500.00", "90.00", "410.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Increment_BeyondFunds_Returns402InsufficientFundsAndChangesNothing()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "80.00")).Str("id");

        await (await Client.ActAsync(id, "increment", new { amount = "20.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");

        Assert.Equal(("approved", "80.00", "0.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "100.00", "80.00", "20.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Increment_OnFrozenOrCancelledCard_Returns422AndChangesNothing()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "50.00")).Str("id");

        await Client.ChangeCardStatusAsync(cardId, "freeze");
        await (await Client.ActAsync(id, "increment", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "card_frozen");
        await Client.ChangeCardStatusAsync(cardId, "cancel");
        await (await Client.ActAsync(id, "increment", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "card_cancelled");
        await (await Client.ActAsync(id, "increment", new { })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal(("approved", "50.00", "0.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "100.00", "50.00", "50.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task CaptureReverseIncrement_SameIdempotencyKeyTwice_ActOnceAndReplay()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("200.00");
        var captured = (await Client.ApproveAsync(cardId, "100.00")).Str("id");
        var reversed = (await Client.ApproveAsync(cardId, "50.00")).Str("id");
        var actions = new (string Id, string Action, object Body)[]
        {
            (captured, "capture", new { amount = "30.00" }),
            (reversed, "reverse", new { amount = "20.00" }),
            (reversed, "increment", new { amount = "5.00" }),
        };

        foreach (var (id, action, body) in actions)
        {
            var key = ApiCalls.NewKey();
            using var first = await Client.PostJsonAsync($"/v1/authorizations/{id}/{action}", body, key);
            using var second = await Client.PostJsonAsync($"/v1/authorizations/{id}/{action}", body, key);
            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
            Assert.Equal((null, "true"), (first.Header(CardCalls.ReplayedHeader), second.Header(CardCalls.ReplayedHeader)));
            Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        }

        Assert.Equal(("approved", "100.00", "30.00"), Summary(await Client.GetAuthorizationAsync(captured)));
        Assert.Equal(("approved", "35.00", "0.00"), Summary(await Client.GetAuthorizationAsync(reversed)));
        await Client.AssertBalancesAsync(wallet, "170.00", "105.00", "65.00");
        await Client.AssertVerifiedAsync();
    }
}
