using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Auth;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>
/// A wallet, or a system account. A user wallet's money is its transactional state
/// (<see cref="WalletAccount"/>), and every movement of it is an Orleans transaction that this
/// grain runs: a deposit, withdrawal or spend against a system account has this wallet as its only
/// participant (the storage posts the system account's leg at commit), a transfer to another wallet
/// has both, the likely-hot one first (<see cref="HotWallets"/>). The storage writes the ledger's
/// rows at the transaction manager's commit.
/// </summary>
/// <remarks>
/// Reentrant: Orleans' transactional state orders the movements (each takes the state's lock), and
/// reads need no turn. A system account has no transactional state of its own: users' movements
/// post its legs in SQL, and its grain serves what only it can decide in its turn (a movement
/// between two system accounts, and what a system account can give; see
/// WalletGrain.System.cs).
/// </remarks>
[Reentrant]
[GrainType(LedgerGrains.WalletTypeName)]
internal sealed partial class WalletGrain(
    [TransactionalState("account", TransactionalStorageServiceCollectionExtensions.StorageName)] ITransactionalState<WalletAccount> account,
    ITransactionClient transactions,
    GroupCommitter<LedgerItem, TransferCommitOutcome> committer,
    WalletStore wallets,
    CustomAccounts customAccounts,
    LedgerStore ledger,
    TakenLookup taken,
    HotWallets hotWallets,
    LedgerMetrics metrics,
    CurrencyCatalog currencies,
    TimeProvider clock,
    IOptions<HoldOptions> holdOptions,
    ILogger<WalletGrain> logger) : LedgerGrain<WalletState>, IWalletGrain, IWalletLegs
{
    // Another request committed this Idempotency-Key first; the API replays its answer instead.
    private static readonly LedgerFailure KeyTaken = new(LedgerErrors.IdempotencyKeyExists, "the Idempotency-Key was used by another request");

    // Attempts of a movement whose transaction Orleans aborted (a broken lock, a prepare that outran
    // its timeout, the aborts that cascade from either): nothing of it was written, and each attempt
    // decides afresh from the state as it is then. One prepare stalled past PrepareTimeout aborts
    // every transaction queued behind it on the same wallets at once (64 of 64 in flight, seen with
    // the CPU starved by a second test run); retried at once they all queue into the same stall again,
    // so an attempt after an abort waits first: a random part of a pause that doubles each time.
    private const int AttemptsMax = 5;
    private static readonly TimeSpan RetryPauseFirst = TimeSpan.FromMilliseconds(50);

    // Commands running, by Idempotency-Key: a retry that arrives meanwhile waits for the first one's
    // outcome instead of moving the money again.
    private readonly InFlightRequests _inFlight = new();

    // Transactions this wallet runs at once; more wait here, in arrival order, before they start.
    // A transaction in Orleans' lock queue of a wallet is given at most its timeout (4 s, see
    // TransactionTimeout) to get through; with thousands of movements of one wallet in that queue
    // at once on a busy machine (5,000 concurrent spends, run beside the rest of the test suite),
    // one was unanswered after 30 s while the wallet sat idle with 9,784 requests waiting. Waiting
    // here holds no lock. 128 is twice the bench's requests in flight on its hot wallet.
    private const int MovementsInFlightMax = 128;
    private readonly SemaphoreSlim _movements = new(MovementsInFlightMax);

    private string Id => this.GetPrimaryKeyString();

    private bool IsSystemAccount => SystemAccounts.IsSystemWalletId(Id);

    public Task<WalletResult> Get(string tenantId) => IsSystemAccount ? GetSystemAccount(tenantId) : GetAsync(tenantId);

    private async Task<WalletResult> GetAsync(string tenantId)
    {
        if (!State.IsVisibleTo(tenantId))
        {
            return WalletNotFound();
        }

        return new WalletResult((await CurrentAsync()).ToView(), null);
    }

    /// <summary>
    /// The wallet as its last committed movement left it, read without a transaction (a read-only
    /// one writes to storage): when the storage holds nothing prepared, the committed state, or the
    /// row as this activation read it if no movement ever committed (every movement seeds the state,
    /// and none can commit without preparing here first). Otherwise a movement may have been
    /// committed, and acknowledged, by another wallet that managed its transaction before this
    /// wallet's storage heard of it; its manager wrote the wallet row before acknowledging, so the
    /// row is read.
    /// </summary>
    private async Task<WalletState> CurrentAsync()
    {
        if (CommittedState.Of(GrainContext) is { Settled: true } settled)
        {
            return settled.State is WalletAccount { Seeded: true } committed ? committed.With(State) : State;
        }

        return await wallets.ReadAsync(Id, CancellationToken.None) ?? State;
    }

    public Task<WalletResult> Create(CreateWallet command) => Turn(() => CreateTurn(command));

    private async Task<WalletResult> CreateTurn(CreateWallet command)
    {
        if (State.Exists)
        {
            return WalletResult.Fail(LedgerErrors.Conflict, $"wallet {State.Id} exists already");
        }

        var (wallet, failure) = WalletRules.NewWallet(Id, command, await currencies.FindAsync(command.TenantId, command.Currency));
        if (failure is not null)
        {
            DeactivateOnIdle();
            return new WalletResult(null, failure);
        }

        if (!await wallets.CreateAsync(wallet!, command.Idempotency, w => StoredAnswers.Created(w.ToView()), CancellationToken.None))
        {
            DeactivateOnIdle();
            return new WalletResult(null, KeyTaken);
        }

        State = wallet!;
        return new WalletResult(State.ToView(), null);
    }

    public Task<WalletResult> ChangeStatus(ChangeWalletStatus command) =>
        IsSystemAccount ? Turn(() => ChangeSystemAccountStatusTurn(command)) : ChangeStatusAsync(command);

    private async Task<WalletResult> ChangeStatusAsync(ChangeWalletStatus command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return WalletNotFound();
        }

        // A change that changes nothing and stores no answer needs no transaction.
        var current = await CurrentAsync();
        var (target, failure) = WalletRules.StatusChange(current, command.Change);
        if (failure is not null || (target == current.Status && command.Idempotency is null))
        {
            return new WalletResult(failure is null ? current.ToView() : null, failure);
        }

        return await RunOnceAsync(command.TenantId, command.Idempotency, null, Refused, () => MoveAsync(
            $"status_{Guid.CreateVersion7():N}",
            hasEntry: false,
            async transactionId =>
            {
                WalletView? view = null;
                var refused = await UpdateAsync(transactionId, (wallet, written) =>
                {
                    var (target, failure) = WalletRules.StatusChange(wallet.With(State), command.Change);
                    if (failure is not null)
                    {
                        return failure;
                    }

                    var audit = Audited(command, wallet.Status, target);
                    wallet.Status = target;
                    view = wallet.With(State).ToView();
                    wallet.Append(transactionId, written, State.Currency.Code, null, 0,
                        row => Keyed(row, command.TenantId, command.Idempotency, StoredAnswers.Done(view)) with { Audit = audit });
                    return null;
                });
                return (refused, refused is null ? new WalletResult(view, null) : null);
            },
            Refused));

        static WalletResult Refused(LedgerFailure failure) => new(null, failure);
    }

    /// <summary>The audit row of a status change made by someone, written with the change.</summary>
    private AuditRecord? Audited(ChangeWalletStatus command, string from, string to) => command.Actor is { } actor
        ? new AuditRecord(command.TenantId, LedgerTime.Truncate(clock.GetUtcNow()), actor, AuditActions.WalletStatus(command.Change), Id,
            JsonSerializer.Serialize(new { from, to }, WalletJson.Options))
        : null;

    public Task<TransferResult> Transfer(TransferCommand command) => IsSystemAccount switch
    {
        // Money a system account gives a user wallet is that wallet's movement.
        true when !SystemAccounts.IsReference(command.Destination) => GrainFactory.Wallet(command.Destination).Transfer(command),
        true => Turn(() => SystemTransferTurn(command)),
        false => TransferAsync(command),
    };

    private async Task<TransferResult> TransferAsync(TransferCommand command)
    {
        if (!State.IsVisibleTo(command.TenantId))
        {
            return new TransferResult(null, WalletNotFound().Failure);
        }

        // This wallet is the transfer's source, or its destination when a system account gives.
        var credited = SystemAccounts.IsReference(command.Source);
        var (movement, view, failure) = WalletRules.Plan(State, command, credited);
        if (failure is not null)
        {
            return new TransferResult(null, failure);
        }

        if (await MissingAccountAsync(credited ? movement!.SourceId : movement!.DestinationId) is { } missing)
        {
            return new TransferResult(null, missing);
        }

        return await RunOnceAsync(command.TenantId, command.Idempotency, command.Reference, Refused, () => MoveMoneyAsync(movement!, view!, credited));

        static TransferResult Refused(LedgerFailure failure) => new(null, failure);
    }

    /// <summary>Runs a transfer this wallet takes part in: against a system account alone, or with the other wallet.</summary>
    private async Task<TransferResult> MoveMoneyAsync(StagedTransfer movement, TransferView view, bool credited)
    {
        var otherId = credited ? movement.SourceId : movement.DestinationId;
        var header = new LedgerEntryHeader(movement.TenantId, movement.SourceId, movement.DestinationId, movement.Amount, movement.Reference,
            movement.Description, movement.MetadataJson, movement.CreatedAt, null);
        var amount = credited ? movement.Amount : -movement.Amount;
        var result = new TransferResult(view, null);
        hotWallets.Saw(Id);
        if (SystemAccounts.IsSystemWalletId(otherId))
        {
            // Money a system account gives is a debit of it; a credit to it is just posted.
            SystemLeg[] given = credited ? [new SystemLeg(otherId, -movement.Amount)] : [];
            return await ReservingAsync(movement.TenantId, given, r => r.Failure is null, f => new TransferResult(null, f), () =>
                MoveAsync(movement.TransferId, hasEntry: true, async transactionId =>
                    (await PostAsync(transactionId, movement.TransferId, amount, otherId, header, movement.Idempotency, movement.Answer), result),
                    f => new TransferResult(null, f)));
        }

        hotWallets.Saw(otherId);
        var credit = new WalletPosting(movement.TenantId, movement.TransferId, movement.Amount, movement.Currency);
        return await MoveAsync(movement.TransferId, hasEntry: true, async transactionId =>
        {
            // Both wallets in one order for every transfer between them, the likely-hot one first.
            var creditFirst = hotWallets.Leads(otherId, Id);
            if (creditFirst)
            {
                if (await Wallet(otherId).Post(credit) is { } refused)
                {
                    return (refused, null);
                }

                // Orleans makes the first participant recorded as writing the manager, and records a
                // called grain's write only when it merges the calls' returns, at the end unless
                // asked: merged now, the credited wallet comes before this one's own write.
                TransactionContext.GetRequiredTransactionInfo().ReconcilePending();
            }

            var own = await PostAsync(transactionId, movement.TransferId, amount, null, header, movement.Idempotency, movement.Answer);
            if (own is not null || creditFirst)
            {
                return (own, result);
            }

            return (await Wallet(otherId).Post(credit), result);
        }, f => new TransferResult(null, f));
    }

    public Task<LedgerFailure?> Post(WalletPosting posting) =>
        RefusesPosting(posting.TenantId, posting.Currency) is { } refused
            ? Task.FromResult<LedgerFailure?>(refused)
            : PostAsync(TransactionContext.CurrentTransactionId, posting.EntryId, posting.Amount, null, null, null, null);

    /// <summary>Why this wallet may take no posting of <paramref name="tenantId"/> in <paramref name="currency"/>; null when it may.</summary>
    private LedgerFailure? RefusesPosting(string tenantId, string currency)
    {
        if (!State.IsVisibleTo(tenantId) || IsSystemAccount)
        {
            return WalletNotFound().Failure;
        }

        return State.Currency.Code == currency ? null : new LedgerFailure(LedgerErrors.CurrencyMismatch,
            $"wallet {State.Display} holds {State.Currency.Code}, not {currency}");
    }

    /// <summary>
    /// Posts <paramref name="amount"/> (negative: a debit) to this wallet in the running transaction,
    /// against <paramref name="counterpartId"/> when it is a system account; the row that carries the
    /// entry's <paramref name="header"/> carries its Idempotency-Key and answer too.
    /// </summary>
    private Task<LedgerFailure?> PostAsync(
        string transactionId, string entryId, long amount, string? counterpartId, LedgerEntryHeader? header, IdempotencyRequest? idempotency, StoredAnswer? answer) =>
        UpdateAsync(transactionId, (wallet, written) =>
        {
            if ((amount < 0 ? CheckDebit(wallet, -amount) : CheckCredit(wallet, amount)) is { } refused)
            {
                return refused;
            }

            wallet.Balance = checked(wallet.Balance + amount);
            wallet.Append(transactionId, written, State.Currency.Code, entryId, amount, row => row with
            {
                CounterpartId = counterpartId,
                Entry = header,
                Idempotency = idempotency,
                Answer = idempotency is null ? null : answer,
            });
            return null;
        });

    /// <summary>
    /// Decides and applies one change of this wallet's state in the running transaction: the state is
    /// seeded from the wallet row first if it never was, and <paramref name="decide"/> gets the
    /// version up to which the ledger holds the wallet's rows. A refusal leaves the state as it was.
    /// </summary>
    private Task<LedgerFailure?> UpdateAsync(string transactionId, Func<WalletAccount, long, LedgerFailure?> decide)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        var watermark = LedgerWatermark.Of(GrainContext);
        return account.PerformUpdate(wallet =>
        {
            wallet.Seed(State);
            return decide(wallet, watermark.WrittenVersion);
        });
    }

    private LedgerFailure? CheckDebit(WalletAccount wallet, long amount) =>
        DebitRule.Check(Id, wallet.Status, State.MayGoNegative, wallet.Balance - wallet.Pending + State.OverdraftLimit, amount, State.Currency.Code, State.Currency.Scale)
        ?? (wallet.Balance < amount - LedgerBatch.BalanceMagnitudeMax ? TooLarge : null);

    private LedgerFailure? CheckCredit(WalletAccount wallet, long amount)
    {
        if (wallet.Status == WalletStatuses.Closed)
        {
            return new LedgerFailure(LedgerErrors.WalletClosed, $"wallet {State.Display} is closed");
        }

        return wallet.Balance > LedgerBatch.BalanceMagnitudeMax - amount ? TooLarge : null;
    }

    private static readonly LedgerFailure TooLarge = new(LedgerErrors.LimitExceeded, "the movement would take a balance beyond the largest the ledger holds");

    /// <summary>
    /// Runs a command under its Idempotency-Key once: a retry while it runs shares its outcome; a key
    /// stored already (the request committed before) or a reference another entry has refuses it.
    /// </summary>
    private async Task<TResult> RunOnceAsync<TResult>(
        string tenantId, IdempotencyRequest? idempotency, string? reference, Func<LedgerFailure, TResult> refused, Func<Task<TResult>> run)
        where TResult : class
    {
        switch (_inFlight.Match(idempotency))
        {
            case { Reused: { } reused }:
                return refused(reused);
            case { Outcome: { } first }:
                return Replayed((TResult)await first);
        }

        return await _inFlight.RunAsync(idempotency, async () =>
        {
            var (keyStored, referenceUsed) = await taken.FindAsync(tenantId, idempotency?.Key, reference);
            if (keyStored)
            {
                return refused(KeyTaken);
            }

            if (referenceUsed)
            {
                return refused(new LedgerFailure(LedgerErrors.Conflict, $"reference '{reference}' is already used by another transfer"));
            }

            return await run();
        });
    }

    private static TResult Replayed<TResult>(TResult result) => result switch
    {
        TransferResult transfer => (TResult)(object)(transfer with { Replayed = true }),
        HoldResult hold => (TResult)(object)(hold with { Replayed = true }),
        EntryResult entry => (TResult)(object)(entry with { Replayed = true }),
        _ => result,
    };

    /// <summary>
    /// Runs one movement as an Orleans transaction: <paramref name="legs"/> join it in order, and a
    /// refusal aborts it with nothing written. An abort is tried again under the same operation id;
    /// an outcome in doubt is resolved by the operation's entry when it has one, and answered as
    /// unavailable (503, retry with the same Idempotency-Key) when that cannot tell.
    /// </summary>
    private async Task<TResult> MoveAsync<TResult>(
        string operationId, bool hasEntry, Func<string, Task<(LedgerFailure? Failure, TResult? Result)>> legs, Func<LedgerFailure, TResult> refused)
        where TResult : class
    {
        await _movements.WaitAsync();
        try
        {
            return await AttemptAsync(operationId, hasEntry, legs, refused);
        }
        finally
        {
            _movements.Release();
        }
    }

    /// <summary>The attempts of <see cref="MoveAsync"/>, once the movement's turn to start has come.</summary>
    private async Task<TResult> AttemptAsync<TResult>(
        string operationId, bool hasEntry, Func<string, Task<(LedgerFailure? Failure, TResult? Result)>> legs, Func<LedgerFailure, TResult> refused)
        where TResult : class
    {
        for (var attempt = 1; ; attempt++)
        {
            (LedgerFailure? Failure, TResult? Result) outcome = default;
            try
            {
                await transactions.RunTransaction(TransactionOption.Create, async () =>
                {
                    try
                    {
                        outcome = await legs(TransactionContext.CurrentTransactionId);
                    }
                    catch (Exception exception) when (DatabaseFaultFilter.Readable(exception) is { } readable)
                    {
                        // Orleans serializes what aborts a transaction; a database exception cannot be.
                        throw readable;
                    }

                    return outcome.Failure is null;
                });
                return outcome.Failure is null ? outcome.Result! : refused(outcome.Failure);
            }
            catch (OrleansTransactionInDoubtException exception)
            {
                if (hasEntry && outcome is { Failure: null, Result: { } result } && await ledger.EntryExistsAsync(operationId))
                {
                    metrics.RecordInDoubt(resolved: true);
                    return result;
                }

                metrics.RecordInDoubt(resolved: false);
                LogInDoubt(logger, exception, operationId);
                // Not chained: the cause may carry a database exception, which cannot cross Orleans' wire.
                throw new LedgerUnavailableException($"the outcome of {operationId} is not known yet; retry with the same Idempotency-Key");
            }
            catch (OrleansTransactionAbortedException exception) when (attempt < AttemptsMax)
            {
                metrics.RecordAbort(retried: true);
                LogAborted(logger, exception, operationId, attempt);
                await Task.Delay(RetryPause(attempt, Random.Shared.NextDouble()), clock);
            }
            catch (OrleansTransactionAbortedException exception)
            {
                metrics.RecordAbort(retried: false);
                // Nothing of it was written; the caller may send it again.
                LogGaveUp(logger, exception, operationId, AttemptsMax);
                throw new LedgerUnavailableException($"{operationId} was aborted {AttemptsMax} times; retry") { NothingWritten = true };
            }
        }
    }

    /// <summary>
    /// The wait before the attempt that follows abort number <paramref name="attempt"/>: between half
    /// and all of 50 ms doubled per abort before it (up to 400 ms before the fifth attempt), placed
    /// by <paramref name="draw"/> in [0, 1) so that aborted movements spread out.
    /// </summary>
    internal static TimeSpan RetryPause(int attempt, double draw) =>
        RetryPauseFirst * Math.Pow(2, attempt - 1) * (0.5 + (draw / 2));

    /// <summary>The row's Idempotency-Key and answer, for a movement without an entry (its tenant named on the row).</summary>
    private static LedgerRow Keyed(LedgerRow row, string tenantId, IdempotencyRequest? idempotency, StoredAnswer answer) =>
        idempotency is null ? row : row with { Idempotency = idempotency, Answer = answer, KeyTenantId = tenantId };

    private IWalletLegs Wallet(string walletId) => GrainFactory.GetGrain<IWalletLegs>(walletId);

    private ISystemAccountGrain SystemAccount(string walletId) => GrainFactory.GetGrain<ISystemAccountGrain>(walletId);

    private WalletResult WalletNotFound()
    {
        if (!State.Exists)
        {
            DeactivateOnIdle();
        }

        return WalletResult.Fail(LedgerErrors.WalletNotFound, $"wallet {SystemAccounts.Display(Id)} not found");
    }

    protected override async Task<WalletState> ReadStateAsync(CancellationToken cancellationToken) =>
        await wallets.ReadAsync(Id, cancellationToken) ?? WalletState.Missing(Id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Movement {OperationId} is in doubt: its transaction's outcome was not heard")]
    private static partial void LogInDoubt(ILogger logger, Exception exception, string operationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Movement {OperationId} was aborted {Attempts} times; the caller is told to retry")]
    private static partial void LogGaveUp(ILogger logger, Exception exception, string operationId, int attempts);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Movement {OperationId} was aborted (attempt {Attempt}); trying again")]
    private static partial void LogAborted(ILogger logger, Exception exception, string operationId, int attempt);
}
