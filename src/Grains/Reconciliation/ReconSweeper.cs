using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Once every <see cref="ReconOptions.RunRetryPeriod"/>, starts the runs left queued for two
/// periods (their grain could not be reached when they were asked for) or running untouched for
/// ten (run by the command line, which died: no reminder brings those back) and, once an hour, arms the
/// schedule of every scheduled source (one whose arming failed when it was made). Every silo
/// sweeps; a grain asked twice ignores the second.
/// </summary>
/// <remarks>The stores are asked for at the first sweep: the database starts with the host, after its services are made.</remarks>
internal sealed partial class ReconSweeper(
    IServiceProvider services, IGrainFactory grains, IOptions<ReconOptions> options, TimeProvider clock, ILogger<ReconSweeper> logger) : BackgroundService
{
    private const int SweepMax = 1_000;
    private static readonly TimeSpan ArmPeriod = TimeSpan.FromHours(1);

    // A run reports its progress a few times; one untouched this many periods has no one running it.
    private const int RunningUntouchedPeriods = 10;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.RunRetryPeriod;
        var armed = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(period, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var now = clock.GetUtcNow();
                foreach (var id in await services.GetRequiredService<ReconRunStore>().UnattendedAsync(now - (2 * period), now - (RunningUntouchedPeriods * period), SweepMax, stoppingToken))
                {
                    await grains.GetGrain<IReconRunGrain>(id).Start();
                }

                if (clock.GetUtcNow() - armed >= ArmPeriod)
                {
                    foreach (var id in await services.GetRequiredService<ReconStore>().ScheduledSourcesAsync(stoppingToken))
                    {
                        await grains.GetGrain<IReconScheduleGrain>(id).Arm();
                    }

                    armed = clock.GetUtcNow();
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, e, period);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Starting unattended reconciliation runs failed; tried again in {Period}")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, TimeSpan period);
}
