using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Wallet.Client;

public static class WalletClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers an Orleans <c>IClusterClient</c> connected to Wallet's silos as
    /// <paramref name="configure"/> says: through the membership table in the silos' database, or
    /// through fixed gateways. Grain interfaces (<c>IWalletGrain</c>, <c>ICardGrain</c>) and their
    /// contracts come with this package.
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddWalletClient(o => o.ConnectionString = "Host=db;Username=wallet;Password=...;Database=wallet");
    /// var wallet = provider.GetRequiredService&lt;IClusterClient&gt;().GetGrain&lt;IWalletGrain&gt;(walletId);
    /// </code>
    /// </example>
    public static IServiceCollection AddWalletClient(this IServiceCollection services, Action<WalletClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new WalletClientOptions();
        configure(options);
        return services.AddOrleansClient(client => client.ConfigureWalletClient(options));
    }

    /// <summary>Configures <paramref name="client"/> (a <c>UseOrleansClient</c> builder) as <see cref="AddWalletClient"/> does.</summary>
    public static IClientBuilder ConfigureWalletClient(this IClientBuilder client, WalletClientOptions options)
    {
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.CallTimeout);
        // A client learns of gateways that came or went this often (Orleans' default is a minute).
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = options.GatewayListRefreshPeriod);
        client.AddActivityPropagation();
        var gatewayLoss = new GatewayLossFilter();
        client.AddOutgoingGrainCallFilter(gatewayLoss);
        client.AddGatewayCountChangedHandler(gatewayLoss.OnGatewayCountChanged);
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = options.ConnectionString;
            });
        }
        else if (options.Gateways.Count > 0)
        {
            client.UseStaticClustering(options.Gateways.Select(ParseEndpoint).ToArray());
        }
        else
        {
            throw new InvalidOperationException("Wallet.Client needs Client:ConnectionString (the silos' database) or Client:Gateways (host:port of some silos' gateways).");
        }

        return client;
    }

    private static IPEndPoint ParseEndpoint(string gateway)
    {
        var colon = gateway.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(gateway[(colon + 1)..], out var port) || port is <= 0 or > 65535)
        {
            throw new FormatException($"Gateway '{gateway}' is not host:port.");
        }

        var host = gateway[..colon];
        var address = IPAddress.TryParse(host, out var parsed)
            ? parsed
            : Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
              ?? throw new FormatException($"Gateway host '{host}' has no IPv4 address.");
        return new IPEndPoint(address, port);
    }
}
