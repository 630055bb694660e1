using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Wallet.Silo.Hosting;

// Where the PostgreSQL binaries are, how missing packages are installed, and how a command runs.
public sealed partial class EmbeddedPostgres
{
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

    private static string Tail(string text, int lines)
    {
        var all = text.TrimEnd().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

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
}
