using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Wallet.Client;
using Wallet.Grains;
using Wallet.Runtime.Client;

namespace Wallet.Api;

/// <summary>
/// The HTTP API as its own process: a thin cluster client that hosts no grains. It calls the
/// silos named in <c>Client:Gateways</c> and reads the ledger's database (keys, idempotent replays,
/// listings) at <c>ConnectionStrings:Wallet</c>; the silos own the schema and migrate it.
/// </summary>
public static class ApiApplication
{
    public const string DefaultUrl = "http://localhost:5080";

    private static readonly Dictionary<string, string?> Defaults = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Client:Gateways:0"] = "localhost:11111",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        // Defaults below every other source, so appsettings, environment and arguments override them.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults });
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var connectionString = builder.Configuration.GetConnectionString("Wallet");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                "Wallet.Api needs ConnectionStrings:Wallet (env ConnectionStrings__Wallet): the database its silos use.");
        }

        builder.Services.AddWalletStores(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        builder.Services.AddWalletClient(options => builder.Configuration.GetSection("Client").Bind(options));
        builder.Services.AddWalletApi();
        builder.Services.AddHealthChecks().AddCheck<ClusterReachableHealthCheck>("cluster", tags: [WalletApi.ReadyTag]);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapWalletApi();
        return app;
    }
}

/// <summary>Ready, for the API process, also means a gateway has reported at least one active silo.</summary>
internal sealed class ClusterReachableHealthCheck(ClusterClientStatus cluster) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(cluster.ActiveSilos.Count > 0
            ? HealthCheckResult.Healthy($"{cluster.ActiveSilos.Count} active silos")
            : HealthCheckResult.Unhealthy("no gateway has reported an active silo yet"));
}
