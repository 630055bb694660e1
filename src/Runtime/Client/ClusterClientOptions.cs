namespace Wallet.Runtime.Client;

/// <summary>How a process that hosts no grains reaches the cluster. Bound from configuration section <c>Client</c>.</summary>
public sealed class ClusterClientOptions
{
    /// <summary>Cluster endpoints of some silos (<c>host:port</c> or <c>http://host:port</c>); the client learns the rest from them.</summary>
    public List<string> Gateways { get; set; } = [];

    /// <summary>How long a call waits for its reply before <see cref="TimeoutException"/>.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the client asks a gateway for the active silos.</summary>
    public TimeSpan ViewRefreshPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long opening a connection to a silo may take before the silo is passed over.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a silo that refused a connection is passed over.</summary>
    public TimeSpan SuspectTime { get; set; } = TimeSpan.FromSeconds(10);
}
