using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Holds: two-phase movements out of the wallet. Placing one raises <c>pending</c>, so it is decided
/// in the wallet's turn like a debit; captures post a transfer to the hold's destination.
/// </summary>
internal sealed partial class WalletGrain
{
    public Task<HoldResult> PlaceHold(PlaceHold command) => Turn(() => PlaceHoldTurn(command));

    private async Task<HoldResult> PlaceHoldTurn(PlaceHold command)
    {
        if (Refuse(command.TenantId, command.Idempotency) is { } refused)
        {
            return await refused;
        }

        var currency = State.Currency;
        var error = Amount.TryParse(command.Amount, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return HoldResult.Fail(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale));
        }

        var destinationId = SystemAccounts.TryParseReference(command.Destination, out var name)
            ? SystemAccounts.WalletId(command.TenantId, name, currency.Code)
            : command.Destination;
        if (destinationId == State.Id)
        {
            return HoldResult.Fail(LedgerErrors.SameWallet, "a hold's destination must be another account");
        }

        if (await CheckDebitAsync(amount) is { } declined)
        {
            return new HoldResult(null, null, declined);
        }

        await EnsureExpiryReminderAsync(command.ExpiresAt);
        var hold = new HoldState
        {
            Id = command.HoldId,
            DestinationId = destinationId,
            Amount = amount,
            Reference = command.Reference,
            Metadata = command.Metadata,
            ExpiresAt = command.ExpiresAt,
            CreatedAt = command.CreatedAt,
        };
        var view = hold.ToView(State);
        var approval = command.Authorization;
        State.Pending += amount;
        State.Holds[hold.Id] = hold;
        var staged = new StagedHold(HoldMove.Place, command.TenantId, hold.Id, State.Id, destinationId, amount, currency.Code, command.Idempotency,
            approval?.Answer ?? StoredAnswers.Created(view), command.CreatedAt)
        {
            ExpiresAt = command.ExpiresAt,
            Reference = command.Reference,
            MetadataJson = command.Metadata?.GetRawText(),
            Authorization = approval,
        };
        return await CommitAsync(staged, command.Idempotency, outcome => HoldAnswer(outcome, new HoldResult(view, null, null)));
    }

    public Task<HoldResult> CaptureHold(CaptureHold command) => Turn(() => CaptureHoldTurn(command));

    private async Task<HoldResult> CaptureHoldTurn(CaptureHold command)
    {
        if (Refuse(command.TenantId, command.Idempotency) is { } refused)
        {
            return await refused;
        }

        var (hold, amount, failure) = OpenHold(command.HoldId, command.Amount);
        if ((failure ?? Expired(hold!, command.CreatedAt)) is { } refusal)
        {
            return new HoldResult(null, null, refusal);
        }

        var final = command.Final || amount == hold!.Held;
        var released = final ? hold!.Held : amount;
        State.ApplyDebit(amount);
        State.Pending -= released;
        hold!.Captured += amount;
        if (final)
        {
            State.Holds.Remove(hold.Id);
        }

        var view = final ? hold.ToView(State, HoldStatuses.Captured, command.CreatedAt) : hold.ToView(State);
        var transfer = new TransferView(command.TransferId, State.Display, SystemAccounts.Display(hold.DestinationId), State.Format(amount),
            State.Currency.Code, "posted", null, null, null, command.CreatedAt);
        var authorization = command.Authorization?.With(view);
        var staged = new StagedHold(HoldMove.Capture, command.TenantId, hold.Id, State.Id, hold.DestinationId, amount, State.Currency.Code,
            command.Idempotency, StoredAnswers.Done(authorization ?? (object)new CaptureView(view, transfer)), command.CreatedAt)
        {
            Final = final,
            TransferId = command.TransferId,
        };
        return await CommitAsync(staged, command.Idempotency, outcome => outcome.Status == CommitStatus.Committed
            ? Credited(hold.DestinationId, amount, outcome, new HoldResult(view, transfer, null) { Authorization = authorization })
            : HoldAnswer(outcome, null!));
    }

    public Task<HoldResult> ReleaseHold(ReleaseHold command) => Turn(() => ReleaseHoldTurn(command));

    private async Task<HoldResult> ReleaseHoldTurn(ReleaseHold command)
    {
        if (Refuse(command.TenantId, command.Idempotency) is { } refused)
        {
            return await refused;
        }

        var (hold, amount, failure) = OpenHold(command.HoldId, command.Reason == HoldRelease.Reverse ? command.Amount : null);
        if (failure is not null)
        {
            return new HoldResult(null, null, failure);
        }

        if (command.Reason == HoldRelease.Expire && hold!.ExpiresAt > command.At)
        {
            return HoldResult.Fail(LedgerErrors.Conflict, $"hold {hold.Id} expires at {hold.ExpiresAt:O}");
        }

        var all = amount == hold!.Held;
        var closeStatus = command.Reason == HoldRelease.Expire ? HoldStatuses.Expired : HoldStatuses.Voided;
        State.Pending -= amount;
        if (all)
        {
            State.Holds.Remove(hold.Id);
        }
        else
        {
            hold.Amount -= amount;
        }

        var view = all ? hold.ToView(State, closeStatus, command.At) : hold.ToView(State);
        var authorization = command.Authorization?.With(view);
        var staged = new StagedHold(HoldMove.Release, command.TenantId, hold.Id, State.Id, hold.DestinationId, amount, State.Currency.Code,
            command.Idempotency, StoredAnswers.Done(authorization ?? (object)view), command.At)
        {
            CloseStatus = closeStatus,
        };
        return await CommitAsync(staged, command.Idempotency, outcome => HoldAnswer(outcome, new HoldResult(view, null, null) { Authorization = authorization }));
    }

    public Task<HoldResult> IncrementHold(IncrementHold command) => Turn(() => IncrementHoldTurn(command));

    private async Task<HoldResult> IncrementHoldTurn(IncrementHold command)
    {
        if (Refuse(command.TenantId, command.Idempotency) is { } refused)
        {
            return await refused;
        }

        var (open, _, failure) = OpenHold(command.HoldId, null);
        failure ??= Expired(open!, clock.GetUtcNow());
        var error = Amount.TryParse(command.Amount, State.Currency.Scale, out var amount);
        if (failure is not null || error != AmountError.None)
        {
            return new HoldResult(null, null, failure ?? new LedgerFailure(LedgerErrors.InvalidAmount, Amount.Describe(error, State.Currency.Code, State.Currency.Scale)));
        }

        if (await CheckDebitAsync(amount) is { } declined)
        {
            return new HoldResult(null, null, declined);
        }

        // The state may have been read again to decide: take the hold from it as it is now.
        if (!State.Holds.TryGetValue(command.HoldId, out var hold))
        {
            return HoldResult.Fail(LedgerErrors.HoldClosed, $"hold {command.HoldId} is no longer open");
        }

        State.Pending += amount;
        hold.Amount += amount;
        var view = hold.ToView(State);
        var authorization = command.Authorization?.With(view);
        var staged = new StagedHold(HoldMove.Increment, command.TenantId, hold.Id, State.Id, hold.DestinationId, amount, State.Currency.Code,
            command.Idempotency, StoredAnswers.Done(authorization ?? (object)view), LedgerTime.Truncate(clock.GetUtcNow()));
        return await CommitAsync(staged, command.Idempotency, outcome => HoldAnswer(outcome, new HoldResult(view, null, null) { Authorization = authorization }));
    }

    /// <summary>
    /// Null when the command may go on; otherwise the answer: not found, a system account, or the
    /// shared outcome of an in-flight command with the same Idempotency-Key.
    /// </summary>
    private Task<HoldResult>? Refuse(string tenantId, IdempotencyRequest? idempotency)
    {
        if (!State.IsVisibleTo(tenantId))
        {
            return Task.FromResult(new HoldResult(null, null, WalletNotFound().Failure));
        }

        if (State.IsSystem)
        {
            return Task.FromResult(HoldResult.Fail(LedgerErrors.ValidationFailed, "holds are placed on user wallets, not on system accounts"));
        }

        return _inFlight.Match(idempotency) switch
        {
            { Reused: { } reused } => Task.FromResult(new HoldResult(null, null, reused)),
            { Outcome: { } first } => ReplayAsync(first),
            _ => null,
        };
    }

    private async Task<HoldResult> ReplayAsync(Task<object> first) => ((HoldResult)await WhenDurable(first)) with { Replayed = true };

    /// <summary>The open hold and the amount to move: <paramref name="amountText"/>, or all it holds when null.</summary>
    private (HoldState? Hold, long Amount, LedgerFailure? Failure) OpenHold(string holdId, string? amountText)
    {
        if (!State.Holds.TryGetValue(holdId, out var hold))
        {
            return (null, 0, new LedgerFailure(LedgerErrors.HoldClosed, $"hold {holdId} is no longer open"));
        }

        if (amountText is null)
        {
            return (hold, hold.Held, null);
        }

        var currency = State.Currency;
        var error = Amount.TryParse(amountText, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return (null, 0, new LedgerFailure(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale)));
        }

        return amount > hold.Held
            ? (null, 0, new LedgerFailure(LedgerErrors.AmountExceedsHold,
                $"hold {holdId} holds {State.Format(hold.Held)} {currency.Code}; {State.Format(amount)} requested"))
            : (hold, amount, null);
    }

    /// <summary>A hold past its time is not captured or raised, even before the expiry scan releases it.</summary>
    private static LedgerFailure? Expired(HoldState hold, DateTimeOffset now) =>
        hold.ExpiresAt <= now ? new LedgerFailure(LedgerErrors.HoldClosed, $"hold {hold.Id} expired at {hold.ExpiresAt:O}") : null;

    /// <summary>Status and funds for a debit or a hold; on insufficient funds the row decides, read again.</summary>
    private async Task<LedgerFailure?> CheckDebitAsync(long amount)
    {
        var refused = State.CheckDebit(amount);
        if (refused?.Code != LedgerErrors.InsufficientFunds)
        {
            return refused;
        }

        await ReloadStateAsync();
        return State.CheckDebit(amount);
    }

    private static HoldResult HoldAnswer(TransferCommitOutcome outcome, HoldResult committed) => outcome.Status switch
    {
        CommitStatus.Committed => committed,
        CommitStatus.IdempotencyKeyExists => new HoldResult(null, null, KeyTaken),
        _ => new HoldResult(null, null, outcome.Failure),
    };
}
