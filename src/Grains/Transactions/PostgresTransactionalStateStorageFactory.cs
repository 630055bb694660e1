using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Ledger;

namespace Wallet.Grains.Transactions;

/// <summary>Makes each grain's <see cref="PostgresTransactionalStateStorage{TState}"/>, keyed by grain id and state name.</summary>
internal sealed class PostgresTransactionalStateStorageFactory(
    NpgsqlDataSource dataSource, GroupCommitter<StateWrite, StateWriteOutcome> committer, Serializer serializer) : ITransactionalStateStorageFactory
{
    public ITransactionalStateStorage<TState> Create<TState>(string stateName, IGrainContext context)
        where TState : class, new() =>
        new PostgresTransactionalStateStorage<TState>(KeyOf(context.GrainId, stateName), dataSource, committer, serializer, LedgerWatermark.Of(context), CommittedState.Of(context));

    public static string KeyOf(GrainId grain, string stateName) => $"{grain}/{stateName}";
}

public static class TransactionalStorageServiceCollectionExtensions
{
    /// <summary>The storage name grains give in <c>[TransactionalState(name, StorageName)]</c>.</summary>
    public const string StorageName = "wallet";

    /// <summary>
    /// Registers the PostgreSQL transactional state storage under <see cref="StorageName"/> (and as
    /// the default), with its own group commit of the <c>Store</c> calls of the silo's grains. Needs
    /// the database of <c>AddWalletStores</c> and Orleans' serializer.
    /// </summary>
    public static IServiceCollection AddWalletTransactionalStorage(this IServiceCollection services)
    {
        services.TryAddSingleton<TransactionalStateWriter>();
        services.TryAddSingleton<PassedLedgerRowSweeper>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PassedLedgerRowSweeper>(sp => sp.GetRequiredService<PassedLedgerRowSweeper>()));
        // Its batches take the ledger's GroupCommit settings and count as the ledger's commits (wallet.commit.*).
        services.TryAddSingleton(sp => new GroupCommitter<StateWrite, StateWriteOutcome>(
            sp.GetRequiredService<TransactionalStateWriter>(),
            sp.GetRequiredService<IOptions<GroupCommitOptions>>().Value,
            sp.GetService<LedgerMetrics>(),
            sp.GetRequiredService<ILogger<GroupCommitter<StateWrite, StateWriteOutcome>>>()));
        // Orleans' protocol waits are sized for minutes-long outages; every movement here commits or
        // aborts within milliseconds, and a wait is what a silo's death costs the survivors' wallets:
        // - a manager waits for a dead participant's prepare (one-way, so never refused) 20 s;
        // - a lock held by a transaction that died before its prepare is broken after the longer of
        //   LockTimeout (8 s) and the transaction's timeout (10 s, fixed by Orleans' client; 4 s
        //   here, see TransactionTimeout), and a transaction waiting for a lock gives up after 10 s;
        // - a participant asks a dead manager again after 60 s, a manager retries a confirmation after 30 s.
        // Waits of a few seconds keep a kill's stall within the 10 s the cluster promises; a movement
        // that runs into one is aborted, which is safe to retry. The manager's wait for a dead
        // participant's prepare is what a kill costs most (measured in the bank test: the survivors'
        // throughput came back when it ended), so it is the shortest that a prepare under load
        // (a lock group's turn and one storage batch, well under a second here) never reaches.
        // Orleans also uses the lock timeout as the budget of an abort's cancel fan-out, which a
        // wallet's lock worker awaits while it breaks a lock; cascading aborts nest those budgets.
        services.Configure<TransactionalStateOptions>(options =>
        {
            options.PrepareTimeout = TimeSpan.FromSeconds(2);
            options.LockTimeout = TimeSpan.FromSeconds(2);
            options.LockAcquireTimeout = TimeSpan.FromSeconds(3);
            options.RemoteTransactionPingFrequency = TimeSpan.FromSeconds(1);
            options.ConfirmationRetryDelay = TimeSpan.FromSeconds(1);
        });
        services.AddKeyedSingleton<ITransactionalStateStorageFactory>(StorageName, (sp, _) => new PostgresTransactionalStateStorageFactory(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<GroupCommitter<StateWrite, StateWriteOutcome>>(),
            sp.GetRequiredService<Serializer>()));
        services.TryAddSingleton(sp => sp.GetRequiredKeyedService<ITransactionalStateStorageFactory>(StorageName));
        return services;
    }
}
