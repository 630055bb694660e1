using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Runtime;
using Wallet.Api.Metrics;
using Wallet.Client;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api;

/// <summary>
/// The HTTP API as its own process: an Orleans cluster client that hosts no grains. It finds the
/// silos' gateways in the cluster's membership table in the ledger's database
/// (<c>ConnectionStrings:Wallet</c>), or at <c>Client:Gateways</c> when those are given, and reads
/// the same database for keys, idempotent replays and listings; the silos own the schema and migrate it.
/// </summary>
public static class ApiApplication
{
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        // Defaults below every other source, so appsettings, environment and arguments override them.
        builder.Configuration.AddWalletApiDefaults();
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

        builder.Services.AddWalletStores(_ => WalletDataSource.Create(connectionString));
        var client = new WalletClientOptions();
        builder.Configuration.GetSection("Client").Bind(client);
        if (client.Gateways.Count == 0)
        {
            client.ConnectionString ??= connectionString;
        }

        builder.UseOrleansClient(orleans => orleans.ConfigureWalletClient(client));
        builder.Services.AddWalletApi();
        builder.Services.AddWalletTelemetry(builder.Configuration, "wallet-api");
        builder.Services.AddHealthChecks().AddCheck<ClusterReachableHealthCheck>("cluster", tags: [WalletApi.ReadyTag]);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapWalletApi();
        return app;
    }
}

/// <summary>Ready, for the API process, also means the cluster answers: some silo reports the active silos.</summary>
internal sealed class ClusterReachableHealthCheck(IClusterClient client) : IHealthCheck
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var silos = await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(AnswerTimeout, cancellationToken);
            return silos.Count > 0
                ? HealthCheckResult.Healthy($"{silos.Count} active silos")
                : HealthCheckResult.Unhealthy("the cluster reports no active silo");
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("no silo answers", exception);
        }
    }
}
