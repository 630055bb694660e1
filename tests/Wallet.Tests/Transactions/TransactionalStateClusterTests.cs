using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.Serialization;
using Orleans.TestingHost;
using Orleans.Transactions;
using Wallet.Tests.Cluster;
using Xunit;

namespace Wallet.Tests.Transactions;

/// <summary>
/// Orleans' own transaction protocol over the PostgreSQL storage, on a test cluster: a transfer
/// between two accounts commits on both (the manager's commit record and the other's prepare carry
/// grain references), an aborted one leaves no trace, and what committed is what a fresh activation
/// loads.
/// </summary>
public sealed class TransactionalStateClusterTests : IAsyncLifetime
{
    private TestCluster? _cluster;
    private string _connectionString = "";

    private TestCluster Cluster => _cluster!;

    [Fact]
    public async Task Transfer_CommitsOnBothAccountsAndSurvivesReactivation()
    {
        var transactions = Cluster.Client.ServiceProvider.GetRequiredService<ITransactionClient>();
        var (from, to) = (Account("a"), Account("b"));
        await transactions.RunTransaction(TransactionOption.Create, () => from.Add(100));
        await transactions.RunTransaction(TransactionOption.Create, async () =>
        {
            await from.Add(-30);
            await to.Add(30);
        });

        await from.Deactivate();
        await to.Deactivate();
        Assert.Equal((70L, 30L), (await from.Balance(), await to.Balance()));
        Assert.Equal(70L, await CommittedBalanceAsync(from));
        Assert.Equal(30L, await CommittedBalanceAsync(to));
    }

    [Fact]
    public async Task Transfer_ThatOverdraws_AbortsAndChangesNeitherAccount()
    {
        var transactions = Cluster.Client.ServiceProvider.GetRequiredService<ITransactionClient>();
        var (from, to) = (Account("c"), Account("d"));
        await transactions.RunTransaction(TransactionOption.Create, () => from.Add(10));

        // The credit is applied first, then the debit refuses: the whole transaction aborts.
        await Assert.ThrowsAnyAsync<OrleansTransactionAbortedException>(() => transactions.RunTransaction(TransactionOption.Create, async () =>
        {
            await to.Add(25);
            await from.Add(-25);
        }));

        await from.Deactivate();
        await to.Deactivate();
        Assert.Equal((10L, 0L), (await from.Balance(), await to.Balance()));
    }

    public async Task InitializeAsync() => (_cluster, _connectionString) = await WalletTestCluster.StartAsync("transactional_cluster", 1);

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private ITransactionalAccountGrain Account(string name) => Cluster.GrainFactory.GetGrain<ITransactionalAccountGrain>($"{name}-{Guid.NewGuid():N}");

    /// <summary>The committed balance as the storage's row holds it.</summary>
    private async Task<long> CommittedBalanceAsync(ITransactionalAccountGrain account)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT committed_state FROM transactional_states WHERE state_key = @key", connection);
        command.Parameters.AddWithValue("key", $"{account.GetGrainId()}/account");
        var bytes = (byte[])(await command.ExecuteScalarAsync())!;
        return Cluster.GetSiloServiceProvider().GetRequiredService<Serializer>().Deserialize<TransactionalAccount>(bytes)!.Balance;
    }
}
