using Microsoft.Extensions.Hosting;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// Deactivates the activations this silo does not own, once they are idle: after a view change
/// (a silo joined and takes its grains back) and every <see cref="PassPeriodMs"/> (a silo this one
/// suspected answers again). So no stale copy lingers to answer if ownership swings back; calls
/// already go to the owner, and a busy copy is taken at a later pass.
/// </summary>
internal sealed class ActivationRebalancer(GrainCatalog catalog, ClusterMembershipService membership, SuspectList suspects) : BackgroundService
{
    private const int PassPeriodMs = 5_000;

    private readonly WakeSignal _viewChanged = new();

    public override void Dispose()
    {
        _viewChanged.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        membership.ViewChanged += OnViewChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _viewChanged.WaitAsync(TimeSpan.FromMilliseconds(PassPeriodMs), stoppingToken);
                if (membership.IsActive && catalog.ActivationCount > 0)
                {
                    var self = membership.Self;
                    var silos = membership.View.ActiveSilos;
                    await catalog.CollectWhereAsync(
                        id => GrainPlacement.OwnerOf(id, silos, silo => silo != self && suspects.IsSuspected(silo)) != self, stoppingToken);
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

    private void OnViewChanged(ClusterView view) => _viewChanged.Set();
}
