using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;

namespace Wallet.Grains.Receipts;

/// <summary>
/// Once every <see cref="ReceiptOptions.RetryPeriod"/>, starts the reading of each receipt left
/// processing with nothing touching it for two periods: one whose upload was kept but whose grain
/// could not be reached to start it. A receipt being read, or waiting for a slot with its reminder,
/// is only asked again, which its grain ignores.
/// </summary>
/// <remarks>The store is asked for at the first sweep: the database starts with the host, after its services are made.</remarks>
internal sealed partial class ReceiptSweeper(
    IServiceProvider services, IGrainFactory grains, IOptions<ReceiptOptions> options, TimeProvider clock, ILogger<ReceiptSweeper> logger) : BackgroundService
{
    private const int SweepMax = 1_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.RetryPeriod;
        using var timer = new PeriodicTimer(period, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var receipts = services.GetRequiredService<ReceiptStore>();
                foreach (var id in await receipts.UntouchedSinceAsync(clock.GetUtcNow() - (2 * period), SweepMax, stoppingToken))
                {
                    await grains.Receipt(id).Start();
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, e, period);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Starting the readings of unattended receipts failed; tried again in {Period}")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, TimeSpan period);
}
