using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Wallets;

/// <summary>
/// A wallet, or a system account. Debits are decided here, in the wallet's turn, against the
/// cached balance, then staged into the silo's group commit; PostgreSQL checks them again.
/// </summary>
/// <remarks>
/// Reentrant so that turns pipeline (see <see cref="LedgerGrain{TState}"/>): every command runs in
/// a turn, and each decision is taken and applied to the cached state with no await in between;
/// awaits before it (a row read again) keep the turn, awaits after it only wait for durability.
/// Reads and credit notices need no turn (see <see cref="Get"/> and <see cref="OnCredited"/>).
/// </remarks>
[Reentrant]
[GrainType(LedgerGrains.WalletTypeName)]
internal sealed partial class WalletGrain(
    GroupCommitter<LedgerItem, TransferCommitOutcome> committer,
    WalletStore wallets,
    CurrencyCatalog currencies,
    TimeProvider clock,
    IOptions<HoldOptions> holdOptions,
    ILogger<WalletGrain> logger) : LedgerGrain<WalletState>, IWalletGrain
{
    // Another request committed this Idempotency-Key first; the API replays its answer instead.

    private static readonly LedgerFailure KeyTaken = new(LedgerErrors.IdempotencyKeyExists, "the Idempotency-Key was used by another request");

    // How long a reply waits for the destination to apply its credit notice.
    private static readonly TimeSpan NoticeAppliedWaitMax = TimeSpan.FromSeconds(1);

    // Commands being committed, by Idempotency-Key: a retry that arrives meanwhile waits for
    // the first one's outcome instead of racing it to the database.
    private readonly InFlightRequests _inFlight = new();
    private readonly List<CreditNotice> _creditsDuringReload = [];
    private Task? _creditNotice;

    // A read takes no turn unless the state must be read again first (see StateTrusted).
    public Task<WalletResult> Get(string tenantId) => StateTrusted ? Read(tenantId) : Turn(() => Read(tenantId));

    private async Task<WalletResult> Read(string tenantId)
    {
        if (!State.IsVisibleTo(tenantId))
        {
            return WalletNotFound();
        }

        var view = State.ToView();
        await WhenStagedDurable();
        return new WalletResult(view, null);
    }

    public Task<WalletResult> Create(CreateWallet command) => Turn(() => CreateTurn(command));

    private async Task<WalletResult> CreateTurn(CreateWallet command)
    {
        if (State.Exists)
        {
            return WalletResult.Fail(LedgerErrors.Conflict, $"wallet {State.Id} exists already");
        }

        var (wallet, failure) = WalletRules.NewWallet(this.GetPrimaryKeyString(), command, currencies);
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

    public Task<WalletResult> ChangeStatus(ChangeWalletStatus command) => Turn(() => ChangeStatusTurn(command));

    private async Task<WalletResult> ChangeStatusTurn(ChangeWalletStatus command)
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
        var outcome = await wallets.ChangeStatusAsync(State, State.Status, target, command.Idempotency, StoredAnswers.Done(changed.ToView()), CancellationToken.None);
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

    public Task<TransferResult> Transfer(TransferCommand command) => Turn(() => TransferTurn(command));

    private async Task<TransferResult> TransferTurn(TransferCommand command)
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

        var staging = WalletRules.Stage(State, command);
        if (staging.Failure?.Code == LedgerErrors.InsufficientFunds)
        {
            // Credits whose notices were missed leave the cached balance low; only the row can say no.
            await ReloadStateAsync();
            staging = WalletRules.Stage(State, command);
        }

        return staging.Failure is null
            ? await CommitAsync(staging.Transfer!, staging.View!, command.Idempotency)
            : new TransferResult(null, staging.Failure);
    }

    protected override async Task<WalletState> ReadStateAsync(CancellationToken cancellationToken) =>
        await wallets.ReadAsync(this.GetPrimaryKeyString(), cancellationToken) ?? WalletState.Missing(this.GetPrimaryKeyString());

    // Not a turn: the notice carries the row version it produced, so applying it at any point
    // between two turns, or after a reload that already read it, counts the credit once. One that
    // arrives while the state is being read again is applied to the fresh state too (Reloaded): the
    // read may have begun before the credit committed, and would otherwise drop it from the cache.
    public Task OnCredited(CreditNotice notice)
    {
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
        return fresh;
    }

    private Task<TransferResult> CommitAsync(StagedTransfer staged, TransferView view, IdempotencyRequest? idempotency)
    {
        State.ApplyDebit(staged.Amount);
        return CommitAsync(staged, idempotency, outcome => outcome.Status switch
        {
            CommitStatus.Committed => Credited(staged.DestinationId, staged.Amount, outcome, new TransferResult(view, null)),
            CommitStatus.IdempotencyKeyExists => new TransferResult(null, KeyTaken),
            _ => new TransferResult(null, outcome.Failure),
        });
    }

    /// <summary>
    /// Stages <paramref name="item"/> (whose effect the caller applied to the cached state already)
    /// and answers from its durable outcome. Retries of its Idempotency-Key meanwhile share the answer.
    /// </summary>
    private async Task<TResult> CommitAsync<TResult>(LedgerItem item, IdempotencyRequest? idempotency, Func<TransferCommitOutcome, TResult> answer)
        where TResult : class
    {
        return await _inFlight.RunAsync(idempotency, async () =>
        {
            var result = answer(await WhenDurable(committer, item));
            if (_creditNotice is { IsCompleted: false } notice)
            {
                // The reply waits, outside the turn, until the destination applied the notice (see Credited).
                await WhenDurable(AppliedAsync(notice));
            }

            _creditNotice = null;
            return result;
        });
    }

    private T Credited<T>(string destinationId, long amount, TransferCommitOutcome outcome, T result)
    {
        // Applied before the reply leaves, so a client that reads the destination next sees the credit,
        // wherever the destination lives. The destination takes it between turns (it needs no turn of
        // its own), so two wallets paying each other at once never wait on each other.
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

    private async Task<bool> TryCreateSystemAccountAsync(string tenantId)
    {
        var key = this.GetPrimaryKeyString();
        var parts = key.Split(':');
        if (State.Exists || !SystemAccounts.IsSystemWalletId(key) || parts.Length != 4 || parts[1] != tenantId
            || !currencies.TryGet(parts[3], out var currency))
        {
            return false;
        }

        await wallets.EnsureSystemAccountsAsync(tenantId, currency, CancellationToken.None);
        await ReloadStateAsync();
        LogSystemAccountsCreated(logger, tenantId, currency.Code);
        return State.IsVisibleTo(tenantId);
    }

    private WalletResult WalletNotFound()
    {
        if (!State.Exists)
        {
            DeactivateOnIdle();
        }

        return WalletResult.Fail(LedgerErrors.WalletNotFound, $"wallet {SystemAccounts.Display(this.GetPrimaryKeyString())} not found");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the system accounts of tenant {TenantId} in {Currency}")]
    private static partial void LogSystemAccountsCreated(ILogger logger, string tenantId, string currency);

}
