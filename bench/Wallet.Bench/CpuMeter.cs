using System.Globalization;
using Npgsql;

namespace Wallet.Bench;

/// <summary>CPU time spent between two readings: the bench's process, and PostgreSQL's backends when they were read.</summary>
public readonly record struct CpuSpent(TimeSpan Process, TimeSpan? Postgres)
{
    public TimeSpan Total => Process + (Postgres ?? TimeSpan.Zero);
}

/// <summary>CPU time used so far: the bench's process, and each PostgreSQL backend's in clock ticks by process id.</summary>
public sealed record CpuReading(TimeSpan Process, IReadOnlyDictionary<int, long>? Backends)
{
    // /proc reports times in USER_HZ, 100 per second on Linux whatever the kernel's own tick.
    private const double ClockTicksPerSecond = 100;

    /// <summary>
    /// What was spent since <paramref name="before"/>. A backend that started since counts whole; one
    /// that ended since is lost, which the pools' long-lived connections make rare.
    /// </summary>
    public CpuSpent Since(CpuReading before)
    {
        TimeSpan? postgres = null;
        if (Backends is not null && before.Backends is not null)
        {
            long ticks = 0;
            foreach (var (pid, now) in Backends)
            {
                ticks += now - before.Backends.GetValueOrDefault(pid);
            }

            postgres = TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
        }

        return new CpuSpent(Process - before.Process, postgres);
    }
}

/// <summary>
/// Reads CPU time: the bench's own (silo, load and anything else it runs) and that of the PostgreSQL
/// backends answering queries, from /proc, when the server runs on this machine. Throughput moves
/// with whatever else shares the cores; CPU time per operation moves far less, so it shows a small
/// cost that throughput's noise would hide. PostgreSQL's background processes (checkpointer,
/// writers, autovacuum) are left out: they work in lumps that follow the writes of minutes before,
/// and reading the dashboard causes none of their work.
/// </summary>
public sealed class CpuMeter
{
    private static readonly string[] BackgroundProcesses =
    [
        "checkpointer", "background writer", "walwriter", "autovacuum", "logical replication", "archiver", "stats collector",
        "walsender", "walreceiver", "startup",
    ];

    private readonly int? _postmaster;

    private CpuMeter(int? postmaster) => _postmaster = postmaster;

    public bool ReadsPostgres => _postmaster is not null;

    /// <summary>Finds the server's postmaster from its data directory's postmaster.pid; without it, only the process is read.</summary>
    public static async Task<CpuMeter> StartAsync(string connectionString)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new CpuMeter(null);
        }

        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SHOW data_directory", connection);
            var directory = (string)(await command.ExecuteScalarAsync())!;
            var pid = int.Parse(File.ReadLines(Path.Combine(directory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
            return new CpuMeter(File.Exists($"/proc/{pid}/stat") ? pid : null);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or NpgsqlException)
        {
            // A server elsewhere, or one this process may not look into.
            return new CpuMeter(null);
        }
    }

    /// <summary>
    /// The role of a PostgreSQL background process from its command line ("postgres: checkpointer"),
    /// or null for a backend answering queries ("postgres: &lt;user&gt; &lt;database&gt; ...") or a process not yet titled.
    /// </summary>
    internal static string? BackgroundRole(string commandLine)
    {
        const string Prefix = "postgres: ";
        return commandLine.StartsWith(Prefix, StringComparison.Ordinal)
            ? BackgroundProcesses.FirstOrDefault(role => commandLine.AsSpan(Prefix.Length).StartsWith(role, StringComparison.Ordinal))
            : null;
    }

    public CpuReading Read() => new(Environment.CpuUsage.TotalTime, _postmaster is { } postmaster ? Backends(postmaster) : null);

    // Each of the postmaster's children that answers queries, with its user and system time.
    private static Dictionary<int, long> Backends(int postmaster)
    {
        var backends = new Dictionary<int, long>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            // The postmaster's children, with their user and system time.
            if (CoreUse.Stat(directory) is not { } stat || stat.Parent != postmaster)
            {
                continue;
            }

            try
            {
                if (BackgroundRole(File.ReadAllText(Path.Combine(directory, "cmdline"))) is null)
                {
                    backends[pid] = stat.Ticks;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Gone since the listing.
            }
        }

        return backends;
    }
}
