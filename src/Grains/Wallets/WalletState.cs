using Wallet.Grains.Holds;
using Wallet.Grains.Money;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>
/// What a wallet grain knows of its row. <see cref="Balance"/> includes the debits its turns have
/// staged but not yet seen committed, so it may only ever be lower than the truth, never higher.
/// </summary>
internal sealed class WalletState
{
    public static WalletState Missing(string id) => new() { Id = id };

    public bool Exists { get; init; }

    public string Id { get; init; } = "";

    public string TenantId { get; init; } = "";

    public bool IsSystem { get; init; }

    public Currency Currency { get; init; } = new("XXX", 0);

    public string Status { get; set; } = WalletStatuses.Active;

    public string? OwnerId { get; init; }

    /// <summary>The person who owns the wallet, as screened; pseudonymised by an erasure.</summary>
    public WalletOwner? Owner { get; set; }

    /// <summary>The screening that put the wallet under compliance review (its withdrawals are refused), until it is resolved; null when none.</summary>
    public string? ComplianceReview { get; set; }

    public long Balance { get; set; }

    public long Pending { get; set; }

    /// <summary>The wallet's open holds by id.</summary>
    public Dictionary<string, HoldRecord> Holds { get; private set; } = new(StringComparer.Ordinal);

    public long OverdraftLimit { get; init; }

    public bool MayGoNegative { get; init; }

    /// <summary>The row version this state was read at. Credits at or below it are already counted.</summary>
    public long LoadedVersion { get; init; }

    /// <summary>The metadata object, parsed once when the state is read or created.</summary>
    public System.Text.Json.JsonElement? Metadata { get; init; }

    public string? MetadataJson => Metadata?.GetRawText();

    public DateTimeOffset CreatedAt { get; init; }

    public WalletState Copy() => (WalletState)MemberwiseClone();

    /// <summary>A copy with <paramref name="holds"/> as its open holds.</summary>
    public WalletState WithHolds(Dictionary<string, HoldRecord> holds)
    {
        var copy = Copy();
        copy.Holds = holds;
        return copy;
    }

    public bool IsVisibleTo(string tenantId) => Exists && TenantId == tenantId;

    /// <summary>Checks a debit against status and funds; null when it may be staged.</summary>
    public LedgerFailure? CheckDebit(long amount) => DebitRule.Check(Id, Status, MayGoNegative, Available, amount, Currency.Code, Currency.Scale);

    public long Available => Balance - Pending + OverdraftLimit;

    public void ApplyDebit(long amount) => Balance = checked(Balance - amount);

    /// <summary>Counts a credit committed by another wallet's turn, unless the loaded state has it already.</summary>
    public void ApplyCredit(CreditNotice notice)
    {
        if (Exists && notice.Version > LoadedVersion)
        {
            Balance = checked(Balance + notice.Amount);
        }
    }

    public string Display => SystemAccounts.Display(Id);

    public string Format(long minorUnits) => Amount.Format(minorUnits, Currency.Scale);

    public WalletView ToView() => new(
        Id,
        Currency.Code,
        Status,
        OwnerId,
        new BalanceView(Format(Balance), Format(Pending), Format(Available)),
        Format(OverdraftLimit),
        Metadata,
        CreatedAt,
        Owner,
        ComplianceReview);
}

/// <summary>Holds as clients see them.</summary>
internal static class HoldViews
{
    public static HoldView ToView(this HoldRecord hold, WalletState wallet) => new(
        hold.Id,
        wallet.Id,
        SystemAccounts.Display(hold.DestinationId),
        wallet.Format(hold.Amount),
        wallet.Format(hold.Captured),
        wallet.Format(hold.Held),
        wallet.Currency.Code,
        hold.Status,
        hold.Reference,
        hold.MetadataJson is null ? null : System.Text.Json.JsonDocument.Parse(hold.MetadataJson).RootElement.Clone(),
        hold.ExpiresAt,
        hold.CreatedAt,
        hold.ClosedAt);
}
