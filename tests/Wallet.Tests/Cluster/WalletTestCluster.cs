using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;
using Wallet.Grains;
using Wallet.Grains.Storage;
using Wallet.Silo.Hosting;
using Wallet.Tests.Infrastructure;

namespace Wallet.Tests.Cluster;

/// <summary>
/// Orleans' <see cref="TestCluster"/> with the wallet grains, as production runs them: ADO.NET
/// membership in a fresh database of the test PostgreSQL (the project's own migrations), real TCP
/// sockets between silos and to the client, Orleans' default grain directory, and the membership
/// timings the silo process uses. Silos run in this process, each its own host.
/// </summary>
public static class WalletTestCluster
{
    private const string ConnectionStringKey = "ConnectionStrings:Wallet";

    /// <summary>Migrates a fresh database named after <paramref name="name"/> and deploys <paramref name="silos"/> silos over it.</summary>
    public static async Task<(TestCluster Cluster, string ConnectionString)> StartAsync(string name, short silos)
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync(name);
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
        }

        var builder = new TestClusterBuilder(silos);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        // TestCluster adds Orleans' distributed directory its own way; the silos add it as production does.
        builder.Options.SiloBuilderConfiguratorTypes.RemoveAll(type => type is not null && type.Contains("ConfigureDistributedGrainDirectory", StringComparison.Ordinal));
        builder.Properties[ConnectionStringKey] = connectionString;
        builder.Properties["Cards:NumberHashKey"] = WalletApiFactory.CardNumberHashKey;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            return (cluster, connectionString);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>What the silo process configures for its grains and membership (see <c>SiloApplication</c>).</summary>
    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var connectionString = silo.Configuration[ConnectionStringKey]!;
            silo.Services.AddWalletGrains(_ => NpgsqlDataSource.Create(connectionString));
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            SiloApplication.UseWalletTransactions(silo);
            SiloApplication.UseGrainDirectory(silo);
            silo.Configure<ClusterMembershipOptions>(SiloApplication.ConfigureFailureDetection);
            SiloApplication.ConfigureReminders(silo, new Wallet.Grains.Holds.HoldOptions());
        }
    }

    /// <summary>
    /// A client as <c>AddWalletClient</c> makes one with a connection string: gateways from the
    /// membership table, a short call timeout. The cluster's ids are the test cluster's own.
    /// </summary>
    public sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client)
        {
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = configuration[ConnectionStringKey];
            });
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
            client.UseTransactions();
        }
    }
}
