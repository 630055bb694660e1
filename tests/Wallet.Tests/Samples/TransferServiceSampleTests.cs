using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wallet.Tests.Crash;
using Wallet.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Samples;

/// <summary>
/// samples/TransferService as a user runs it: its built dll, as its own process, against a real
/// silo process that it reaches through the silo's Orleans gateway alone. The ledger behind the
/// silo's HTTP API must then hold each of its entries once.
/// </summary>
public sealed class TransferServiceSampleTests(ITestOutputHelper output)
{
    private const string ApiKey = "sample-test-operator-key";
    private const string SampleDll = "Wallet.Samples.TransferService.dll";
    private const int SampleTimeoutSeconds = 60;

    [Fact]
    public async Task TransferService_ThroughTheSilosGateway_TransfersOnceAndExitsZero()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("sample_transfer_service");
        var gatewayPort = SiloProcess.FreePort();
        using var silo = SiloProcess.Start("silo", connectionString, ApiKey, new Dictionary<string, string>
        {
            ["Cluster__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
        });
        try
        {
            await silo.WaitUntilReadyAsync();
            var (exitCode, text) = await RunSampleAsync($"127.0.0.1:{gatewayPort.ToString(CultureInfo.InvariantCulture)}");

            Assert.Equal(0, exitCode);
            Assert.Contains("cluster: 1 active silos", text, StringComparison.Ordinal);
            Assert.Matches(@"retry +sample-\w+: not applied again \(idempotency_key_exists\)", text);
            var alice = Assert.Single(BalanceLine("alice").Matches(text)).Groups["id"].Value;
            var bob = Assert.Single(BalanceLine("bob").Matches(text)).Groups["id"].Value;
            Assert.Contains($"balance  {alice} (alice): posted 75.00, pending 0.00, available 75.00 USD", text, StringComparison.Ordinal);
            Assert.Contains($"balance  {bob} (bob): posted 25.00, pending 0.00, available 25.00 USD", text, StringComparison.Ordinal);

            using var http = silo.CreateClient(ApiKey);
            Assert.Equal(["100.00", "-25.00"], await HistoryAmountsAsync(http, alice));
            Assert.Equal(["25.00"], await HistoryAmountsAsync(http, bob));
            using var verify = JsonDocument.Parse(await http.GetStringAsync(new Uri("/v1/ledger/verify", UriKind.Relative)));
            Assert.True(verify.RootElement.GetProperty("ok").GetBoolean(), verify.RootElement.ToString());
        }
        catch
        {
            output.WriteLine(silo.Tail());
            throw;
        }
    }

    private Task<(int ExitCode, string Text)> RunSampleAsync(string gateway) =>
        BuiltProgram.RunAsync(FindSample(), [gateway], TimeSpan.FromSeconds(SampleTimeoutSeconds), output);

    // Oldest first: the entries as the ledger holds them, whatever the grains answered.
    private static async Task<string[]> HistoryAmountsAsync(HttpClient http, string walletId)
    {
        using var history = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/v1/wallets/{walletId}/history", UriKind.Relative)));
        return [.. history.RootElement.GetProperty("data").EnumerateArray()
            .Select(item => (Seq: item.GetProperty("seq").GetInt64(), Amount: item.GetProperty("amount").GetString()!))
            .OrderBy(item => item.Seq)
            .Select(item => item.Amount)];
    }

    private static Regex BalanceLine(string owner) =>
        new($@"^balance  (?<id>wal_[0-9a-f]{{32}}) \({owner}\): ", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    // The sample is built with the tests (a project reference that adds no assembly), in the same
    // configuration: under <artifacts>/bin/<project>/<pivot>/ with --artifacts-path, else in its own
    // bin/<configuration>/<framework>/ folder.
    private static string FindSample()
    {
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory);
        var artifacts = Path.Combine(testDirectory.Parent!.Parent!.FullName, "Wallet.Samples.TransferService", testDirectory.Name, SampleDll);
        if (File.Exists(artifacts))
        {
            return artifacts;
        }

        var configuration = testDirectory.Parent!.Name;
        for (var directory = testDirectory; directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "samples", "TransferService", "bin", configuration, testDirectory.Name, SampleDll);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{SampleDll} ({configuration}) was not found above {testDirectory.FullName}");
    }
}
