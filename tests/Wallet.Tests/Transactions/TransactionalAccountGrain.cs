using Orleans;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Transactions;

namespace Wallet.Tests.Transactions;

/// <summary>A test account whose balance is an Orleans transactional state in the wallet storage.</summary>
[Alias("wallet.tests.ITransactionalAccountGrain")]
public interface ITransactionalAccountGrain : IGrainWithStringKey
{
    [Transaction(TransactionOption.Join)]
    [Alias("Add")]
    Task Add(long amount);

    [Transaction(TransactionOption.CreateOrJoin)]
    [Alias("Balance")]
    Task<long> Balance();

    /// <summary>Deactivates the account, so its next call loads the state from storage.</summary>
    [Alias("Deactivate")]
    Task Deactivate();
}

public sealed class TransactionalAccountGrain(
    [TransactionalState("account", TransactionalStorageServiceCollectionExtensions.StorageName)] ITransactionalState<TransactionalAccount> account)
    : Grain, ITransactionalAccountGrain
{
    public Task Add(long amount) => account.PerformUpdate(state =>
    {
        if (state.Balance + amount < 0)
        {
            throw new InvalidOperationException($"account {this.GetPrimaryKeyString()} would go below zero");
        }

        state.Balance += amount;
    });

    public Task<long> Balance() => account.PerformRead(state => state.Balance);

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

[GenerateSerializer, Alias("wallet.tests.TransactionalAccount")]
public sealed class TransactionalAccount
{
    [Id(0)]
    public long Balance { get; set; }
}
