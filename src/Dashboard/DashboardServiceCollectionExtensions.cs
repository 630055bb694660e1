using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Wallet.Api.Infrastructure;
using Wallet.Dashboard.Access;
using Wallet.Grains.Auth;

namespace Wallet.Dashboard;

/// <summary>Settings of the <c>Dashboard</c> section.</summary>
public sealed class DashboardOptions
{
    /// <summary>Lets requests from this machine see the dashboard without signing in. Honoured only in Development on a silo that advertises a loopback address (alone on this machine).</summary>
    public bool AllowLocalhostWithoutSignIn { get; set; }
}

public static class DashboardServiceCollectionExtensions
{
    /// <summary>
    /// The dashboard of a silo: sign-in sessions, the <see cref="DashboardSessionHandler.Policy"/>
    /// authorization policy and the ledger pages' figures. Needs the HTTP API's authentication
    /// (<c>AddWalletApi</c>) and Orleans' dashboard on the silo (<c>AddDashboard</c>).
    /// <paramref name="clustered"/>: the silo can be reached from other machines (it advertises a
    /// non-loopback address), so no request is let in without signing in.
    /// </summary>
    public static IServiceCollection AddWalletDashboard(
        this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment, bool clustered)
    {
        var options = configuration.GetSection("Dashboard").Get<DashboardOptions>() ?? new DashboardOptions();
        services.AddSingleton(new DashboardAccess(options.AllowLocalhostWithoutSignIn, environment.IsDevelopment(), clustered));
        services.AddSingleton<CardActivity>();
        services.AddSingleton<VerifyGate>();
        services.AddSingleton(sp => sp.GetRequiredService<RevokedCredentials>().Track(DashboardSessionHandler.NewCache()));
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, DashboardSessionHandler>(DashboardSessionHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(DashboardSessionHandler.Policy, policy => policy
            .AddAuthenticationSchemes(DashboardSessionHandler.SchemeName)
            .RequireRole(UserRoles.Operator));
        return services;
    }
}
