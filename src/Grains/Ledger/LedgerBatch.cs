using Wallet.Grains.Cards;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Ledger;

/// <summary>A wallet row as locked by the batch transaction; the plan moves its balance along.</summary>
internal sealed class LockedWallet(string id, string tenantId, string currency, int scale, string status, long balance, long overdraftLimit, bool mayGoNegative, long version)
{
    public string Id { get; } = id;

    public string TenantId { get; } = tenantId;

    public string Currency { get; } = currency;

    public int Scale { get; } = scale;

    public string Status { get; } = status;

    public long Balance { get; set; } = balance;

    public long OverdraftLimit { get; } = overdraftLimit;

    public bool MayGoNegative { get; } = mayGoNegative;

    public long Version { get; set; } = version;

    /// <summary>Held by open holds: not available to debits.</summary>
    public long Pending { get; set; }

    public long Delta { get; set; }

    public long PendingDelta { get; set; }

    public int Postings { get; set; }

    /// <summary>Debited or newly held: the write requires the wallet to be active still.</summary>
    public bool Debited { get; set; }

    public bool Changed => Postings > 0 || PendingDelta != 0;

    public long Available => Balance - Pending + OverdraftLimit;
}

/// <summary>A hold row as locked by the batch transaction (or placed by it); the plan moves it along.</summary>
internal sealed class LockedHold(string id, string tenantId, string walletId, string destinationId, string currency, long amount, long captured, string status)
{
    public string Id { get; } = id;

    public string TenantId { get; } = tenantId;

    public string WalletId { get; } = walletId;

    public string DestinationId { get; } = destinationId;

    public string Currency { get; } = currency;

    public long Amount { get; set; } = amount;

    public long Captured { get; set; } = captured;

    public string Status { get; set; } = status;

    public DateTimeOffset? ClosedAt { get; set; }

    public long Held => Status == Holds.HoldStatuses.Open ? Amount - Captured : 0;

    /// <summary>Placed by this batch: inserted rather than updated.</summary>
    public StagedHold? Placed { get; init; }

    public bool Changed { get; set; }
}

/// <summary>What the batch transaction read before deciding: locked wallets, existing keys and references, the head.</summary>
internal sealed record BatchSnapshot(
    IReadOnlyDictionary<string, LockedWallet> Wallets,
    IReadOnlySet<(string Tenant, string Key)> ExistingKeys,
    IReadOnlySet<(string Tenant, string Reference)> ExistingReferences,
    long LastSeq,
    IReadOnlyDictionary<string, LockedHold>? Holds = null);

internal sealed record PlannedPosting(string WalletId, long EntrySeq, long Amount, string Currency, long BalanceAfter, long WalletVersion);

internal sealed record PlannedEntry(long Seq, StagedTransfer Transfer);

/// <summary>
/// Decides a batch against the rows it locked, item by item in staging order, exactly as the
/// grains decided each against their cached state. Pure: no I/O, so every rule is testable alone.
/// </summary>
internal sealed class LedgerBatch
{
    // Far from long's limits, so that no sum of postings in verify can overflow either.
    internal const long BalanceMagnitudeMax = long.MaxValue / 4;

    private readonly Dictionary<string, LockedHold> _holds;

    private LedgerBatch(TransferCommitOutcome[] outcomes, IReadOnlyDictionary<string, LockedHold>? holds)
    {
        Outcomes = outcomes;
        _holds = holds is null ? [] : new Dictionary<string, LockedHold>(holds, StringComparer.Ordinal);
    }

    public TransferCommitOutcome[] Outcomes { get; }

    public List<PlannedEntry> Entries { get; } = [];

    public List<PlannedPosting> Postings { get; } = [];

    public List<LockedWallet> ChangedWallets { get; } = [];

    /// <summary>Holds placed by the batch, in staging order.</summary>
    public List<StagedHold> PlacedHolds { get; } = [];

    /// <summary>Existing holds the batch moved, in id order.</summary>
    public List<LockedHold> ChangedHolds { get; } = [];

    /// <summary>Authorization decisions to record: approvals with their holds and declines.</summary>
    public List<AuthorizationRecord> Authorizations { get; } = [];

    /// <summary>The accepted items that carry an Idempotency-Key.</summary>
    public List<LedgerItem> Keyed { get; } = [];

    public long LastSeq { get; private set; }

    public static LedgerBatch Plan(IReadOnlyList<LedgerItem> items, BatchSnapshot snapshot)
    {
        var batch = new LedgerBatch(new TransferCommitOutcome[items.Count], snapshot.Holds) { LastSeq = snapshot.LastSeq };
        var acceptedKeys = new HashSet<(string, string)>();
        var acceptedReferences = new HashSet<(string, string)>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var key = item.Idempotency is { } idempotency ? (item.TenantId, idempotency.Key) : default;
            if (item.Idempotency is not null && (snapshot.ExistingKeys.Contains(key) || acceptedKeys.Contains(key)))
            {
                batch.Outcomes[i] = TransferCommitOutcome.KeyExists;
                continue;
            }

            if (item.Idempotency is not null && item.Answer is null)
            {
                throw new ArgumentException($"A {item.GetType().Name} with an Idempotency-Key must carry the answer to store with it.", nameof(items));
            }

            var outcome = item switch
            {
                StagedTransfer transfer => batch.PlanTransfer(transfer, snapshot, acceptedReferences),
                StagedHold hold => batch.PlanHold(hold, snapshot),
                StagedAuthorization declined => batch.Record(declined.Record),
                _ => throw new ArgumentException($"Unknown ledger item {item.GetType().Name}.", nameof(items)),
            };
            batch.Outcomes[i] = outcome;
            if (outcome.Status == CommitStatus.Committed && item.Idempotency is not null)
            {
                acceptedKeys.Add(key);
                batch.Keyed.Add(item);
            }
        }

        batch.ChangedWallets.AddRange(snapshot.Wallets.Values.Where(w => w.Changed).OrderBy(w => w.Id, StringComparer.Ordinal));
        batch.ChangedHolds.AddRange(batch._holds.Values.Where(h => h.Changed && h.Placed is null).OrderBy(h => h.Id, StringComparer.Ordinal));
        return batch;
    }

    private TransferCommitOutcome PlanTransfer(StagedTransfer item, BatchSnapshot snapshot, HashSet<(string, string)> acceptedReferences)
    {
        var reference = item.Reference is not null ? (item.TenantId, item.Reference) : default;
        if (item.Reference is not null && (snapshot.ExistingReferences.Contains(reference) || acceptedReferences.Contains(reference)))
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.Conflict, $"reference '{item.Reference}' is already used by another transfer");
        }

        var failure = Check(item, Find(snapshot, item.TenantId, item.SourceId), Find(snapshot, item.TenantId, item.DestinationId));
        if (failure is not null)
        {
            return failure;
        }

        var destination = snapshot.Wallets[item.DestinationId];
        Apply(item, snapshot.Wallets[item.SourceId], destination);
        if (item.Reference is not null)
        {
            acceptedReferences.Add(reference);
        }

        return TransferCommitOutcome.Committed(destination.Version);
    }

    private TransferCommitOutcome PlanHold(StagedHold item, BatchSnapshot snapshot)
    {
        var wallet = Find(snapshot, item.TenantId, item.WalletId);
        if (wallet is null)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletNotFound, $"wallet {item.WalletId} not found");
        }

        if (item.Move == HoldMove.Place)
        {
            if (HoldRefusal(wallet, item.Amount, item.Currency) is { } refused)
            {
                return refused;
            }

            wallet.Pending += item.Amount;
            wallet.PendingDelta += item.Amount;
            wallet.Debited = true;
            _holds[item.HoldId] = new LockedHold(item.HoldId, item.TenantId, item.WalletId, item.DestinationId, item.Currency, item.Amount, 0, Holds.HoldStatuses.Open)
            {
                Placed = item,
            };
            PlacedHolds.Add(item);
            if (item.Authorization is { } approval)
            {
                Record(approval);
            }

            return TransferCommitOutcome.Committed(0);
        }

        if (!_holds.TryGetValue(item.HoldId, out var hold) || hold.TenantId != item.TenantId || hold.WalletId != item.WalletId)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.HoldNotFound, $"hold {item.HoldId} not found");
        }

        if (hold.Status != Holds.HoldStatuses.Open)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.HoldClosed, $"hold {item.HoldId} is {hold.Status}");
        }

        if (item.Move != HoldMove.Increment && item.Amount > hold.Held)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.AmountExceedsHold,
                $"hold {item.HoldId} holds {Amount.Format(hold.Held, wallet.Scale)} {wallet.Currency}; {Amount.Format(item.Amount, wallet.Scale)} requested");
        }

        switch (item.Move)
        {
            case HoldMove.Increment:
                if (HoldRefusal(wallet, item.Amount, hold.Currency) is { } refused)
                {
                    return refused;
                }

                wallet.Pending += item.Amount;
                wallet.PendingDelta += item.Amount;
                wallet.Debited = true;
                hold.Amount += item.Amount;
                break;
            case HoldMove.Capture:
                return Capture(item, snapshot, wallet, hold);
            default:
                var all = item.Amount == hold.Held;
                wallet.Pending -= item.Amount;
                wallet.PendingDelta -= item.Amount;
                if (all)
                {
                    Close(hold, item.CloseStatus, item.At);
                }
                else
                {
                    hold.Amount -= item.Amount;
                }

                break;
        }

        hold.Changed = true;
        return TransferCommitOutcome.Committed(0);
    }

    private TransferCommitOutcome Capture(StagedHold item, BatchSnapshot snapshot, LockedWallet wallet, LockedHold hold)
    {
        var destination = Find(snapshot, item.TenantId, hold.DestinationId);
        if (destination is null || destination.Currency != hold.Currency)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletNotFound, $"wallet {SystemAccounts.Display(hold.DestinationId)} not found");
        }

        if (wallet.Status == WalletStatuses.Closed || destination.Status == WalletStatuses.Closed)
        {
            var closed = wallet.Status == WalletStatuses.Closed ? wallet : destination;
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletClosed, $"wallet {SystemAccounts.Display(closed.Id)} is closed");
        }

        if (destination.Balance > BalanceMagnitudeMax - item.Amount)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.LimitExceeded, "the capture would take a balance beyond the largest the ledger holds");
        }

        var released = item.Final ? hold.Held : item.Amount;
        hold.Captured += item.Amount;
        wallet.Pending -= released;
        wallet.PendingDelta -= released;
        if (item.Final || hold.Captured == hold.Amount)
        {
            Close(hold, Holds.HoldStatuses.Captured, item.At);
        }

        hold.Changed = true;
        var entry = new StagedTransfer(item.TenantId, item.TransferId!, wallet.Id, destination.Id, item.Amount, hold.Currency,
            null, null, null, null, null, item.At, hold.Id);
        var seq = ++LastSeq;
        Entries.Add(new PlannedEntry(seq, entry));
        Post(wallet, seq, -item.Amount, hold.Currency);
        Post(destination, seq, item.Amount, hold.Currency);
        return TransferCommitOutcome.Committed(destination.Version);
    }

    private static void Close(LockedHold hold, string status, DateTimeOffset at)
    {
        hold.Status = status;
        hold.ClosedAt = at;
    }

    private static TransferCommitOutcome? HoldRefusal(LockedWallet wallet, long amount, string currency)
    {
        if (wallet.Currency != currency)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.CurrencyMismatch, $"wallet {wallet.Id} holds {wallet.Currency}, not {currency}");
        }

        return Refused(DebitRule.Check(wallet.Id, wallet.Status, wallet.MayGoNegative, wallet.Available, amount, wallet.Currency, wallet.Scale));
    }

    private static TransferCommitOutcome? Refused(LedgerFailure? failure) =>
        failure is null ? null : TransferCommitOutcome.Rejected(failure.Code, failure.Detail);

    private TransferCommitOutcome Record(AuthorizationRecord record)
    {
        Authorizations.Add(record);
        return TransferCommitOutcome.Committed(0);
    }

    private static LockedWallet? Find(BatchSnapshot snapshot, string tenantId, string walletId) =>
        snapshot.Wallets.TryGetValue(walletId, out var wallet) && wallet.TenantId == tenantId ? wallet : null;

    private static TransferCommitOutcome? Check(StagedTransfer item, LockedWallet? source, LockedWallet? destination)
    {
        if (item.SourceId == item.DestinationId)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.SameWallet, "source and destination are the same wallet");
        }

        if (source is null || destination is null)
        {
            var missing = SystemAccounts.Display(source is null ? item.SourceId : item.DestinationId);
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletNotFound, $"wallet {missing} not found");
        }

        var mismatched = source.Currency != item.Currency ? source : destination.Currency != item.Currency ? destination : null;
        if (mismatched is not null)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.CurrencyMismatch,
                $"wallet {SystemAccounts.Display(mismatched.Id)} holds {mismatched.Currency}, not {item.Currency}");
        }

        var debit = DebitRule.Check(source.Id, source.Status, source.MayGoNegative, source.Available, item.Amount, source.Currency, source.Scale);
        if (debit is { Code: not LedgerErrors.InsufficientFunds })
        {
            return Refused(debit);
        }

        if (destination.Status == WalletStatuses.Closed)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletClosed, $"wallet {SystemAccounts.Display(destination.Id)} is closed");
        }

        if (debit is not null)
        {
            return Refused(debit);
        }

        if (destination.Balance > BalanceMagnitudeMax - item.Amount || source.Balance < item.Amount - BalanceMagnitudeMax)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.LimitExceeded, "the transfer would take a balance beyond the largest the ledger holds");
        }

        return null;
    }

    private void Apply(StagedTransfer item, LockedWallet source, LockedWallet destination)
    {
        var seq = ++LastSeq;
        Entries.Add(new PlannedEntry(seq, item));
        Post(source, seq, -item.Amount, item.Currency);
        Post(destination, seq, item.Amount, item.Currency);
        source.Debited = true;
    }

    private void Post(LockedWallet wallet, long seq, long amount, string currency)
    {
        wallet.Balance = checked(wallet.Balance + amount);
        wallet.Delta = checked(wallet.Delta + amount);
        wallet.Version++;
        wallet.Postings++;
        Postings.Add(new PlannedPosting(wallet.Id, seq, amount, currency, wallet.Balance, wallet.Version));
    }
}
