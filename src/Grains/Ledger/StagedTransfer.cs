using Wallet.Grains.Wallets;

namespace Wallet.Grains.Ledger;

/// <summary>A transfer a wallet turn validated and staged for the next group commit.</summary>
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
    string ResponseBody,
    DateTimeOffset CreatedAt);

internal enum CommitStatus
{
    Committed,
    Rejected,
    IdempotencyKeyExists,
}

/// <summary>What the database made of one staged transfer.</summary>
internal sealed record TransferCommitOutcome(CommitStatus Status, LedgerFailure? Failure, long DestinationVersion)
{
    public static readonly TransferCommitOutcome KeyExists = new(CommitStatus.IdempotencyKeyExists, null, 0);

    public static TransferCommitOutcome Committed(long destinationVersion) => new(CommitStatus.Committed, null, destinationVersion);

    public static TransferCommitOutcome Rejected(string code, string detail) => new(CommitStatus.Rejected, new LedgerFailure(code, detail), 0);
}
