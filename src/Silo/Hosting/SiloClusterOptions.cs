using System.Net;

namespace Wallet.Silo.Hosting;

/// <summary>
/// Where a silo meets its cluster. Bound from configuration section <c>Cluster</c>. A lone silo and
/// a cluster of many run the same code: membership is always the table in the ledger's database.
/// </summary>
public sealed class SiloClusterOptions
{
    /// <summary>Silos with the same id over the same database form one cluster.</summary>
    public string ClusterId { get; set; } = "wallet";

    /// <summary>Stays the same across deployments of the service.</summary>
    public string ServiceId { get; set; } = "wallet";

    /// <summary>The port silos call each other on.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port clients (<c>Wallet.Api</c>, <c>Wallet.Client</c>) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The address other silos and clients reach this silo at, as written in the membership table.
    /// Loopback by default, which keeps a lone silo private; a host name is resolved at start.
    /// </summary>
    public string AdvertisedAddress { get; set; } = IPAddress.Loopback.ToString();

    /// <summary>Listen on every interface while advertising <see cref="AdvertisedAddress"/> (containers).</summary>
    public bool ListenOnAnyHostAddress { get; set; }

    public IPAddress ResolveAdvertisedAddress() =>
        IPAddress.TryParse(AdvertisedAddress, out var address)
            ? address
            : Dns.GetHostAddresses(AdvertisedAddress).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
              ?? throw new InvalidOperationException($"Cluster:AdvertisedAddress '{AdvertisedAddress}' has no IPv4 address.");
}
