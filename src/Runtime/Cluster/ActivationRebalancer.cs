using Microsoft.Extensions.Hosting;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// After the view changes, deactivates the activations this silo no longer owns (a silo joined
/// and took its grains back), so no stale copy lingers to answer if ownership swings back. Busy
/// activations are retried every heartbeat until none is left; calls already go to the new owner.
/// </summary>
internal sealed class ActivationRebalancer(GrainCatalog catalog, ClusterMembershipService membership) : BackgroundService
{
    // Activations that stay busy this many heartbeats are left to idle collection.
    private const int PassesMax = 30;

    private readonly SemaphoreSlim _viewChanged = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        membership.ViewChanged += OnViewChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _viewChanged.WaitAsync(stoppingToken);
                for (var pass = 0; pass < PassesMax && membership.IsActive; pass++)
                {
                    var self = membership.Self;
                    var silos = membership.View.ActiveSilos;
                    var left = await catalog.CollectWhereAsync(id => GrainPlacement.OwnerOf(id, silos) != self, stoppingToken);
                    if (left == 0)
                    {
                        break;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            membership.ViewChanged -= OnViewChanged;
        }
    }

    private void OnViewChanged(ClusterView view)
    {
        if (_viewChanged.CurrentCount == 0)
        {
            try
            {
                _viewChanged.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    public override void Dispose()
    {
        _viewChanged.Dispose();
        base.Dispose();
    }
}
