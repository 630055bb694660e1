using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
        // Its batches take the ledger's GroupCommit settings and count as the ledger's commits (wallet.commit.*).
        services.TryAddSingleton(sp => new GroupCommitter<StateWrite, StateWriteOutcome>(
            sp.GetRequiredService<TransactionalStateWriter>(),
            sp.GetRequiredService<IOptions<GroupCommitOptions>>().Value,
            sp.GetService<LedgerMetrics>(),
            sp.GetRequiredService<ILogger<GroupCommitter<StateWrite, StateWriteOutcome>>>()));
        // A participant whose transaction manager died (its silo with it) learns the outcome by
        // asking the manager again, and a manager retries confirmations the same way: Orleans waits
        // 60 s and 30 s, during which the participant's state stays locked. Every movement is
        // committed or aborted within milliseconds otherwise, so the ledger asks after 5 s.
        services.Configure<TransactionalStateOptions>(options =>
        {
            options.RemoteTransactionPingFrequency = TimeSpan.FromSeconds(5);
            options.ConfirmationRetryDelay = TimeSpan.FromSeconds(5);
        });
        services.AddKeyedSingleton<ITransactionalStateStorageFactory>(StorageName, (sp, _) => new PostgresTransactionalStateStorageFactory(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<GroupCommitter<StateWrite, StateWriteOutcome>>(),
            sp.GetRequiredService<Serializer>()));
        services.TryAddSingleton(sp => sp.GetRequiredKeyedService<ITransactionalStateStorageFactory>(StorageName));
        return services;
    }
}
