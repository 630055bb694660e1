using Wallet.Grains.Cards;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Ledger;

/// <summary>
/// What a grain's turn stages into the silo's group commit. Each item carries the answer to store
/// with its Idempotency-Key, so a replay is what the first request was told.
/// </summary>
internal abstract record LedgerItem
{
    public abstract string TenantId { get; init; }

    public abstract IdempotencyRequest? Idempotency { get; init; }

    /// <summary>The answer to its request, kept with the key; null for an entry that answers no request (a capture's own transfer).</summary>
    public abstract StoredAnswer? Answer { get; init; }
}

/// <summary>A transfer a wallet turn validated and staged. <see cref="HoldId"/> is set on a hold's capture.</summary>
internal sealed record StagedTransfer(
    string TenantId,
    string TransferId,
    string SourceId,
    string DestinationId,
    long Amount,
    string Currency,
    string? Reference,
    string? Description,
    string? MetadataJson,
    IdempotencyRequest? Idempotency,
    StoredAnswer? Answer,
    DateTimeOffset CreatedAt,
    string? HoldId = null) : LedgerItem;

internal enum HoldMove
{
    Place,
    Increment,
    Capture,
    Release,
}

/// <summary>
/// A move of a hold, staged by its wallet's turn. <see cref="Amount"/> is what is placed, added,
/// captured or released. A capture with <see cref="Final"/>, and a release of all that remains,
/// close the hold (a release with <see cref="CloseStatus"/>).
/// </summary>
internal sealed record StagedHold(
    HoldMove Move,
    string TenantId,
    string HoldId,
    string WalletId,
    string DestinationId,
    long Amount,
    string Currency,
    IdempotencyRequest? Idempotency,
    StoredAnswer? Answer,
    DateTimeOffset At) : LedgerItem
{
    public bool Final { get; init; }

    public string CloseStatus { get; init; } = Holds.HoldStatuses.Voided;

    public DateTimeOffset ExpiresAt { get; init; }

    public string? Reference { get; init; }

    public string? MetadataJson { get; init; }

    /// <summary>The capture's transfer.</summary>
    public string? TransferId { get; init; }

    /// <summary>A card's approval, written with the hold it places.</summary>
    public AuthorizationRecord? Authorization { get; init; }
}

/// <summary>A declined card authorization: recorded, with nothing else.</summary>
internal sealed record StagedAuthorization(AuthorizationRecord Record) : LedgerItem
{
    public override string TenantId { get; init; } = Record.TenantId;

    public override IdempotencyRequest? Idempotency { get; init; } = Record.Idempotency;

    public override StoredAnswer? Answer { get; init; } = Record.Answer;
}

internal enum CommitStatus
{
    Committed,
    Rejected,
    IdempotencyKeyExists,
}

/// <summary>What the database made of one staged item.</summary>
internal sealed record TransferCommitOutcome(CommitStatus Status, LedgerFailure? Failure, long DestinationVersion)
{
    public static readonly TransferCommitOutcome KeyExists = new(CommitStatus.IdempotencyKeyExists, null, 0);

    public static TransferCommitOutcome Committed(long destinationVersion) => new(CommitStatus.Committed, null, destinationVersion);

    public static TransferCommitOutcome Rejected(string code, string detail) => new(CommitStatus.Rejected, new LedgerFailure(code, detail), 0);
}
