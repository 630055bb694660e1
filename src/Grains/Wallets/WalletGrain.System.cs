using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Concurrency;
using Wallet.Grains.Auth;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Wallets;

/// <summary>What a system account's grain decides in its turn, for the movements users' transactions cannot.</summary>
[Alias("wallet.ISystemAccountGrain")]
internal interface ISystemAccountGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sets <paramref name="amount"/> aside for a movement that will debit this account, when it
    /// has that much beyond what is set aside already; the refusal when not.
    /// </summary>
    [Alias("Reserve")]
    Task<LedgerFailure?> Reserve(string tenantId, long amount);

    /// <summary>
    /// Ends a reservation: its movement committed (its debit is in the row now) or not. One-way: the
    /// movement's answer does not wait for the account's turn. Until it lands the amount stays set
    /// aside, so the account can give less meanwhile, never more; a notice lost with a connection
    /// leaves it set aside for as long as the account's activation lives.
    /// </summary>
    [Alias("Settle"), OneWay]
    Task Settle(long amount, bool committed);
}

/// <summary>
/// A system account's grain. Users' movements post its legs in SQL at their commit, so its cached
/// balance is never higher than its row's, and only its own turns lower it. It decides two things:
/// a movement between two system accounts (staged into the group commit, as one entry debiting
/// this account), and how much a system account gives to users' movements (no more than it has, or
/// for one that issues money, than its budget if it has one), which it sets aside in its turn until
/// their transactions end.
/// </summary>
internal sealed partial class WalletGrain : ISystemAccountGrain
{
    // How long a reply waits for the destination to apply its credit notice.
    private static readonly TimeSpan NoticeAppliedWaitMax = TimeSpan.FromSeconds(1);

    private readonly List<CreditNotice> _creditsDuringReload = [];
    private Task? _creditNotice;

    // What users' movements not yet ended have set aside; counted in the state's pending, also after a reload.
    private long _reserved;

    public Task<LedgerFailure?> Reserve(string tenantId, long amount) => Turn(async () =>
    {
        if (!State.IsVisibleTo(tenantId) && !await TryCreateSystemAccountAsync(tenantId))
        {
            return WalletNotFound().Failure;
        }

        var refused = State.CheckDebit(amount);
        if (refused?.Code is LedgerErrors.InsufficientFunds or LedgerErrors.BudgetExceeded)
        {
            // Credits from users' movements reach only the row.
            await ReloadStateAsync();
            refused = State.CheckDebit(amount);
        }

        if (refused is null)
        {
            _reserved += amount;
            State.Pending += amount;
        }

        return refused;
    });

    public Task Settle(long amount, bool committed)
    {
        _reserved -= amount;
        State.Pending -= amount;
        if (committed)
        {
            State.ApplyDebit(amount);
        }

        return Task.CompletedTask;
    }

    public Task<BudgetResult> Budget(BudgetCommand command) => SystemAccounts.IssuesMoney(Id)
        ? Turn(() => BudgetTurn(command))
        : Task.FromResult(new BudgetResult(null, new LedgerFailure(LedgerErrors.ValidationFailed,
            $"only @{SystemAccounts.Treasury} and @{SystemAccounts.Promotions} issue money, so only they have a budget")));

    private async Task<BudgetResult> BudgetTurn(BudgetCommand command)
    {
        if (!State.IsVisibleTo(command.TenantId) && !await TryCreateSystemAccountAsync(command.TenantId))
        {
            return new BudgetResult(null, WalletNotFound().Failure);
        }

        // The row: users' movements post to it without telling the grain.
        await ReloadStateAsync();
        if (command.Set)
        {
            // Zero is a budget too: the account issues nothing more.
            long? budget = null;
            if (command.Amount is { } text && !WalletRules.IsZero(text))
            {
                var error = Amount.TryParse(text, State.Currency.Scale, out var parsed);
                if (error != AmountError.None)
                {
                    return new BudgetResult(null, new LedgerFailure(LedgerErrors.InvalidAmount, "amount: " + Amount.Describe(error, State.Currency.Code, State.Currency.Scale)));
                }

                budget = parsed;
            }
            else if (command.Amount is not null)
            {
                budget = 0;
            }

            // What is set aside for movements still running counts as given (the row's pending has no part of it).
            var issued = Math.Max(State.Pending - State.Balance, 0);
            var audit = command.Actor is { } actor
                ? new AuditEvent(command.TenantId, LedgerTime.Truncate(clock.GetUtcNow()), actor, AuditActions.BudgetSet, SystemAccounts.Display(Id),
                    new { currency = State.Currency.Code, budget = budget is { } b ? State.Format(b) : null })
                : null;
            if (budget < issued || !await wallets.SetBudgetAsync(State, budget, audit, CancellationToken.None))
            {
                await ReloadStateAsync();
                return new BudgetResult(null, new LedgerFailure(LedgerErrors.BudgetBelowIssued,
                    $"{SystemAccounts.Display(Id)} has issued {State.Format(Math.Max(State.Pending - State.Balance, 0))} {State.Currency.Code}; a budget may not be below that"));
            }

            await ReloadStateAsync();
        }

        return new BudgetResult(BudgetOf(State), null);
    }

    private static BudgetView BudgetOf(WalletState account)
    {
        var limited = !account.MayGoNegative;
        return new BudgetView(SystemAccounts.Display(account.Id), account.Currency.Code, account.Format(account.Balance),
            account.Format(Math.Max(-account.Balance, 0)), limited ? account.Format(account.OverdraftLimit) : null,
            limited ? account.Format(Math.Max(account.Available, 0)) : null);
    }

    private async Task<WalletResult> GetSystemAccount(string tenantId)
    {
        if (!StateTrusted)
        {
            return await Turn(() => GetSystemAccount(tenantId));
        }

        if (!State.IsVisibleTo(tenantId))
        {
            return WalletNotFound();
        }

        // The row: users' movements post to it without telling the grain.
        var row = await wallets.ReadAsync(Id, CancellationToken.None) ?? State;
        await WhenStagedDurable();
        return new WalletResult(row.ToView(), null);
    }

    private async Task<WalletResult> ChangeSystemAccountStatusTurn(ChangeWalletStatus command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return WalletNotFound();
        }

        // Commits staged before this turn land first, and the decision is taken on the row as it is.
        await ReloadStateAsync();
        var (target, failure) = WalletRules.StatusChange(State, command.Change);
        if (failure is not null)
        {
            return new WalletResult(null, failure);
        }

        if (target == State.Status && command.Idempotency is null)
        {
            return new WalletResult(State.ToView(), null);
        }

        var changed = WalletRules.WithStatus(State, target);
        var audit = command.Actor is { } actor && target != State.Status
            ? new AuditEvent(command.TenantId, LedgerTime.Truncate(clock.GetUtcNow()), actor, AuditActions.WalletStatus(command.Change), SystemAccounts.Display(Id),
                new { from = State.Status, to = target })
            : null;
        var outcome = await wallets.ChangeStatusAsync(State, State.Status, target, command.Idempotency, StoredAnswers.Done(changed.ToView()), audit,
            CancellationToken.None);
        switch (outcome)
        {
            case StatusChangeOutcome.Changed:
                State = changed;
                return new WalletResult(State.ToView(), null);
            case StatusChangeOutcome.IdempotencyKeyExists:
                return new WalletResult(null, KeyTaken);
            default:
                ReloadStateBeforeNextTurn();
                return WalletResult.Fail(LedgerErrors.Conflict, $"wallet {State.Id} changed meanwhile; retry");
        }
    }

    /// <summary>A transfer out of this system account to another one, decided in this turn and staged into the group commit.</summary>
    private async Task<TransferResult> SystemTransferTurn(TransferCommand command)
    {
        if (!State.IsVisibleTo(command.TenantId) && !await TryCreateSystemAccountAsync(command.TenantId))
        {
            return new TransferResult(null, WalletNotFound().Failure);
        }

        switch (_inFlight.Match(command.Idempotency))
        {
            case { Reused: { } reused }:
                return new TransferResult(null, reused);
            case { Outcome: { } first }:
                return ((TransferResult)await WhenDurable(first)) with { Replayed = true };
        }

        if (await MissingAccountAsync(WalletRules.AccountId(command.TenantId, command.Destination, State.Currency.Code)) is { } missing)
        {
            return new TransferResult(null, missing);
        }

        var staging = WalletRules.Stage(State, command);
        if (staging.Failure?.Code is LedgerErrors.InsufficientFunds or LedgerErrors.BudgetExceeded)
        {
            // Credits from users' movements reach only the row.
            await ReloadStateAsync();
            staging = WalletRules.Stage(State, command);
        }

        if (staging.Failure is not null)
        {
            return new TransferResult(null, staging.Failure);
        }

        var staged = staging.Transfer!;
        State.ApplyDebit(staged.Amount);
        return await _inFlight.RunAsync(command.Idempotency, async () =>
        {
            var outcome = await WhenDurable(committer, (LedgerItem)staged);
            var result = outcome.Status switch
            {
                CommitStatus.Committed => Credited(staged.DestinationId, staged.Amount, outcome, new TransferResult(staging.View, null)),
                CommitStatus.IdempotencyKeyExists => new TransferResult(null, KeyTaken),
                _ => new TransferResult(null, outcome.Failure),
            };
            if (_creditNotice is { IsCompleted: false } notice)
            {
                // The reply waits, outside the turn, until the destination applied the notice (see Credited).
                await WhenDurable(AppliedAsync(notice));
            }

            _creditNotice = null;
            return result;
        });
    }

    // Not a turn: the notice carries the row version it produced, so applying it at any point
    // between two turns, or after a reload that already read it, counts the credit once. One that
    // arrives while the state is being read again is applied to the fresh state too (Reloaded): the
    // read may have begun before the credit committed, and would otherwise drop it from the cache.
    public Task OnCredited(CreditNotice notice)
    {
        if (!IsSystemAccount)
        {
            return Task.CompletedTask;
        }

        State.ApplyCredit(notice);
        if (Reloading)
        {
            _creditsDuringReload.Add(notice);
        }

        return Task.CompletedTask;
    }

    protected override WalletState Reloaded(WalletState fresh)
    {
        foreach (var notice in _creditsDuringReload)
        {
            fresh.ApplyCredit(notice);
        }

        _creditsDuringReload.Clear();
        fresh.Pending += _reserved;
        return fresh;
    }

    private T Credited<T>(string destinationId, long amount, TransferCommitOutcome outcome, T result)
    {
        // Applied before the reply leaves, so a client that reads the destination next sees the credit.
        _creditNotice = GrainFactory.Wallet(destinationId).OnCredited(new CreditNotice(amount, outcome.DestinationVersion));
        return result;
    }

    private static async Task<bool> AppliedAsync(Task notice)
    {
        try
        {
            await notice.WaitAsync(NoticeAppliedWaitMax);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // The transfer committed; a slow or lost notice must not turn that into a failure. The
            // notice is versioned, and the cached balance of the destination is only ever too low,
            // which a debit rechecks against the row.
        }

        return true;
    }

    /// <summary>
    /// Why a movement may not post to <paramref name="accountId"/>: a custom account the tenant does
    /// not have in this wallet's asset. Null for a wallet, a built-in account, or a custom one that exists.
    /// </summary>
    private async ValueTask<LedgerFailure?> MissingAccountAsync(string accountId) =>
        await customAccounts.ExistsAsync(accountId, CancellationToken.None)
            ? null
            : new LedgerFailure(LedgerErrors.WalletNotFound, $"account {SystemAccounts.Display(accountId)} not found in {State.Currency.Code}");

    private async Task<bool> TryCreateSystemAccountAsync(string tenantId)
    {
        var parts = Id.Split(':');
        if (State.Exists || !SystemAccounts.IsSystemWalletId(Id) || parts.Length != 4 || parts[1] != tenantId
            || await currencies.FindAsync(tenantId, parts[3]) is not { } currency)
        {
            return false;
        }

        await wallets.EnsureSystemAccountsAsync(tenantId, currency, CancellationToken.None);
        await ReloadStateAsync();
        LogSystemAccountsCreated(logger, tenantId, currency.Code);
        return State.IsVisibleTo(tenantId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the system accounts of tenant {TenantId} in {Currency}")]
    private static partial void LogSystemAccountsCreated(ILogger logger, string tenantId, string currency);
}
