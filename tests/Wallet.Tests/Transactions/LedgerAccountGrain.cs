using Orleans;
using Orleans.Placement;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;

namespace Wallet.Tests.Transactions;

/// <summary>
/// A test account (its key is a wallet row's id) whose balance is a transactional state carrying
/// its ledger rows: the storage writes them to the relational ledger when their transaction commits.
/// </summary>
[Alias("wallet.tests.ILedgerAccountGrain")]
public interface ILedgerAccountGrain : IGrainWithStringKey
{
    /// <summary>Money from a system account: a transaction of this account alone.</summary>
    [Transaction(TransactionOption.Create)]
    [Alias("Deposit")]
    Task Deposit(string entryId, string systemAccountId, long amount, IdempotencyRequest? idempotency);

    /// <summary>The debited side of a transfer; its row carries the entry's header.</summary>
    [Transaction(TransactionOption.Join)]
    [Alias("Debit")]
    Task Debit(string entryId, string destinationId, long amount);

    [Transaction(TransactionOption.Join)]
    [Alias("Credit")]
    Task Credit(string entryId, long amount);

    /// <summary>Writes a row, then refuses: the transaction aborts.</summary>
    [Transaction(TransactionOption.Join)]
    [Alias("CreditThenFail")]
    Task CreditThenFail(string entryId, long amount);

    [Transaction(TransactionOption.CreateOrJoin)]
    [Alias("Read")]
    Task<(long Balance, long Version, int CarriedRows)> Read();

    [Alias("Deactivate")]
    Task Deactivate();
}

public static class LedgerAccountReads
{
    /// <summary>
    /// A read is a transaction too: one that lands behind a transaction that aborted (a cascading
    /// abort), while a dead silo still owns the account, or behind a transaction still resolving (its
    /// manager died with the silo), is tried again.
    /// </summary>
    public static async Task<(long Balance, long Version, int CarriedRows)> ReadSettledAsync(this ILedgerAccountGrain account)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await account.Read();
            }
            catch (Exception exception) when (exception is not OutOfMemoryException && attempt < 30)
            {
                await Task.Delay(1_000);
            }
        }
    }
}

// Spread over the silos at random: the kill tests need accounts on both, and Orleans' default
// placement weighs the silos' load, which on a busy machine put all 16 on one.
[RandomPlacement]
internal sealed class LedgerAccountGrain(
    [TransactionalState("ledger", TransactionalStorageServiceCollectionExtensions.StorageName)] ITransactionalState<LedgerAccount> account)
    : Grain, ILedgerAccountGrain
{
    public const string Tenant = "ledger-tests";

    public const string Currency = "USD";

    public Task Deposit(string entryId, string systemAccountId, long amount, IdempotencyRequest? idempotency) =>
        Post(entryId, amount, new LedgerEntryHeader(Tenant, systemAccountId, Id, amount, null, null, null, DateTimeOffset.UtcNow, null), systemAccountId, idempotency);

    public Task Debit(string entryId, string destinationId, long amount) =>
        Post(entryId, -amount, new LedgerEntryHeader(Tenant, Id, destinationId, amount, null, null, """{"test":true}""", DateTimeOffset.UtcNow, null), null, null);

    public Task Credit(string entryId, long amount) => Post(entryId, amount, null, null, null);

    public async Task CreditThenFail(string entryId, long amount)
    {
        await Post(entryId, amount, null, null, null);
        throw new InvalidOperationException("refused after writing");
    }

    public Task<(long Balance, long Version, int CarriedRows)> Read() => account.PerformRead(s => (s.Balance, s.Version, s.Rows.Count));

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private string Id => this.GetPrimaryKeyString();

    private Task Post(string entryId, long amount, LedgerEntryHeader? header, string? counterpartId, IdempotencyRequest? idempotency)
    {
        // Read in the call, not in the update: a deferred update runs without the transaction's context.
        var transactionId = TransactionContext.CurrentTransactionId;
        var watermark = LedgerWatermark.Of(GrainContext);
        return account.PerformUpdate(state =>
        {
            if (state.Balance + amount < 0)
            {
                throw new InvalidOperationException($"account {Id} holds {state.Balance}, not {-amount}");
            }

            state.ForgetWritten(watermark.WrittenVersion);
            state.WalletId = Id;
            state.Balance += amount;
            state.Version++;
            state.Rows.Add(new LedgerRow(transactionId, state.Version, Id, amount, Currency, state.Balance, 0, entryId)
            {
                CounterpartId = counterpartId,
                Entry = header,
                Idempotency = idempotency,
                Answer = idempotency is null ? null : new StoredAnswer(AnswerOutcome.Created, $$"""{"id":"{{entryId}}"}"""),
            });
        });
    }
}

[GenerateSerializer, Alias("wallet.tests.LedgerAccount")]
internal sealed class LedgerAccount : ILedgerCarrier
{
    [Id(0)]
    public long Balance { get; set; }

    [Id(1)]
    public long Version { get; set; }

    [Id(2)]
    public List<LedgerRow> Rows { get; set; } = [];

    [Id(3)]
    public string? WalletId { get; set; }

    public IReadOnlyList<LedgerRow> UnwrittenRows => Rows;

    public void ForgetWritten(long writtenUpTo) => Rows.RemoveAll(r => r.Version <= writtenUpTo);

    public LedgerPosition? Position => WalletId is null ? null : new LedgerPosition(WalletId, Version, Balance, 0);
}
