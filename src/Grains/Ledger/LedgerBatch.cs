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
    public long Pending { get; init; }

    public long Delta { get; set; }

    public int Postings { get; set; }

    public bool Debited { get; set; }
}

/// <summary>What the batch transaction read before deciding: locked wallets, existing keys and references, the head.</summary>
internal sealed record BatchSnapshot(
    IReadOnlyDictionary<string, LockedWallet> Wallets,
    IReadOnlySet<(string Tenant, string Key)> ExistingKeys,
    IReadOnlySet<(string Tenant, string Reference)> ExistingReferences,
    long LastSeq);

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

    private LedgerBatch(TransferCommitOutcome[] outcomes) => Outcomes = outcomes;

    public TransferCommitOutcome[] Outcomes { get; }

    public List<PlannedEntry> Entries { get; } = [];

    public List<PlannedPosting> Postings { get; } = [];

    public List<LockedWallet> ChangedWallets { get; } = [];

    public long LastSeq { get; private set; }

    public static LedgerBatch Plan(IReadOnlyList<StagedTransfer> items, BatchSnapshot snapshot)
    {
        var batch = new LedgerBatch(new TransferCommitOutcome[items.Count]) { LastSeq = snapshot.LastSeq };
        var acceptedKeys = new HashSet<(string, string)>();
        var acceptedReferences = new HashSet<(string, string)>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var key = item.Idempotency is { } idempotency ? (item.TenantId, idempotency.Key) : default;
            var reference = item.Reference is not null ? (item.TenantId, item.Reference) : default;
            if (item.Idempotency is not null && (snapshot.ExistingKeys.Contains(key) || acceptedKeys.Contains(key)))
            {
                batch.Outcomes[i] = TransferCommitOutcome.KeyExists;
                continue;
            }

            if (item.Reference is not null && (snapshot.ExistingReferences.Contains(reference) || acceptedReferences.Contains(reference)))
            {
                batch.Outcomes[i] = TransferCommitOutcome.Rejected(LedgerErrors.Conflict, $"reference '{item.Reference}' is already used by another transfer");
                continue;
            }

            var failure = Check(item, Find(snapshot, item.TenantId, item.SourceId), Find(snapshot, item.TenantId, item.DestinationId));
            if (failure is not null)
            {
                batch.Outcomes[i] = failure;
                continue;
            }

            var destination = snapshot.Wallets[item.DestinationId];
            batch.Apply(item, snapshot.Wallets[item.SourceId], destination);
            batch.Outcomes[i] = TransferCommitOutcome.Committed(destination.Version);
            if (item.Idempotency is not null)
            {
                acceptedKeys.Add(key);
            }

            if (item.Reference is not null)
            {
                acceptedReferences.Add(reference);
            }
        }

        batch.ChangedWallets.AddRange(snapshot.Wallets.Values.Where(w => w.Postings > 0).OrderBy(w => w.Id, StringComparer.Ordinal));
        return batch;
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

        if (source.Status != WalletStatuses.Active)
        {
            return source.Status == WalletStatuses.Frozen
                ? TransferCommitOutcome.Rejected(LedgerErrors.WalletFrozen, $"wallet {SystemAccounts.Display(source.Id)} is frozen; debits are refused")
                : TransferCommitOutcome.Rejected(LedgerErrors.WalletClosed, $"wallet {SystemAccounts.Display(source.Id)} is closed");
        }

        if (destination.Status == WalletStatuses.Closed)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.WalletClosed, $"wallet {SystemAccounts.Display(destination.Id)} is closed");
        }

        var available = source.Balance - source.Pending + source.OverdraftLimit;
        if (!source.MayGoNegative && item.Amount > available)
        {
            return TransferCommitOutcome.Rejected(LedgerErrors.InsufficientFunds,
                $"wallet {SystemAccounts.Display(source.Id)} has {Amount.Format(available, source.Scale)} {source.Currency} available; {Amount.Format(item.Amount, source.Scale)} requested");
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
