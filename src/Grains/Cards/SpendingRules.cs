using System.Collections.Frozen;
using Wallet.Grains.Money;

namespace Wallet.Grains.Cards;

/// <summary>A card's spending controls in minor units of its currency, categories as codes.</summary>
internal sealed record CardLimits(
    long? PerAuthorization,
    long? Daily,
    long? Weekly,
    long? Monthly,
    long? AllTime,
    FrozenSet<string> AllowedCategories,
    FrozenSet<string> BlockedCategories)
{
    public static CardLimits None { get; } = new(null, null, null, null, null, FrozenSet<string>.Empty, FrozenSet<string>.Empty);
}

/// <summary>What an approved authorization counts against the card's limits: what it holds or, once closed, what it captured.</summary>
internal sealed record Spend(string AuthorizationId, DateTimeOffset At, long Amount);

/// <summary>The card's spending controls as pure functions: parsing, categories and limits over calendar windows.</summary>
internal static class SpendingRules
{
    private static readonly (string Name, Func<CardLimits, long?> Limit)[] Intervals =
    [
        ("per_authorization", l => l.PerAuthorization),
        ("daily", l => l.Daily),
        ("weekly", l => l.Weekly),
        ("monthly", l => l.Monthly),
        ("all_time", l => l.AllTime),
    ];

    public static (CardLimits? Limits, LedgerFailure? Failure) Parse(SpendingControls controls, Currency currency)
    {
        var texts = new[] { controls.PerAuthorization, controls.Daily, controls.Weekly, controls.Monthly, controls.AllTime };
        var parsed = new long?[texts.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            if (texts[i] is not { } text)
            {
                continue;
            }

            var error = Amount.TryParse(text, currency.Scale, out var limit);
            if (error != AmountError.None)
            {
                return (null, new LedgerFailure(LedgerErrors.InvalidAmount,
                    $"spending_controls.{Intervals[i].Name}: {Amount.Describe(error, currency.Code, currency.Scale)}"));
            }

            parsed[i] = limit;
        }

        var (allowed, allowedFailure) = Categories("allowed_categories", controls.AllowedCategories);
        var (blocked, blockedFailure) = Categories("blocked_categories", controls.BlockedCategories);
        if ((allowedFailure ?? blockedFailure) is { } failure)
        {
            return (null, failure);
        }

        return (new CardLimits(parsed[0], parsed[1], parsed[2], parsed[3], parsed[4], allowed!, blocked!), null);
    }

    public static SpendingControlsView View(CardLimits limits, Currency currency)
    {
        string? Format(long? limit) => limit is { } value ? Amount.Format(value, currency.Scale) : null;
        return new SpendingControlsView(
            Format(limits.PerAuthorization),
            Format(limits.Daily),
            Format(limits.Weekly),
            Format(limits.Monthly),
            Format(limits.AllTime),
            [.. limits.AllowedCategories.Order(StringComparer.Ordinal)],
            [.. limits.BlockedCategories.Order(StringComparer.Ordinal)]);
    }

    public static SpendingControls Controls(SpendingControlsView view) => new(
        view.PerAuthorization, view.Daily, view.Weekly, view.Monthly, view.AllTime, view.AllowedCategories, view.BlockedCategories);

    /// <summary>
    /// The card's category controls: a blocked category is refused; when the card allows only some
    /// categories, any other is refused, and so is an authorization that names none.
    /// </summary>
    public static LedgerFailure? CheckCategory(CardLimits limits, string? category)
    {
        if (category is null)
        {
            return limits.AllowedCategories.Count > 0
                ? new LedgerFailure(LedgerErrors.CategoryBlocked, "the authorization names no merchant category, and this card allows only some")
                : null;
        }

        if (limits.BlockedCategories.Contains(category))
        {
            return new LedgerFailure(LedgerErrors.CategoryBlocked, $"merchant category {MerchantCategories.Describe(category)} is blocked on this card");
        }

        return limits.AllowedCategories.Count > 0 && !limits.AllowedCategories.Contains(category)
            ? new LedgerFailure(LedgerErrors.CategoryBlocked, $"merchant category {MerchantCategories.Describe(category)} is not among the card's allowed categories")
            : null;
    }

    /// <summary>The first limit that <paramref name="amount"/> would break, given what the card spent.</summary>
    public static LedgerFailure? CheckLimits(
        CardLimits limits, Currency currency, IReadOnlyCollection<Spend> spends, long allTimeSpent, long amount, DateTimeOffset now, TimeZoneInfo zone)
    {
        var (day, week, month) = WindowStarts(now, zone);
        foreach (var (name, limitOf) in Intervals)
        {
            if (limitOf(limits) is not { } limit)
            {
                continue;
            }

            var spent = name switch
            {
                "per_authorization" => 0,
                "all_time" => allTimeSpent,
                _ => spends.Where(s => s.At >= (name == "daily" ? day : name == "weekly" ? week : month)).Sum(s => s.Amount),
            };
            if (amount > limit - spent)
            {
                var detail = name == "per_authorization"
                    ? $"per_authorization limit {Amount.Format(limit, currency.Scale)} {currency.Code}: {Amount.Format(amount, currency.Scale)} requested"
                    : $"{name} limit {Amount.Format(limit, currency.Scale)} {currency.Code}: {Amount.Format(spent, currency.Scale)} spent, {Amount.Format(amount, currency.Scale)} requested";
                return new LedgerFailure(LedgerErrors.LimitExceeded, detail, StoredAnswers.Extensions(new { Limit = name }));
            }
        }

        return null;
    }

    /// <summary>Where the day, the week (from Monday) and the month of <paramref name="now"/> began in <paramref name="zone"/>.</summary>
    public static (DateTimeOffset Day, DateTimeOffset Week, DateTimeOffset Month) WindowStarts(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime.Date;
        DateTimeOffset Start(DateTime date) => new(date, zone.GetUtcOffset(date));
        var sinceMonday = ((int)local.DayOfWeek + 6) % 7;
        return (Start(local), Start(local.AddDays(-sinceMonday)), Start(new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified)));
    }

    /// <summary>The earliest window any limit looks at: older spends only count toward all_time.</summary>
    public static DateTimeOffset EarliestWindow(DateTimeOffset now, TimeZoneInfo zone)
    {
        var (_, week, month) = WindowStarts(now, zone);
        return week < month ? week : month;
    }

    private static (FrozenSet<string>?, LedgerFailure?) Categories(string field, IReadOnlyList<string>? categories)
    {
        var codes = new List<string>();
        foreach (var category in categories ?? [])
        {
            if (!MerchantCategories.TryNormalize(category, out var code))
            {
                return (null, new LedgerFailure(LedgerErrors.ValidationFailed,
                    $"spending_controls.{field}: '{category}' {MerchantCategories.Invalid}"));
            }

            codes.Add(code);
        }

        return (codes.ToFrozenSet(StringComparer.Ordinal), null);
    }
}
