using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wallet.Grains.Cards;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Runtime;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Grains;

public static class GrainsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the wallet grains and the stores behind them on a silo. <paramref name="dataSource"/>
    /// gives the database; it is asked for once, when a store is first needed.
    /// </summary>
    public static SiloBuilder AddWalletGrains(this SiloBuilder silo, Func<IServiceProvider, NpgsqlDataSource> dataSource)
    {
        var services = silo.Services;
        services.AddWalletStores(dataSource);
        services.AddSingleton<Migrator>();
        services.AddSingleton<LedgerStatistics>();
        services.AddSingleton<LedgerCommitHandler>();
        services.AddHostedService<HoldExpiryService>();
        services.AddSingleton<IGrainStorage<CardState>, CardStateStorage>();
        services.AddSingleton<IGrainStorage<WalletState>, WalletStateStorage>();
        services.AddOptions<GroupCommitOptions>();
        services.AddSingleton(sp => new GroupCommitter<LedgerItem, TransferCommitOutcome>(
            sp.GetRequiredService<LedgerCommitHandler>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GroupCommitOptions>>().Value,
            sp.GetRequiredService<ILogger<GroupCommitter<LedgerItem, TransferCommitOutcome>>>()));
        services.AddSingleton(sp => sp.GetRequiredService<GroupCommitter<LedgerItem, TransferCommitOutcome>>().Statistics);
        return silo.AddGrain<IWalletGrain, WalletGrain>().AddGrain<ICardGrain, CardGrain>();
    }

    /// <summary>
    /// Keeps this silo's membership in the ledger's database (<c>cluster_silos</c>), so silos over
    /// one PostgreSQL form one cluster.
    /// </summary>
    public static SiloBuilder UsePostgresClustering(this SiloBuilder silo, string clusterId) =>
        silo.UseClustering(sp => new MembershipStore(sp.GetRequiredService<NpgsqlDataSource>(), clusterId));

    /// <summary>
    /// The stores and settings the HTTP API reads and writes beside the grains (keys, idempotency,
    /// listings, verify), without any grain: what a thin API process needs.
    /// </summary>
    public static IServiceCollection AddWalletStores(this IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> dataSource)
    {
        services.AddSingleton(dataSource);
        services.AddSingleton<CurrencyCatalog>();
        services.AddSingleton<WalletStore>();
        services.AddSingleton<LedgerStore>();
        services.AddSingleton<LedgerVerifier>();
        services.AddSingleton<LedgerTotalsCache>();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<DashboardSessionStore>();
        services.AddSingleton<HoldStore>();
        services.AddOptions<HoldOptions>().BindConfiguration("Holds");
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<CardOptions>().BindConfiguration("Cards")
            .Validate(o => o.NumberHashKey is { Length: >= CardOptions.NumberHashKeyLengthMin },
                $"Cards:NumberHashKey must be set to a secret of at least {CardOptions.NumberHashKeyLengthMin} characters (env Cards__NumberHashKey): card numbers are kept only as a keyed hash.")
            .Validate(o => TimeZoneInfo.TryFindSystemTimeZoneById(o.SpendingTimeZone, out _), "Cards:SpendingTimeZone is not a time zone this machine knows.")
            .ValidateOnStart();
        services.AddSingleton<CardNumbers>();
        services.AddSingleton<CardStore>();
        services.AddSingleton<FraudRuleStore>();
        return services;
    }
}
