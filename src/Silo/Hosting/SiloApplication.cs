using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wallet.Api;
using Wallet.Dashboard;
using Wallet.Grains;
using Wallet.Runtime.Cluster;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Silo.Hosting;

/// <summary>
/// The silo's composition: database, grains and the HTTP API; with <c>Cluster:Enabled</c>, also
/// membership and the cluster endpoint. The silo process, the test clusters and the benchmark
/// host the same thing through it.
/// </summary>
public static class SiloApplication
{
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var cluster = builder.Configuration.GetSection("Cluster").Get<ClusterOptions>() ?? new ClusterOptions();
        builder.Services.AddWalletDatabase(builder.Configuration);
        builder.Services.Configure<GrainRuntimeOptions>(builder.Configuration.GetSection("Runtime"));
        builder.Services.Configure<GroupCommitOptions>(builder.Configuration.GetSection("GroupCommit"));
        builder.Services.Configure<ClusterOptions>(builder.Configuration.GetSection("Cluster"));
        builder.Services.AddSilo(silo =>
        {
            silo.AddWalletGrains(sp => sp.GetRequiredService<WalletDatabase>().DataSource);
            if (cluster.Enabled)
            {
                silo.UsePostgresClustering(cluster.ClusterId);
            }
        });
        builder.Services.AddWalletApi();
        builder.Services.AddWalletDashboard(builder.Configuration, builder.Environment, cluster.Enabled);
        if (cluster.Enabled)
        {
            ListenForCluster(builder, cluster);
            builder.Services.AddHealthChecks().AddCheck<SiloJoinedHealthCheck>("cluster", tags: [WalletApi.ReadyTag]);
        }

        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapWalletApi();
        app.MapWalletDashboard();
        app.MapGrainCluster();
        return app;
    }

    /// <summary>
    /// The HTTP API keeps its URLs (<c>--urls</c>, <c>ASPNETCORE_URLS</c>); the cluster endpoint gets
    /// <c>Cluster:Port</c>, HTTP/2 only. Kestrel ignores URLs once any endpoint is set in code, so
    /// both are set here.
    /// </summary>
    private static void ListenForCluster(WebApplicationBuilder builder, ClusterOptions cluster)
    {
        var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } configured ? configured : DefaultUrl;
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.Http2.MaxStreamsPerConnection = ClusterOptions.StreamsPerConnectionMax;
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var uri = new Uri(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal));
                if (uri.Scheme != Uri.UriSchemeHttp)
                {
                    throw new InvalidOperationException($"A clustered silo serves its HTTP API over plain http (got {url}); terminate TLS in front of it.");
                }

                Listen(kestrel, uri.Host, uri.Port, HttpProtocols.Http1);
            }

            var loopback = cluster.AdvertisedHost is "localhost" || (IPAddress.TryParse(cluster.AdvertisedHost, out var advertised) && IPAddress.IsLoopback(advertised));
            Listen(kestrel, loopback ? "localhost" : "0.0.0.0", cluster.Port, HttpProtocols.Http2);
        });
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, listen => listen.Protocols = protocols);
        }
        else if (IPAddress.TryParse(host, out var address))
        {
            kestrel.Listen(address, port, listen => listen.Protocols = protocols);
        }
        else
        {
            kestrel.ListenAnyIP(port, listen => listen.Protocols = protocols);
        }
    }
}

/// <summary>Ready, in a cluster, also means this silo has joined and is not leaving.</summary>
internal sealed class SiloJoinedHealthCheck(ClusterMembershipService membership) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(membership.IsActive
            ? HealthCheckResult.Healthy($"silo {membership.Self} active; {membership.View.ActiveSilos.Count} active silos")
            : HealthCheckResult.Unhealthy($"silo {membership.Self} has not joined the cluster, or is leaving"));
}
