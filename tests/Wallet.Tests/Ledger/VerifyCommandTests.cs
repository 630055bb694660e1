using System.Net.Http.Json;
using Npgsql;
using Wallet.Silo.Hosting;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>The verify CLI: exit 0 on a sound ledger, 1 naming the broken wallet, 2 when there is no ledger.</summary>
public sealed class VerifyCommandTests
{
    [Fact]
    public async Task Verify_SoundLedgerThenTamperedBalance_ExitsZeroThenOneNamingTheWallet()
    {
        await using var factory = await WalletApiFactory.CreateAsync("verifycli");
        using var client = factory.CreateOperatorClient();
        var created = await client.PostAsJsonAsync("/v1/wallets", new { currency = "USD" });
        var wallet = (await created.Content.ReadFromJsonAsync<Dictionary<string, object>>())!["id"].ToString()!;
        (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "2.50" })).EnsureSuccessStatusCode();

        var (sound, soundOutput) = await RunAsync(factory.ConnectionString);
        Assert.Equal(0, sound);
        Assert.Contains("\"ok\": true", soundOutput, StringComparison.Ordinal);

        await using (var connection = new NpgsqlConnection(factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var tamper = new NpgsqlCommand("UPDATE wallets SET balance = balance + 1 WHERE id = @id", connection);
            tamper.Parameters.AddWithValue("id", wallet);
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
        }

        var (broken, brokenOutput) = await RunAsync(factory.ConnectionString);
        Assert.Equal(1, broken);
        Assert.Contains("\"ok\": false", brokenOutput, StringComparison.Ordinal);
        Assert.Contains("balance_mismatch", brokenOutput, StringComparison.Ordinal);
        Assert.Contains(wallet, brokenOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_DatabaseWithoutLedger_ExitsTwo()
    {
        var empty = await PostgresServer.CreateDatabaseAsync("verifyempty");

        var (code, output) = await RunAsync(empty);

        Assert.Equal(2, code);
        Assert.Contains("could not be read", output, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output)> RunAsync(string connectionString)
    {
        using var output = new StringWriter();
        var code = await VerifyCommand.RunAsync([$"--ConnectionStrings:Wallet={connectionString}"], output);
        return (code, output.ToString());
    }
}
