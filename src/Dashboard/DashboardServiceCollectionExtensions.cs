using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Wallet.Dashboard.Access;
using Wallet.Dashboard.Statistics;
using Wallet.Grains.Storage;

namespace Wallet.Dashboard;

/// <summary>Settings of the <c>Dashboard</c> section.</summary>
public sealed class DashboardOptions
{
    /// <summary>Lets requests from this machine see the dashboard without signing in. Honoured only in Development on a silo with clustering off.</summary>
    public bool AllowLocalhostWithoutSignIn { get; set; }
}

public static class DashboardServiceCollectionExtensions
{
    /// <summary>
    /// The dashboard of a silo: its once-a-second sampler, the cluster-wide gathering, sign-in
    /// sessions and the <see cref="DashboardSessionHandler.Policy"/> authorization policy. Needs the
    /// silo (grains, statistics) and the HTTP API's authentication (<c>AddWalletApi</c>).
    /// </summary>
    public static IServiceCollection AddWalletDashboard(
        this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment, bool clustered)
    {
        var options = configuration.GetSection("Dashboard").Get<DashboardOptions>() ?? new DashboardOptions();
        services.AddSingleton(new DashboardAccess(options.AllowLocalhostWithoutSignIn, environment.IsDevelopment(), clustered));
        services.AddSingleton<SiloSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<SiloSampler>());
        services.AddSingleton<ClusterStatistics>();
        services.AddSingleton<VerifyGate>();
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, DashboardSessionHandler>(DashboardSessionHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(DashboardSessionHandler.Policy, policy => policy
            .AddAuthenticationSchemes(DashboardSessionHandler.SchemeName)
            .RequireRole(ApiKeyRoles.Operator));
        return services;
    }
}
