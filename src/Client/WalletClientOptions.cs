namespace Wallet.Client;

/// <summary>How a client finds Wallet's silos. Bound from <c>Client:*</c> by the API process.</summary>
public sealed class WalletClientOptions
{
    /// <summary>The cluster's id; silos and clients of one cluster share it (the silos' <c>Cluster:ClusterId</c>).</summary>
    public string ClusterId { get; set; } = "wallet";

    /// <summary>The service's id, kept across deployments (the silos' <c>Cluster:ServiceId</c>).</summary>
    public string ServiceId { get; set; } = "wallet";

    /// <summary>
    /// The silos' database: when set, the client reads the live gateways from the cluster's
    /// membership table, as the silos do. Preferred: gateways come and go with the silos.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Without a <see cref="ConnectionString"/>: some silos' gateway endpoints, <c>host:port</c> (port 30000 by default).</summary>
    public IList<string> Gateways { get; set; } = [];

    /// <summary>
    /// How long a call waits for its reply before it fails with a <see cref="TimeoutException"/>.
    /// A call whose gateway or silo dies mid-way waits this long (Orleans does not break a client's
    /// calls when a silo fails), so it is kept short: an answer normally takes milliseconds, and a
    /// commit that cannot reach the database fails at once.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the client reads the live gateways again.</summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);
}
