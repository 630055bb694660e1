using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wallet.Runtime.Calls;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Catalog;
using Wallet.Runtime.Cluster;

namespace Wallet.Runtime.Hosting;

/// <summary>Registers grains with the silo being configured.</summary>
public sealed class SiloBuilder(IServiceCollection services, GrainTypeRegistry registry)
{
    public IServiceCollection Services { get; } = services;

    public SiloBuilder AddGrain<TGrainInterface, TGrain>()
        where TGrainInterface : IGrain
        where TGrain : Grain, TGrainInterface
    {
        registry.Add<TGrainInterface, TGrain>();
        return this;
    }

    /// <summary>
    /// Makes this silo one of a cluster: membership in <paramref name="membershipTable"/>, grains
    /// placed by rendezvous hashing over the active silos, calls between silos over the cluster
    /// endpoint (map it with <see cref="ClusterEndpoints.MapGrainCluster"/>). Without it the silo owns every grain.
    /// </summary>
    public SiloBuilder UseClustering(Func<IServiceProvider, IMembershipTable> membershipTable)
    {
        Services.AddSingleton(membershipTable);
        Services.AddSingleton<ClusterMembershipService>();
        Services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ClusterMembershipService>());
        Services.AddSingleton(sp => new SiloTransport(TimeSpan.FromSeconds(2)));
        Services.AddSingleton(sp => new SuspectList(sp.GetRequiredService<IOptions<ClusterOptions>>().Value.SuspectTime));
        Services.AddSingleton<ClusterGrainCallInvoker>();
        Services.Replace(ServiceDescriptor.Singleton<IGrainCallInvoker>(sp => sp.GetRequiredService<ClusterGrainCallInvoker>()));
        Services.AddHostedService<ActivationRebalancer>();
        return this;
    }

    public SiloBuilder AddIncomingGrainCallFilter<TFilter>() where TFilter : class, IIncomingGrainCallFilter
    {
        Services.AddSingleton<IIncomingGrainCallFilter, TFilter>();
        return this;
    }
}

public static class SiloServiceCollectionExtensions
{
    /// <summary>Hosts grains in this process: catalog, grain factory, call statistics and idle collection.</summary>
    public static IServiceCollection AddSilo(this IServiceCollection services, Action<SiloBuilder> configure)
    {
        var registry = new GrainTypeRegistry();
        services.TryAddSingleton(registry);
        services.AddOptions<GrainRuntimeOptions>();
        services.TryAddSingleton<GrainCatalog>();
        services.AddOptions<ClusterOptions>();
        services.TryAddSingleton<LocalGrainCallInvoker>();
        services.TryAddSingleton<IGrainCallInvoker>(sp => sp.GetRequiredService<LocalGrainCallInvoker>());
        services.TryAddSingleton<GrainFactory>();
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<GrainFactory>());
        services.TryAddSingleton<IClusterClient>(sp => sp.GetRequiredService<GrainFactory>());
        services.TryAddSingleton<GrainCallStatistics>();
        services.AddSingleton<IIncomingGrainCallFilter>(sp => sp.GetRequiredService<GrainCallStatistics>());
        services.TryAddSingleton(sp => new SiloStatistics(sp.GetRequiredService<GrainCatalog>()));
        services.AddHostedService<GrainRuntimeHostedService>();
        configure(new SiloBuilder(services, registry));
        return services;
    }
}
