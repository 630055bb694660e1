using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// Authorization decisions over HTTP: approved with a hold on the funding wallet, or declined by the
/// first failing check (fraud rules, card status, categories, limits, funds), recorded either way and
/// leaving the balances untouched. Idempotency-Key replays both answers; approvals flagged for review
/// are approved all the same.
/// </summary>
public sealed partial class AuthorizationTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    public static TheoryData<string, string> BlacklistedMerchants => new()
    {
        { "Fraud_Corp Holdings", "FRAUD_CORP" },
        { "my scam_enterprises shop", "SCAM_ENTERPRISES" },
        { "BLACKLISTED_MERCHANT", "BLACKLISTED_MERCHANT" },
        { "  suspicious_vendor_1  ", "SUSPICIOUS_VENDOR_1" },
    };

    public static TheoryData<string> Intervals => ["daily", "weekly", "monthly", "all_time"];

    [Fact]
    public async Task Authorize_WithinFundsAndLimits_ApprovesAndHoldsTheAmount()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("150.00", new { per_authorization = "200.00", daily = "500.00" });

        using var response = await Client.PostJsonAsync($"/v1/cards/{cardId}/authorizations", new
        {
            amount = "42.50",
            merchant_name = "  Corner Grocery ",
            merchant_category = "grocery_stores_supermarkets",
            merchant_country = "us",
            description = "weekly shop",
        });

        var approved = await response.ExpectAsync(HttpStatusCode.Created);
        var id = approved.Str("id");
        Assert.StartsWith("auth_", id, StringComparison.Ordinal);
        Assert.Equal($"/v1/authorizations/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal((cardId, wallet, "approved", true), (approved.Str("card_id"), approved.Str("wallet_id"), approved.Str("status"), approved.GetProperty("approved").GetBoolean()));
        Assert.Equal(("42.50", "0.00", "USD"), (approved.Str("amount"), approved.Str("captured"), approved.Str("currency")));
        Assert.Equal(("CORNER GROCERY", "  Corner Grocery ", CardCalls.Grocery, "US", "weekly shop"),
            (approved.Str("merchant_name"), approved.Str("merchant_name_original"), approved.Str("merchant_category"), approved.Str("merchant_country"), approved.Str("description")));
        Assert.Equal(0m, approved.GetProperty("fraud").GetProperty("score").GetDecimal());
        Assert.Empty(CardCalls.Reasons(approved.GetProperty("fraud")));
        Assert.False(approved.GetProperty("review").GetBoolean());
        Assert.Equal(JsonValueKind.Null, approved.GetProperty("decline").ValueKind);
        Assert.Equal(1, approved.GetProperty("controls_version").GetInt32());
        Assert.True(approved.GetProperty("created_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));

        Assert.Equal(approved.ToString(), (await Client.GetAuthorizationAsync(id)).ToString());
        var hold = await (await Client.GetAsync($"/v1/holds/{approved.Str("hold_id")}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal((wallet, "open", "42.50"), (hold.Str("wallet_id"), hold.Str("status"), hold.Str("amount")));
        Assert.Equal([id], await Client.DecisionIdsAsync(cardId));
        await Client.AssertBalancesAsync(wallet, "150.00", "42.50", "107.50");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_AboveFraudMaximum_Returns403FraudBlockedBeforeFundsAreChecked()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");

        var problem = await (await Client.AuthorizeAsync(cardId, "6000.00")).ExpectDeclinedAsync(Client, HttpStatusCode.Forbidden, "fraud_blocked");

        Assert.Contains("amount 6000.00 exceeds maximum 5000.00", problem.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(["amount 6000.00 exceeds maximum 5000.00"], CardCalls.Reasons(problem.GetProperty("fraud")));
        Assert.True(problem.GetProperty("fraud").GetProperty("score").GetDecimal() >= 0.9m);
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        Assert.Equal([problem.Str("authorization_id")], await Client.DecisionIdsAsync(cardId, "declined"));
        await Client.ApproveAsync(cardId, "100.00");
        await Client.AssertVerifiedAsync();
    }

    [Theory]
    [MemberData(nameof(BlacklistedMerchants))]
    public async Task Authorize_MerchantContainingBlacklistEntry_Returns403FraudBlocked(string merchant, string entry)
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");

        var problem = await (await Client.AuthorizeAsync(cardId, "10.00", merchant)).ExpectDeclinedAsync(Client, HttpStatusCode.Forbidden, "fraud_blocked");

        var reason = Assert.Single(CardCalls.Reasons(problem.GetProperty("fraud")));
        Assert.Contains(entry, reason, StringComparison.Ordinal);
        Assert.Equal(merchant.Trim().ToUpperInvariant(), (await Client.GetAuthorizationAsync(problem.Str("authorization_id"))).Str("merchant_name"));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_FrozenCard_Returns422CardFrozenUntilUnfrozen()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        await Client.ChangeCardStatusAsync(cardId, "freeze");

        await (await Client.AuthorizeAsync(cardId, "10.00")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "card_frozen");

        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.ChangeCardStatusAsync(cardId, "unfreeze");
        await Client.ApproveAsync(cardId, "10.00");
        await Client.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_CancelledCard_Returns422CardCancelled()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        await Client.ChangeCardStatusAsync(cardId, "cancel");

        await (await Client.AuthorizeAsync(cardId, "10.00")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "card_cancelled");

        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        Assert.Single(await Client.DecisionIdsAsync(cardId, "declined"));
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_AbovePerAuthorizationLimit_Returns422LimitExceeded()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { per_authorization = "100.00" });

        var problem = await (await Client.AuthorizeAsync(cardId, "100.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        Assert.Equal("per_authorization", problem.Str("limit"));
        await Client.AssertBalancesAsync(wallet, "500.00", "0.00", "500.00");
        await Client.ApproveAsync(cardId, "100.00");
        await Client.AssertVerifiedAsync();
    }

    [Theory]
    [MemberData(nameof(Intervals))]
    public async Task Authorize_BeyondIntervalLimit_Returns422LimitExceededNamingTheInterval(string interval)
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new Dictionary<string, string> { [interval] = "100.00" });
        await Client.ApproveAsync(cardId, "60.00");

        var problem = await (await Client.AuthorizeAsync(cardId, "40.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");

        Assert.Equal(interval, problem.Str("limit"));
        Assert.Contains(interval, problem.Str("detail"), StringComparison.Ordinal);
        await Client.AssertBalancesAsync(wallet, "500.00", "60.00", "440.00");
        await Client.ApproveAsync(cardId, "40.00");
        await (await Client.AuthorizeAsync(cardId, "0.01")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await Client.AssertBalancesAsync(wallet, "500.00", "100.00", "400.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_BlockedCategory_Returns422CategoryBlocked()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00", new { blocked_categories = new[] { "betting_casino_gambling" } });

        await (await Client.AuthorizeAsync(cardId, "10.00", category: CardCalls.Gambling)).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");
        await (await Client.AuthorizeAsync(cardId, "10.00", category: "betting_casino_gambling")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");

        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.ApproveAsync(cardId, "10.00", CardCalls.Restaurant);
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_MoreThanAvailable_Returns402InsufficientFunds()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("50.00");
        await Client.ApproveAsync(cardId, "30.00");

        await (await Client.AuthorizeAsync(cardId, "20.01")).ExpectDeclinedAsync(Client, HttpStatusCode.PaymentRequired, "insufficient_funds");

        await Client.AssertBalancesAsync(wallet, "50.00", "30.00", "20.00");
        await Client.ApproveAsync(cardId, "20.00");
        await Client.AssertBalancesAsync(wallet, "50.00", "50.00", "0.00");
        await Client.AssertVerifiedAsync();
    }

    /// <summary>Fraud rules, then card status, then categories, then limits, then funds: the first that fails names the decline.</summary>
    [Fact]
    public async Task Authorize_SeveralChecksFail_TheFirstInOrderDeclines()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("20.00", new { per_authorization = "50.00", blocked_categories = new[] { CardCalls.Gambling } });
        await Client.ChangeCardStatusAsync(cardId, "freeze");

        await (await Client.AuthorizeAsync(cardId, "60.00", "FRAUD_CORP", CardCalls.Gambling)).ExpectDeclinedAsync(Client, HttpStatusCode.Forbidden, "fraud_blocked");
        await (await Client.AuthorizeAsync(cardId, "60.00", category: CardCalls.Gambling)).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "card_frozen");
        await Client.ChangeCardStatusAsync(cardId, "unfreeze");
        await (await Client.AuthorizeAsync(cardId, "60.00", category: CardCalls.Gambling)).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");
        await (await Client.AuthorizeAsync(cardId, "60.00")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
        await (await Client.AuthorizeAsync(cardId, "30.00")).ExpectDeclinedAsync(Client, HttpStatusCode.PaymentRequired, "insufficient_funds");

        await Client.AssertBalancesAsync(wallet, "20.00", "0.00", "20.00");
        Assert.Equal(5, (await Client.DecisionIdsAsync(cardId, "declined")).Count);
        Assert.Empty(await Client.DecisionIdsAsync(cardId, "approved"));
        await Client.ApproveAsync(cardId, "20.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_InvalidRequest_Returns400AndRecordsNoDecision()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        object[] invalid =
        [
            new { merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery },
            new { amount = "10.00", merchant_category = CardCalls.Grocery },
            new { amount = "10.00", merchant_name = "   ", merchant_category = CardCalls.Grocery },
            new { amount = "10.00", merchant_name = "...", merchant_category = CardCalls.Grocery },
            new { amount = "10.00", merchant_name = CardCalls.Merchant, merchant_category = "   " },
            new { amount = "10.00", merchant_name = CardCalls.Merchant, merchant_category = "OFFICE\u0001" },
            new { amount = "10.00", merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery, merchant_country = "USA" },
            new { amount = "10.00", merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery, merchant_country = "1A" },
            new { amount = "0.00", merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery },
            new { amount = "-5.00", merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery },
            new { amount = "1.001", merchant_name = CardCalls.Merchant, merchant_category = CardCalls.Grocery },
        ];

        foreach (var body in invalid)
        {
            using var response = await Client.PostJsonAsync($"/v1/cards/{cardId}/authorizations", body);
            var problem = await response.ExpectAsync(HttpStatusCode.BadRequest);
            Assert.True(problem.Str("code") is "validation_failed" or "invalid_amount", $"{JsonSerializer.Serialize(body)}: {problem}");
            Assert.False(problem.TryGetProperty("authorization_id", out _), $"{JsonSerializer.Serialize(body)}: {problem}");
        }

        Assert.Empty(await Client.DecisionIdsAsync(cardId));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_MoreThanVelocityPerMinute_ApprovesWithReview()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        for (var i = 0; i < 10; i++)
        {
            var quiet = await Client.ApproveAsync(cardId, "1.00");
            Assert.False(quiet.GetProperty("review").GetBoolean(), $"authorization {i + 1}: {quiet}");
        }

        var flagged = await Client.ApproveAsync(cardId, "1.00");

        Assert.True(flagged.GetProperty("review").GetBoolean());
        var reason = Assert.Single(CardCalls.Reasons(flagged.GetProperty("fraud")));
        Assert.Contains("11 authorizations in the last minute exceed 10", reason, StringComparison.Ordinal);
        Assert.True(flagged.GetProperty("fraud").GetProperty("score").GetDecimal() > 0m);
        Assert.Equal(flagged.ToString(), (await Client.GetAuthorizationAsync(flagged.Str("id"))).ToString());
        await Client.AssertBalancesAsync(wallet, "100.00", "11.00", "89.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_ReplayedApproval_ReturnsTheSameAnswerAndRecordsOneDecision()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var key = ApiCalls.NewKey();

        using var first = await Client.AuthorizeAsync(cardId, "25.00", idempotencyKey: key);
        await Client.ChangeCardStatusAsync(cardId, "freeze"); // a replay answers as the first time, whatever changed since
        using var second = await Client.AuthorizeAsync(cardId, "25.00", idempotencyKey: key);

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (first.StatusCode, second.StatusCode));
        Assert.Equal((null, "true"), (first.Header(CardCalls.ReplayedHeader), second.Header(CardCalls.ReplayedHeader)));
        var body = await first.Content.ReadAsStringAsync();
        Assert.Equal(body, await second.Content.ReadAsStringAsync());
        Assert.Equal([ApiCalls.Parse(body).Str("id")], await Client.DecisionIdsAsync(cardId));
        Assert.Equal(("created", body), await api.Database.StoredAnswerAsync(key));
        await Client.AssertBalancesAsync(wallet, "100.00", "25.00", "75.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_ReplayedDecline_ReturnsTheSameProblemAndRecordsOneDecision()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("10.00");
        var key = ApiCalls.NewKey();

        using var first = await Client.AuthorizeAsync(cardId, "25.00", idempotencyKey: key);
        var body = await first.Content.ReadAsStringAsync();
        await first.ExpectDeclinedAsync(Client, HttpStatusCode.PaymentRequired, "insufficient_funds");
        await Client.DepositAsync(wallet, "90.00"); // funds now suffice, yet the replay is the first answer
        using var second = await Client.AuthorizeAsync(cardId, "25.00", idempotencyKey: key);

        Assert.Equal(HttpStatusCode.PaymentRequired, second.StatusCode);
        Assert.Equal(ApiCalls.ProblemContentType, second.Content.Headers.ContentType?.MediaType);
        Assert.Equal((null, "true"), (first.Header(CardCalls.ReplayedHeader), second.Header(CardCalls.ReplayedHeader)));
        Assert.Equal(body, await second.Content.ReadAsStringAsync());
        Assert.Equal([ApiCalls.Parse(body).Str("authorization_id")], await Client.DecisionIdsAsync(cardId));

        // What is kept is the refusal, not an HTTP answer: no status, title or type in the row.
        var (outcome, stored) = await api.Database.StoredAnswerAsync(key);
        var refusal = ApiCalls.Parse(stored);
        Assert.Equal(("refused", "insufficient_funds", ApiCalls.Parse(body).Str("authorization_id")),
            (outcome, refusal.Str("code"), refusal.Str("authorization_id")));
        Assert.False(refusal.TryGetProperty("status", out _) || refusal.TryGetProperty("type", out _) || refusal.TryGetProperty("title", out _));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_SameKeyTenTimesConcurrently_OneDecisionAndIdenticalAnswers()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var key = ApiCalls.NewKey();

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.AuthorizeAsync(cardId, "40.00", idempotencyKey: key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct(StringComparer.Ordinal));
        Assert.Equal(9, responses.Count(r => r.Header(CardCalls.ReplayedHeader) == "true"));
        Assert.Equal([ApiCalls.Parse(bodies[0]).Str("id")], await Client.DecisionIdsAsync(cardId));
        await Client.AssertBalancesAsync(wallet, "100.00", "40.00", "60.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_SameKeyWithAnotherRequest_Returns409IdempotencyKeyReused()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var key = ApiCalls.NewKey();
        await (await Client.AuthorizeAsync(cardId, "10.00", idempotencyKey: key)).ExpectAsync(HttpStatusCode.Created);

        await (await Client.AuthorizeAsync(cardId, "11.00", idempotencyKey: key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");

        Assert.Single(await Client.DecisionIdsAsync(cardId));
        await Client.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task ListAuthorizations_ByCardAndStatus_FiltersAndPagesNewestFirst()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { per_authorization = "100.00" });
        var captured = (await Client.ApproveAsync(cardId, "10.00")).Str("id");
        await (await Client.ActAsync(captured, "capture", new { })).ExpectAsync(HttpStatusCode.OK);
        var reversed = (await Client.ApproveAsync(cardId, "20.00")).Str("id");
        await (await Client.ActAsync(reversed, "reverse", new { })).ExpectAsync(HttpStatusCode.OK);
        var open = (await Client.ApproveAsync(cardId, "30.00")).Str("id");
        var declined = (await (await Client.AuthorizeAsync(cardId, "150.00")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "limit_exceeded")).Str("authorization_id");
        var otherCard = (await Client.CreateCardAsync(wallet)).Str("id");
        var elsewhere = (await Client.ApproveAsync(otherCard, "5.00")).Str("id");

        var all = await Client.DecisionIdsAsync(cardId);
        Assert.Equal(new[] { captured, reversed, open, declined }.Order(StringComparer.Ordinal), all.Order(StringComparer.Ordinal));
        Assert.Equal(all.OrderDescending(StringComparer.Ordinal), all);
        Assert.Equal(all, (await Client.ListAllAsync($"/v1/card-transactions?card_id={cardId}", limit: 1)).Select(a => a.Str("id")));
        foreach (var (status, id) in new[] { ("captured", captured), ("reversed", reversed), ("approved", open), ("declined", declined) })
        {
            Assert.Equal([id], await Client.DecisionIdsAsync(cardId, status));
            var listed = Assert.Single(await Client.ListAllAsync($"/v1/card-transactions?card_id={cardId}&status={status}"));
            Assert.Equal((id, status), (listed.Str("id"), listed.Str("status")));
        }

        Assert.Empty(await Client.DecisionIdsAsync(cardId, "expired"));
        var tenantWide = (await Client.ListAllAsync("/v1/card-transactions")).Select(a => a.Str("id")).ToList();
        Assert.Superset(new HashSet<string>(all.Append(elsewhere)), new HashSet<string>(tenantWide));
        await (await Client.GetAsync($"/v1/cards/{cardId}/authorizations?status=pending")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.GetAsync($"/v1/card-transactions?cursor={cardId}")).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_cursor");
        await Client.AssertBalancesAsync(wallet, "490.00", "35.00", "455.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task AuthorizationRoutes_AnotherTenantsOrUnknownAuthorization_Return404AuthorizationNotFound()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "40.00")).Str("id");
        using var tenant = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("auths"));

        foreach (var (client, authorization) in new[] { (tenant, id), (Client, CardCalls.UnknownAuthorization) })
        {
            await (await client.GetAsync($"/v1/authorizations/{authorization}")).ExpectProblemAsync(HttpStatusCode.NotFound, "authorization_not_found");
            await (await client.ActAsync(authorization, "capture", new { })).ExpectProblemAsync(HttpStatusCode.NotFound, "authorization_not_found");
            await (await client.ActAsync(authorization, "reverse", new { })).ExpectProblemAsync(HttpStatusCode.NotFound, "authorization_not_found");
            await (await client.ActAsync(authorization, "increment", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "authorization_not_found");
        }

        Assert.Empty(await tenant.ListAllAsync($"/v1/card-transactions?card_id={cardId}"));
        Assert.Equal(("approved", "40.00", "0.00"), Summary(await Client.GetAuthorizationAsync(id)));
        await Client.AssertBalancesAsync(wallet, "100.00", "40.00", "60.00");
        await Client.AssertVerifiedAsync();
    }

    private static (string Status, string Amount, string Captured) Summary(JsonElement authorization) =>
        (authorization.Str("status"), authorization.Str("amount"), authorization.Str("captured"));
}
