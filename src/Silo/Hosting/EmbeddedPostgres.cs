using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Wallet.Silo.Hosting;

/// <summary>
/// A private PostgreSQL server run from the machine's PostgreSQL binaries, in a folder of its own,
/// reachable only through a unix socket in that folder (no TCP port).
/// </summary>
/// <remarks>
/// Binaries: <c>$WALLET_PG_BIN</c>, else the highest <c>/usr/lib/postgresql/&lt;ver&gt;/bin</c> (the
/// version of an existing cluster wins), else <c>PATH</c>. As root, <c>initdb</c> and the server run as
/// the <c>postgres</c> OS user, which owns the folders. A server left running on the folder by an
/// earlier process (for example one that was SIGKILLed) is reused; a stale <c>postmaster.pid</c> is
/// removed. The server is a daemon: it outlives this process unless <see cref="StopAsync"/> runs.
/// </remarks>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    /// <summary>The port number only names the socket file (<c>.s.PGSQL.5432</c>); no TCP port is opened.</summary>
    private const int Port = 5432;
    private const string SuperUser = "postgres";
    private const string PostgresOsUser = "postgres";
    private const int StartTimeoutSeconds = 60;
    private const long MaxLogBytes = 16 * 1024 * 1024;

    /// <summary>sizeof(sockaddr_un.sun_path) on Linux, including the terminating NUL.</summary>
    private const int MaxSocketPathBytes = 108;

    private readonly string _binDirectory;
    private readonly bool _runAsPostgresUser;
    private readonly string _root;
    private readonly string _data;
    private readonly string _run;
    private readonly string _logFile;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, byte> _connectionStrings = new(StringComparer.Ordinal);
    private Task? _stopTask;

    private EmbeddedPostgres(string binDirectory, bool runAsPostgresUser, string root, string database, ILogger logger)
    {
        _binDirectory = binDirectory;
        _runAsPostgresUser = runAsPostgresUser;
        _root = root;
        _data = Path.Combine(root, "data");
        _run = Path.Combine(root, "run");
        _logFile = Path.Combine(root, "postgres.log");
        _logger = logger;
        ConnectionString = ConnectionStringFor(database);
    }

    /// <summary>
    /// Npgsql connection string for the configured database:
    /// <c>Host=&lt;run dir&gt;;Port=5432;Username=postgres;Database=&lt;db&gt;;Pooling=true;Maximum Pool Size=100</c>.
    /// </summary>
    public string ConnectionString { get; }

    /// <summary>False when a server was already running on the data folder and this instance reused it.</summary>
    public bool StartedByUs { get; private set; }

    /// <summary>Starts (or reuses) the server in <see cref="EmbeddedPostgresOptions.DataDirectory"/> and creates the database.</summary>
    public static async Task<EmbeddedPostgres> StartAsync(
        EmbeddedPostgresOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(
                "The embedded PostgreSQL needs Linux or macOS. Set ConnectionStrings__Wallet to use an existing server.");
        }

        ValidateDatabaseName(options.Database);
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new ArgumentException("EmbeddedPostgresOptions.DataDirectory is empty.", nameof(options));
        }

        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory));
        ValidateSocketDirectory(Path.Combine(root, "run"));
        var asRoot = Environment.IsPrivilegedProcess;

        var binDirectory = FindBinDirectory(ReadClusterVersion(Path.Combine(root, "data")));
        if (binDirectory is null)
        {
            var whyNotInstalled = !options.InstallIfMissing ? "InstallIfMissing is off"
                : !asRoot ? "this process does not run as root"
                : !File.Exists("/usr/bin/apt-get") ? "apt-get is not available"
                : null;
            if (whyNotInstalled is not null)
            {
                throw NotFound($"PostgreSQL was not installed automatically because {whyNotInstalled}.");
            }

            await InstallAsync(logger, ["postgresql"], cancellationToken);
            binDirectory = FindBinDirectory(null)
                ?? throw NotFound("apt-get install postgresql succeeded, yet the binaries are still missing.");
        }

        var instance = new EmbeddedPostgres(binDirectory, asRoot, root, options.Database, logger);
        try
        {
            await instance.StartCoreAsync(options, cancellationToken);
            await instance.CreateDatabaseAsync(options.Database, cancellationToken);
            return instance;
        }
        catch when (instance.StartedByUs)
        {
            try
            {
                await instance.StopAsync();
            }
            catch (Exception stopError)
            {
                LogStopFailed(logger, stopError, root);
            }

            throw;
        }
    }

    /// <summary>The connection string for another database of this server (same form as <see cref="ConnectionString"/>).</summary>
    public string ConnectionStringFor(string database)
    {
        var connectionString = ConnectionStringFor(_run, database);
        _connectionStrings.TryAdd(connectionString, 0);
        return connectionString;
    }

    /// <summary>
    /// The connection string a server started with <paramref name="options"/> answers at, known
    /// before it starts (the socket lives in the data folder), so that whatever is configured from
    /// it can be configured before the database is up.
    /// </summary>
    public static string ConnectionStringOf(EmbeddedPostgresOptions options) =>
        ConnectionStringFor(Path.Combine(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory)), "run"), options.Database);

    private static string ConnectionStringFor(string run, string database)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        return new NpgsqlConnectionStringBuilder
        {
            Host = run,
            Port = Port,
            Username = SuperUser,
            Database = database,
            Pooling = true,
            MaxPoolSize = 100,
        }.ConnectionString;
    }

    /// <summary>Creates <paramref name="database"/> unless it exists. Safe to call concurrently.</summary>
    public async Task CreateDatabaseAsync(string database, CancellationToken ct)
    {
        ValidateDatabaseName(database);
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(ct);

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = database });
            if (await exists.ExecuteScalarAsync(ct) is not null)
            {
                return;
            }
        }

        try
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {QuoteIdentifier(database)}", connection);
            await create.ExecuteNonQueryAsync(ct);
            LogDatabaseCreated(_logger, database);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Created concurrently by someone else: that is what we wanted.
        }
    }

    /// <summary>
    /// <c>pg_ctl stop -m fast</c>: disconnects clients, then shuts down cleanly. Idempotent; it also stops
    /// a server this instance reused (<see cref="StartedByUs"/> false).
    /// </summary>
    public Task StopAsync()
    {
        lock (_gate)
        {
            return _stopTask ??= StopCoreAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception e)
        {
            LogStopFailed(_logger, e, _root);
        }
    }

    private async Task StartCoreAsync(EmbeddedPostgresOptions options, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_run);

        // Serialises processes that start on the same folder (two silos launched at once).
        await using var startLock = await AcquireStartLockAsync(ct);

        await PrepareDirectoriesAsync(ct);
        await InitDbIfNeededAsync(options.Fsync, ct);

        if (await TryReuseRunningServerAsync(ct))
        {
            StartedByUs = false;
            LogReused(_logger, _root, stopwatch.ElapsedMilliseconds);
            await WarnIfFsyncDiffersAsync(options.Fsync, ct);
            return;
        }

        await StartServerAsync(options.Fsync, options.MaxConnections, ct);
        StartedByUs = true;
        LogStarted(_logger, _root, options.Fsync, stopwatch.ElapsedMilliseconds);
    }

    /// <summary>
    /// The command line that stops this server (<c>pg_ctl stop -m fast</c>, through runuser as root), for a
    /// watchdog process that must stop it after this process is gone.
    /// </summary>
    internal IReadOnlyList<string> StopCommandLine() => PostgresCommandLine(Tool("pg_ctl"), StopArguments());

    /// <summary><c>pg_ctl</c>'s arguments for a fast stop that waits for the server to be gone.</summary>
    private string[] StopArguments() => ["-D", _data, "-m", "fast", "-w", "-t", StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture), "stop"];

    private async Task StopCoreAsync()
    {
        foreach (var connectionString in _connectionStrings.Keys)
        {
            using var connection = new NpgsqlConnection(connectionString);
            NpgsqlConnection.ClearPool(connection);
        }

        var pidFile = Path.Combine(_data, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            LogAlreadyStopped(_logger, _root);
            return;
        }

        LogStopping(_logger, _root);
        var result = await RunAsPostgresAsync(
            Tool("pg_ctl"), StopArguments(), _root, TimeSpan.FromSeconds(StartTimeoutSeconds + 30), CancellationToken.None);
        if (result.ExitCode != 0 && File.Exists(pidFile))
        {
            throw new InvalidOperationException(
                $"pg_ctl stop failed with exit code {result.ExitCode} for {_data}.{Environment.NewLine}{result.Output}{LogTail()}");
        }

        LogStopped(_logger, _root);
    }

    private static void ValidateDatabaseName(string database)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        if (Encoding.UTF8.GetByteCount(database) > 63 || database.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{database}' is not a valid PostgreSQL database name (at most 63 bytes, no NUL).", nameof(database));
        }
    }

    private static void ValidateSocketDirectory(string run)
    {
        if (run.IndexOfAny(['\'', '"', '\\', ',', '\n', '\r', '\0']) >= 0)
        {
            throw new ArgumentException($"The embedded PostgreSQL folder '{run}' contains a quote, comma or backslash; choose another DataDirectory.");
        }

        var socket = Path.Combine(run, $".s.PGSQL.{Port}");
        if (Encoding.UTF8.GetByteCount(socket) >= MaxSocketPathBytes)
        {
            throw new ArgumentException(
                $"The unix socket path '{socket}' is longer than {MaxSocketPathBytes - 1} bytes, the limit of unix sockets; choose a shorter DataDirectory.");
        }
    }

    private static string QuoteIdentifier(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [LoggerMessage(Level = LogLevel.Information, Message = "Creating a PostgreSQL cluster in {DataDirectory} (initdb)")]
    private static partial void LogInitDb(ILogger logger, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing stale PostgreSQL lock file {PidFile} (pid {Pid} is not a running postmaster of this folder)")]
    private static partial void LogStalePidFile(ILogger logger, int pid, string pidFile);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Starting PostgreSQL in {Folder} with the binaries in {BinDirectory}")]
    private static partial void LogStarting(ILogger logger, string folder, string binDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL started in {Folder} (fsync {Fsync}) in {ElapsedMs} ms")]
    private static partial void LogStarted(ILogger logger, string folder, bool fsync, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL was already running in {Folder}; reusing it ({ElapsedMs} ms)")]
    private static partial void LogReused(ILogger logger, string folder, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The reused PostgreSQL in {Folder} runs with fsync {Running}, not {Requested}; restart it to change that")]
    private static partial void LogReusedWithOtherFsync(ILogger logger, string folder, bool running, bool requested);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created database {Database}")]
    private static partial void LogDatabaseCreated(ILogger logger, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping embedded PostgreSQL in {Folder}")]
    private static partial void LogStopping(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL in {Folder} stopped")]
    private static partial void LogStopped(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Embedded PostgreSQL in {Folder} was not running")]
    private static partial void LogAlreadyStopped(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not stop embedded PostgreSQL in {Folder}")]
    private static partial void LogStopFailed(ILogger logger, Exception exception, string folder);
}
