using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wallet.Silo.Hosting;

namespace Wallet.Bench;

/// <summary>
/// One PostgreSQL server, two databases: the ledger's and the baseline's, recreated each run. The
/// server is the given one, or a private one started here with fsync and synchronous_commit on.
/// </summary>
public sealed class BenchDatabases : IAsyncDisposable
{
    // Both sides get the same client settings: pooled, statements prepared after two uses. The
    // baseline holds a connection per request in flight; the ledger needs few (one per commit batch,
    // plus activations' reads), and the server allows 200 in all.
    private const string ClientSettings = "Max Auto Prepare=64;Auto Prepare Min Usages=2;No Reset On Close=true";
    private const int LedgerPoolSize = 48;

    private readonly EmbeddedPostgres? _embedded;
    private readonly string? _dataDirectory;

    private BenchDatabases(EmbeddedPostgres? embedded, string? dataDirectory, string wallet, string baseline)
    {
        _embedded = embedded;
        _dataDirectory = dataDirectory;
        Wallet = wallet;
        Baseline = baseline;
    }

    public string Wallet { get; }

    public string Baseline { get; }

    public static async Task<BenchDatabases> StartAsync(BenchOptions options)
    {
        EmbeddedPostgres? embedded = null;
        string? dataDirectory = null;
        string admin;
        if (options.Connection is { } given)
        {
            admin = new NpgsqlConnectionStringBuilder(given) { Database = "postgres" }.ConnectionString;
        }
        else
        {
            dataDirectory = Path.Combine(Path.GetTempPath(), "wallet-bench-" + Environment.ProcessId);
            embedded = await EmbeddedPostgres.StartAsync(
                new EmbeddedPostgresOptions { DataDirectory = dataDirectory, Fsync = options.Fsync, Database = "postgres" },
                NullLogger.Instance, CancellationToken.None);
            admin = embedded.ConnectionStringFor("postgres");
        }

        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            foreach (var database in (string[])["bench_wallet", "bench_baseline"])
            {
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
                await create.ExecuteNonQueryAsync();
            }

            await using var settings = new NpgsqlCommand("SELECT current_setting('fsync'), current_setting('synchronous_commit')", connection);
            await using var reader = await settings.ExecuteReaderAsync();
            await reader.ReadAsync();
            Console.WriteLine($"PostgreSQL: fsync={reader.GetString(0)}, synchronous_commit={reader.GetString(1)}");
        }

        string For(string database, int pool) =>
            new NpgsqlConnectionStringBuilder(admin) { Database = database, MaxPoolSize = pool }.ConnectionString + ";" + ClientSettings;
        return new BenchDatabases(embedded, dataDirectory, For("bench_wallet", LedgerPoolSize), For("bench_baseline", options.Concurrency + 8));
    }

    /// <summary>
    /// Lets the server catch up on the upkeep that the writes before left it, so that a run pays for
    /// its own: both databases vacuumed and analyzed (as pgbench does before a run), then a
    /// checkpoint. Without it, the runs late in the full bench shared the two cores with the
    /// autovacuum and checkpoints owed for about a million entries written before them on each side
    /// (authorizations, the last workload: 0.49x the baseline in such a run, 0.83x in the next run
    /// that settled first, 0.89x run alone). Returns how long it took.
    /// </summary>
    public async Task<TimeSpan> SettleAsync()
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var database in (string[])[Wallet, Baseline])
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var vacuum = new NpgsqlCommand("VACUUM (ANALYZE)", connection) { CommandTimeout = 0 };
            await vacuum.ExecuteNonQueryAsync();
        }

        await using (var connection = new NpgsqlConnection(Wallet))
        {
            await connection.OpenAsync();
            await using var checkpoint = new NpgsqlCommand("CHECKPOINT", connection) { CommandTimeout = 0 };
            await checkpoint.ExecuteNonQueryAsync();
        }

        return Stopwatch.GetElapsedTime(started);
    }

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
        }

        if (_dataDirectory is not null && Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}
