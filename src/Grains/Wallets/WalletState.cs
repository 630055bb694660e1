using Wallet.Grains.Holds;
using Wallet.Grains.Money;

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

    public long Balance { get; set; }

    public long Pending { get; set; }

    /// <summary>The wallet's open holds by id, tentative moves included, like <see cref="Balance"/>.</summary>
    public Dictionary<string, HoldState> Holds { get; init; } = new(StringComparer.Ordinal);

    public long OverdraftLimit { get; init; }

    public bool MayGoNegative { get; init; }

    /// <summary>The row version this state was read at. Credits at or below it are already counted.</summary>
    public long LoadedVersion { get; init; }

    /// <summary>The metadata object, parsed once when the state is read or created.</summary>
    public System.Text.Json.JsonElement? Metadata { get; init; }

    public string? MetadataJson => Metadata?.GetRawText();

    public DateTimeOffset CreatedAt { get; init; }

    public WalletState Copy() => (WalletState)MemberwiseClone();

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
        CreatedAt);
}

/// <summary>An open hold of the wallet, as its turns know it.</summary>
internal sealed class HoldState
{
    public required string Id { get; init; }

    public required string DestinationId { get; init; }

    public long Amount { get; set; }

    public long Captured { get; set; }

    public long Held => Amount - Captured;

    public string? Reference { get; init; }

    public System.Text.Json.JsonElement? Metadata { get; init; }

    public DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public HoldView ToView(WalletState wallet, string status = HoldStatuses.Open, DateTimeOffset? closedAt = null) => new(
        Id,
        wallet.Id,
        SystemAccounts.Display(DestinationId),
        wallet.Format(Amount),
        wallet.Format(Captured),
        wallet.Format(status == HoldStatuses.Open ? Held : 0),
        wallet.Currency.Code,
        status,
        Reference,
        Metadata,
        ExpiresAt,
        CreatedAt,
        closedAt);
}
