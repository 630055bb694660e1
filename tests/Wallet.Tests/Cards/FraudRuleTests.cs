using System.Net;
using System.Text;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// A tenant's fraud rules: read by any key of the tenant, replaced only with an operator key, each
/// replacement a new version. Blocking rules decline with 403 <c>fraud_blocked</c>; review rules
/// approve and flag. Each test uses a tenant of its own, since the rules are the tenant's.
/// </summary>
public sealed class FraudRuleTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private static readonly string[] DefaultBlacklist = ["SUSPICIOUS_VENDOR_1", "BLACKLISTED_MERCHANT", "FRAUD_CORP", "SCAM_ENTERPRISES"];

    public static TheoryData<string> InvalidRules =>
    [
        """{"max_amount": "5000.00", "max_amount_usd": "10.00"}""",
        """{"max_amount": "-1.00"}""",
        """{"max_amount": "0"}""",
        """{"max_amount": "a lot"}""",
        """{"velocity_per_minute": 0}""",
        """{"velocity_per_minute": "ten"}""",
        """{"blocked_countries": ["USA"]}""",
        """{"review_countries": ["U1"]}""",
        """{"blocked_categories": ["54111"]}""",
        """{"review_categories": ["123"]}""",
        """{"merchant_blacklist": [""]}""",
        """{"merchant_blacklist": ["   "]}""",
        """{"merchant_blacklist": "FRAUD_CORP"}""",
    ];

    [Fact]
    public async Task GetFraudRules_TenantWithoutRules_ReturnsTheDefaults()
    {
        using var tenant = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("fraud"));

        var view = await (await tenant.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK);

        var rules = view.GetProperty("rules");
        Assert.Equal(("5000.00", 10), (rules.Str("max_amount"), rules.GetProperty("velocity_per_minute").GetInt32()));
        Assert.Equal(DefaultBlacklist, Strings(rules, "merchant_blacklist"));
        foreach (var list in new[] { "blocked_countries", "review_countries", "blocked_categories", "review_categories" })
        {
            Assert.Empty(Strings(rules, list));
        }

        Assert.True(view.TryGetProperty("version", out _) && view.TryGetProperty("updated_at", out _), view.ToString());
    }

    [Fact]
    public async Task PutFraudRules_OperatorKey_ReplacesNormalizedRulesUnderANewVersion()
    {
        using var tenant = await OperatorAsync();
        var before = await (await tenant.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK);

        var saved = await PutAsync(tenant, new
        {
            max_amount = "750.00",
            merchant_blacklist = new[] { " ACME " },
            velocity_per_minute = 3,
            blocked_countries = new[] { "kp" },
            review_countries = new[] { "NG", "ru" },
            blocked_categories = new[] { "betting_casino_gambling" },
            review_categories = new[] { "6011" },
        });

        var rules = saved.GetProperty("rules");
        Assert.Equal(("750.00", 3), (rules.Str("max_amount"), rules.GetProperty("velocity_per_minute").GetInt32()));
        Assert.Equal(["ACME"], Strings(rules, "merchant_blacklist"));
        Assert.Equal(["KP"], Strings(rules, "blocked_countries"));
        Assert.Equal(["NG", "RU"], Strings(rules, "review_countries"));
        Assert.Equal([CardCalls.Gambling], Strings(rules, "blocked_categories"));
        Assert.Equal(["6011"], Strings(rules, "review_categories"));
        Assert.Equal(before.GetProperty("version").GetInt32() + 1, saved.GetProperty("version").GetInt32());
        Assert.True(saved.GetProperty("updated_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(saved.ToString(), (await (await tenant.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK)).ToString());

        var again = await PutAsync(tenant, new { max_amount = "800.00" });
        Assert.Equal(saved.GetProperty("version").GetInt32() + 1, again.GetProperty("version").GetInt32());
        Assert.True(again.GetProperty("updated_at").GetDateTimeOffset() >= saved.GetProperty("updated_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task PutFraudRules_MissingFields_TakeTheDefaults()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { merchant_blacklist = new[] { "ACME" }, velocity_per_minute = 2, review_countries = new[] { "NG" } });

        var saved = await PutAsync(tenant, new { max_amount = "100.00" });

        var rules = saved.GetProperty("rules");
        Assert.Equal(("100.00", 10), (rules.Str("max_amount"), rules.GetProperty("velocity_per_minute").GetInt32()));
        Assert.Equal(DefaultBlacklist, Strings(rules, "merchant_blacklist"));
        Assert.Empty(Strings(rules, "review_countries"));
        var (_, cardId) = await tenant.FundedCardAsync("100.00");
        var approved = await (await tenant.AuthorizeAsync(cardId, "10.00", country: "NG")).ExpectAsync(HttpStatusCode.Created);
        Assert.False(approved.GetProperty("review").GetBoolean());
        await (await tenant.AuthorizeAsync(cardId, "10.00", "FRAUD_CORP")).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task PutFraudRules_ClientRoleKey_Returns403AndChangesNothing()
    {
        var tenantId = CardCalls.NewTenant("fraud");
        using var client = await api.Factory.CreateTenantClientAsync(tenantId);
        var before = await (await client.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK);

        await (await PutRawAsync(client, """{"max_amount": "1.00"}""")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(before.ToString(), (await (await client.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK)).ToString());
        var (_, cardId) = await client.FundedCardAsync("100.00");
        await (await client.AuthorizeAsync(cardId, "10.00")).ExpectAsync(HttpStatusCode.Created);
        await api.Client.AssertVerifiedAsync();
    }

    [Theory]
    [MemberData(nameof(InvalidRules))]
    public async Task PutFraudRules_InvalidRules_Returns400AndChangesNothing(string body)
    {
        using var tenant = await OperatorAsync();
        var before = await PutAsync(tenant, new { max_amount = "900.00" });

        await (await PutRawAsync(tenant, body)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal(before.ToString(), (await (await tenant.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK)).ToString());
    }

    [Fact]
    public async Task Authorize_AboveTheTenantsMaximum_Returns403FraudBlocked()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { max_amount = "100.00" });
        var (wallet, cardId) = await tenant.FundedCardAsync("500.00");

        var problem = await (await tenant.AuthorizeAsync(cardId, "100.01")).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");

        Assert.Equal(["amount 100.01 exceeds maximum 100.00"], CardCalls.Reasons(problem.GetProperty("fraud")));
        await tenant.AssertBalancesAsync(wallet, "500.00", "0.00", "500.00");
        await tenant.ApproveAsync(cardId, "100.00");
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_BlockedCountry_Returns403FraudBlocked()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { blocked_countries = new[] { "KP" } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        var problem = await (await tenant.AuthorizeAsync(cardId, "10.00", country: "kp")).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");

        Assert.Equal(["merchant country KP is blocked"], CardCalls.Reasons(problem.GetProperty("fraud")));
        Assert.Equal("KP", (await tenant.GetAuthorizationAsync(problem.Str("authorization_id"))).Str("merchant_country"));
        await tenant.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await (await tenant.AuthorizeAsync(cardId, "10.00", country: "KR")).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.AuthorizeAsync(cardId, "10.00")).ExpectAsync(HttpStatusCode.Created);
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_ReviewCountry_ApprovesWithReview()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { review_countries = new[] { "NG" } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        var approved = await (await tenant.AuthorizeAsync(cardId, "10.00", country: "NG")).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(("approved", true), (approved.Str("status"), approved.GetProperty("review").GetBoolean()));
        Assert.Equal(["merchant country NG is flagged for review"], CardCalls.Reasons(approved.GetProperty("fraud")));
        Assert.True(approved.GetProperty("fraud").GetProperty("score").GetDecimal() > 0m);
        Assert.Equal(approved.ToString(), (await tenant.GetAuthorizationAsync(approved.Str("id"))).ToString());
        await tenant.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        var elsewhere = await (await tenant.AuthorizeAsync(cardId, "10.00", country: "GB")).ExpectAsync(HttpStatusCode.Created);
        Assert.False(elsewhere.GetProperty("review").GetBoolean());
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_BlockedCategoryRule_Returns403FraudBlocked()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { blocked_categories = new[] { "betting_casino_gambling" } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        var problem = await (await tenant.AuthorizeAsync(cardId, "10.00", category: CardCalls.Gambling)).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");

        Assert.Contains(CardCalls.Gambling, Assert.Single(CardCalls.Reasons(problem.GetProperty("fraud"))), StringComparison.Ordinal);
        await tenant.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await tenant.ApproveAsync(cardId, "10.00", CardCalls.Grocery);
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_ReviewCategoryRule_ApprovesWithReview()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { review_categories = new[] { "automated_cash_disburse" } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        var approved = await tenant.ApproveAsync(cardId, "10.00", "6011");

        Assert.True(approved.GetProperty("review").GetBoolean());
        Assert.Contains("6011", Assert.Single(CardCalls.Reasons(approved.GetProperty("fraud"))), StringComparison.Ordinal);
        await tenant.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_TenantBlacklist_ReplacesTheDefaultOne()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { merchant_blacklist = new[] { "Acme" } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        await (await tenant.AuthorizeAsync(cardId, "10.00", "acme widgets")).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");
        await (await tenant.AuthorizeAsync(cardId, "10.00", "FRAUD_CORP")).ExpectAsync(HttpStatusCode.Created);

        await tenant.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_LowerVelocityRule_FlagsSooner()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { velocity_per_minute = 2 });
        var (_, cardId) = await tenant.FundedCardAsync("100.00");

        var flags = new List<bool>();
        for (var i = 0; i < 4; i++)
        {
            flags.Add((await tenant.ApproveAsync(cardId, "1.00")).GetProperty("review").GetBoolean());
        }

        Assert.Equal([false, false, true, true], flags);
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_SeveralRulesFire_EveryReasonIsRecorded()
    {
        using var tenant = await OperatorAsync();
        await PutAsync(tenant, new { max_amount = "50.00", blocked_countries = new[] { "KP" }, review_categories = new[] { CardCalls.Restaurant } });
        var (wallet, cardId) = await tenant.FundedCardAsync("100.00");

        var problem = await (await tenant.AuthorizeAsync(cardId, "60.00", "Scam_Enterprises Diner", CardCalls.Restaurant, "KP"))
            .ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");

        var reasons = CardCalls.Reasons(problem.GetProperty("fraud"));
        Assert.Equal(4, reasons.Count);
        Assert.Contains(reasons, r => r.Contains("exceeds maximum 50.00", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("SCAM_ENTERPRISES", StringComparison.Ordinal));
        Assert.Contains("merchant country KP is blocked", reasons);
        Assert.Contains(reasons, r => r.Contains(CardCalls.Restaurant, StringComparison.Ordinal));
        var score = problem.GetProperty("fraud").GetProperty("score").GetDecimal();
        Assert.True(score is > 0.99m and <= 1m, $"score {score}");
        await tenant.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task FraudRules_OfOneTenant_DoNotApplyToAnother()
    {
        using var strict = await OperatorAsync();
        using var other = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("fraud"));
        await PutAsync(strict, new { max_amount = "10.00", blocked_countries = new[] { "FR" } });
        var (_, strictCard) = await strict.FundedCardAsync("100.00");
        var (_, otherCard) = await other.FundedCardAsync("100.00");

        await (await strict.AuthorizeAsync(strictCard, "20.00", country: "GB")).ExpectDeclinedAsync(strict, HttpStatusCode.Forbidden, "fraud_blocked");
        await (await strict.AuthorizeAsync(strictCard, "5.00", country: "FR")).ExpectDeclinedAsync(strict, HttpStatusCode.Forbidden, "fraud_blocked");
        await (await other.AuthorizeAsync(otherCard, "20.00", country: "FR")).ExpectAsync(HttpStatusCode.Created);

        var otherRules = await (await other.GetAsync("/v1/fraud-rules")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("5000.00", otherRules.GetProperty("rules").Str("max_amount"));
        await api.Client.AssertVerifiedAsync();
    }

    /// <summary>A client of a new tenant holding an operator key, so it may replace the tenant's rules.</summary>
    private Task<HttpClient> OperatorAsync() => api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("fraud"), "operator");

    private static async Task<JsonElement> PutAsync(HttpClient client, object rules) =>
        await (await PutRawAsync(client, JsonSerializer.Serialize(rules))).ExpectAsync(HttpStatusCode.OK);

    private static async Task<HttpResponseMessage> PutRawAsync(HttpClient client, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PutAsync("/v1/fraud-rules", content);
    }

    private static List<string> Strings(JsonElement rules, string name) =>
        [.. rules.GetProperty(name).EnumerateArray().Select(s => s.GetString() ?? "")];
}
