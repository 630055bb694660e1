using System.Text.Json;
using Orleans;
using Wallet.Grains.Holds;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Cards;

public static class CardStatuses
{
    public const string Active = "active";
    public const string Frozen = "frozen";
    public const string Cancelled = "cancelled";
}

public static class AuthorizationStatuses
{
    public const string Approved = "approved";
    public const string Declined = "declined";
    public const string Captured = "captured";
    public const string Reversed = "reversed";
    public const string Expired = "expired";

    public static IReadOnlyList<string> All { get; } = [Approved, Declined, Captured, Reversed, Expired];

    /// <summary>An approved authorization's status follows its hold.</summary>
    public static string Of(string holdStatus) => holdStatus switch
    {
        HoldStatuses.Open => Approved,
        HoldStatuses.Captured => Captured,
        HoldStatuses.Expired => Expired,
        _ => Reversed,
    };
}

/// <summary>
/// Spending controls as clients write them: amount limits as decimal text in the card's currency
/// (null: no limit) and merchant categories as codes ("5411") or names ("grocery_stores_supermarkets").
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.SpendingControls")]
public sealed record SpendingControls(
    string? PerAuthorization,
    string? Daily,
    string? Weekly,
    string? Monthly,
    string? AllTime,
    IReadOnlyList<string>? AllowedCategories,
    IReadOnlyList<string>? BlockedCategories)
{
    public static SpendingControls None { get; } = new(null, null, null, null, null, null, null);
}

[GenerateSerializer, Immutable, Alias("wallet.CreateCard")]
public sealed record CreateCard(
    string TenantId,
    string WalletId,
    string CardholderName,
    string CardNumber,
    SpendingControls Controls,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt);

/// <summary>Changes what is given: the cardholder's name, the spending controls (a new version), the metadata.</summary>
[GenerateSerializer, Immutable, Alias("wallet.UpdateCard")]
public sealed record UpdateCard(
    string TenantId,
    string? CardholderName,
    SpendingControls? Controls,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    DateTimeOffset At);

[GenerateSerializer, Alias("wallet.CardStatusChange")]
public enum CardStatusChange
{
    Freeze,
    Unfreeze,
    Cancel,
}

/// <summary>A card frozen, unfrozen or cancelled; <see cref="Actor"/>, when given, is recorded in the audit trail with the change.</summary>
[GenerateSerializer, Immutable, Alias("wallet.ChangeCardStatus")]
public sealed record ChangeCardStatus(string TenantId, CardStatusChange Change, IdempotencyRequest? Idempotency, DateTimeOffset At, string? Actor = null);

[GenerateSerializer, Immutable, Alias("wallet.AuthorizeCommand")]
public sealed record AuthorizeCommand(
    string TenantId,
    string AuthorizationId,
    string Amount,
    string MerchantName,
    string? MerchantCategory,
    string? MerchantCountry,
    string? Description,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt);

[GenerateSerializer, Alias("wallet.AuthorizationAction")]
public enum AuthorizationAction
{
    Capture,
    Reverse,
    Increment,
}

/// <summary>
/// A capture, reversal or increment of one of the card's authorizations, which the card reads itself.
/// <see cref="Amount"/> null captures or reverses all that is held; <see cref="Final"/> ends a capture.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuthorizationCommand")]
public sealed record AuthorizationCommand(
    string TenantId,
    string AuthorizationId,
    AuthorizationAction Action,
    string? Amount,
    bool Final,
    string TransferId,
    IdempotencyRequest? Idempotency,
    DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("wallet.SpendingControlsView")]
public sealed record SpendingControlsView(
    string? PerAuthorization,
    string? Daily,
    string? Weekly,
    string? Monthly,
    string? AllTime,
    IReadOnlyList<string> AllowedCategories,
    IReadOnlyList<string> BlockedCategories);

/// <summary>A card as clients see it: never its number, only <c>**** **** **** 1111</c>.</summary>
[GenerateSerializer, Immutable, Alias("wallet.CardView")]
public sealed record CardView(
    string Id,
    string WalletId,
    string CardholderName,
    string Number,
    string Last4,
    string Currency,
    string Status,
    SpendingControlsView SpendingControls,
    int ControlsVersion,
    JsonElement? Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The fraud check's score, 0 to 1 in thousandths, and the reasons of every rule that fired.</summary>
[GenerateSerializer, Immutable, Alias("wallet.FraudView")]
public sealed record FraudView(decimal Score, IReadOnlyList<string> Reasons)
{
    /// <summary>The score to three decimals without trailing zeros, so it reads the same wherever it comes from.</summary>
    public static decimal Normalize(decimal score) =>
        decimal.Parse(score.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
}

[GenerateSerializer, Immutable, Alias("wallet.DeclineView")]
public sealed record DeclineView(string Code, string Detail);

/// <summary>
/// The receipt an authorization is shown with: its verified one if it has one, else its latest.
/// <see cref="Verified"/> says whether the transaction is closed for finance.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuthorizationReceipt")]
public sealed record AuthorizationReceipt(string Id, string Status, bool Verified);

/// <summary>
/// One authorization decision. An approved one carries its hold and follows it: <see cref="Amount"/>
/// is what it authorizes now (after increments and reversals), <see cref="Captured"/> what was captured.
/// <see cref="Receipt"/> is its receipt (null until one is uploaded for it).
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuthorizationView")]
public sealed record AuthorizationView(
    string Id,
    string CardId,
    string WalletId,
    string Status,
    bool Approved,
    string Amount,
    string Captured,
    string Currency,
    string MerchantName,
    string? MerchantCategory,
    string? MerchantCountry,
    string? Description,
    FraudView Fraud,
    bool Review,
    DeclineView? Decline,
    string? HoldId,
    int ControlsVersion,
    DateTimeOffset CreatedAt,
    string? MerchantNameOriginal,
    AuthorizationReceipt? Receipt = null)
{
    /// <summary>This approved authorization as <paramref name="hold"/> now stands.</summary>
    public AuthorizationView With(HoldView hold) => this with
    {
        Status = AuthorizationStatuses.Of(hold.Status),
        Amount = hold.Amount,
        Captured = hold.Captured,
    };
}

/// <summary>
/// An authorization decision to write: with the hold when approved, alone when declined.
/// <see cref="FraudRules"/> names the fraud rules that fired, for the operators' cards page.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuthorizationRecord")]
public sealed record AuthorizationRecord(
    string TenantId,
    AuthorizationView View,
    long AmountMinor,
    IdempotencyRequest? Idempotency,
    StoredAnswer Answer,
    IReadOnlyList<string> FraudRules);

[GenerateSerializer, Immutable, Alias("wallet.CardResult")]
public sealed record CardResult(CardView? Card, LedgerFailure? Failure)
{
    public static CardResult Fail(string code, string detail) => new(null, new LedgerFailure(code, detail));
}

/// <summary>
/// The answer to an authorization: the decision (approved, or declined with the failure that says
/// why) and the answer as it is stored with the Idempotency-Key, which a replay gives again.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuthorizationResult")]
public sealed record AuthorizationResult(AuthorizationView? Authorization, LedgerFailure? Failure, StoredAnswer? Answer, bool Replayed = false);

/// <summary>
/// A tenant's fraud rules. <see cref="MaxAmount"/> is in the major unit of the authorization's
/// currency; blacklist entries match merchant names exactly or in part, ignoring case.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.FraudRules")]
public sealed record FraudRules(
    string MaxAmount,
    IReadOnlyList<string> MerchantBlacklist,
    int VelocityPerMinute,
    IReadOnlyList<string> BlockedCountries,
    IReadOnlyList<string> ReviewCountries,
    IReadOnlyList<string> BlockedCategories,
    IReadOnlyList<string> ReviewCategories)
{
    public const int VelocityPerMinuteMax = 100_000;

    public static FraudRules Default { get; } = new(
        "5000.00",
        ["SUSPICIOUS_VENDOR_1", "BLACKLISTED_MERCHANT", "FRAUD_CORP", "SCAM_ENTERPRISES"],
        10,
        [],
        [],
        [],
        []);
}

[GenerateSerializer, Immutable, Alias("wallet.FraudRulesView")]
public sealed record FraudRulesView(FraudRules Rules, int Version, DateTimeOffset? UpdatedAt);

/// <summary>Card and authorization ids as the ledger hands them out; version 7 GUIDs, so they sort by creation.</summary>
public static class CardIds
{
    public const string CardPrefix = "card_";
    public const string AuthorizationPrefix = "auth_";

    public static string NewCard() => CardPrefix + Guid.CreateVersion7().ToString("N");

    public static string NewAuthorization() => AuthorizationPrefix + Guid.CreateVersion7().ToString("N");

    public static bool IsCardId(string id) => id.Length is > 5 and <= 64 && id.StartsWith(CardPrefix, StringComparison.Ordinal);
}
