using Microsoft.Extensions.DependencyInjection;
using Wallet.Runtime.Client;

namespace Wallet.Client;

public static class WalletClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <c>IClusterClient</c> that reaches Wallet's silos through <paramref name="configure"/>'s
    /// <see cref="ClusterClientOptions.Gateways"/> (their cluster endpoints, <c>host:port</c>). Grain
    /// interfaces (<c>IWalletGrain</c>, <c>ICardGrain</c>) and their contracts come with this package.
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddWalletClient(o => o.Gateways = ["silo1:11111", "silo2:11111"]);
    /// var wallet = provider.GetRequiredService&lt;IClusterClient&gt;().GetGrain&lt;IWalletGrain&gt;(walletId);
    /// </code>
    /// </example>
    public static IServiceCollection AddWalletClient(this IServiceCollection services, Action<ClusterClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddClusterClient(configure);
    }
}
