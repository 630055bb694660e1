using System.Text.Json;
using Orleans;
using Wallet.Grains.Cards;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Holds;

public static class HoldStatuses
{
    public const string Open = "open";
    public const string Captured = "captured";
    public const string Voided = "voided";
    public const string Expired = "expired";
}

/// <summary>
/// Holds <see cref="Amount"/> (decimal text) of the wallet until it is captured, voided or expires.
/// <see cref="Destination"/> is where captures go: a wallet id or a system reference such as
/// <c>@settlement</c>. A card's approval travels as <see cref="Authorization"/>, written with the hold.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.PlaceHold")]
public sealed record PlaceHold(
    string TenantId,
    string HoldId,
    string Amount,
    string Destination,
    DateTimeOffset ExpiresAt,
    string? Reference,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt,
    AuthorizationRecord? Authorization = null);

/// <summary>
/// Captures <see cref="Amount"/> (all that is still held when null) into the hold's destination as
/// a transfer with id <see cref="TransferId"/>. <see cref="Final"/> releases what remains.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.CaptureHold")]
public sealed record CaptureHold(
    string TenantId,
    string HoldId,
    string? Amount,
    bool Final,
    string TransferId,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt,
    AuthorizationView? Authorization = null);

[GenerateSerializer, Alias("wallet.HoldRelease")]
public enum HoldRelease
{
    /// <summary>Releases everything still held; the hold ends voided.</summary>
    Void,

    /// <summary>Releases everything still held once the hold's time is up; the hold ends expired.</summary>
    Expire,

    /// <summary>Releases <see cref="ReleaseHold.Amount"/> (all when null); the hold ends voided when nothing remains.</summary>
    Reverse,
}

[GenerateSerializer, Immutable, Alias("wallet.ReleaseHold")]
public sealed record ReleaseHold(
    string TenantId,
    string HoldId,
    HoldRelease Reason,
    string? Amount,
    IdempotencyRequest? Idempotency,
    DateTimeOffset At,
    AuthorizationView? Authorization = null);

/// <summary>Raises what the hold authorizes by <see cref="Amount"/>, if the wallet has it available.</summary>
[GenerateSerializer, Immutable, Alias("wallet.IncrementHold")]
public sealed record IncrementHold(
    string TenantId,
    string HoldId,
    string Amount,
    IdempotencyRequest? Idempotency,
    AuthorizationView? Authorization = null);

/// <summary>
/// A hold as clients see it. <see cref="Amount"/> is what it authorizes in all, <see cref="Captured"/>
/// what was captured of it, <see cref="Held"/> what it holds now (zero once closed).
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.HoldView")]
public sealed record HoldView(
    string Id,
    string WalletId,
    string Destination,
    string Amount,
    string Captured,
    string Held,
    string Currency,
    string Status,
    string? Reference,
    JsonElement? Metadata,
    DateTimeOffset ExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ClosedAt);

/// <summary>The answer of a capture: the hold after it and the transfer it posted.</summary>
[GenerateSerializer, Immutable, Alias("wallet.CaptureView")]
public sealed record CaptureView(HoldView Hold, TransferView Transfer);

/// <summary>
/// <see cref="Transfer"/> is set by a capture. <see cref="Replayed"/> is true when an in-flight call
/// with the same Idempotency-Key produced the answer.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.HoldResult")]
public sealed record HoldResult(HoldView? Hold, TransferView? Transfer, LedgerFailure? Failure, bool Replayed = false)
{
    public static HoldResult Fail(string code, string detail) => new(null, null, new LedgerFailure(code, detail));

    /// <summary>The card authorization the command came with, as this hold leaves it.</summary>
    [Id(4)]
    public AuthorizationView? Authorization { get; init; }
}

/// <summary>Hold ids as the ledger hands them out.</summary>
public static class HoldIds
{
    public const string Prefix = "hold_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");
}
