using Wallet.Grains.Cards;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Holds: two-phase movements out of the wallet, each an Orleans transaction like any movement.
/// Placing or raising one moves the wallet's pending (this wallet alone); a capture posts a transfer
/// to the hold's destination (with the destination wallet as the second participant unless it is a
/// system account); a release moves pending back. The hold's row is written with the movement.
/// </summary>
internal sealed partial class WalletGrain
{
    public Task<HoldResult> PlaceHold(PlaceHold command) => RunHoldAsync(command.TenantId, command.Idempotency, () => PlaceHoldAsync(command));

    private async Task<HoldResult> PlaceHoldAsync(PlaceHold command)
    {
        var currency = State.Currency;
        var error = Amount.TryParse(command.Amount, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return HoldResult.Fail(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale));
        }

        var destinationId = WalletRules.AccountId(command.TenantId, command.Destination, currency.Code);
        if (destinationId == State.Id)
        {
            return HoldResult.Fail(LedgerErrors.SameWallet, "a hold's destination must be another account");
        }

        if (await MissingAccountAsync(destinationId) is { } missing)
        {
            return new HoldResult(null, null, missing);
        }

        // The reminder that will release the hold exists before the hold can commit.
        await EnsureExpiryReminderAsync(command.ExpiresAt);
        var hold = new HoldRecord(command.HoldId, command.TenantId, destinationId, amount, 0, HoldStatuses.Open, command.Reference,
            command.Metadata?.GetRawText(), command.ExpiresAt, command.CreatedAt, null);
        var view = hold.ToView(State);
        var approval = command.Authorization;
        var answer = approval?.Answer ?? StoredAnswers.Created(view);
        return await MoveHoldAsync(command.HoldId, hasEntry: false, null, (wallet, transactionId, written) =>
        {
            if (CheckDebit(wallet, amount) is { } refused)
            {
                return (refused, null);
            }

            wallet.Pending = checked(wallet.Pending + amount);
            wallet.Holds[hold.Id] = hold;
            wallet.Append(transactionId, written, currency.Code, null, 0, row => Keyed(row, command.TenantId, command.Idempotency, answer) with
            {
                Hold = hold,
                Authorization = approval,
            });
            return (null, new HoldResult(view, null, null));
        });
    }

    public Task<HoldResult> CaptureHold(CaptureHold command) => RunHoldAsync(command.TenantId, command.Idempotency, () => CaptureHoldAsync(command));

    private async Task<HoldResult> CaptureHoldAsync(CaptureHold command)
    {
        if (ParseAmount(command.Amount) is { Failure: { } invalid })
        {
            return new HoldResult(null, null, invalid);
        }

        // The destination: from the hold as last committed (a hold's destination never changes).
        var current = await CurrentAsync();
        var destinationId = current.Holds.GetValueOrDefault(command.HoldId)?.DestinationId;
        if (destinationId is not null && !SystemAccounts.IsSystemWalletId(destinationId))
        {
            hotWallets.Saw(destinationId);
        }

        return await MoveHoldAsync(command.TransferId, hasEntry: true, destinationId, (wallet, transactionId, written) =>
        {
            var (hold, amount, failure) = OpenHold(wallet, command.HoldId, command.Amount);
            if ((failure ?? Expired(hold!, command.CreatedAt)) is { } refused)
            {
                return (refused, null);
            }

            var open = hold!;
            var final = command.Final || amount == open.Held;
            var released = final ? open.Held : amount;
            var moved = open with
            {
                Captured = open.Captured + amount,
                Status = final ? HoldStatuses.Captured : HoldStatuses.Open,
                ClosedAt = final ? command.CreatedAt : null,
            };
            wallet.Balance = checked(wallet.Balance - amount);
            wallet.Pending -= released;
            Track(wallet, moved);
            var view = moved.ToView(State);
            var transfer = new TransferView(command.TransferId, State.Display, SystemAccounts.Display(open.DestinationId), State.Format(amount),
                State.Currency.Code, "posted", null, null, null, command.CreatedAt);
            var authorization = command.Authorization?.With(view);
            var answer = StoredAnswers.Done(authorization ?? (object)new CaptureView(view, transfer));
            var header = new LedgerEntryHeader(command.TenantId, State.Id, open.DestinationId, amount, null, null, null, command.CreatedAt, open.Id);
            wallet.Append(transactionId, written, State.Currency.Code, command.TransferId, -amount, row => Keyed(row, command.TenantId, command.Idempotency, answer) with
            {
                CounterpartId = SystemAccounts.IsSystemWalletId(open.DestinationId) ? open.DestinationId : null,
                Entry = header,
                Hold = moved,
            });
            return (null, new HoldResult(view, transfer, null) { Authorization = authorization });
        });
    }

    public Task<HoldResult> ReleaseHold(ReleaseHold command) => RunHoldAsync(command.TenantId, command.Idempotency, () => ReleaseHoldAsync(command));

    private async Task<HoldResult> ReleaseHoldAsync(ReleaseHold command)
    {
        var partial = command.Reason == HoldRelease.Reverse ? command.Amount : null;
        if (ParseAmount(partial) is { Failure: { } invalid })
        {
            return new HoldResult(null, null, invalid);
        }

        return await MoveHoldAsync(command.HoldId, hasEntry: false, null, (wallet, transactionId, written) =>
        {
            var (hold, amount, failure) = OpenHold(wallet, command.HoldId, partial);
            if (failure is not null)
            {
                return (failure, null);
            }

            if (command.Reason == HoldRelease.Expire && hold!.ExpiresAt > command.At)
            {
                return (new LedgerFailure(LedgerErrors.Conflict, $"hold {hold.Id} expires at {hold.ExpiresAt:O}"), null);
            }

            var all = amount == hold!.Held;
            var moved = all
                ? hold with { Status = command.Reason == HoldRelease.Expire ? HoldStatuses.Expired : HoldStatuses.Voided, ClosedAt = command.At }
                : hold with { Amount = hold.Amount - amount };
            wallet.Pending -= amount;
            return (null, MovePending(wallet, transactionId, written, moved, command.TenantId, command.Idempotency, command.Authorization));
        });
    }

    public Task<HoldResult> IncrementHold(IncrementHold command) => RunHoldAsync(command.TenantId, command.Idempotency, () => IncrementHoldAsync(command));

    private async Task<HoldResult> IncrementHoldAsync(IncrementHold command)
    {
        var (amount, invalid) = ParseAmount(command.Amount);
        if (invalid is not null)
        {
            return new HoldResult(null, null, invalid);
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        return await MoveHoldAsync(command.HoldId, hasEntry: false, null, (wallet, transactionId, written) =>
        {
            var (hold, _, failure) = OpenHold(wallet, command.HoldId, null);
            if ((failure ?? Expired(hold!, now) ?? CheckDebit(wallet, amount)) is { } refused)
            {
                return (refused, null);
            }

            var moved = hold! with { Amount = hold.Amount + amount };
            wallet.Pending = checked(wallet.Pending + amount);
            return (null, MovePending(wallet, transactionId, written, moved, command.TenantId, command.Idempotency, command.Authorization));
        });
    }

    /// <summary>A hold command on a user wallet of the tenant, run once under its Idempotency-Key.</summary>
    private Task<HoldResult> RunHoldAsync(string tenantId, IdempotencyRequest? idempotency, Func<Task<HoldResult>> run)
    {
        if (!State.IsVisibleTo(tenantId))
        {
            return Task.FromResult(new HoldResult(null, null, WalletNotFound().Failure));
        }

        if (IsSystemAccount)
        {
            return Task.FromResult(HoldResult.Fail(LedgerErrors.ValidationFailed, "holds are placed on user wallets, not on system accounts"));
        }

        return RunOnceAsync(tenantId, idempotency, null, Refused, run);
    }

    /// <summary>
    /// Runs a hold's movement: <paramref name="decide"/> takes it in this wallet's state; a capture
    /// into another user wallet (<paramref name="creditedId"/>) credits that wallet in the same transaction.
    /// </summary>
    private Task<HoldResult> MoveHoldAsync(
        string operationId, bool hasEntry, string? creditedId, Func<WalletAccount, string, long, (LedgerFailure? Failure, HoldResult? Result)> decide)
    {
        hotWallets.Saw(Id);
        return MoveAsync(operationId, hasEntry, async transactionId =>
        {
            HoldResult? result = null;
            var refused = await UpdateAsync(transactionId, (wallet, written) =>
            {
                var decided = decide(wallet, transactionId, written);
                result = decided.Result;
                return decided.Failure;
            });
            if (refused is null && result?.Transfer is { } transfer && creditedId is not null && !SystemAccounts.IsSystemWalletId(creditedId))
            {
                var amount = Amount.TryParse(transfer.Amount, State.Currency.Scale, out var minor) == AmountError.None ? minor : 0;
                refused = await Wallet(creditedId).Post(new WalletPosting(State.TenantId, transfer.Id, amount, State.Currency.Code));
            }

            return (refused, result);
        }, Refused);
    }

    private static HoldResult Refused(LedgerFailure failure) => new(null, null, failure);

    /// <summary>
    /// Records a hold whose amount moved without an entry (a release or an increment; the caller moved
    /// pending): the wallet's open holds, and the row that carries the hold, its key and its answer.
    /// </summary>
    private HoldResult MovePending(
        WalletAccount wallet, string transactionId, long written, HoldRecord moved, string tenantId, IdempotencyRequest? idempotency, AuthorizationView? approval)
    {
        Track(wallet, moved);
        var view = moved.ToView(State);
        var authorization = approval?.With(view);
        var answer = StoredAnswers.Done(authorization ?? (object)view);
        wallet.Append(transactionId, written, State.Currency.Code, null, 0, row => Keyed(row, tenantId, idempotency, answer) with { Hold = moved });
        return new HoldResult(view, null, null) { Authorization = authorization };
    }

    // The wallet's open holds as the movement leaves them.
    private static void Track(WalletAccount wallet, HoldRecord hold)
    {
        if (hold.Status == HoldStatuses.Open)
        {
            wallet.Holds[hold.Id] = hold;
        }
        else
        {
            wallet.Holds.Remove(hold.Id);
        }
    }

    private (long Amount, LedgerFailure? Failure) ParseAmount(string? text)
    {
        if (text is null)
        {
            return (0, null);
        }

        var currency = State.Currency;
        var error = Amount.TryParse(text, currency.Scale, out var amount);
        return error == AmountError.None ? (amount, null) : (0, new LedgerFailure(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale)));
    }

    /// <summary>The open hold and the amount to move: <paramref name="amountText"/>, or all it holds when null.</summary>
    private (HoldRecord? Hold, long Amount, LedgerFailure? Failure) OpenHold(WalletAccount wallet, string holdId, string? amountText)
    {
        if (!wallet.Holds.TryGetValue(holdId, out var hold))
        {
            return (null, 0, new LedgerFailure(LedgerErrors.HoldClosed, $"hold {holdId} is no longer open"));
        }

        if (amountText is null)
        {
            return (hold, hold.Held, null);
        }

        var (amount, failure) = ParseAmount(amountText);
        if (failure is not null)
        {
            return (null, 0, failure);
        }

        return amount > hold.Held
            ? (null, 0, new LedgerFailure(LedgerErrors.AmountExceedsHold,
                $"hold {holdId} holds {State.Format(hold.Held)} {State.Currency.Code}; {State.Format(amount)} requested"))
            : (hold, amount, null);
    }

    /// <summary>A hold past its time is not captured or raised, even before the expiry scan releases it.</summary>
    private static LedgerFailure? Expired(HoldRecord hold, DateTimeOffset now) =>
        hold.ExpiresAt <= now ? new LedgerFailure(LedgerErrors.HoldClosed, $"hold {hold.Id} expired at {hold.ExpiresAt:O}") : null;
}
