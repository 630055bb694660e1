namespace Wallet.Runtime.Cluster;

/// <summary>
/// One start of a silo: the host:port its cluster endpoint listens on, and which start it is. A
/// restarted silo keeps its endpoint and takes a new generation.
/// </summary>
public sealed record SiloAddress(string Endpoint, long Generation)
{
    public Uri BaseUri { get; } = new($"http://{Endpoint}/");

    public bool Equals(SiloAddress? other) =>
        other is not null && Generation == other.Generation && string.Equals(Endpoint, other.Endpoint, StringComparison.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Endpoint, Generation);

    public override string ToString() => $"{Endpoint}@{Generation}";
}

/// <summary>Where a silo is in its life, as the membership table records it.</summary>
public enum SiloStatus
{
    /// <summary>Serving: owns its share of the grains.</summary>
    Active,

    /// <summary>Shutting down gracefully: owns nothing, finishes what it has.</summary>
    Leaving,

    /// <summary>Gone, by leaving or by being declared dead. Never comes back; a restart is a new generation.</summary>
    Dead,
}

/// <summary>A silo's row in the membership table.</summary>
public sealed record MembershipEntry(
    SiloAddress Silo, SiloStatus Status, string HostName, DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt);

/// <summary>The table as read in one statement: its version, the database's clock and every row.</summary>
public sealed record MembershipSnapshot(long Version, DateTimeOffset Now, IReadOnlyList<MembershipEntry> Entries);

/// <summary>
/// The cluster's membership, kept in a shared store (PostgreSQL here), after Orleans' ADO.NET
/// clustering: every change of status goes through a compare-and-swap on one version number;
/// heartbeats touch only the silo's own row.
/// </summary>
public interface IMembershipTable
{
    Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes <paramref name="changes"/> (inserted, or their status updated) and bumps the version,
    /// if the version is still <paramref name="expectedVersion"/>. False when another silo won.
    /// </summary>
    Task<bool> TryWriteAsync(long expectedVersion, IReadOnlyList<MembershipEntry> changes, CancellationToken cancellationToken);

    /// <summary>Records that <paramref name="silo"/> is alive; returns its status, or null when it has no row.</summary>
    Task<SiloStatus?> HeartbeatAsync(SiloAddress silo, CancellationToken cancellationToken);
}

/// <summary>The active silos as one silo (or client) last read them; immutable.</summary>
public sealed class ClusterView
{
    public static ClusterView Empty { get; } = new(-1, []);

    public ClusterView(long version, IReadOnlyList<SiloAddress> activeSilos)
    {
        Version = version;
        ActiveSilos = activeSilos;
    }

    public long Version { get; }

    public IReadOnlyList<SiloAddress> ActiveSilos { get; }

    public bool Contains(SiloAddress silo) => ActiveSilos.Contains(silo);
}
