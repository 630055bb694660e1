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
    /// The <paramref name="max"/> activations with the most calls since the previous call of this
    /// method, busiest first. Walks all activations: for one reader (the dashboard's sampler), while
    /// someone is looking, not on every call.
    /// </summary>
    public IReadOnlyList<(GrainId Grain, long Calls)> HottestSinceLastLook(int max) => _catalog.HottestSinceLastLook(max);

    /// <summary>Collects activations idle for at least <paramref name="idleFor"/> now, without waiting for the timer.</summary>
    public Task<int> CollectIdleActivationsAsync(TimeSpan idleFor, CancellationToken cancellationToken = default) =>
        _catalog.CollectIdleAsync(idleFor, cancellationToken);
}
