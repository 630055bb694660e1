using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Wallet.Grains.Auth;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Receipts;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Cards;

/// <summary>
/// A card. Its turns decide authorizations in order: fraud rules, then status and spending
/// controls, then a hold on the funding wallet, decided in the wallet's turn. An approval counts
/// against the limits before its hold is durable, so the next authorization's turn may start at
/// once and still never fits under a limit that only holds one of them.
/// </summary>
/// <remarks>
/// Reentrant so that turns pipeline (see <see cref="LedgerGrain{TState}"/>): the limits are
/// checked and the approval counted with no await in between, and the turn ends only when it
/// waits for the wallet's hold; what runs after that adjusts counts and builds the reply.
/// </remarks>
[Reentrant]
[GrainType(LedgerGrains.CardTypeName)]
internal sealed class CardGrain(
    GroupCommitter<LedgerItem, TransferCommitOutcome> committer,
    CardStore cards,
    CardNumbers numbers,
    FraudRuleStore fraudRules,
    CurrencyCatalog currencies,
    LedgerMetrics metrics,
    ReadingYield readings,
    IOptions<CardOptions> options,
    TimeProvider clock) : LedgerGrain<CardState>, ICardGrain
{
    private static readonly LedgerFailure KeyTaken = new(LedgerErrors.IdempotencyKeyExists, "the Idempotency-Key was used by another request");

    private readonly TimeZoneInfo _zone = TimeZoneInfo.FindSystemTimeZoneById(options.Value.SpendingTimeZone);

    // Authorizations being decided, by Idempotency-Key: a retry meanwhile shares the first one's answer.
    private readonly InFlightRequests _inFlight = new();

    public Task<CardResult> Create(CreateCard command) => Turn(() => CreateTurn(command));

    private async Task<CardResult> CreateTurn(CreateCard command)
    {
        if (State.Exists)
        {
            return CardResult.Fail(LedgerErrors.Conflict, $"card {State.Id} exists already");
        }

        if (CardNumbers.Check(command.CardNumber) is { } invalid)
        {
            return Gone(CardResult.Fail(LedgerErrors.CardNumberInvalid, invalid));
        }

        var wallet = await GrainFactory.Wallet(command.WalletId).Get(command.TenantId);
        if (wallet.Failure is not null || wallet.Wallet!.Status == WalletStatuses.Closed)
        {
            return Gone(new CardResult(null, wallet.Failure ?? new LedgerFailure(LedgerErrors.WalletClosed, $"wallet {command.WalletId} is closed")));
        }

        if (SystemAccounts.IsSystemWalletId(command.WalletId))
        {
            return Gone(CardResult.Fail(LedgerErrors.ValidationFailed, "a card is funded by a user wallet, not a system account"));
        }

        if (await currencies.FindAsync(command.TenantId, wallet.Wallet.Currency) is not { } currency)
        {
            return Gone(CardResult.Fail(LedgerErrors.UnknownCurrency, $"currency '{wallet.Wallet.Currency}' is no longer configured"));
        }

        var (limits, failure) = SpendingRules.Parse(command.Controls, currency);
        if (failure is not null)
        {
            return Gone(new CardResult(null, failure));
        }

        var card = new CardState
        {
            Exists = true,
            Id = this.GetPrimaryKeyString(),
            TenantId = command.TenantId,
            WalletId = command.WalletId,
            Currency = currency,
            CardholderName = command.CardholderName,
            Last4 = command.CardNumber[^4..],
            Limits = limits!,
            Metadata = command.Metadata,
            CreatedAt = command.CreatedAt,
            UpdatedAt = command.CreatedAt,
        };
        var view = card.ToView();
        var outcome = await cards.InsertAsync(card, numbers.Hash(command.CardNumber), command.Idempotency, StoredAnswers.Created(view), CancellationToken.None);
        switch (outcome)
        {
            case CardWriteOutcome.Written:
                State = card;
                return new CardResult(view, null);
            case CardWriteOutcome.NumberExists:
                return Gone(CardResult.Fail(LedgerErrors.CardNumberExists, $"a card ending {card.Last4} with this number exists already"));
            default:
                return Gone(new CardResult(null, KeyTaken));
        }
    }

    /// <summary>The card's row and what it spent in the windows its limits look at.</summary>
    protected override Task<CardState> ReadStateAsync(CancellationToken cancellationToken) =>
        cards.ReadStateAsync(this.GetPrimaryKeyString(), clock.GetUtcNow(), _zone, cancellationToken);

    public Task<CardResult> Get(string tenantId) =>
        Task.FromResult(State.IsVisibleTo(tenantId) ? new CardResult(State.ToView(), null) : NotFound());

    public Task Refresh() => Turn(async () =>
    {
        await ReloadStateAsync();
        return true;
    });

    public Task<CardResult> Update(UpdateCard command) => Turn(() => UpdateTurn(command));

    private async Task<CardResult> UpdateTurn(UpdateCard command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return NotFound();
        }

        if (State.Status == CardStatuses.Cancelled)
        {
            // Cancelling is final: a cancelled card's holder, controls and metadata are its last.
            return CardResult.Fail(LedgerErrors.CardCancelled, $"card {State.Id} is cancelled");
        }

        var changed = State.Copy();
        if (command.CardholderName is { } name)
        {
            changed.CardholderName = name;
        }

        if (command.Controls is { } controls)
        {
            var (limits, failure) = SpendingRules.Parse(controls, State.Currency);
            if (failure is not null)
            {
                return new CardResult(null, failure);
            }

            changed.Limits = limits!;
            changed.ControlsVersion = State.ControlsVersion + 1;
        }

        if (command.Metadata is { } metadata)
        {
            changed.Metadata = metadata;
        }

        return await WriteAsync(changed, command.At, command.Idempotency);
    }

    public Task<CardResult> ChangeStatus(ChangeCardStatus command) => Turn(() => ChangeStatusTurn(command));

    private async Task<CardResult> ChangeStatusTurn(ChangeCardStatus command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return NotFound();
        }

        if (State.Status == CardStatuses.Cancelled)
        {
            return CardResult.Fail(LedgerErrors.CardCancelled, $"card {State.Id} is cancelled");
        }

        var changed = State.Copy();
        changed.Status = command.Change switch
        {
            CardStatusChange.Freeze => CardStatuses.Frozen,
            CardStatusChange.Unfreeze => CardStatuses.Active,
            _ => CardStatuses.Cancelled,
        };
        var audit = command.Actor is { } actor
            ? new AuditEvent(command.TenantId, command.At, actor, AuditActions.CardStatus(command.Change), State.Id, new { from = State.Status, to = changed.Status })
            : null;
        return await WriteAsync(changed, command.At, command.Idempotency, audit);
    }

    public async Task<AuthorizationResult> Authorize(AuthorizeCommand command)
    {
        // Receipts read on this silo wait meanwhile (so do they for a capture, reversal or increment).
        using var authorizing = readings.Authorizing();
        return await Turn(() => AuthorizeTurn(command));
    }

    private async Task<AuthorizationResult> AuthorizeTurn(AuthorizeCommand command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return new AuthorizationResult(null, NotFound().Failure, null);
        }

        switch (_inFlight.Match(command.Idempotency))
        {
            case { Reused: { } reused }:
                return new AuthorizationResult(null, reused, null);
            case { Outcome: { } first }:
                return ((AuthorizationResult)await WhenDurable(first)) with { Replayed = true };
        }

        var currency = State.Currency;
        var error = Amount.TryParse(command.Amount, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return new AuthorizationResult(null, new LedgerFailure(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale)), null);
        }

        var merchantName = MerchantNames.Normalize(command.MerchantName);
        if (!MerchantNames.IsName(merchantName))
        {
            return new AuthorizationResult(null, new LedgerFailure(LedgerErrors.ValidationFailed, "merchant_name must have a letter or a digit"), null);
        }

        string? category = null;
        if (command.MerchantCategory is { } sent && !MerchantCategories.TryNormalize(sent, out category))
        {
            return new AuthorizationResult(null, new LedgerFailure(LedgerErrors.ValidationFailed,
                $"merchant_category '{sent}' {MerchantCategories.Invalid}"), null);
        }

        var limitRefusal = await LimitRefusalAsync(State.Limits, amount, command.CreatedAt);
        var decision = Decide(command, amount, merchantName, category, await fraudRules.GetRulesAsync(State.TenantId, CancellationToken.None), limitRefusal);
        return await _inFlight.RunAsync(command.Idempotency, async () =>
        {
            var result = decision.Failure is null ? await ApproveAsync(command, decision) : await DeclineAsync(command, decision);
            if (result.Authorization is { } decided)
            {
                metrics.RecordAuthorization(decided.Decline?.Code, decided.Review, decision.FraudRules);
            }

            return result;
        });
    }

    public async Task<AuthorizationResult> Act(AuthorizationCommand command)
    {
        using var authorizing = readings.Authorizing();
        return await Turn(() => ActTurn(command));
    }

    private async Task<AuthorizationResult> ActTurn(AuthorizationCommand command)
    {
        var authorization = State.IsVisibleTo(command.TenantId)
            ? await cards.GetAuthorizationAsync(command.TenantId, command.AuthorizationId, CancellationToken.None)
            : null;
        if (authorization is null || authorization.CardId != State.Id)
        {
            return new AuthorizationResult(null, new LedgerFailure(LedgerErrors.AuthorizationNotFound, $"authorization {command.AuthorizationId} not found"), null);
        }

        if (authorization.Status != AuthorizationStatuses.Approved)
        {
            return new AuthorizationResult(null, new LedgerFailure(LedgerErrors.AuthorizationClosed, $"authorization {authorization.Id} is {authorization.Status}"), null);
        }

        var wallet = GrainFactory.Wallet(State.WalletId);
        var holdId = authorization.HoldId!;
        HoldResult result;
        switch (command.Action)
        {
            case AuthorizationAction.Capture:
                result = await wallet.CaptureHold(new CaptureHold(command.TenantId, holdId, command.Amount, command.Final, command.TransferId, command.Idempotency, command.At, authorization));
                break;
            case AuthorizationAction.Reverse:
                result = await wallet.ReleaseHold(new ReleaseHold(command.TenantId, holdId, HoldRelease.Reverse, command.Amount, command.Idempotency, command.At, authorization));
                break;
            default:
                if (await IncrementRefusalAsync(command, authorization) is { } refused)
                {
                    return new AuthorizationResult(null, refused, null);
                }

                result = await wallet.IncrementHold(new IncrementHold(command.TenantId, holdId, command.Amount!, command.Idempotency, authorization));
                break;
        }

        if (result.Authorization is { } after)
        {
            var counted = after.Status == AuthorizationStatuses.Approved ? after.Amount : after.Captured;
            State.Count(authorization.Id, authorization.CreatedAt, Counted(authorization), Parse(counted));
        }

        var failure = result.Failure?.Code == LedgerErrors.HoldClosed
            ? new LedgerFailure(LedgerErrors.AuthorizationClosed, $"authorization {authorization.Id} is no longer approved")
            : result.Failure;
        return new AuthorizationResult(result.Authorization, failure, null, result.Replayed);
    }

    private async Task<LedgerFailure?> IncrementRefusalAsync(AuthorizationCommand command, AuthorizationView authorization)
    {
        if (StatusRefusal() is { } refused)
        {
            return refused;
        }

        var error = Amount.TryParse(command.Amount ?? "", State.Currency.Scale, out var increment);
        if (error != AmountError.None)
        {
            return new LedgerFailure(LedgerErrors.InvalidAmount, Amount.Describe(error, State.Currency.Code, State.Currency.Scale));
        }

        // The authorization as a whole must still fit under per_authorization; the windows take the increment.
        var total = Counted(authorization) + increment;
        if (State.Limits.PerAuthorization is { } single && total > single)
        {
            return new LedgerFailure(LedgerErrors.LimitExceeded,
                $"per_authorization limit {State.Format(single)} {State.Currency.Code}: {State.Format(total)} requested in all",
                StoredAnswers.Extensions(new { Limit = "per_authorization" }));
        }

        return await LimitRefusalAsync(State.Limits with { PerAuthorization = null }, increment, command.At);
    }

    /// <summary>The order of checks, with the limits' answer taken before: fraud, status, category, limits.</summary>
    private Decision Decide(AuthorizeCommand command, long amount, string merchantName, string? category, CompiledFraudRules rules, LedgerFailure? limitRefusal)
    {
        var now = command.CreatedAt;
        var attempts = State.CountAttempt(now);
        var fraud = FraudEngine.Evaluate(rules, amount, State.Currency, merchantName, category, command.MerchantCountry, attempts);
        var failure = fraud.Blocked
            ? new LedgerFailure(LedgerErrors.FraudBlocked, "blocked by fraud rules: " + string.Join("; ", fraud.Reasons))
            : StatusRefusal()
              ?? SpendingRules.CheckCategory(State.Limits, category)
              ?? limitRefusal;
        var view = new AuthorizationView(
            command.AuthorizationId,
            State.Id,
            State.WalletId,
            failure is null ? AuthorizationStatuses.Approved : AuthorizationStatuses.Declined,
            failure is null,
            State.Format(amount),
            State.Format(0),
            State.Currency.Code,
            merchantName,
            category,
            command.MerchantCountry,
            command.Description,
            new FraudView(fraud.Score, fraud.Reasons),
            fraud.Review,
            null,
            failure is null ? HoldIds.New() : null,
            State.ControlsVersion,
            now,
            command.MerchantName);
        return new Decision(view, amount, failure, fraud.Rules);
    }

    private async Task<AuthorizationResult> ApproveAsync(AuthorizeCommand command, Decision decision)
    {
        var view = decision.View;
        State.Count(view.Id, view.CreatedAt, 0, decision.Amount);
        var record = new AuthorizationRecord(command.TenantId, view, decision.Amount, command.Idempotency, StoredAnswers.Created(view), decision.FraudRules);
        var hold = new PlaceHold(command.TenantId, view.HoldId!, view.Amount, "@" + SystemAccounts.Settlement, view.CreatedAt + options.Value.AuthorizationExpiry,
            view.Id, null, command.Idempotency, view.CreatedAt, record);
        HoldResult result;
        try
        {
            // The wallet decides the hold in its turn; this turn yields meanwhile, so the card's next
            // authorization is decided at once, against limits that count this one already.
            result = await WhenDurable(GrainFactory.Wallet(State.WalletId).PlaceHold(hold));
        }
        catch
        {
            State.Count(view.Id, view.CreatedAt, decision.Amount, 0);
            throw;
        }

        if (result.Failure is null)
        {
            return new AuthorizationResult(view, null, record.Answer);
        }

        State.Count(view.Id, view.CreatedAt, decision.Amount, 0);
        State.Spends.Remove(view.Id);
        return result.Failure.Code == LedgerErrors.IdempotencyKeyExists
            ? new AuthorizationResult(null, KeyTaken, null)
            : await DeclineAsync(command, decision with { View = view with { HoldId = null }, Failure = result.Failure });
    }

    private async Task<AuthorizationResult> DeclineAsync(AuthorizeCommand command, Decision decision)
    {
        var failure = decision.Failure!;
        var view = decision.View with
        {
            Status = AuthorizationStatuses.Declined,
            Approved = false,
            Decline = new DeclineView(failure.Code, failure.Detail),
        };
        var answer = failure with { Extensions = DeclineExtensions(view, failure) };
        var record = new AuthorizationRecord(command.TenantId, view, decision.Amount, command.Idempotency,
            StoredAnswers.Refused(answer), decision.FraudRules);
        var outcome = await WhenDurable(committer, new StagedAuthorization(record));
        return outcome.Status == CommitStatus.Committed
            ? new AuthorizationResult(view, answer, record.Answer)
            : new AuthorizationResult(null, outcome.Failure ?? KeyTaken, null);
    }

    private static string DeclineExtensions(AuthorizationView view, LedgerFailure failure)
    {
        var members = new Dictionary<string, object?> { ["authorization_id"] = view.Id, ["fraud"] = view.Fraud };
        if (failure.Extensions is not null)
        {
            foreach (var member in System.Text.Json.JsonDocument.Parse(failure.Extensions).RootElement.EnumerateObject())
            {
                members[member.Name] = member.Value.Clone();
            }
        }

        return StoredAnswers.Extensions(members);
    }

    private LedgerFailure? StatusRefusal() => State.Status switch
    {
        CardStatuses.Frozen => new LedgerFailure(LedgerErrors.CardFrozen, $"card {State.Id} is frozen"),
        CardStatuses.Cancelled => new LedgerFailure(LedgerErrors.CardCancelled, $"card {State.Id} is cancelled"),
        _ => null,
    };

    private async Task<CardResult> WriteAsync(CardState changed, DateTimeOffset at, IdempotencyRequest? idempotency, AuditEvent? audit = null)
    {
        changed.UpdatedAt = at > State.UpdatedAt ? at : State.UpdatedAt.AddTicks(10);
        var view = changed.ToView();
        switch (await cards.UpdateAsync(changed, State.UpdatedAt, idempotency, StoredAnswers.Done(view), audit, CancellationToken.None))
        {
            case CardWriteOutcome.Written:
                State = changed;
                return new CardResult(view, null);
            case CardWriteOutcome.IdempotencyKeyExists:
                return new CardResult(null, KeyTaken);
            default:
                ReloadStateBeforeNextTurn();
                return CardResult.Fail(LedgerErrors.Conflict, $"card {State.Id} changed meanwhile; retry");
        }
    }

    /// <summary>
    /// What the card counts for the authorization now. The row read at the start of the turn lags
    /// what is still being committed; the card's own count does not, as every command runs in its turns.
    /// </summary>
    private long Counted(AuthorizationView authorization) =>
        State.Spends.TryGetValue(authorization.Id, out var spend) ? spend.Amount : Parse(authorization.Amount);

    /// <summary>
    /// The first of <paramref name="limits"/> that <paramref name="amount"/> would break. Holds of
    /// the card's authorizations may have been released outside its turns (expiry, a void through
    /// the holds API), leaving the card counting more than was spent, so before refusing, the counts
    /// of authorizations the database knows are lowered to what it says; the ones still in flight
    /// are not there yet and keep their count.
    /// </summary>
    private async Task<LedgerFailure?> LimitRefusalAsync(CardLimits limits, long amount, DateTimeOffset now)
    {
        var earliest = SpendingRules.EarliestWindow(now, _zone);
        State.ForgetBefore(earliest);
        if (SpendingRules.CheckLimits(limits, State.Currency, State.Spends.Values, State.AllTimeSpent, amount, now, _zone) is null)
        {
            return null;
        }

        foreach (var (id, counted) in await cards.CountedSpendsAsync(State.Id, earliest, CancellationToken.None))
        {
            if (State.Spends.TryGetValue(id, out var spend) && counted < spend.Amount)
            {
                State.Count(id, spend.At, spend.Amount, counted);
            }
        }

        return SpendingRules.CheckLimits(limits, State.Currency, State.Spends.Values, State.AllTimeSpent, amount, now, _zone);
    }

    private long Parse(string amount) => Amount.TryParse(amount, State.Currency.Scale, out var minor) == AmountError.None ? minor : 0;

    private CardResult NotFound()
    {
        if (!State.Exists)
        {
            DeactivateOnIdle();
        }

        return CardResult.Fail(LedgerErrors.CardNotFound, $"card {this.GetPrimaryKeyString()} not found");
    }

    private CardResult Gone(CardResult result)
    {
        DeactivateOnIdle();
        return result;
    }

    private sealed record Decision(AuthorizationView View, long Amount, LedgerFailure? Failure, IReadOnlyList<string> FraudRules);
}
