using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Wallet.Grains.Transactions;

/// <summary>
/// Removes, every few seconds, the prepared ledger rows that their state's commits have passed
/// without writing. Orleans 10.4.2 can drop a prepared transaction without telling the storage (a
/// cancel that overtakes the one-way prepare) and go on to commit later ones; the dropped
/// transaction's row would wait in <c>ledger_prepared</c> for good. Such a row is dead: a state
/// commits in order, and a committed transaction's rows are all taken by its manager's commit before
/// any participant commits past it. Sweeping costs one query per silo every
/// <see cref="Period"/>, where deleting at each commit cost every movement a statement.
/// </summary>
/// <remarks>The database is found when the first sweep runs: a silo's own database starts after its hosted services are made.</remarks>
internal sealed partial class PassedLedgerRowSweeper(IServiceProvider services, ILogger<PassedLedgerRowSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    private const string DeletePassed = """
        DELETE FROM ledger_prepared p USING transactional_states s
        WHERE s.state_key = p.state_key AND p.sequence_id <= s.committed_sequence
        """;

    /// <summary>Removes the passed rows now; how many there were.</summary>
    public static async Task<int> SweepAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(DeletePassed);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (await SweepAsync(services.GetRequiredService<NpgsqlDataSource>(), stoppingToken) is > 0 and var removed)
                {
                    LogRemoved(logger, removed);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The database is away or not started yet; the next tick tries again. A sweep never stops the silo.
                LogFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} prepared ledger rows of transactions their states' commits passed")]
    private static partial void LogRemoved(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sweep of passed prepared ledger rows failed; it runs again shortly")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
