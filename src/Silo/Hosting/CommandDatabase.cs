using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Wallet.Silo.Hosting;

/// <summary>The database a command of the silo's (verify, recon) works on.</summary>
public static class CommandDatabase
{
    /// <summary>
    /// Runs <paramref name="work"/> on the configured database, or the embedded one (started if it is
    /// not running, and then stopped); <paramref name="failed"/> when the database cannot be used.
    /// </summary>
    public static async Task<int> UseAsync(
        string command, IConfiguration configuration, TextWriter output, int failed, Func<NpgsqlDataSource, Task<int>> work, CancellationToken cancellationToken)
    {
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
            return await work(dataSource);
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            await output.WriteLineAsync($"{command}: the database could not be read: {exception.Message}");
            return failed;
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
