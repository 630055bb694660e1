using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wallet.Silo.Hosting;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL server for the whole test process, started on first use in a fresh
/// <c>/tmp/wallet-pg-&lt;pid&gt;-&lt;random&gt;</c> folder with fsync off, reachable only through its unix
/// socket. It is stopped and its folder deleted when the process exits. Tests isolate themselves by
/// taking a fresh database each: <see cref="CreateDatabaseAsync"/>. A watchdog process stops the server
/// even when the test host is killed; folders left by earlier runs are swept on start.
/// </summary>
public static class PostgresServer
{
    private const string TempRoot = "/tmp";
    private const string FolderPrefix = "wallet-pg-";

    private static readonly Lazy<Task<EmbeddedPostgres>> Server = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int s_databaseCounter;

    /// <summary>The shared server (started on first call; a failed start fails every caller).</summary>
    public static Task<EmbeddedPostgres> GetAsync() => Server.Value;

    /// <summary>
    /// Creates a new, empty database named <c>&lt;prefix&gt;_&lt;n&gt;</c> and returns its connection string
    /// (the <see cref="EmbeddedPostgres.ConnectionStringFor"/> form, with idle pooled connections closed
    /// after a few seconds so that many test databases do not exhaust <c>max_connections</c>).
    /// </summary>
    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var server = await Server.Value;
        var name = $"{Sanitize(prefix)}_{Interlocked.Increment(ref s_databaseCounter).ToString(CultureInfo.InvariantCulture)}";
        await server.CreateDatabaseAsync(name, CancellationToken.None);
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionStringFor(name))
        {
            ConnectionIdleLifetime = 15,
            ConnectionPruningInterval = 5,
        };
        return builder.ConnectionString;
    }

    private static async Task<EmbeddedPostgres> StartAsync()
    {
        // A short path: the unix socket path (<folder>/run/.s.PGSQL.5432) must stay under 108 bytes.
        var folder = Path.Combine(
            TempRoot,
            $"{FolderPrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Random.Shared.Next(0x10000, 0xFFFFF).ToString("x", CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(folder);
        try
        {
            // Test classes run in parallel, each with its pools and test clusters (Orleans' providers
            // keep connections of their own): room for more than a silo's server needs.
            var options = new EmbeddedPostgresOptions { DataDirectory = folder, Fsync = false, MaxConnections = 500 };
            var server = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance, CancellationToken.None);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Shutdown(server, folder);
            Watchdog.Start("wallet-pg-watchdog", folder, server.StopCommandLine());
            _ = Task.Run(RemoveLeftoversAsync);
            return server;
        }
        catch
        {
            TryDelete(folder);
            throw;
        }
    }

    private static void Shutdown(EmbeddedPostgres server, string folder)
    {
        try
        {
            server.StopAsync().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Could not stop the test PostgreSQL in {folder}: {e.Message}");
            return; // keep the folder: a running server still uses it, and the next run cleans it up
        }

        TryDelete(folder);
    }

    /// <summary>
    /// Folders of earlier test processes that died without their ProcessExit handler (killed, crashed):
    /// stop a server still running there, then delete the folder.
    /// </summary>
    private static async Task RemoveLeftoversAsync()
    {
        try
        {
            foreach (var folder in Directory.EnumerateDirectories(TempRoot, FolderPrefix + "*"))
            {
                var owner = Path.GetFileName(folder)[FolderPrefix.Length..].Split('-')[0];
                if (!int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    || pid == Environment.ProcessId
                    || Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}"))
                {
                    continue;
                }

                if (File.Exists(Path.Combine(folder, "data", "postmaster.pid")))
                {
                    // Reuses the orphaned server (or clears its stale lock), then stops it.
                    var options = new EmbeddedPostgresOptions { DataDirectory = folder, Fsync = false, InstallIfMissing = false };
                    await using var orphan = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance, CancellationToken.None);
                    await orphan.StopAsync();
                }

                TryDelete(folder);
            }
        }
        catch (Exception)
        {
            // Best effort: a leftover folder wastes disk, nothing more.
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Sanitize(string prefix)
    {
        var name = new StringBuilder(prefix.Length);
        foreach (var c in prefix.ToLowerInvariant())
        {
            name.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? c : '_');
            if (name.Length == 40)
            {
                break;
            }
        }

        return name.Length == 0 || char.IsAsciiDigit(name[0]) ? "db_" + name : name.ToString();
    }
}
