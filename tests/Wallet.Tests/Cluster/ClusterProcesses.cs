using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Wallet.Client;
using Wallet.Silo.Hosting;
using Wallet.Tests.Crash;
using Wallet.Tests.Infrastructure;

namespace Wallet.Tests.Cluster;

/// <summary>
/// A whole deployment as real OS processes on loopback: a private PostgreSQL of its own (fsync on),
/// <see cref="SiloCount"/> Orleans silo processes and one API process that reaches them as an Orleans
/// cluster client (gateways from the membership table). Every silo keeps its HTTP, silo and gateway
/// ports for life, so a restart comes back where the killed process was, as a new generation of the
/// same endpoint, which retires the killed one in the membership table at once.
/// </summary>
/// <remarks>
/// The database is private because the tests stop and start it; the shared test server is never
/// touched. If the test host dies without disposing this, a watchdog shell started with the
/// database SIGKILLs every process this harness started, stops the database and deletes its folder.
/// </remarks>
internal sealed class ClusterProcesses : IAsyncDisposable
{
    public const int SiloCount = 3;

    // Orleans' SiloStatus.Active, as the membership table stores it.
    private const int ActiveStatus = 3;

    private const string TempRoot = "/tmp";
    private const string FolderPrefix = "wallet-cluster-";

    // Four processes share the server (max_connections 200 in EmbeddedPostgres): 40 each leaves room for the test's own reads.
    private const int ProcessPoolSizeMax = 40;

    private readonly string _folder;
    private readonly string? _logDirectory;
    private readonly EmbeddedPostgresOptions _databaseOptions;
    private readonly string _apiKey;
    private readonly SiloSlot[] _silos;
    private readonly int _apiPort;
    private readonly List<SiloProcess> _started = [];
    private readonly Lock _gate = new();
    private EmbeddedPostgres? _database;
    private SiloProcess? _api;

    private ClusterProcesses(string folder, string apiKey, string? logDirectory)
    {
        _folder = folder;
        _logDirectory = logDirectory;
        _apiKey = apiKey;
        _databaseOptions = new EmbeddedPostgresOptions { DataDirectory = folder, Fsync = true, InstallIfMissing = true };
        _silos = [.. Enumerable.Range(1, SiloCount).Select(i => new SiloSlot($"silo-{i.ToString(CultureInfo.InvariantCulture)}", SiloProcess.FreePort(), SiloProcess.FreePort(), SiloProcess.FreePort()))];
        _apiPort = SiloProcess.FreePort();
    }

    /// <summary>The database the silos and the API use (Npgsql form, over the unix socket).</summary>
    public string ConnectionString { get; private set; } = "";

    public IReadOnlyList<string> SiloNames => [.. _silos.Select(s => s.Name)];

    /// <summary>
    /// Creates the folder and starts PostgreSQL in it; no silo runs yet. With <paramref name="logDirectory"/>,
    /// the whole output of every process goes to a file there (<c>silo-1.2.log</c> is silo-1's second start).
    /// </summary>
    public static async Task<ClusterProcesses> CreateAsync(string apiKey, string? logDirectory = null)
    {
        // A short path: the unix socket path (<folder>/run/.s.PGSQL.5432) must stay under 108 bytes.
        var folder = Path.Combine(
            TempRoot,
            $"{FolderPrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Random.Shared.Next(0x10000, 0xFFFFF).ToString("x", CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(folder);
        var cluster = new ClusterProcesses(folder, apiKey, logDirectory);
        try
        {
            await cluster.StartDatabaseAsync();
            cluster.StartWatchdog();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>(Re)starts PostgreSQL on the same folder: same data, same socket, same connection string.</summary>
    public async Task StartDatabaseAsync()
    {
        _database = await EmbeddedPostgres.StartAsync(_databaseOptions, NullLogger.Instance, CancellationToken.None);
        ConnectionString = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { MaxPoolSize = ProcessPoolSizeMax }.ConnectionString;
    }

    /// <summary><c>pg_ctl stop -m fast</c>: every client connection is closed; committed data stays.</summary>
    public async Task StopDatabaseAsync()
    {
        if (_database is { } database)
        {
            _database = null;
            await database.StopAsync();
        }
    }

    /// <summary>Starts silo <paramref name="index"/> (0-based) and waits until its <c>/health/ready</c> answers 200.</summary>
    public async Task StartSiloAsync(int index)
    {
        var slot = _silos[index];
        if (slot.Process is { HasExited: false })
        {
            throw new InvalidOperationException($"{slot.Name} is running already.");
        }

        var generation = ++slot.Starts;
        var name = $"{slot.Name}.{generation.ToString(CultureInfo.InvariantCulture)}";
        var process = SiloProcess.Start(name, ConnectionString, _apiKey, slot.HttpPort, SiloEnvironment(slot), LogFile(name));
        Track(process);
        slot.Process = process;
        await process.WaitUntilReadyAsync();
    }

    /// <summary>SIGKILL: no shutdown, no leaving the membership table; peers find out by their failed probes.</summary>
    public void Kill(int index)
    {
        var process = _silos[index].Process ?? throw new InvalidOperationException($"{_silos[index].Name} was never started.");
        process.Kill();
    }

    /// <summary>Starts a killed silo again on its ports; it joins as a new generation and marks its earlier one dead.</summary>
    public async Task RestartSiloAsync(int index)
    {
        if (_silos[index].Process is { } previous)
        {
            await previous.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        await StartSiloAsync(index);
    }

    public int ProcessIdOf(int index) => _silos[index].Process?.ProcessId ?? 0;

    /// <summary>Starts the API process, which finds the silos' gateways in the membership table, and waits until it is ready.</summary>
    public async Task StartApiAsync()
    {
        _api = SiloProcess.StartApi("api", ConnectionString, _apiPort, new Dictionary<string, string>(StringComparer.Ordinal), LogFile("api"));
        Track(_api);
        await _api.WaitUntilReadyAsync();
    }

    /// <summary>An HTTP client of the API process, authenticated with the bootstrap operator key.</summary>
    public HttpClient CreateApiClient(int connectionsMax)
    {
        var api = _api ?? throw new InvalidOperationException("The API process was not started.");
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connectionsMax, ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = api.Address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        return client;
    }

    /// <summary>Waits until the membership table lists exactly the running silos as active.</summary>
    public async Task WaitUntilActiveSilosAsync(int count, TimeSpan timeout)
    {
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using (var command = dataSource.CreateCommand($"SELECT count(*) FROM orleans_membership WHERE status = {ActiveStatus}"))
            {
                if ((long)(await command.ExecuteScalarAsync())! == count)
                {
                    return;
                }
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"The membership table did not list {count.ToString(CultureInfo.InvariantCulture)} active silos within {timeout}.{Environment.NewLine}{Tails()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Spreads the work over the silos running now, as in a cluster that has run for a while: the
    /// API process starts again, so its client meets every silo's gateway at once (a client keeps
    /// sending a grain's calls through the gateway it first used), and every idle activation goes,
    /// so that grains are placed anew where those calls now arrive. Orleans never moves an
    /// activation by itself when silos join.
    /// </summary>
    public async Task SpreadOverRunningSilosAsync()
    {
        var api = _api ?? throw new InvalidOperationException("The API process was not started.");
        api.Kill();
        await api.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await StartApiAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddWalletClient(o => o.ConnectionString = ConnectionString);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>The log tails of every process started, the killed ones included, oldest first.</summary>
    public string Tails()
    {
        lock (_gate)
        {
            return string.Join(Environment.NewLine, _started.Select(p => p.Tail()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        SiloProcess[] started;
        lock (_gate)
        {
            started = [.. _started];
        }

        foreach (var process in started)
        {
            process.Dispose();
        }

        try
        {
            await StopDatabaseAsync();
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // The watchdog stops and deletes whatever is left once the test host exits.
        }
    }

    private string? LogFile(string name) => _logDirectory is null ? null : Path.Combine(_logDirectory, name + ".log");

    private static Dictionary<string, string> SiloEnvironment(SiloSlot slot) => new(StringComparer.Ordinal)
    {
        ["Cluster__SiloPort"] = slot.SiloPort.ToString(CultureInfo.InvariantCulture),
        ["Cluster__GatewayPort"] = slot.GatewayPort.ToString(CultureInfo.InvariantCulture),
    };

    private void Track(SiloProcess process)
    {
        lock (_gate)
        {
            _started.Add(process);
            File.AppendAllText(Path.Combine(_folder, Watchdog.PidsFile), process.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
    }

    /// <summary>Stops and deletes whatever is left once the test host ends, however it ends (see <see cref="Watchdog"/>).</summary>
    private void StartWatchdog() => Watchdog.Start(
        "wallet-cluster-watchdog", _folder, _database?.StopCommandLine() ?? throw new InvalidOperationException("The database is not running."));

    private sealed class SiloSlot(string name, int httpPort, int siloPort, int gatewayPort)
    {
        public string Name { get; } = name;

        public int HttpPort { get; } = httpPort;

        public int SiloPort { get; } = siloPort;

        public int GatewayPort { get; } = gatewayPort;

        public int Starts { get; set; }

        public SiloProcess? Process { get; set; }
    }
}
