namespace Wallet.Runtime.Cluster;

/// <summary>
/// Rendezvous (highest random weight) hashing: a grain belongs to the active silo whose combined
/// hash with it is highest. Every silo and client computes the same owner from the same view,
/// with no directory to keep; when a silo leaves, only its own grains move, and when it comes
/// back they return to it.
/// </summary>
public static class GrainPlacement
{
    /// <summary>The owner of <paramref name="grain"/> among <paramref name="silos"/> minus those <paramref name="skip"/> names; null when none is left.</summary>
    public static SiloAddress? OwnerOf(GrainId grain, IReadOnlyList<SiloAddress> silos, Func<SiloAddress, bool>? skip = null)
    {
        var grainHash = Hash(grain.InterfaceType.FullName ?? grain.InterfaceType.Name, grain.Key);
        SiloAddress? owner = null;
        ulong ownerWeight = 0;
        foreach (var silo in silos)
        {
            if (skip is not null && skip(silo))
            {
                continue;
            }

            var weight = Mix(grainHash ^ Hash(silo.Endpoint, string.Empty));
            if (owner is null || weight > ownerWeight
                || (weight == ownerWeight && string.CompareOrdinal(silo.Endpoint, owner.Endpoint) < 0))
            {
                owner = silo;
                ownerWeight = weight;
            }
        }

        return owner;
    }

    // FNV-1a over the characters: stable across processes and runtimes, unlike string.GetHashCode.
    private static ulong Hash(string first, string second)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in first)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash = (hash ^ '/') * 1099511628211UL;
        foreach (var c in second)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    // SplitMix64's finalizer: spreads FNV's weak low bits over the whole word.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
