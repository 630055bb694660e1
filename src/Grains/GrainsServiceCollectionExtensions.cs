using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans;
using Wallet.Grains.Cards;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Receipts;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Storage;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;

namespace Wallet.Grains;

public static class GrainsServiceCollectionExtensions
{
    /// <summary>
    /// Registers what the wallet and card grains need on a silo: the stores and the ledger's group
    /// commit. Hold expiry needs Orleans' reminder service on the silo. Orleans finds the grain classes themselves in this assembly.
    /// <paramref name="dataSource"/> gives the database; it is asked for once, when a store is first needed.
    /// </summary>
    public static IServiceCollection AddWalletGrains(this IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> dataSource)
    {
        services.AddWalletStores(dataSource);
        services.AddSingleton<Migrator>();
        services.AddSingleton<LedgerCommitHandler>();
        services.AddSingleton<IIncomingGrainCallFilter, DatabaseFaultFilter>();
        services.AddOptions<GroupCommitOptions>();
        services.AddSingleton(sp => new GroupCommitter<LedgerItem, TransferCommitOutcome>(
            sp.GetRequiredService<LedgerCommitHandler>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GroupCommitOptions>>().Value,
            sp.GetRequiredService<LedgerMetrics>(),
            sp.GetRequiredService<ILogger<GroupCommitter<LedgerItem, TransferCommitOutcome>>>()));
        services.AddWalletTransactionalStorage();
        services.AddSingleton<Wallets.HotWallets>();
        services.AddSingleton<TakenLookup>();
        services.AddSingleton<ReceiptReader>();
        services.AddSingleton<ReadingYield>();
        services.AddHostedService<ReceiptSweeper>();
        services.AddSingleton<ReconMatcher>();
        services.AddHostedService<ReconSweeper>();
        return services;
    }

    /// <summary>
    /// The stores and settings the HTTP API reads and writes beside the grains (keys, idempotency,
    /// listings, verify), without any grain: what a thin API process needs.
    /// </summary>
    public static IServiceCollection AddWalletStores(this IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> dataSource)
    {
        services.AddSingleton(dataSource);
        services.AddSingleton<AssetStore>();
        services.AddSingleton<ReceiptStore>();
        services.AddOptions<ReceiptOptions>().BindConfiguration("Receipts")
            .Validate(o => o.MaxBytes is > 0 and <= ReceiptOptions.MaxBytesLimit, $"Receipts:MaxBytes must be from 1 to {ReceiptOptions.MaxBytesLimit}")
            .Validate(o => o.OcrConcurrencyMax is >= 1 and <= 64, "Receipts:OcrConcurrencyMax must be from 1 to 64")
            .Validate(o => o.ReadingShareMin is > 0 and <= 1, "Receipts:ReadingShareMin must be above 0 and at most 1")
            .Validate(o => o.DateToleranceDays is >= 0 and <= 366, "Receipts:DateToleranceDays must be from 0 to 366")
            .Validate(o => o.MerchantSimilarityMin is >= 0 and <= 100, "Receipts:MerchantSimilarityMin must be from 0 to 100")
            .Validate(o => o.RetryPeriod >= TimeSpan.FromSeconds(1), "Receipts:RetryPeriod must be at least a second")
            .Validate(o => o.AttemptsMax >= 1, "Receipts:AttemptsMax must be at least 1")
            .Validate(o => o.ReadTimeout >= TimeSpan.FromSeconds(1), "Receipts:ReadTimeout must be at least a second")
            .ValidateOnStart();
        services.AddSingleton<ReconStore>();
        services.AddSingleton<ReconImporter>();
        services.AddSingleton<ReconRunStore>();
        services.AddOptions<ReconOptions>().BindConfiguration("Reconciliation")
            .Validate(o => o.MaxFileBytes > 0, "Reconciliation:MaxFileBytes must be above 0")
            .Validate(o => o.RecordsPerPushMax is >= 1 and <= 100_000, "Reconciliation:RecordsPerPushMax must be from 1 to 100000")
            .Validate(o => o.BadRowsReportedMax is >= 1 and <= 100_000, "Reconciliation:BadRowsReportedMax must be from 1 to 100000")
            .Validate(o => o.RunRetryPeriod >= TimeSpan.FromSeconds(1), "Reconciliation:RunRetryPeriod must be at least a second")
            .Validate(o => o.RunAttemptsMax >= 1, "Reconciliation:RunAttemptsMax must be at least 1")
            .ValidateOnStart();
        services.AddSingleton<CurrencyCatalog>();
        services.AddSingleton<Auth.UserStore>();
        services.AddSingleton<Auth.MfaStore>();
        services.AddSingleton<Auth.AuditLog>();
        services.AddSingleton<WalletStore>();
        services.AddSingleton<CustomAccounts>();
        services.AddSingleton<LedgerStore>();
        services.AddSingleton<Reports.LedgerReports>();
        services.AddSingleton<Reports.FiscalPeriodStore>();
        services.AddSingleton<Compliance.ComplianceStore>();
        services.AddSingleton<Compliance.ComplianceJobStore>();
        services.AddSingleton<Compliance.ComplianceScreening>();
        services.AddSingleton<Compliance.DataRequestStore>();
        services.AddOptions<Compliance.ComplianceOptions>().BindConfiguration("Compliance")
            .Validate(o => o.PotentialMatchScore is >= 1 and <= 100 && o.MatchScore is >= 1 and <= 100 && o.PotentialMatchScore <= o.MatchScore,
                "Compliance:PotentialMatchScore and Compliance:MatchScore must be 1 to 100, the first at most the second")
            .Validate(o => o.WatchlistMaxBytes > 0, "Compliance:WatchlistMaxBytes must be above 0")
            .Validate(o => o.RescreenEvery >= TimeSpan.FromSeconds(1), "Compliance:RescreenEvery must be at least a second")
            .ValidateOnStart();
        services.AddSingleton<LedgerVerifier>();
        services.AddSingleton<LedgerTotalsCache>();
        services.AddSingleton<LedgerMetrics>();
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
