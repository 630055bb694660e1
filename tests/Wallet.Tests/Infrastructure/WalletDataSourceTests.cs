using Npgsql;
using Wallet.Grains.Storage;
using Xunit;

namespace Wallet.Tests.Infrastructure;

/// <summary>The ledger's data source prepares statements on the server unless its connection string says otherwise.</summary>
public sealed class WalletDataSourceTests
{
    [Fact]
    public void WithDefaults_AConnectionStringThatDoesNotSay_PreparesFromTheSecondUse()
    {
        var settings = new NpgsqlConnectionStringBuilder(WalletDataSource.WithDefaults("Host=db;Username=wallet;Password=secret;Database=wallet"));

        Assert.Equal((64, 2), (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages));
        Assert.Equal(("db", "wallet", "secret", "wallet"), (settings.Host, settings.Username, settings.Password, settings.Database));
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0, 2)]
    [InlineData("Host=db;maxautoprepare=10;AUTO PREPARE MIN USAGES=5", 10, 5)]
    [InlineData("Host=db;AutoPrepareMinUsages=3", 64, 3)]
    public void WithDefaults_KeepsWhatTheConnectionStringSets(string connectionString, int max, int minUsages)
    {
        var settings = new NpgsqlConnectionStringBuilder(WalletDataSource.WithDefaults(connectionString));

        Assert.Equal((max, minUsages), (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages));
    }

    [Fact]
    public async Task Create_AStatementUsedTwice_IsPreparedOnTheServer()
    {
        await using var dataSource = WalletDataSource.Create(await PostgresServer.CreateDatabaseAsync("data_source"));
        await using var connection = await dataSource.OpenConnectionAsync();
        const string Probe = "SELECT @n::int + 1";
        for (var i = 0; i < 2; i++)
        {
            await using var command = new NpgsqlCommand(Probe, connection);
            command.Parameters.AddWithValue("n", i);
            await command.ExecuteScalarAsync();
        }

        await using var prepared = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int + 1%'", connection);

        Assert.Equal(1L, await prepared.ExecuteScalarAsync());
    }
}
