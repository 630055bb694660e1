using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Hosting;

/// <summary>Collects idle activations every <c>CollectionQuantum</c>; on shutdown, deactivates them all.</summary>
internal sealed class GrainRuntimeHostedService(GrainCatalog catalog, IOptions<GrainRuntimeOptions> options) : BackgroundService
{
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await catalog.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CollectionQuantum);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await catalog.CollectIdleAsync(options.Value.CollectionAge, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
