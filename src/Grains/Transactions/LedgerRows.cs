using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Orleans;
using Orleans.Runtime;
using Wallet.Grains.Storage;
using Wallet.Grains.Cards;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Transactions;

/// <summary>The header of a ledger entry, carried by exactly one of its rows.</summary>
[GenerateSerializer, Immutable, Alias("wallet.LedgerEntryHeader")]
internal sealed record LedgerEntryHeader(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string SourceId,
    [property: Id(2)] string DestinationId,
    [property: Id(3)] long Amount,
    [property: Id(4)] string? Reference,
    [property: Id(5)] string? Description,
    [property: Id(6)] string? MetadataJson,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8)] string? HoldId)
{
    /// <summary><c>entry</c> for a multi-leg entry; null for a movement between two accounts.</summary>
    [Id(9)]
    public string? Kind { get; init; }

    /// <summary>Every account a multi-leg entry posts to.</summary>
    [Id(11)]
    public string[]? Accounts { get; init; }

    /// <summary>A multi-leg entry's postings to system accounts, which no wallet's row mirrors.</summary>
    [Id(10)]
    public SystemLeg[]? SystemLegs { get; init; }
}

/// <summary>A system account's posting in a multi-leg entry: <see cref="Amount"/> (negative: a debit), posted by the storage.</summary>
[GenerateSerializer, Immutable, Alias("wallet.SystemLeg")]
internal sealed record SystemLeg([property: Id(0)] string WalletId, [property: Id(1)] long Amount);

/// <summary>A hold as one movement leaves it: the row <c>holds</c> takes when the movement commits.</summary>
[GenerateSerializer, Immutable, Alias("wallet.HoldRecord")]
internal sealed record HoldRecord(
    [property: Id(0)] string Id,
    [property: Id(1)] string TenantId,
    [property: Id(2)] string DestinationId,
    [property: Id(3)] long Amount,
    [property: Id(4)] long Captured,
    [property: Id(5)] string Status,
    [property: Id(6)] string? Reference,
    [property: Id(7)] string? MetadataJson,
    [property: Id(8)] DateTimeOffset ExpiresAt,
    [property: Id(9)] DateTimeOffset CreatedAt,
    [property: Id(10)] DateTimeOffset? ClosedAt)
{
    public long Held => Status == Holds.HoldStatuses.Open ? Amount - Captured : 0;
}

/// <summary>
/// An audit row the storage appends to its tenant's chain when the ledger row carrying it is
/// written (an operator's change of a wallet's status): in the same transaction, once.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.AuditRecord")]
internal sealed record AuditRecord(
    [property: Id(0)] string TenantId,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Actor,
    [property: Id(3)] string Action,
    [property: Id(4)] string Target,
    [property: Id(5)] string DetailsJson);

/// <summary>
/// One participant's part of a ledger entry, decided in its transaction: its posting (none when
/// only its pending amount moves) and its balances after it, under <see cref="Version"/>, the
/// participant's version after this row. A movement against a system account names it as
/// <see cref="CounterpartId"/>, and the storage posts the opposite amount to it. The row that
/// carries the entry's <see cref="Entry"/> header also carries the Idempotency-Key and its answer.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.LedgerRow")]
internal sealed record LedgerRow(
    [property: Id(0)] string TransactionId,
    [property: Id(1)] long Version,
    [property: Id(2)] string WalletId,
    [property: Id(3)] long Amount,
    [property: Id(4)] string Currency,
    [property: Id(5)] long BalanceAfter,
    [property: Id(6)] long PendingAfter,
    [property: Id(7)] string EntryId)
{
    [Id(8)]
    public string? CounterpartId { get; init; }

    [Id(9)]
    public LedgerEntryHeader? Entry { get; init; }

    [Id(10)]
    public IdempotencyRequest? Idempotency { get; init; }

    [Id(11)]
    public StoredAnswer? Answer { get; init; }

    /// <summary>The wallet's status after this row; null keeps the wallet row's.</summary>
    [Id(12)]
    public string? Status { get; init; }

    /// <summary>The hold this row places or moves, as it leaves it.</summary>
    [Id(13)]
    public HoldRecord? Hold { get; init; }

    /// <summary>A card's approval, written with the hold this row places.</summary>
    [Id(14)]
    public AuthorizationRecord? Authorization { get; init; }

    /// <summary>The tenant of the Idempotency-Key when the row carries no entry (a hold's placement, a status change).</summary>
    [Id(15)]
    public string? KeyTenantId { get; init; }

    /// <summary>The audit row written with this one.</summary>
    [Id(16)]
    public AuditRecord? Audit { get; init; }
}

/// <summary>
/// A transactional state that carries the ledger rows of its movements until the storage has
/// written them. Orleans hands the storage only the newest state when one <c>Store</c> commits
/// several transactions, so a state carries every row not known to be written, not just its own
/// transaction's; the storage writes each once (see <see cref="LedgerWatermark"/>).
/// </summary>
internal interface ILedgerCarrier
{
    IReadOnlyList<LedgerRow> UnwrittenRows { get; }

    /// <summary>
    /// Drops the rows the ledger holds already (at or below <paramref name="writtenUpTo"/>). The storage
    /// calls it on the state it has just committed, which Orleans keeps as the grain's committed state:
    /// left there, a movement's rows (its entry, its stored answer) would stay in memory until the
    /// wallet's next movement, long enough for every garbage collection to copy them.
    /// </summary>
    void ForgetWritten(long writtenUpTo);

    /// <summary>Where the state stands in the ledger; null while it has no wallet.</summary>
    LedgerPosition? Position { get; }
}

/// <summary>A carrier's wallet, the version of its last ledger row, and its balances then.</summary>
internal sealed record LedgerPosition(string WalletId, long Version, long Balance, long Pending);

/// <summary>
/// How far a grain's ledger rows are written: every row at or below <see cref="WrittenVersion"/>
/// is in the ledger, so the grain drops them from its state. Kept by the grain's storage (one
/// ledger-carrying state per grain), read by the grain through its context's components.
/// </summary>
internal sealed class LedgerWatermark
{
    public long WrittenVersion { get; private set; }

    internal void Advance(long version) => WrittenVersion = Math.Max(WrittenVersion, version);

    /// <summary>The grain's watermark, made on first use.</summary>
    public static LedgerWatermark Of(IGrainContext context)
    {
        if (context.GetComponent<LedgerWatermark>() is { } watermark)
        {
            return watermark;
        }

        watermark = new LedgerWatermark();
        context.SetComponent(watermark);
        return watermark;
    }
}

/// <summary>
/// A grain's committed transactional state as its storage last wrote or read it, for reads that
/// start no transaction. <see cref="Settled"/> is false while the storage holds prepared states:
/// a transaction this grain took part in may then be committed by its manager (and acknowledged to
/// the caller) before this grain's storage hears of it, so the committed state here may be older
/// than the ledger's rows.
/// </summary>
internal sealed class CommittedState
{
    public object? State { get; private set; }

    public bool Settled { get; private set; }

    internal void Publish(object? state, bool settled) => (State, Settled) = (state, settled);

    /// <summary>The grain's committed state, made on first use.</summary>
    public static CommittedState Of(IGrainContext context)
    {
        if (context.GetComponent<CommittedState>() is { } committed)
        {
            return committed;
        }

        committed = new CommittedState();
        context.SetComponent(committed);
        return committed;
    }
}

/// <summary>A <see cref="LedgerRow"/> as one row of <c>ledger_prepared</c>, named as its columns are.</summary>
internal sealed record PreparedLedgerRow(
    string StateKey,
    long Version,
    long SequenceId,
    string TransactionId,
    string WalletId,
    long Amount,
    string Currency,
    long BalanceAfter,
    long PendingAfter,
    string EntryId,
    string? CounterpartId,
    string? EntryTenantId,
    string? EntrySourceId,
    string? EntryDestinationId,
    long? EntryAmount,
    string? EntryReference,
    string? EntryDescription,
    string? EntryMetadata,
    DateTimeOffset? EntryCreatedAt,
    string? EntryHoldId,
    string? KeyTenantId,
    string? Key,
    string? KeyRequestHash,
    string? KeyOutcome,
    string? KeyBody,
    string? WalletStatus,
    JsonObject? Hold,
    JsonObject? CardAuthorization,
    string? EntryKind,
    string[]? EntryAccounts,
    SystemLeg[]? SystemLegs,
    JsonObject? Audit)
{
    private static readonly JsonSerializerOptions Columns = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// <c>col = excluded.col</c> for every column but the key (<c>state_key</c>, <c>version</c>): what
    /// replaces a row prepared again under its version, whole, whatever columns the record gains.
    /// </summary>
    public static string ReplacingColumns { get; } = string.Join(", ",
        typeof(PreparedLedgerRow).GetConstructors().Single().GetParameters()
            .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name!))
            .Where(column => column is not ("state_key" or "version"))
            .Select(column => $"{column} = excluded.{column}"));

    public static PreparedLedgerRow From(string stateKey, long sequenceId, LedgerRow row) => new(
        stateKey, row.Version, sequenceId, row.TransactionId, row.WalletId, row.Amount, row.Currency, row.BalanceAfter, row.PendingAfter,
        row.EntryId, row.CounterpartId,
        row.Entry?.TenantId, row.Entry?.SourceId, row.Entry?.DestinationId, row.Entry?.Amount, row.Entry?.Reference, row.Entry?.Description,
        row.Entry?.MetadataJson, row.Entry?.CreatedAt, row.Entry?.HoldId,
        row.Idempotency is null ? null : row.Entry?.TenantId ?? row.KeyTenantId, row.Idempotency?.Key, row.Idempotency?.RequestHash,
        row.Answer is null ? null : IdempotencyStore.NameOf(row.Answer.Outcome), row.Answer?.Body,
        row.Status, row.Hold is { } hold ? HoldColumns(row.WalletId, row.Currency, hold) : null,
        row.Authorization is { } authorization ? AuthorizationColumns(authorization) : null,
        row.Entry?.Kind, row.Entry?.Accounts, row.Entry?.SystemLegs,
        row.Audit is { } audit ? AuditColumns(audit) : null);

    // The arguments of audit_append, named.
    private static JsonObject AuditColumns(AuditRecord audit) => new()
    {
        ["tenant_id"] = audit.TenantId,
        ["at"] = audit.At,
        ["actor"] = audit.Actor,
        ["action"] = audit.Action,
        ["target"] = audit.Target,
        ["details"] = JsonNode.Parse(audit.DetailsJson),
    };

    // The row of holds, named as its columns are.
    private static JsonObject HoldColumns(string walletId, string currency, HoldRecord hold) => new()
    {
        ["id"] = hold.Id,
        ["tenant_id"] = hold.TenantId,
        ["wallet_id"] = walletId,
        ["destination_id"] = hold.DestinationId,
        ["currency"] = currency,
        ["amount"] = hold.Amount,
        ["captured"] = hold.Captured,
        ["status"] = hold.Status,
        ["reference"] = hold.Reference,
        ["metadata"] = hold.MetadataJson is null ? null : JsonNode.Parse(hold.MetadataJson),
        ["expires_at"] = hold.ExpiresAt,
        ["created_at"] = hold.CreatedAt,
        ["closed_at"] = hold.ClosedAt,
    };

    // The row of card_authorizations, named as its columns are.
    private static JsonObject AuthorizationColumns(AuthorizationRecord record)
    {
        var view = record.View;
        return new JsonObject
        {
            ["id"] = view.Id,
            ["tenant_id"] = record.TenantId,
            ["card_id"] = view.CardId,
            ["wallet_id"] = view.WalletId,
            ["approved"] = view.HoldId is not null,
            ["decline_code"] = view.Decline?.Code,
            ["decline_detail"] = view.Decline?.Detail,
            ["amount"] = record.AmountMinor,
            ["currency"] = view.Currency,
            ["merchant_name"] = view.MerchantName,
            ["merchant_name_original"] = view.MerchantNameOriginal,
            ["merchant_category"] = view.MerchantCategory,
            ["merchant_country"] = view.MerchantCountry,
            ["description"] = view.Description,
            ["fraud_score"] = view.Fraud.Score,
            ["fraud_reasons"] = JsonSerializer.SerializeToNode(view.Fraud.Reasons, WalletJson.Options),
            ["fraud_rules"] = JsonSerializer.SerializeToNode(record.FraudRules, WalletJson.Options),
            ["review"] = view.Review,
            ["hold_id"] = view.HoldId,
            ["controls_version"] = view.ControlsVersion,
            ["created_at"] = view.CreatedAt,
        };
    }

    /// <summary>Rows as the JSON array <c>jsonb_populate_recordset</c> reads into <c>ledger_prepared</c>.</summary>
    public static string ToJson(IEnumerable<PreparedLedgerRow> rows) => JsonSerializer.Serialize(rows, Columns);
}
