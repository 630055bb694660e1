using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Holds;

public sealed class HoldOptions
{
    /// <summary>How long a hold lasts when the request does not say.</summary>
    public TimeSpan DefaultExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The longest a hold may last.</summary>
    public TimeSpan MaximumExpiry { get; set; } = TimeSpan.FromDays(31);

    /// <summary>How often the silo looks for holds whose time is up.</summary>
    public TimeSpan ExpiryScanInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Releases holds whose time is up, through their wallets' turns. Expiry is read from the database,
/// so a hold that expired while no silo ran is released by the first scan after start.
/// </summary>
internal sealed partial class HoldExpiryService(
    IServiceProvider services,
    IGrainFactory grains,
    IOptions<HoldOptions> options,
    TimeProvider clock,
    ILogger<HoldExpiryService> logger) : BackgroundService
{
    private const int ScanBatchMax = 500;

    // Resolved at the first scan: the database is started by another hosted service.
    private HoldStore Holds => services.GetRequiredService<HoldStore>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpiryScanInterval, clock);
        do
        {
            try
            {
                await ExpireDueAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The next scan tries again; nothing is lost by waiting.
                LogScanFailed(logger, exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Releases every hold due now; returns how many were released.</summary>
    internal async Task<int> ExpireDueAsync(CancellationToken cancellationToken)
    {
        var released = 0;
        while (true)
        {
            var now = clock.GetUtcNow();
            var due = await Holds.ExpiredAsync(now, ScanBatchMax, cancellationToken);
            var results = await Task.WhenAll(due.Select(h => grains.GetGrain<IWalletGrain>(h.WalletId)
                .ReleaseHold(new ReleaseHold(h.TenantId, h.Id, HoldRelease.Expire, null, null, LedgerTime.Truncate(now)))));
            var expired = results.Count(r => r.Failure is null);
            released += expired;
            if (expired > 0)
            {
                LogExpired(logger, expired);
            }

            if (due.Count < ScanBatchMax || expired == 0)
            {
                return released;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Released {Count} expired holds")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scanning for expired holds failed; the next scan retries")]
    private static partial void LogScanFailed(ILogger logger, Exception exception);
}
