using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Hosting;

/// <summary>What the silo reports about itself.</summary>
public sealed class SiloStatistics
{
    private readonly GrainCatalog _catalog;

    internal SiloStatistics(GrainCatalog catalog) => _catalog = catalog;

    public int ActivationCount => _catalog.ActivationCount;

    public IReadOnlyDictionary<string, int> ActivationsByGrainType() =>
        _catalog.ActiveGrainIds.GroupBy(id => id.InterfaceType.Name).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>
    /// Every activation with the calls it received since it was created. Walks all activations:
    /// read it when someone is looking (the dashboard's hottest grains), not on every call.
    /// </summary>
    public IEnumerable<(GrainId Grain, long Calls)> CallsByActivation() => _catalog.ReceivedCalls();

    /// <summary>Collects activations idle for at least <paramref name="idleFor"/> now, without waiting for the timer.</summary>
    public Task<int> CollectIdleActivationsAsync(TimeSpan idleFor, CancellationToken cancellationToken = default) =>
        _catalog.CollectIdleAsync(idleFor, cancellationToken);
}
