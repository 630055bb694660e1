using System.Globalization;
using System.Net;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// Authorizations, captures and reversals racing over HTTP. Whatever the interleaving, the funds
/// and the limits admit exactly what fits, every attempt is recorded as one decision, and no
/// capture takes more than its authorization holds.
/// </summary>
public sealed class AuthorizationRaceTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const int VelocityPerMinute = 10; // the default fraud rule: more in a minute are flagged for review

    private HttpClient Client => api.Client;

    [Fact]
    public async Task Authorize_TenConcurrentForTheWholeBalance_ExactlyOneApproved()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.AuthorizeAsync(cardId, "100.00")));

        var approved = await ApprovedAsync(responses);
        Assert.Single(approved);
        var declined = await DeclinedAsync(responses, HttpStatusCode.PaymentRequired, "insufficient_funds");
        Assert.Equal(9, declined.Count);
        await Client.AssertBalancesAsync(wallet, "100.00", "100.00", "0.00");
        Assert.Equal(approved.Concat(declined).Order(StringComparer.Ordinal), (await Client.DecisionIdsAsync(cardId)).Order(StringComparer.Ordinal));
        Assert.Equal(approved, await Client.DecisionIdsAsync(cardId, "approved"));
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_TenCardsOfOneWalletConcurrently_ExactlyOneApproved()
    {
        var wallet = await Client.FundedWalletAsync("100.00");
        var cards = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            cards.Add((await Client.CreateCardAsync(wallet)).Str("id"));
        }

        var responses = await Task.WhenAll(cards.Select(card => Client.AuthorizeAsync(card, "100.00")));

        Assert.Single(await ApprovedAsync(responses));
        Assert.Equal(9, (await DeclinedAsync(responses, HttpStatusCode.PaymentRequired, "insufficient_funds")).Count);
        await Client.AssertBalancesAsync(wallet, "100.00", "100.00", "0.00");
        foreach (var card in cards)
        {
            Assert.Single(await Client.DecisionIdsAsync(card));
        }

        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_TwentyConcurrentUnderADailyLimitOfTen_ExactlyTenApproved()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("10000.00", new { daily = "500.00" });

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Client.AuthorizeAsync(cardId, "50.00")));

        Assert.Equal(10, (await ApprovedAsync(responses)).Count);
        var declined = await DeclinedAsync(responses, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        Assert.Equal(10, declined.Count);
        await Client.AssertBalancesAsync(wallet, "10000.00", "500.00", "9500.00");

        var decisions = await Client.ListAllAsync($"/v1/cards/{cardId}/authorizations");
        Assert.Equal(20, decisions.Count);
        Assert.All(decisions.Where(d => d.Str("status") == "declined"), d => Assert.Equal("limit_exceeded", d.GetProperty("decline").Str("code")));
        // Review only flags: every attempt past the velocity rule is flagged, approved or declined alike.
        Assert.Equal(20 - VelocityPerMinute, decisions.Count(d => d.GetProperty("review").GetBoolean()));
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Capture_TwentyConcurrentTenthsOfOneAuthorization_CaptureExactlyItsAmount()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("150.00");
        var id = (await Client.ApproveAsync(cardId, "100.00")).Str("id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Client.ActAsync(id, "capture", new { amount = "10.00" })));

        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
        }

        var authorization = await Client.GetAuthorizationAsync(id);
        Assert.Equal(("captured", "100.00", "100.00"), (authorization.Str("status"), authorization.Str("amount"), authorization.Str("captured")));
        await Client.AssertBalancesAsync(wallet, "50.00", "0.00", "50.00");
        var debits = (await Client.HistoryAsync(wallet)).Where(h => h.Str("direction") == "debit").ToList();
        Assert.Equal(10, debits.Count);
        Assert.All(debits, d => Assert.Equal(("@settlement", "10.00"), (d.Str("counterparty"), d.Str("amount").TrimStart('-'))));
        Assert.Empty(await api.Database.DoubleEntryFaultsAsync([wallet]));
        await Client.AssertVerifiedAsync();
    }

    /// <summary>
    /// Reversals free what they release for the limits, and only that: partial reversals racing
    /// each other must not free more of an all_time limit than they reversed.
    /// </summary>
    [Fact]
    public async Task Reverse_TenConcurrentPartialReversals_FreeExactlyWhatTheyReleased()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("1000.00", new { all_time = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "100.00")).Str("id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.ActAsync(id, "reverse", new { amount = "5.00" })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal("50.00", (await Client.GetAuthorizationAsync(id)).Str("amount"));
        await Client.AssertBalancesAsync(wallet, "1000.00", "50.00", "950.00");
        await Client.ApproveAsync(cardId, "50.00");
        var problem = await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        Assert.Equal("all_time", problem.Str("limit"));
        await Client.AssertBalancesAsync(wallet, "1000.00", "100.00", "900.00");
        await Client.AssertVerifiedAsync();
    }

    /// <summary>The authorization as a whole stays under per_authorization however its increments interleave.</summary>
    [Fact]
    public async Task Increment_TenConcurrent_NeverRaiseAnAuthorizationAbovePerAuthorization()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("1000.00", new { per_authorization = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "50.00")).Str("id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.ActAsync(id, "increment", new { amount = "10.00" })));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal("per_authorization", (await refused.ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "limit_exceeded")).Str("limit"));
        }

        Assert.Equal("100.00", (await Client.GetAuthorizationAsync(id)).Str("amount"));
        await Client.AssertBalancesAsync(wallet, "1000.00", "100.00", "900.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_RacingAFreeze_EachIsApprovedOrDeclinedAsFrozen()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");

        var authorizations = Enumerable.Range(0, 20).Select(_ => Client.AuthorizeAsync(cardId, "1.00")).ToList();
        var freeze = Client.PostEmptyAsync($"/v1/cards/{cardId}/freeze");
        var responses = await Task.WhenAll(authorizations);
        Assert.Equal("frozen", (await (await freeze).ExpectAsync(HttpStatusCode.OK)).Str("status"));

        var approved = await ApprovedAsync(responses);
        var declined = await DeclinedAsync(responses, HttpStatusCode.UnprocessableEntity, "card_frozen");
        Assert.Equal(20, approved.Count + declined.Count);
        var held = approved.Count.ToString(CultureInfo.InvariantCulture) + ".00";
        await Client.AssertBalancesAsync(wallet, "100.00", held, (100 - approved.Count).ToString(CultureInfo.InvariantCulture) + ".00");
        Assert.Equal(20, (await Client.DecisionIdsAsync(cardId)).Count);
        await (await Client.AuthorizeAsync(cardId, "1.00")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "card_frozen");
        await Client.AssertVerifiedAsync();
    }

    /// <summary>The ids of the approved answers among <paramref name="responses"/>.</summary>
    private static async Task<List<string>> ApprovedAsync(IEnumerable<HttpResponseMessage> responses)
    {
        var ids = new List<string>();
        foreach (var response in responses.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            var authorization = await response.ExpectAsync(HttpStatusCode.Created);
            Assert.True(authorization.GetProperty("approved").GetBoolean(), authorization.ToString());
            ids.Add(authorization.Str("id"));
        }

        return ids;
    }

    /// <summary>Asserts that every answer but the approvals is this decline, recorded; returns the declined ids.</summary>
    private async Task<List<string>> DeclinedAsync(IEnumerable<HttpResponseMessage> responses, HttpStatusCode status, string code)
    {
        var ids = new List<string>();
        foreach (var response in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            ids.Add((await response.ExpectDeclinedAsync(Client, status, code)).Str("authorization_id"));
        }

        return ids;
    }
}
