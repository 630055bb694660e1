using Npgsql;
using Orleans.TestingHost;
using Wallet.Tests.Cluster;

namespace Wallet.Tests.Transactions;

/// <summary>A test cluster for the ledger-account grains, with their database open and a treasury to deposit from.</summary>
internal sealed class LedgerAccountCluster : IAsyncDisposable
{
    private LedgerAccountCluster(TestCluster cluster, NpgsqlDataSource database) => (Cluster, Database) = (cluster, database);

    public TestCluster Cluster { get; }

    public NpgsqlDataSource Database { get; }

    public static async Task<LedgerAccountCluster> StartAsync(string name, short silos, string treasury)
    {
        var (cluster, connectionString) = await WalletTestCluster.StartAsync(name, silos);
        var ledger = new LedgerAccountCluster(cluster, NpgsqlDataSource.Create(connectionString));
        try
        {
            await ledger.Database.AddTreasuryAsync(treasury);
            return ledger;
        }
        catch
        {
            await ledger.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
