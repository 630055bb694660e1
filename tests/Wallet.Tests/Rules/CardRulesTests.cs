using Microsoft.Extensions.Options;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Money;
using Xunit;

namespace Wallet.Tests.Rules;

/// <summary>The card's pure rules: number checks, spending windows and limits, and the fraud engine.</summary>
public sealed class CardRulesTests
{
    private static readonly Currency Usd = new("USD", 2);

    [Theory]
    [InlineData("4242424242424242")]
    [InlineData("4000056655665556")]
    [InlineData("5555555555554444")]
    [InlineData("378282246310005")]
    [InlineData("6011111111111117")]
    [InlineData("000000000000")]
    public void Check_ValidNumber_Accepts(string number) => Assert.Null(CardNumbers.Check(number));

    [Theory]
    [InlineData("4242424242424241", "Luhn")]
    [InlineData("4242 4242 4242 4242", "digits")]
    [InlineData("42424242424", "digits")]
    [InlineData("42424242424242424242", "digits")]
    [InlineData("4242-4242-4242-4242", "digits")]
    [InlineData("", "digits")]
    public void Check_InvalidNumber_SaysWhyWithoutRepeatingIt(string number, string why)
    {
        var problem = CardNumbers.Check(number);
        Assert.NotNull(problem);
        Assert.Contains(why, problem, StringComparison.Ordinal);
        Assert.DoesNotContain(number.Length > 0 ? number : "\u0000", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_DependsOnTheKey_AndNeverContainsTheNumber()
    {
        var first = new CardNumbers(Options.Create(new CardOptions { NumberHashKey = new string('a', 32) }));
        var second = new CardNumbers(Options.Create(new CardOptions { NumberHashKey = new string('b', 32) }));

        Assert.Equal(first.Hash("4242424242424242"), first.Hash("4242424242424242"));
        Assert.NotEqual(first.Hash("4242424242424242"), second.Hash("4242424242424242"));
        Assert.NotEqual(first.Hash("4242424242424242"), first.Hash("4000056655665556"));
        Assert.DoesNotContain("4242", first.Hash("4242424242424242"), StringComparison.Ordinal);
    }

    [Fact]
    public void CardNumbers_ShortKey_RefusesToStart() =>
        Assert.Throws<InvalidOperationException>(() => new CardNumbers(Options.Create(new CardOptions { NumberHashKey = "short" })));

    [Fact]
    public void WindowStarts_MidWeek_AreCalendarDayMondayAndFirstOfMonthInUtc()
    {
        var (day, week, month) = SpendingRules.WindowStarts(new DateTimeOffset(2026, 11, 19, 15, 30, 0, TimeSpan.Zero), TimeZoneInfo.Utc);
        Assert.Equal(new DateTimeOffset(2026, 11, 19, 0, 0, 0, TimeSpan.Zero), day);
        Assert.Equal(new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), week);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), month);
    }

    [Fact]
    public void WindowStarts_OnASunday_WeekBeganTheMondayBefore()
    {
        var (_, week, _) = SpendingRules.WindowStarts(new DateTimeOffset(2026, 11, 22, 23, 59, 0, TimeSpan.Zero), TimeZoneInfo.Utc);
        Assert.Equal(new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), week);
    }

    [Fact]
    public void WindowStarts_InAnotherZone_FollowItsMidnight()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var (day, _, _) = SpendingRules.WindowStarts(new DateTimeOffset(2026, 11, 19, 3, 0, 0, TimeSpan.Zero), zone);
        Assert.Equal(new DateTimeOffset(2026, 11, 18, 0, 0, 0, TimeSpan.FromHours(-5)), day);
    }

    [Fact]
    public void CheckLimits_DailyLimit_CountsOnlyTodaysSpends()
    {
        var now = new DateTimeOffset(2026, 11, 19, 12, 0, 0, TimeSpan.Zero);
        var limits = Limits(daily: "500.00");
        Spend[] spends = [new("a1", now.AddDays(-1), 40_000), new("a2", now.AddHours(-1), 45_000)];

        Assert.Null(SpendingRules.CheckLimits(limits, Usd, spends, 85_000, 5_000, now, TimeZoneInfo.Utc));
        var refused = SpendingRules.CheckLimits(limits, Usd, spends, 85_000, 5_001, now, TimeZoneInfo.Utc);

        Assert.Equal(LedgerErrors.LimitExceeded, refused?.Code);
        Assert.Equal("daily limit 500.00 USD: 450.00 spent, 50.01 requested", refused?.Detail);
        Assert.Contains("\"limit\":\"daily\"", refused?.Extensions, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("per_authorization", 10_001)]
    [InlineData("weekly", 1)]
    [InlineData("monthly", 1)]
    [InlineData("all_time", 1)]
    public void CheckLimits_EachInterval_NamesTheLimitItBreaks(string interval, long amount)
    {
        var now = new DateTimeOffset(2026, 11, 19, 12, 0, 0, TimeSpan.Zero);
        var limits = interval switch
        {
            "per_authorization" => Limits(perAuthorization: "100.00"),
            "weekly" => Limits(weekly: "100.00"),
            "monthly" => Limits(monthly: "100.00"),
            _ => Limits(allTime: "100.00"),
        };
        Spend[] spends = [new("a1", now.AddDays(-2), interval == "all_time" ? 0 : 10_000)];

        var refused = SpendingRules.CheckLimits(limits, Usd, spends, allTimeSpent: 10_000, amount, now, TimeZoneInfo.Utc);

        Assert.Equal(LedgerErrors.LimitExceeded, refused?.Code);
        Assert.StartsWith(interval + " limit 100.00 USD", refused?.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CategoriesByNameCodeOrLabel_StoresCodesAndUpperCaseLabelsAndRefusesBlankOnes()
    {
        var (limits, failure) = SpendingRules.Parse(
            new SpendingControls(null, null, null, null, null, ["grocery_stores_supermarkets", "5812", " office  supplies "], ["BETTING_CASINO_GAMBLING", "misc"]), Usd);
        Assert.Null(failure);
        Assert.Equal(["5411", "5812", "OFFICE SUPPLIES"], limits!.AllowedCategories.Order(StringComparer.Ordinal));
        Assert.Equal(["7995", "MISC"], limits.BlockedCategories.Order(StringComparer.Ordinal));

        Assert.Equal(LedgerErrors.ValidationFailed,
            SpendingRules.Parse(new SpendingControls(null, null, null, null, null, ["  "], null), Usd).Failure?.Code);
        Assert.Equal(LedgerErrors.ValidationFailed,
            SpendingRules.Parse(new SpendingControls(null, null, null, null, null, null, ["OFFICE\u0007"]), Usd).Failure?.Code);
        Assert.Equal(LedgerErrors.InvalidAmount,
            SpendingRules.Parse(new SpendingControls("1.001", null, null, null, null, null, null), Usd).Failure?.Code);
    }

    [Fact]
    public void CheckCategory_BlockedOrNotAllowed_RefusesAsCategoryBlocked()
    {
        var limits = SpendingRules.Parse(new SpendingControls(null, null, null, null, null, ["5411", "5812"], ["5812"]), Usd).Limits!;
        Assert.Null(SpendingRules.CheckCategory(limits, "5411"));
        Assert.Contains("is blocked", SpendingRules.CheckCategory(limits, "5812")?.Detail, StringComparison.Ordinal);
        Assert.Contains("not among", SpendingRules.CheckCategory(limits, "7995")?.Detail, StringComparison.Ordinal);
        Assert.Contains("names no merchant category", SpendingRules.CheckCategory(limits, null)?.Detail, StringComparison.Ordinal);

        var open = SpendingRules.Parse(new SpendingControls(null, null, null, null, null, null, ["OFFICE"]), Usd).Limits!;
        Assert.Null(SpendingRules.CheckCategory(open, null));
        Assert.Equal(LedgerErrors.CategoryBlocked, SpendingRules.CheckCategory(open, "OFFICE")?.Code);
    }

    [Theory]
    [InlineData("5411", "5411")]
    [InlineData(" grocery_stores_supermarkets ", "5411")]
    [InlineData("Grocery_Stores_Supermarkets", "5411")]
    [InlineData("OFFICE", "OFFICE")]
    [InlineData("office", "OFFICE")]
    [InlineData("  office \t supplies ", "OFFICE SUPPLIES")]
    public void MerchantCategory_IsACodeForACodeOrKnownNameAndAnUpperCaseLabelOtherwise(string sent, string kept)
    {
        Assert.True(MerchantCategories.TryNormalize(sent, out var normalized));
        Assert.Equal(kept, normalized);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("OFF\u0000ICE")]
    [InlineData("54111")]
    [InlineData("123")]
    public void MerchantCategory_BlankWithControlCharactersOrDigitsThatAreNoCode_IsRefused(string sent) =>
        Assert.False(MerchantCategories.TryNormalize(sent, out _));

    [Fact]
    public void Evaluate_Defaults_BlockAboveMaximumWithTheSeedReason()
    {
        var decision = Evaluate(600_000, "ACME", "5411", null, attempts: 1);
        Assert.True(decision.Blocked);
        Assert.Equal(["amount 6000.00 exceeds maximum 5000.00"], decision.Reasons);
        Assert.Equal(0.9m, decision.Score);
        Assert.False(Evaluate(500_000, "ACME", "5411", null, attempts: 1).Blocked);
    }

    [Theory]
    [InlineData("FRAUD_CORP")]
    [InlineData("fraud_corp")]
    [InlineData("THE SCAM_ENTERPRISES LLC")]
    [InlineData("suspicious_vendor_1 online")]
    public void Evaluate_BlacklistedMerchant_BlocksExactOrPartialIgnoringCase(string merchant)
    {
        var decision = Evaluate(100, merchant, "5411", null, attempts: 1);
        Assert.True(decision.Blocked);
        Assert.Contains("matches blacklist entry", Assert.Single(decision.Reasons), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_BlacklistEntryWithPunctuation_MatchesTheNormalizedMerchantName()
    {
        var rules = FraudEngine.Compile(FraudRules.Default with { MerchantBlacklist = ["Shady Goods, Inc."] }).Rules!;

        var decision = FraudEngine.Evaluate(rules, 100, Usd, MerchantNames.Normalize("shady goods inc (online)"), "5411", null, attemptsInLastMinute: 1);

        Assert.True(decision.Blocked);
        Assert.Equal(["Shady Goods, Inc."], rules.Rules.MerchantBlacklist);
        Assert.Equal("merchant SHADY GOODS INC ONLINE matches blacklist entry SHADY GOODS INC", Assert.Single(decision.Reasons));
    }

    [Theory]
    [InlineData("Office Supplies Inc.", "OFFICE SUPPLIES INC")]
    [InlineData("office supplies, inc", "OFFICE SUPPLIES INC")]
    [InlineData("  Corner \t  Grocery ", "CORNER GROCERY")]
    [InlineData("McDonald's", "MCDONALDS")]
    [InlineData("AT&T Store #12", "AT&T STORE #12")]
    [InlineData("SUSPICIOUS_VENDOR_1", "SUSPICIOUS_VENDOR_1")]
    [InlineData("Café (Gare du Nord)", "CAFÉ GARE DU NORD")]
    public void MerchantName_IsUpperCaseWithoutFullStopsAndWithPunctuationAsSpace(string sent, string normalized)
    {
        Assert.Equal(normalized, MerchantNames.Normalize(sent));
        Assert.True(MerchantNames.IsName(MerchantNames.Normalize(sent)));
    }

    [Theory]
    [InlineData("...")]
    [InlineData(" , ; ")]
    public void MerchantName_OfPunctuationOnly_IsNoName(string sent) =>
        Assert.False(MerchantNames.IsName(MerchantNames.Normalize(sent)));

    [Fact]
    public void Evaluate_VelocityAboveTen_FlagsForReviewWithoutBlocking()
    {
        Assert.False(Evaluate(100, "ACME", "5411", null, attempts: 10).Review);
        var decision = Evaluate(100, "ACME", "5411", null, attempts: 11);
        Assert.True(decision.Review);
        Assert.False(decision.Blocked);
        Assert.Equal(["11 authorizations in the last minute exceed 10"], decision.Reasons);
        Assert.Equal(0.5m, decision.Score);
    }

    [Fact]
    public void Evaluate_SeveralRules_CombineScoresAndKeepEveryReason()
    {
        var rules = FraudEngine.Compile(FraudRules.Default with { ReviewCountries = ["ru"], ReviewCategories = ["betting_casino_gambling"] }).Rules!;
        var decision = FraudEngine.Evaluate(rules, 100, Usd, "ACME", "7995", "RU", 11);
        Assert.False(decision.Blocked);
        Assert.True(decision.Review);
        Assert.Equal(3, decision.Reasons.Count);
        Assert.Equal(1 - (0.7m * 0.7m * 0.5m), decision.Score);
    }

    [Fact]
    public void Compile_InvalidRules_SayWhat()
    {
        Assert.Contains("max_amount", FraudEngine.Compile(FraudRules.Default with { MaxAmount = "-1" }).Problem, StringComparison.Ordinal);
        Assert.Contains("velocity_per_minute", FraudEngine.Compile(FraudRules.Default with { VelocityPerMinute = 0 }).Problem, StringComparison.Ordinal);
        Assert.Contains("country", FraudEngine.Compile(FraudRules.Default with { BlockedCountries = ["USA"] }).Problem, StringComparison.Ordinal);
        Assert.Contains("category", FraudEngine.Compile(FraudRules.Default with { BlockedCategories = ["12"] }).Problem, StringComparison.Ordinal);
        Assert.Contains("merchant_blacklist", FraudEngine.Compile(FraudRules.Default with { MerchantBlacklist = ["..."] }).Problem, StringComparison.Ordinal);
    }

    private static FraudDecision Evaluate(long amount, string merchant, string category, string? country, int attempts) =>
        FraudEngine.Evaluate(CompiledFraudRules.Default, amount, Usd, merchant, category, country, attempts);

    private static CardLimits Limits(string? perAuthorization = null, string? daily = null, string? weekly = null, string? monthly = null, string? allTime = null) =>
        SpendingRules.Parse(new SpendingControls(perAuthorization, daily, weekly, monthly, allTime, null, null), Usd).Limits!;
}
