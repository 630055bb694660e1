using System.Text.Json;
using Orleans;

namespace Wallet.Grains.Wallets;

/// <summary>An Idempotency-Key and the hash of the request it came with.</summary>
[GenerateSerializer, Immutable, Alias("wallet.IdempotencyRequest")]
public sealed record IdempotencyRequest(string Key, string RequestHash);

[GenerateSerializer, Immutable, Alias("wallet.CreateWallet")]
public sealed record CreateWallet(
    string TenantId,
    string Currency,
    string? OwnerId,
    string? OverdraftLimit,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    WalletOwner? Owner = null,
    string? ComplianceReview = null);

/// <summary>
/// The person who owns a wallet, screened against the tenant's watchlists when the wallet is
/// created and again when a watchlist changes and on a schedule. <see cref="DateOfBirth"/> is
/// <c>yyyy-MM-dd</c>. <see cref="Erased"/>: a data subject's erasure replaced the name with a
/// pseudonym and removed the rest.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.WalletOwner")]
public sealed record WalletOwner(string Name, string? Country, string? DateOfBirth, bool Erased = false);

[GenerateSerializer, Alias("wallet.WalletStatusChange")]
public enum WalletStatusChange
{
    Freeze,
    Unfreeze,
    Close,
}

/// <summary>A wallet frozen, unfrozen or closed; <see cref="Actor"/>, when given, is recorded in the audit trail with the change.</summary>
[GenerateSerializer, Immutable, Alias("wallet.ChangeWalletStatus")]
public sealed record ChangeWalletStatus(string TenantId, WalletStatusChange Change, IdempotencyRequest? Idempotency, string? Actor = null);

/// <summary>
/// A transfer as the client asked for it. <see cref="Source"/> and <see cref="Destination"/> are
/// wallet ids or system references such as <c>@treasury</c>; <see cref="Amount"/> is decimal text,
/// converted with the currency's scale inside the source's turn.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.TransferCommand")]
public sealed record TransferCommand(
    string TenantId,
    string TransferId,
    string Source,
    string Destination,
    string Amount,
    string? Currency,
    string? Reference,
    string? Description,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt);

/// <summary>Transfer ids as the ledger hands them out (a hold's capture is a transfer too).</summary>
public static class TransferIds
{
    public const string Prefix = "tr_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");
}

/// <summary>A credit committed to this wallet, at the wallet row version it produced.</summary>
[GenerateSerializer, Immutable, Alias("wallet.CreditNotice")]
public sealed record CreditNotice(long Amount, long Version);

public static class WalletStatuses
{
    public const string Active = "active";
    public const string Frozen = "frozen";
    public const string Closed = "closed";
}

[GenerateSerializer, Immutable, Alias("wallet.BalanceView")]
public sealed record BalanceView(string Posted, string Pending, string Available);

[GenerateSerializer, Immutable, Alias("wallet.WalletView")]
public sealed record WalletView(
    string Id,
    string Currency,
    string Status,
    string? OwnerId,
    BalanceView Balance,
    string OverdraftLimit,
    JsonElement? Metadata,
    DateTimeOffset CreatedAt,
    WalletOwner? Owner = null,
    string? ComplianceReview = null);

[GenerateSerializer, Immutable, Alias("wallet.TransferView")]
public sealed record TransferView(
    string Id,
    string Source,
    string Destination,
    string Amount,
    string Currency,
    string Status,
    string? Reference,
    string? Description,
    JsonElement? Metadata,
    DateTimeOffset CreatedAt);

/// <summary>What the first request with an Idempotency-Key came to.</summary>
[GenerateSerializer, Alias("wallet.AnswerOutcome")]
public enum AnswerOutcome
{
    /// <summary>It created what the body describes.</summary>
    Created,

    /// <summary>It changed or moved what the body describes.</summary>
    Done,

    /// <summary>It was refused, and recorded as refused (a declined authorization): the body is the <see cref="LedgerFailure"/>.</summary>
    Refused,

    /// <summary>It took what the body describes, whose work goes on in the background (a receipt to read).</summary>
    Accepted,
}

/// <summary>
/// The answer first given to an idempotent request, replayed as it was: its outcome and the JSON
/// body of the result, or of the failure when it was refused. How it is rendered is the caller's.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.StoredAnswer")]
public sealed record StoredAnswer(AnswerOutcome Outcome, string Body);

/// <summary>
/// A request about a money-issuing account's budget: read it, or (<see cref="Set"/>) replace it
/// with <see cref="Amount"/>, decimal text, or remove it when that is null.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.BudgetCommand")]
public sealed record BudgetCommand(string TenantId, bool Set, string? Amount, string? Actor = null);

/// <summary>
/// A money-issuing account and its budget: <see cref="Issued"/> is what it has given beyond what it
/// took back (the negative of its balance, never below zero); <see cref="Budget"/> and
/// <see cref="Remaining"/> are null when it has no budget.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.BudgetView")]
public sealed record BudgetView(string Account, string Currency, string Balance, string Issued, string? Budget, string? Remaining);

[GenerateSerializer, Immutable, Alias("wallet.BudgetResult")]
public sealed record BudgetResult(BudgetView? Budget, LedgerFailure? Failure);

[GenerateSerializer, Immutable, Alias("wallet.WalletResult")]
public sealed record WalletResult(WalletView? Wallet, LedgerFailure? Failure)
{
    public static WalletResult Fail(string code, string detail) => new(null, new LedgerFailure(code, detail));
}

/// <summary><see cref="Replayed"/> is true when an in-flight call with the same Idempotency-Key produced the answer.</summary>
[GenerateSerializer, Immutable, Alias("wallet.TransferResult")]
public sealed record TransferResult(TransferView? Transfer, LedgerFailure? Failure, bool Replayed = false)
{
    public static TransferResult Fail(string code, string detail) => new(null, new LedgerFailure(code, detail));
}
