using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Catalog;

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
        services.TryAddSingleton<IGrainCallInvoker, LocalGrainCallInvoker>();
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
