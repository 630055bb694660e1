using System.Text.Json;
using Wallet.Grains.Money;

namespace Wallet.Grains.Cards;

/// <summary>
/// What a card grain knows: its row, and what its approved authorizations count against the
/// limits. Spends of authorizations in flight are counted too, so the card may only ever think it
/// spent more than it did, never less.
/// </summary>
internal sealed class CardState
{
    public static CardState Missing(string id) => new() { Id = id };

    public bool Exists { get; init; }

    public string Id { get; init; } = "";

    public string TenantId { get; init; } = "";

    public string WalletId { get; init; } = "";

    public Currency Currency { get; init; } = new("XXX", 0);

    public string CardholderName { get; set; } = "";

    public string Last4 { get; init; } = "";

    public string Status { get; set; } = CardStatuses.Active;

    public CardLimits Limits { get; set; } = CardLimits.None;

    public int ControlsVersion { get; set; } = 1;

    public JsonElement? Metadata { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Approved authorizations inside the longest spending window, by id.</summary>
    public Dictionary<string, Spend> Spends { get; init; } = new(StringComparer.Ordinal);

    public long AllTimeSpent { get; set; }

    /// <summary>When the card's recent authorization attempts were made, oldest first (for velocity).</summary>
    public Queue<DateTimeOffset> RecentAttempts { get; init; } = new();

    public bool IsVisibleTo(string tenantId) => Exists && TenantId == tenantId;

    public CardState Copy() => (CardState)MemberwiseClone();

    public string Format(long minorUnits) => Amount.Format(minorUnits, Currency.Scale);

    /// <summary>The authorization made at <paramref name="at"/> now counts <paramref name="after"/> where it counted <paramref name="before"/>.</summary>
    public void Count(string authorizationId, DateTimeOffset at, long before, long after)
    {
        AllTimeSpent += after - before;
        Spends[authorizationId] = new Spend(authorizationId, at, after);
    }

    /// <summary>Counts one more attempt at <paramref name="now"/>; returns the attempts in the minute up to it.</summary>
    public int CountAttempt(DateTimeOffset now)
    {
        while (RecentAttempts.TryPeek(out var oldest) && oldest <= now - TimeSpan.FromMinutes(1))
        {
            RecentAttempts.Dequeue();
        }

        RecentAttempts.Enqueue(now);
        return RecentAttempts.Count;
    }

    /// <summary>Forgets spends older than <paramref name="earliest"/>: they count toward all_time only.</summary>
    public void ForgetBefore(DateTimeOffset earliest)
    {
        foreach (var old in Spends.Values.Where(s => s.At < earliest).ToList())
        {
            Spends.Remove(old.AuthorizationId);
        }
    }

    public CardView ToView() => new(
        Id,
        WalletId,
        CardholderName,
        CardNumbers.Masked(Last4),
        Last4,
        Currency.Code,
        Status,
        SpendingRules.View(Limits, Currency),
        ControlsVersion,
        Metadata,
        CreatedAt,
        UpdatedAt);
}
