using System.Text.Json;
using Wallet.Grains;
using Wallet.Grains.Ledger;

namespace Wallet.Silo.Hosting;

/// <summary>
/// <c>Wallet.Silo verify</c>: proves the ledger's invariants over the configured database (or the
/// embedded one) and exits 0 when they hold, 1 when any fails, 2 when the ledger cannot be read.
/// It changes nothing, and leaves a running embedded PostgreSQL running.
/// </summary>
public static class VerifyCommand
{
    public const string Name = "verify";

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .Build();
        return await CommandDatabase.UseAsync(Name, configuration, output, 2, async dataSource =>
        {
            var report = await new LedgerVerifier(dataSource, TimeProvider.System).VerifyAsync(cancellationToken);
            await output.WriteLineAsync(JsonSerializer.Serialize(report, new JsonSerializerOptions(WalletJson.Options) { WriteIndented = true }));
            return report.Ok ? 0 : 1;
        }, cancellationToken);
    }
}
