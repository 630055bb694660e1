using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
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
        EmbeddedPostgres? embedded = null;
        var connectionString = configuration.GetConnectionString("Wallet");
        try
        {
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                var options = new EmbeddedPostgresOptions();
                configuration.GetSection("Embedded").Bind(options);
                embedded = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance, cancellationToken);
                connectionString = embedded.ConnectionString;
            }

            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            var report = await new LedgerVerifier(dataSource, TimeProvider.System).VerifyAsync(cancellationToken);
            await output.WriteLineAsync(JsonSerializer.Serialize(report, new JsonSerializerOptions(WalletJson.Options) { WriteIndented = true }));
            return report.Ok ? 0 : 1;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            await output.WriteLineAsync($"verify: the ledger could not be read: {exception.Message}");
            return 2;
        }
        finally
        {
            // Stop only a server this command started; one the silo runs stays up.
            if (embedded is { StartedByUs: true })
            {
                await embedded.StopAsync();
            }
        }
    }
}
