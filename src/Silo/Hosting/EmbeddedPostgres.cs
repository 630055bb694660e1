using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Wallet.Silo.Hosting;

/// <summary>Where and how <see cref="EmbeddedPostgres"/> keeps its private PostgreSQL cluster.</summary>
public sealed class EmbeddedPostgresOptions
{
    /// <summary>
    /// Folder of the instance: <c>data/</c> holds the cluster, <c>run/</c> the unix socket,
    /// <c>postgres.log</c> the server log. Default: <see cref="DefaultDataDirectory"/>.
    /// </summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory();

    /// <summary>
    /// When false, the server runs with <c>fsync</c>, <c>synchronous_commit</c> and
    /// <c>full_page_writes</c> off: fast, and a machine crash may lose or corrupt data. For tests only.
    /// </summary>
    public bool Fsync { get; set; } = true;

    /// <summary>The server's <c>max_connections</c>: every silo's pools and Orleans' providers share it.</summary>
    public int MaxConnections { get; set; } = 200;

    /// <summary>Run <c>apt-get install -y postgresql</c> when no binaries are found and the process runs as root.</summary>
    public bool InstallIfMissing { get; set; } = true;

    /// <summary>The database <see cref="EmbeddedPostgres.ConnectionString"/> points at; created at start when absent.</summary>
    public string Database { get; set; } = "wallet";

    /// <summary>
    /// <c>/var/lib/wallet/postgres</c> for root; otherwise <c>$XDG_DATA_HOME/wallet/postgres</c>,
    /// or <c>~/.local/share/wallet/postgres</c> when XDG_DATA_HOME is unset.
    /// </summary>
    public static string DefaultDataDirectory()
    {
        if (Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows())
        {
            return "/var/lib/wallet/postgres";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "wallet", "postgres");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "share", "wallet", "postgres");
    }
}

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

    private async Task<FileStream> AcquireStartLockAsync(CancellationToken ct)
    {
        var path = Path.Combine(_root, "embedded.lock");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromSeconds(2 * StartTimeoutSeconds))
            {
                await Task.Delay(200, ct);
            }
        }
    }

    private async Task PrepareDirectoriesAsync(CancellationToken ct)
    {
        SetOwnerOnlyMode(_root);
        SetOwnerOnlyMode(_run);
        if (!_runAsPostgresUser)
        {
            return;
        }

        var chown = await RunAsync("chown", [$"{PostgresOsUser}:", _root, _run], null, TimeSpan.FromSeconds(30), ct);
        if (chown.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Could not give {_root} to the '{PostgresOsUser}' OS user (as root, PostgreSQL runs as that user; " +
                $"installing the postgresql package creates it): chown exited with {chown.ExitCode}.{Environment.NewLine}{chown.Output}");
        }

        var reach = await RunAsPostgresAsync("test", ["-w", _root, "-a", "-x", _root], null, TimeSpan.FromSeconds(30), ct);
        if (reach.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"The '{PostgresOsUser}' OS user cannot reach {_root}: every parent folder must be traversable by it " +
                $"(chmod o+x), so choose a DataDirectory outside private folders such as /root.{Environment.NewLine}{reach.Output}");
        }
    }

    private async Task InitDbIfNeededAsync(bool fsync, CancellationToken ct)
    {
        if (File.Exists(Path.Combine(_data, "PG_VERSION")))
        {
            return;
        }

        if (Directory.Exists(_data))
        {
            if (Directory.EnumerateFileSystemEntries(_data).Any())
            {
                throw new InvalidOperationException(
                    $"{_data} exists but holds no PostgreSQL cluster (no PG_VERSION file). Move it away or choose another DataDirectory.");
            }

            Directory.Delete(_data);
        }

        // initdb into a side folder, then rename: an interrupted initdb never leaves a half-made cluster at data/.
        var staging = Path.Combine(_root, "data.initdb");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        LogInitDb(_logger, _data);
        List<string> arguments = ["-D", staging, "-U", SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C"];
        if (!fsync)
        {
            arguments.Add("--no-sync");
        }

        var result = await RunAsPostgresAsync(Tool("initdb"), arguments, _root, TimeSpan.FromMinutes(5), ct);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"initdb failed with exit code {result.ExitCode} in {_root}.{Environment.NewLine}{result.Output}");
        }

        Directory.Move(staging, _data);
    }

    /// <summary>
    /// True when a postmaster of this data folder is running and accepts connections on our socket.
    /// Removes a stale <c>postmaster.pid</c> (and socket lock) whose process is gone.
    /// </summary>
    private async Task<bool> TryReuseRunningServerAsync(CancellationToken ct)
    {
        var pidFile = Path.Combine(_data, "postmaster.pid");
        var deadline = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(StartTimeoutSeconds);
        while (true)
        {
            var lines = ReadPidFile(pidFile);
            if (lines is null)
            {
                return false;
            }

            if (lines.Length == 0 || !int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                // Being written by a postmaster that is starting right now, or garbage: give it a moment.
                if (deadline.Elapsed > TimeSpan.FromSeconds(5))
                {
                    RemoveStaleLockFiles(pidFile, 0);
                    return false;
                }

                await Task.Delay(100, ct);
                continue;
            }

            if (!IsPostmasterOf(pid, _data))
            {
                RemoveStaleLockFiles(pidFile, pid);
                return false;
            }

            // postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
            var port = lines.Length > 3 ? lines[3].Trim() : "";
            var socketDirectory = lines.Length > 4 ? lines[4].Trim() : "";
            var status = lines.Length > 7 ? lines[7].Trim() : "";
            if (port.Length > 0 && socketDirectory.Length > 0
                && (port != Port.ToString(CultureInfo.InvariantCulture) || socketDirectory != _run))
            {
                throw new InvalidOperationException(
                    $"A PostgreSQL server (pid {pid}) already runs on {_data} but listens on port {port} in {socketDirectory}, " +
                    $"not on port {Port} in {_run}. Stop it (pg_ctl -D {_data} stop) and start again.");
            }

            if (status == "ready" && await CanConnectAsync(ct))
            {
                return true;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException(
                    $"A PostgreSQL server (pid {pid}, status '{status}') already runs on {_data} but did not accept connections " +
                    $"within {StartTimeoutSeconds}s.{LogTail()}");
            }

            // "starting" (e.g. crash recovery) or "stopping": wait; a stopped server removes its pid file.
            await Task.Delay(250, ct);
        }
    }

    private void RemoveStaleLockFiles(string pidFile, int pid)
    {
        LogStalePidFile(_logger, pid, pidFile);
        File.Delete(pidFile);
        // No postmaster of ours is alive, so nothing else uses our private socket folder.
        File.Delete(Path.Combine(_run, $".s.PGSQL.{Port}.lock"));
        File.Delete(Path.Combine(_run, $".s.PGSQL.{Port}"));
    }

    private async Task StartServerAsync(bool fsync, int maxConnections, CancellationToken ct)
    {
        RotateLogIfLarge();
        var serverOptions = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"-p {Port}")
            .Append(" -c listen_addresses=''")
            .Append(CultureInfo.InvariantCulture, $" -c unix_socket_directories='{_run}'")
            .Append(" -c unix_socket_permissions=0700")
            .Append(CultureInfo.InvariantCulture, $" -c max_connections={maxConnections}")
            .Append(" -c shared_buffers=256MB")
            // Short OLTP statements only: JIT compiling one whose estimated cost crossed the
            // threshold took 0.1-1.5 s for work of under a millisecond (the ledger's writes at commit).
            .Append(" -c jit=off");
        if (!fsync)
        {
            serverOptions.Append(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }

        string[] arguments =
        [
            "-D", _data, "-l", _logFile, "-w", "-t", StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            "-o", serverOptions.ToString(), "start",
        ];

        for (var attempt = 1; ; attempt++)
        {
            LogStarting(_logger, _root, _binDirectory);
            var result = await RunAsPostgresAsync(
                Tool("pg_ctl"), arguments, _root, TimeSpan.FromSeconds(StartTimeoutSeconds + 30), ct);
            if (result.ExitCode == 0)
            {
                break;
            }

            var tail = LogTail();
            // Backends of a SIGKILLed postmaster hold its shared memory for a moment before they exit.
            if (attempt < 10 && tail.Contains("pre-existing shared memory block", StringComparison.Ordinal))
            {
                await Task.Delay(1000, ct);
                continue;
            }

            throw new InvalidOperationException(
                $"pg_ctl start failed with exit code {result.ExitCode} for {_data}.{Environment.NewLine}{result.Output}{tail}");
        }

        var deadline = Stopwatch.StartNew();
        while (!await CanConnectAsync(ct))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(StartTimeoutSeconds))
            {
                throw new InvalidOperationException(
                    $"PostgreSQL started on {_data} but does not accept connections on {_run}.{LogTail()}");
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// The command line that stops this server (<c>pg_ctl stop -m fast</c>, through runuser as root), for a
    /// watchdog process that must stop it after this process is gone.
    /// </summary>
    internal IReadOnlyList<string> StopCommandLine() =>
        PostgresCommandLine(Tool("pg_ctl"), ["-D", _data, "-m", "fast", "-w", "-t", StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture), "stop"]);

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
            Tool("pg_ctl"), ["-D", _data, "-m", "fast", "-w", "-t", StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture), "stop"],
            _root, TimeSpan.FromSeconds(StartTimeoutSeconds + 30), CancellationToken.None);
        if (result.ExitCode != 0 && File.Exists(pidFile))
        {
            throw new InvalidOperationException(
                $"pg_ctl stop failed with exit code {result.ExitCode} for {_data}.{Environment.NewLine}{result.Output}{LogTail()}");
        }

        LogStopped(_logger, _root);
    }

    /// <summary>A reused server keeps the settings it was started with.</summary>
    private async Task WarnIfFsyncDiffersAsync(bool fsync, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT current_setting('fsync') = 'on'", connection);
        if (await command.ExecuteScalarAsync(ct) is bool running && running != fsync)
        {
            LogReusedWithOtherFsync(_logger, _root, running, fsync);
        }
    }

    private async Task<bool> CanConnectAsync(CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = _run,
            Port = Port,
            Username = SuperUser,
            Database = "postgres",
            Pooling = false,
            Timeout = 5,
        };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(ct);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private string Tool(string name) => Path.Combine(_binDirectory, name);

    private Task<ProcessResult> RunAsPostgresAsync(
        string fileName, IReadOnlyList<string> arguments, string? workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var commandLine = PostgresCommandLine(fileName, arguments);
        return RunAsync(commandLine[0], commandLine.Skip(1).ToList(), workingDirectory, timeout, ct);
    }

    /// <summary>As root, wraps the command in <c>runuser -u postgres --</c>.</summary>
    private List<string> PostgresCommandLine(string fileName, IReadOnlyList<string> arguments)
    {
        if (!_runAsPostgresUser)
        {
            return [fileName, .. arguments];
        }

        var runuser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists) ?? "runuser";
        return [runuser, "-u", PostgresOsUser, "--", fileName, .. arguments];
    }

    /// <summary>Installs Debian <paramref name="packages"/> with apt-get (running apt-get update once if the first try fails).</summary>
    internal static async Task InstallAsync(ILogger logger, IReadOnlyList<string> packages, CancellationToken ct)
    {
        var timeout = TimeSpan.FromMinutes(20);
        var names = string.Join(' ', packages);
        string[] install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", .. packages];
        LogInstalling(logger, $"apt-get install -y {names}");
        var result = await RunAsync("apt-get", install, null, timeout, ct, noninteractive: true);
        if (result.ExitCode != 0)
        {
            LogInstallRetrying(logger, names, result.ExitCode);
            var update = await RunAsync("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update", "-q"], null, timeout, ct, noninteractive: true);
            if (update.ExitCode != 0)
            {
                throw NotFound($"apt-get update failed with exit code {update.ExitCode}:{Environment.NewLine}{Tail(update.Output, 40)}");
            }

            result = await RunAsync("apt-get", install, null, timeout, ct, noninteractive: true);
            if (result.ExitCode != 0)
            {
                throw NotFound($"apt-get install {names} failed with exit code {result.ExitCode}:{Environment.NewLine}{Tail(result.Output, 40)}");
            }
        }

        LogInstalled(logger, names);
    }

    private static InvalidOperationException NotFound(string detail) => new(
        "No PostgreSQL binaries (initdb, pg_ctl, postgres) were found in $WALLET_PG_BIN, /usr/lib/postgresql/<version>/bin " +
        $"or on PATH. {detail} Install them with `apt-get install postgresql` (run as root), or point the silo at an existing " +
        "server with ConnectionStrings__Wallet=\"Host=...;Username=...;Password=...;Database=wallet\".");

    private static string? FindBinDirectory(string? clusterVersion)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("WALLET_PG_BIN");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return HasTools(fromEnvironment)
                ? Path.GetFullPath(fromEnvironment)
                : throw new InvalidOperationException(
                    $"WALLET_PG_BIN={fromEnvironment} does not contain the PostgreSQL binaries initdb, pg_ctl and postgres.");
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            var installed = Directory.EnumerateDirectories(debianRoot)
                .Select(d => (Name: Path.GetFileName(d), Bin: Path.Combine(d, "bin")))
                .Where(v => decimal.TryParse(v.Name, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out _) && HasTools(v.Bin))
                .OrderByDescending(v => decimal.Parse(v.Name, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture))
                .ToList();
            // An existing cluster only runs on its own major version: prefer it when it is installed.
            var match = installed.FirstOrDefault(v => v.Name == clusterVersion);
            if (match.Bin is not null)
            {
                return match.Bin;
            }

            if (installed.Count > 0)
            {
                return installed[0].Bin;
            }
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var onPath = path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(Path.IsPathRooted)
            .FirstOrDefault(HasTools);
        if (onPath is null)
        {
            return null;
        }

        // Prefer the real folder when PATH holds symlinks to the binaries (e.g. /usr/local/bin/initdb).
        var real = Path.GetDirectoryName(new FileInfo(Path.Combine(onPath, "initdb")).ResolveLinkTarget(returnFinalTarget: true)?.FullName);
        return real is not null && HasTools(real) ? real : onPath;
    }

    private static bool HasTools(string directory) =>
        IsFile(Path.Combine(directory, "initdb"))
        && IsFile(Path.Combine(directory, "pg_ctl"))
        && IsFile(Path.Combine(directory, "postgres"));

    /// <summary>File.Exists is true for a dangling symlink; this follows links to the final target.</summary>
    private static bool IsFile(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return false;
        }

        try
        {
            return file.LinkTarget is null || file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string? ReadClusterVersion(string data)
    {
        try
        {
            return File.ReadAllText(Path.Combine(data, "PG_VERSION")).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string[]? ReadPidFile(string pidFile)
    {
        try
        {
            using var stream = new FileStream(pidFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n');
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether <paramref name="pid"/> is a live postmaster serving <paramref name="data"/> (not a reused pid).</summary>
    private static bool IsPostmasterOf(int pid, string data)
    {
        if (pid <= 0)
        {
            return false;
        }

        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        if (!Directory.Exists("/proc/self"))
        {
            // No procfs (macOS): fall back to the process name.
            try
            {
                using var process = Process.GetProcessById(pid);
                return process.ProcessName.Contains("postgres", StringComparison.Ordinal)
                    || process.ProcessName.Contains("postmaster", StringComparison.Ordinal);
            }
            catch (ArgumentException)
            {
                return false;
            }
        }

        if (!Directory.Exists(proc))
        {
            return false;
        }

        try
        {
            // The postmaster's working directory is its data folder.
            if (new FileInfo(Path.Combine(proc, "cwd")).LinkTarget is { } cwd
                && Path.TrimEndingDirectorySeparator(cwd) == data)
            {
                return true;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        try
        {
            // pg_ctl starts it as: postgres -D <data> ...
            var arguments = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
            return arguments.Contains(data, StringComparer.Ordinal)
                && arguments.Length > 0
                && Path.GetFileName(arguments[0]).Contains("postgres", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void SetOwnerOnlyMode(string directory)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private void RotateLogIfLarge()
    {
        var log = new FileInfo(_logFile);
        if (log.Exists && log.Length > MaxLogBytes)
        {
            File.Move(_logFile, _logFile + ".1", overwrite: true);
        }
    }

    private string LogTail()
    {
        try
        {
            using var stream = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(Math.Max(0, stream.Length - 16 * 1024), SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            return $"{Environment.NewLine}Last lines of {_logFile}:{Environment.NewLine}{Tail(reader.ReadToEnd(), 30)}";
        }
        catch (IOException)
        {
            return $"{Environment.NewLine}(no server log at {_logFile})";
        }
    }

    private static string Tail(string text, int lines)
    {
        var all = text.TrimEnd().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
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

    private sealed record ProcessResult(int ExitCode, string Output);

    private static async Task<ProcessResult> RunAsync(
        string fileName,
        IReadOnlyList<string> arguments,
        string? workingDirectory,
        TimeSpan timeout,
        CancellationToken ct,
        bool noninteractive = false)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        // libpq/pg_ctl variables of the caller (PGDATA, PGPORT, PGHOST, ...) must not redirect our commands.
        foreach (var name in startInfo.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(name);
        }

        if (noninteractive)
        {
            startInfo.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        }
        else
        {
            startInfo.Environment["LC_ALL"] = "C";
        }

        var commandLine = string.Join(' ', arguments.Prepend(fileName));
        var output = new StringBuilder();
        var outputLock = new Lock();
        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"Could not run `{commandLine}`: {e.Message}", e);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            ct.ThrowIfCancellationRequested();
            lock (outputLock)
            {
                throw new TimeoutException($"`{commandLine}` did not finish within {timeout}.{Environment.NewLine}{output}");
            }
        }

        lock (outputLock)
        {
            return new ProcessResult(process.ExitCode, $"$ {commandLine}{Environment.NewLine}{output}");
        }

        void Append(string? line)
        {
            if (line is not null)
            {
                lock (outputLock)
                {
                    output.AppendLine(line);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Installing what is missing with `{Command}` (this can take a minute)")]
    private static partial void LogInstalling(ILogger logger, string command);

    [LoggerMessage(Level = LogLevel.Warning, Message = "apt-get install {Packages} failed with exit code {ExitCode}; running apt-get update and retrying")]
    private static partial void LogInstallRetrying(ILogger logger, string packages, int exitCode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Installed {Packages} with apt-get")]
    private static partial void LogInstalled(ILogger logger, string packages);

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
