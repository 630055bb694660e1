using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Hosting;

namespace Wallet.Runtime.Client;

public static class ClusterClientServiceCollectionExtensions
{
    /// <summary>
    /// An <see cref="IClusterClient"/> (and <see cref="IGrainFactory"/>) for a process that hosts no
    /// grains: calls go over HTTP/2 to the silos, found through <see cref="ClusterClientOptions.Gateways"/>.
    /// </summary>
    public static IServiceCollection AddClusterClient(this IServiceCollection services, Action<ClusterClientOptions>? configure = null)
    {
        var options = services.AddOptions<ClusterClientOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.Gateways.Count > 0, "The cluster client needs at least one gateway (Client:Gateways, e.g. localhost:11111).")
            .ValidateOnStart();
        services.TryAddSingleton<GatewayGrainCallInvoker>();
        services.TryAddSingleton<IGrainCallInvoker>(sp => sp.GetRequiredService<GatewayGrainCallInvoker>());
        services.TryAddSingleton<GrainFactory>();
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<GrainFactory>());
        services.TryAddSingleton<IClusterClient>(sp => sp.GetRequiredService<GrainFactory>());
        services.TryAddSingleton(sp => new ClusterClientStatus(sp.GetRequiredService<GatewayGrainCallInvoker>()));
        services.AddHostedService<ClusterClientStarter>();
        return services;
    }
}

/// <summary>What the client knows of the cluster, for readiness checks.</summary>
public sealed class ClusterClientStatus
{
    private readonly GatewayGrainCallInvoker _invoker;

    internal ClusterClientStatus(GatewayGrainCallInvoker invoker) => _invoker = invoker;

    /// <summary>The active silos a gateway last reported; empty until one answered.</summary>
    public IReadOnlyList<Cluster.SiloAddress> ActiveSilos => _invoker.View.ActiveSilos;
}

/// <summary>In a hosted process, starts learning the cluster at start-up rather than at the first call.</summary>
internal sealed class ClusterClientStarter(GatewayGrainCallInvoker invoker) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => invoker.WhenViewKnownAsync(TimeSpan.FromSeconds(5), cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
