using System.Collections.Frozen;
using System.Globalization;
using Wallet.Grains.Money;

namespace Wallet.Grains.Cards;

/// <summary>A tenant's fraud rules, checked and ready to evaluate.</summary>
internal sealed record CompiledFraudRules(
    FraudRules Rules,
    decimal MaxAmount,
    string[] Blacklist,
    FrozenSet<string> BlockedCountries,
    FrozenSet<string> ReviewCountries,
    FrozenSet<string> BlockedCategories,
    FrozenSet<string> ReviewCategories)
{
    public static CompiledFraudRules Default { get; } = FraudEngine.Compile(FraudRules.Default).Rules!;
}

/// <summary>The fraud check's answer; <see cref="Rules"/> names the rules that fired (see <see cref="FraudRuleNames"/>), in the order of <see cref="Reasons"/>.</summary>
internal sealed record FraudDecision(decimal Score, IReadOnlyList<string> Reasons, IReadOnlyList<string> Rules, bool Blocked, bool Review);

/// <summary>Stable names of the fraud rules, for counting which ones fire (the reasons are prose).</summary>
public static class FraudRuleNames
{
    public const string MaxAmount = "max_amount";
    public const string Blacklist = "merchant_blacklist";
    public const string BlockedCountry = "blocked_country";
    public const string ReviewCountry = "review_country";
    public const string BlockedCategory = "blocked_category";
    public const string ReviewCategory = "review_category";
    public const string Velocity = "velocity";
}

/// <summary>
/// The synchronous fraud check of an authorization: rules that block and rules that flag for
/// review. Each rule that fires adds a reason and a weight; the score is 1 - Π(1 - weight).
/// Pure and allocation-light: it runs inside every authorization's turn.
/// </summary>
internal static class FraudEngine
{
    private const decimal AmountWeight = 0.9m;
    private const decimal BlacklistWeight = 0.95m;
    private const decimal BlockedCountryWeight = 0.8m;
    private const decimal BlockedCategoryWeight = 0.8m;
    private const decimal VelocityWeight = 0.5m;
    private const decimal ReviewCountryWeight = 0.3m;
    private const decimal ReviewCategoryWeight = 0.3m;

    public static FraudDecision Evaluate(
        CompiledFraudRules rules, long amount, Currency currency, string merchantName, string? category, string? country, int attemptsInLastMinute)
    {
        var reasons = new List<string>();
        var fired = new List<string>();
        var keep = 1m;
        var blocked = false;
        var review = false;
        void Fire(string rule, string reason, decimal weight, bool blocks)
        {
            fired.Add(rule);
            reasons.Add(reason);
            keep *= 1 - weight;
            blocked |= blocks;
            review |= !blocks;
        }

        var major = Amount.Format(amount, currency.Scale);
        if ((decimal)amount > rules.MaxAmount * Pow10(currency.Scale))
        {
            Fire(FraudRuleNames.MaxAmount, $"amount {major} exceeds maximum {rules.Rules.MaxAmount}", AmountWeight, blocks: true);
        }

        foreach (var entry in rules.Blacklist)
        {
            if (merchantName.Contains(entry, StringComparison.OrdinalIgnoreCase))
            {
                Fire(FraudRuleNames.Blacklist, $"merchant {merchantName} matches blacklist entry {entry}", BlacklistWeight, blocks: true);
                break;
            }
        }

        if (country is not null && rules.BlockedCountries.Contains(country))
        {
            Fire(FraudRuleNames.BlockedCountry, $"merchant country {country} is blocked", BlockedCountryWeight, blocks: true);
        }
        else if (country is not null && rules.ReviewCountries.Contains(country))
        {
            Fire(FraudRuleNames.ReviewCountry, $"merchant country {country} is flagged for review", ReviewCountryWeight, blocks: false);
        }

        // An authorization without a category fires no category rule.
        if (category is not null && rules.BlockedCategories.Contains(category))
        {
            Fire(FraudRuleNames.BlockedCategory, $"merchant category {MerchantCategories.Describe(category)} is blocked", BlockedCategoryWeight, blocks: true);
        }
        else if (category is not null && rules.ReviewCategories.Contains(category))
        {
            Fire(FraudRuleNames.ReviewCategory, $"merchant category {MerchantCategories.Describe(category)} is flagged for review", ReviewCategoryWeight, blocks: false);
        }

        if (attemptsInLastMinute > rules.Rules.VelocityPerMinute)
        {
            Fire(FraudRuleNames.Velocity, $"{attemptsInLastMinute} authorizations in the last minute exceed {rules.Rules.VelocityPerMinute}", VelocityWeight, blocks: false);
        }

        return new FraudDecision(FraudView.Normalize(1 - keep), reasons, fired, blocked, review);
    }

    /// <summary>Checks rules as a client wrote them; categories become codes, countries upper case.</summary>
    public static (CompiledFraudRules? Rules, string? Problem) Compile(FraudRules rules)
    {
        if (!decimal.TryParse(rules.MaxAmount, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var max) || max <= 0)
        {
            return (null, "max_amount must be a positive decimal such as \"5000.00\"");
        }

        if (rules.VelocityPerMinute is < 1 or > FraudRules.VelocityPerMinuteMax)
        {
            return (null, $"velocity_per_minute must be a whole number from 1 to {FraudRules.VelocityPerMinuteMax}");
        }

        if (!rules.MerchantBlacklist.All(m => MerchantNames.IsName(MerchantNames.Normalize(m))))
        {
            return (null, "merchant_blacklist entries must have a letter or a digit");
        }

        var countries = new[] { rules.BlockedCountries, rules.ReviewCountries };
        if (countries.SelectMany(c => c).Any(c => c.Length != 2 || !c.All(char.IsAsciiLetter)))
        {
            return (null, "blocked_countries and review_countries must hold two-letter ISO 3166 country codes");
        }

        var blockedCategories = new List<string>();
        var reviewCategories = new List<string>();
        foreach (var (source, target) in new[] { (rules.BlockedCategories, blockedCategories), (rules.ReviewCategories, reviewCategories) })
        {
            foreach (var category in source)
            {
                if (!MerchantCategories.TryNormalize(category, out var code))
                {
                    return (null, $"'{category}' {MerchantCategories.Invalid}");
                }

                target.Add(code);
            }
        }

        var normalized = rules with
        {
            MaxAmount = max.ToString(CultureInfo.InvariantCulture),
            MerchantBlacklist = [.. rules.MerchantBlacklist.Select(m => m.Trim())],
            BlockedCountries = [.. rules.BlockedCountries.Select(c => c.ToUpperInvariant())],
            ReviewCountries = [.. rules.ReviewCountries.Select(c => c.ToUpperInvariant())],
            BlockedCategories = blockedCategories,
            ReviewCategories = reviewCategories,
        };
        return (new CompiledFraudRules(
            normalized,
            max,
            [.. normalized.MerchantBlacklist.Select(MerchantNames.Normalize)],
            normalized.BlockedCountries.ToFrozenSet(),
            normalized.ReviewCountries.ToFrozenSet(),
            blockedCategories.ToFrozenSet(),
            reviewCategories.ToFrozenSet()), null);
    }

    private static decimal Pow10(int scale)
    {
        var result = 1m;
        for (var i = 0; i < scale; i++)
        {
            result *= 10;
        }

        return result;
    }
}
