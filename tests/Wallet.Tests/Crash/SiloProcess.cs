using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Wallet.Tests.Infrastructure;

namespace Wallet.Tests.Crash;

/// <summary>
/// The real <c>Wallet.Silo</c> as a separate OS process (<c>dotnet Wallet.Silo.dll --urls ...</c>), so
/// that a test can kill it the way a machine or an OOM killer would: SIGKILL, no shutdown hooks.
/// Keeps the tail of its stdout and stderr for diagnostics. <see cref="StartApi"/> runs the API
/// process (<c>Wallet.Api.dll</c>, a cluster client) the same way.
/// </summary>
internal sealed class SiloProcess : IDisposable
{
    private const int LogLinesMax = 400;
    private const int ReadyTimeoutSeconds = 90;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly Lock _logFileGate = new();
    private StreamWriter? _logFile;

    private SiloProcess(Process process, Uri address, string name, string? logFile)
    {
        _process = process;
        Address = address;
        Name = name;
        if (logFile is not null)
        {
            _logFile = new StreamWriter(logFile, append: true) { AutoFlush = true };
        }
    }

    public Uri Address { get; }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the silo on a free loopback port over <paramref name="connectionString"/>, with <paramref name="environment"/> added.</summary>
    public static SiloProcess Start(string name, string connectionString, string apiKey, IReadOnlyDictionary<string, string>? environment = null) =>
        Start(name, connectionString, apiKey, FreePort(), environment);

    /// <summary>
    /// Starts the silo on loopback port <paramref name="port"/>, so that a restart can answer where the
    /// first start did; with <paramref name="logFile"/>, every line it writes is also appended there.
    /// </summary>
    public static SiloProcess Start(
        string name, string connectionString, string apiKey, int port, IReadOnlyDictionary<string, string>? environment, string? logFile = null)
    {
        // Orleans' ports of its own unless the test chose them (a restart on the same endpoint).
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Bootstrap__ApiKey"] = apiKey,
            ["Cluster__SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Cluster__GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (variable, value) in environment ?? new Dictionary<string, string>())
        {
            variables[variable] = value;
        }

        return Launch("Wallet.Silo.dll", "src/Silo", name, connectionString, port, variables, logFile);
    }

    /// <summary>Starts the API process (no grains; it finds the silos' gateways in the membership table of <paramref name="connectionString"/>).</summary>
    public static SiloProcess StartApi(
        string name, string connectionString, int port, IReadOnlyDictionary<string, string> environment, string? logFile = null) =>
        Launch("Wallet.Api.dll", "src/Api", name, connectionString, port, environment, logFile);

    /// <summary>A loopback TCP port nobody listens on now.</summary>
    public static int FreePort() => FreePorts.Next();

    private static SiloProcess Launch(
        string assembly, string project, string name, string connectionString, int port, IReadOnlyDictionary<string, string> environment, string? logFile)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assembly);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{assembly} is not next to the test assembly; does the test project still reference {project}?", path);
        }

        var address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var startInfo = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        startInfo.ArgumentList.Add(path);
        startInfo.ArgumentList.Add("--urls");
        startInfo.ArgumentList.Add(address.ToString().TrimEnd('/'));
        foreach (var inherited in new[] { "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "DOTNET_ENVIRONMENT" })
        {
            startInfo.Environment.Remove(inherited);
        }

        startInfo.Environment["ConnectionStrings__Wallet"] = connectionString;
        startInfo.Environment["Cards__NumberHashKey"] = WalletApiFactory.CardNumberHashKey;
        startInfo.Environment["Auth__SigningKey"] = WalletApiFactory.SigningKey;
        startInfo.Environment["Auth__MfaKey"] = WalletApiFactory.MfaKey;
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        startInfo.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        foreach (var (variable, value) in environment)
        {
            startInfo.Environment[variable] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var instance = new SiloProcess(process, address, name, logFile);
        process.OutputDataReceived += (_, e) => instance.Record("out", e.Data);
        process.ErrorDataReceived += (_, e) => instance.Record("err", e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {startInfo.FileName} {path}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        instance.Record("test", $"started pid {process.Id.ToString(CultureInfo.InvariantCulture)} on {address}");
        return instance;
    }

    /// <summary>An HTTP client of this silo, authenticated with <paramref name="apiKey"/>, with fresh connections.</summary>
    public HttpClient CreateClient(string apiKey)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = Address,
            Timeout = TimeSpan.FromSeconds(60),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200; fails early when the process dies.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(ReadyTimeoutSeconds))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode.ToString(CultureInfo.InvariantCulture)} before it was ready.{Environment.NewLine}{Tail()}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Record("test", $"ready after {deadline.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)} ms");
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening but slow to answer while it starts.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{Name} was not ready within {ReadyTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s.{Environment.NewLine}{Tail()}");
    }

    /// <summary>SIGKILL on Linux: the process gets no chance to flush, drain or shut down.</summary>
    /// <remarks>
    /// The silo is one process (the dotnet host runs the app in-process), so this signals the pid
    /// alone: <c>Kill(entireProcessTree: true)</c> first walks every process of the machine, which takes
    /// tens of milliseconds, long enough for the silo to answer everything in flight.
    /// </remarks>
    public void Kill()
    {
        _process.Kill();
        Record("test", "SIGKILL sent");
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
    }

    /// <summary>The last lines the silo wrote (stdout and stderr interleaved as they arrived).</summary>
    public string Tail() =>
        $"----- {Name} (last {LogLinesMax.ToString(CultureInfo.InvariantCulture)} lines) -----{Environment.NewLine}{string.Join(Environment.NewLine, _log)}";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
        lock (_logFileGate)
        {
            _logFile?.Dispose();
            _logFile = null;
        }
    }

    private void Record(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue($"[{stream}] {line}");
        if (_logFile is not null)
        {
            lock (_logFileGate)
            {
                _logFile?.WriteLine($"[{stream}] {line}");
            }
        }

        while (_log.Count > LogLinesMax && _log.TryDequeue(out _))
        {
        }
    }

    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }
}
