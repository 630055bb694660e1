namespace Wallet.Runtime.Cluster;

/// <summary>How a silo takes part in a cluster. Bound from configuration section <c>Cluster</c>.</summary>
public sealed class ClusterOptions
{
    /// <summary>Calls in flight on one connection between two silos (HTTP/2 streams); more wait for a free one.</summary>
    public const int StreamsPerConnectionMax = 1_000;

    /// <summary>Off (the default): a single silo that owns every grain. On: membership, placement and the cluster endpoint.</summary>
    public bool Enabled { get; set; }

    /// <summary>Silos with the same id over the same database form one cluster.</summary>
    public string ClusterId { get; set; } = "wallet";

    /// <summary>The port of the cluster endpoint (HTTP/2 without TLS): calls between silos and from clients.</summary>
    public int Port { get; set; } = 11111;

    /// <summary>The host other silos and clients reach this one by. Loopback names bind loopback only; any other binds every address.</summary>
    public string AdvertisedHost { get; set; } = "localhost";

    /// <summary>How often a silo writes its heartbeat and reads the membership table.</summary>
    public TimeSpan HeartbeatPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A silo whose heartbeat is older than this is declared dead by the first peer that notices.</summary>
    public TimeSpan DeathTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many times a call may be passed on to the silo its current holder thinks owns the grain.</summary>
    public int MaxForwardHops { get; set; } = 2;

    /// <summary>How long a silo that refused a connection is left out of placement, unless the table says otherwise sooner.</summary>
    public TimeSpan SuspectTime { get; set; } = TimeSpan.FromSeconds(10);

    public string AdvertisedEndpoint => $"{AdvertisedHost}:{Port}";
}
