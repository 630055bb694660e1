using Orleans;
using Orleans.Transactions;
using Wallet.Grains.Ledger;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Multi-leg entries: one entry that debits and credits several accounts, all or nothing. The
/// grain of the entry's first user wallet runs it as one Orleans transaction: each user wallet
/// posts its leg in its own transactional state, in the fixed join order of
/// <see cref="HotWallets.InJoinOrder"/>, one after the other; the system accounts' legs ride on
/// this wallet's row and the storage posts them at commit.
/// </summary>
internal sealed partial class WalletGrain
{
    public async Task<EntryResult> PostEntry(EntryCommand command)
    {
        if (await currencies.FindAsync(command.TenantId, command.Currency) is not { } currency)
        {
            return new EntryResult(null, CurrencyCatalog.Unknown(command.Currency));
        }

        // This wallet posts its own leg itself: it is checked first as Post checks every other one.
        if (RefusesPosting(command.TenantId, command.Currency) is { } refused)
        {
            return new EntryResult(null, refused);
        }

        var (entry, view, failure) = EntryRules.Plan(command, currency);
        if (failure is not null)
        {
            return new EntryResult(null, failure);
        }

        if (!entry!.Wallets.Any(leg => leg.WalletId == Id))
        {
            return EntryResult.Fail(LedgerErrors.ValidationFailed, $"wallet {Id} takes no part in the entry");
        }

        foreach (var leg in entry.SystemLegs)
        {
            if (await MissingAccountAsync(leg.WalletId) is { } missing)
            {
                return new EntryResult(null, missing);
            }
        }

        foreach (var leg in entry.Wallets)
        {
            hotWallets.Saw(leg.WalletId);
        }

        return await RunOnceAsync(command.TenantId, command.Idempotency, command.Reference, Refused, () =>
            ReservingAsync(entry.TenantId, entry.SystemLegs, r => r.Failure is null, Refused, () =>
                MoveAsync(entry.EntryId, hasEntry: true, transactionId => PostLegsAsync(transactionId, entry, new EntryResult(view, null)), Refused)));

        static EntryResult Refused(LedgerFailure failure) => new(null, failure);
    }

    /// <summary>Posts each user wallet's leg in the running transaction, in join order; the first refusal ends it.</summary>
    private async Task<(LedgerFailure? Failure, EntryResult? Result)> PostLegsAsync(string transactionId, EntryPlan entry, EntryResult result)
    {
        var joined = 0;
        foreach (var leg in hotWallets.InJoinOrder(entry.Wallets))
        {
            LedgerFailure? refused;
            if (leg.WalletId == Id)
            {
                // The wallets called before join first: Orleans records a called grain's write only
                // when it merges the calls' returns, at the end unless asked now.
                if (joined > 0)
                {
                    TransactionContext.GetRequiredTransactionInfo().ReconcilePending();
                }

                refused = await PostAsync(transactionId, entry.EntryId, leg.Amount, null, entry.Header, entry.Idempotency, entry.Answer);
            }
            else
            {
                refused = await Wallet(leg.WalletId).Post(new WalletPosting(entry.TenantId, entry.EntryId, leg.Amount, entry.Currency));
            }

            if (refused is not null)
            {
                return (refused, null);
            }

            joined++;
        }

        return (null, result);
    }

    /// <summary>
    /// Runs <paramref name="run"/> with what system accounts give in it (<paramref name="systemLegs"/>'
    /// debits) set aside by their grains first, so that they never give more than they have (or, for
    /// the accounts that issue money, than their budget); the first that lacks it refuses the movement. Each reservation is
    /// settled after: as given when the movement committed, or when its outcome is in doubt.
    /// </summary>
    private async Task<TResult> ReservingAsync<TResult>(
        string tenantId, IReadOnlyList<SystemLeg> systemLegs, Func<TResult, bool> committed, Func<LedgerFailure, TResult> refused, Func<Task<TResult>> run)
    {
        // Every account that gives decides it in its turn, one that issues money too: whether it has a
        // budget is its own state, so a budget counts from the moment it is set, on every silo.
        var given = systemLegs.Where(leg => leg.Amount < 0).ToList();
        if (given.Count == 0)
        {
            return await run();
        }

        var reserved = new List<SystemLeg>(given.Count);
        var counted = false;
        try
        {
            foreach (var leg in given)
            {
                if (await SystemAccount(leg.WalletId).Reserve(tenantId, -leg.Amount) is { } lacking)
                {
                    return refused(lacking);
                }

                reserved.Add(leg);
            }

            try
            {
                var result = await run();
                counted = committed(result);
                return result;
            }
            catch (LedgerUnavailableException unavailable)
            {
                // In doubt: counted as given, so the system account never gives more than it has. One
                // that Orleans aborted every time wrote nothing, and gives the reservation back.
                counted = !unavailable.NothingWritten;
                throw;
            }
        }
        finally
        {
            foreach (var leg in reserved)
            {
                // One-way: the movement is answered without waiting for the account's turn.
                _ = SystemAccount(leg.WalletId).Settle(-leg.Amount, counted);
            }
        }
    }
}
