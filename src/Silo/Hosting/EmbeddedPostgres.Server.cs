using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Wallet.Silo.Hosting;

// The data folder and its postmaster: made, started, reused after a crash, and checked.
public sealed partial class EmbeddedPostgres
{
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
}
