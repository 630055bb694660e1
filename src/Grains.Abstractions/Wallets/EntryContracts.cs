using System.Text.Json;
using Orleans;

namespace Wallet.Grains.Wallets;

/// <summary>
/// One side of a multi-leg entry as the client sent it: an account (a wallet id, or a system
/// reference such as <c>@fees</c>) and a positive amount as decimal text.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.EntryLegRequest")]
public sealed record EntryLegRequest(string Account, string Amount);

/// <summary>
/// A multi-leg entry as the client asked for it: <see cref="Debits"/> and <see cref="Credits"/>
/// in one <see cref="Currency"/>, whose sums must be equal. All of it posts, or none.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.EntryCommand")]
public sealed record EntryCommand(
    string TenantId,
    string EntryId,
    string Currency,
    EntryLegRequest[] Debits,
    EntryLegRequest[] Credits,
    string? Reference,
    string? Description,
    JsonElement? Metadata,
    IdempotencyRequest? Idempotency,
    DateTimeOffset CreatedAt)
{
    /// <summary>Debits and credits together, at most: every user wallet among them joins one transaction.</summary>
    public const int LegsMax = 20;

    /// <summary>Why an entry that names no user wallet is refused: nothing could run it.</summary>
    public static LedgerFailure WithoutWallet { get; } = new(LedgerErrors.ValidationFailed,
        "an entry moves the money of at least one wallet; between system accounts alone, use POST /v1/transfers");

    /// <summary>The wallet whose grain runs the entry: its first user wallet, debits first; null when it names none.</summary>
    public string? Coordinator =>
        Debits.Concat(Credits).Select(leg => leg.Account).FirstOrDefault(account => !SystemAccounts.IsReference(account));
}

/// <summary>One account's posting in an entry, as clients see it.</summary>
[GenerateSerializer, Immutable, Alias("wallet.EntryLegView")]
public sealed record EntryLegView(string Account, string Amount);

/// <summary>
/// A ledger entry with every posting: a multi-leg entry (<c>kind</c> "entry") or a movement between
/// two accounts ("transfer"). Each side is ordered by account.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.EntryView")]
public sealed record EntryView(
    string Id,
    string Kind,
    string Currency,
    IReadOnlyList<EntryLegView> Debits,
    IReadOnlyList<EntryLegView> Credits,
    string Status,
    string? Reference,
    string? Description,
    JsonElement? Metadata,
    DateTimeOffset CreatedAt);

/// <summary><see cref="Replayed"/> is true when an in-flight call with the same Idempotency-Key produced the answer.</summary>
[GenerateSerializer, Immutable, Alias("wallet.EntryResult")]
public sealed record EntryResult(EntryView? Entry, LedgerFailure? Failure, bool Replayed = false)
{
    public static EntryResult Fail(string code, string detail) => new(null, new LedgerFailure(code, detail));
}

/// <summary>Multi-leg entry ids as the ledger hands them out.</summary>
public static class EntryIds
{
    public const string Prefix = "en_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");

    public const string KindEntry = "entry";
    public const string KindTransfer = "transfer";
}
