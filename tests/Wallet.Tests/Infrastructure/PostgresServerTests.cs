using Npgsql;
using Xunit;

namespace Wallet.Tests.Infrastructure;

public sealed class PostgresServerTests
{
    [Fact]
    public async Task CreateDatabaseAsync_TwoDatabases_AreDistinctAndUsable()
    {
        var first = await PostgresServer.CreateDatabaseAsync("isolation");
        var second = await PostgresServer.CreateDatabaseAsync("isolation");
        Assert.NotEqual(first, second);

        await using var a = new NpgsqlConnection(first);
        await using var b = new NpgsqlConnection(second);
        await a.OpenAsync();
        await b.OpenAsync();

        Assert.Equal(1, await ScalarAsync<int>(a, "SELECT 1"));
        Assert.Equal(1, await ScalarAsync<int>(b, "SELECT 1"));
        Assert.NotEqual(
            await ScalarAsync<string>(a, "SELECT current_database()"),
            await ScalarAsync<string>(b, "SELECT current_database()"));

        await ScalarAsync<int>(a, "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe VALUES (1); SELECT 1");
        Assert.Equal(1L, await ScalarAsync<long>(a, "SELECT count(*) FROM probe"));
        Assert.True(await ScalarAsync<bool>(b, "SELECT to_regclass('public.probe') IS NULL"));
    }

    [Fact]
    public async Task CreateDatabaseAsync_Concurrently_GivesDistinctDatabases()
    {
        var connectionStrings = await Task.WhenAll(
            Enumerable.Range(0, 8).Select(_ => PostgresServer.CreateDatabaseAsync("parallel")));

        Assert.Equal(connectionStrings.Length, connectionStrings.Distinct().Count());
        foreach (var connectionString in connectionStrings)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
