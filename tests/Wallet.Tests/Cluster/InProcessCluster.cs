using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wallet.Api;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Runtime;
using Wallet.Runtime.Cluster;
using Wallet.Runtime.Hosting;
using Wallet.Silo.Hosting;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>
/// A cluster of N silos in this process, over one fresh database of the test PostgreSQL. Each silo
/// is the real composition (<see cref="SiloApplication.Build"/>) on real Kestrel, with its HTTP API
/// and its HTTP/2 cluster endpoint on free loopback ports that belong to its slot for the life of
/// the cluster, so a restarted silo comes back on the same endpoint with a new generation.
/// </summary>
/// <remarks>
/// Timings are shortened (heartbeat 200 ms, death after 2 s) so that failure detection fits a test.
/// A silo leaves in one of three ways: <see cref="StopSiloAsync"/> is a graceful shutdown (SIGTERM:
/// it writes <c>leaving</c>, then <c>dead</c>); <see cref="CrashSiloAsync"/> disposes the host without
/// stopping it, which is as close to SIGKILL as one process allows (see <see cref="InProcessHost.CrashAsync"/>);
/// and a silo whose row another writer marks dead stops itself.
/// </remarks>
public sealed class InProcessCluster : IAsyncDisposable
{
    /// <summary>The cluster id of <see cref="ClusterOptions"/> by default, which the silos here keep.</summary>
    public const string ClusterId = "wallet";

    public static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(2);

    // Long enough for a loaded 2-core machine, short enough that a broken join fails the test, not the run.
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    private readonly Slot[] _slots;
    private readonly List<InProcessHost> _apis = [];
    private readonly NpgsqlDataSource _dataSource;

    private InProcessCluster(string connectionString, int siloCount)
    {
        ConnectionString = connectionString;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        MembershipTable = new MembershipStore(_dataSource, ClusterId);
        _slots = [.. Enumerable.Range(0, siloCount).Select(i => new Slot(i, FreePort(), FreePort()))];
    }

    public string ConnectionString { get; }

    /// <summary>The membership table the silos share, for reading rows or writing as another silo would.</summary>
    public MembershipStore MembershipTable { get; }

    public int Count => _slots.Length;

    /// <summary>The current generation of silo <paramref name="index"/>; it may have stopped or crashed.</summary>
    public InProcessHost this[int index] => _slots[index].Current ?? throw new InvalidOperationException($"silo {index} was never started");

    /// <summary>The silos whose host runs now.</summary>
    public IReadOnlyList<InProcessHost> Running => [.. _slots.Select(s => s.Current).OfType<InProcessHost>().Where(h => h.IsRunning)];

    /// <summary>The cluster endpoints (<c>127.0.0.1:port</c>) of every slot, running or not: what clients list as gateways.</summary>
    public IReadOnlyList<string> ClusterEndpoints => [.. _slots.Select(s => s.ClusterEndpoint)];

    /// <summary>Starts <paramref name="siloCount"/> silos over a fresh database and waits until they agree on the view.</summary>
    public static async Task<InProcessCluster> StartAsync(string name, int siloCount)
    {
        var cluster = new InProcessCluster(await PostgresServer.CreateDatabaseAsync(name), siloCount);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, siloCount).Select(cluster.StartSiloAsync));
            await cluster.WaitForViewAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a new generation of silo <paramref name="index"/> on its slot's ports; returns once it has joined.</summary>
    public async Task<InProcessHost> StartSiloAsync(int index)
    {
        var slot = _slots[index];
        if (slot.Current is { IsRunning: true })
        {
            throw new InvalidOperationException($"silo {index} runs already");
        }

        if (slot.Current is { } previous)
        {
            await previous.DisposeAsync();
        }

        string[] settings =
        [
            $"ConnectionStrings:Wallet={ConnectionString}",
            $"Bootstrap:ApiKey={WalletApiFactory.OperatorKey}",
            $"Cards:NumberHashKey={WalletApiFactory.CardNumberHashKey}",
            "Cluster:Enabled=true",
            $"Cluster:ClusterId={ClusterId}",
            "Cluster:AdvertisedHost=127.0.0.1",
            $"Cluster:Port={slot.ClusterPort.ToString(CultureInfo.InvariantCulture)}",
            $"Cluster:HeartbeatPeriod={HeartbeatPeriod:c}",
            $"Cluster:DeathTimeout={DeathTimeout:c}",
            // A lost reply fails the test in seconds instead of hanging it for the default 30.
            "Runtime:CallTimeout=00:00:10",
        ];
        slot.Generation++;
        slot.Current = await InProcessHost.StartAsync(
            $"silo{index.ToString(CultureInfo.InvariantCulture)}.{slot.Generation.ToString(CultureInfo.InvariantCulture)}",
            slot.ApiPort, SiloApplication.Build, settings);
        return slot.Current;
    }

    /// <summary>Stops silo <paramref name="index"/> gracefully, as SIGTERM would: it leaves the table, then its host stops.</summary>
    public Task StopSiloAsync(int index) => this[index].StopAsync();

    /// <summary>Crashes silo <paramref name="index"/>: its host goes away without leaving the table.</summary>
    public Task CrashSiloAsync(int index) => this[index].CrashAsync();

    /// <summary>Before each test: every slot runs (a stopped or crashed one is started again) and every silo sees all of them.</summary>
    public async Task EnsureAllRunningAsync()
    {
        foreach (var slot in _slots.Where(s => s.Current is not { IsRunning: true }))
        {
            await StartSiloAsync(slot.Index);
        }

        await WaitForViewAsync();
    }

    /// <summary>Starts the thin API process (<see cref="ApiApplication"/>) with every silo's cluster endpoint as a gateway.</summary>
    public async Task<InProcessHost> StartApiAsync()
    {
        var settings = new List<string>
        {
            $"ConnectionStrings:Wallet={ConnectionString}",
            $"Cards:NumberHashKey={WalletApiFactory.CardNumberHashKey}",
            "Client:ViewRefreshPeriod=00:00:00.200",
            "Client:CallTimeout=00:00:10",
        };
        settings.AddRange(ClusterEndpoints.Select((endpoint, i) => $"Client:Gateways:{i.ToString(CultureInfo.InvariantCulture)}={endpoint}"));
        var api = await InProcessHost.StartAsync("api", FreePort(), ApiApplication.Build, settings);
        _apis.Add(api);
        return api;
    }

    /// <summary>
    /// Waits until every running silo is active and sees exactly the running silos (the same
    /// endpoints and generations) as the active view.
    /// </summary>
    public Task WaitForViewAsync() => WaitUntilAsync(
        () =>
        {
            var running = Running;
            var expected = running.Select(h => h.Membership.Self).OrderBy(s => s.Endpoint, StringComparer.Ordinal).ToList();
            return running.All(h => h.Membership.IsActive && h.Membership.View.ActiveSilos.SequenceEqual(expected));
        },
        ConvergeTimeout,
        "every running silo to see all running silos as the active view");

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with every silo's view and recent log when it never does.</summary>
    public Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <inheritdoc cref="WaitUntilAsync(Func{bool}, TimeSpan, string)"/>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Waited {timeout.TotalSeconds:0.#} s for {what}.{Environment.NewLine}{Describe()}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>The status of <paramref name="silo"/>'s row, or null when it has none.</summary>
    public async Task<SiloStatus?> StatusOfAsync(SiloAddress silo) =>
        (await MembershipTable.ReadAsync(CancellationToken.None)).Entries.FirstOrDefault(e => e.Silo == silo)?.Status;

    /// <summary>Marks <paramref name="silo"/> dead in the table, as a peer that declares it dead would (compare-and-swap on the version).</summary>
    public async Task DeclareDeadAsync(SiloAddress silo)
    {
        const int AttemptsMax = 20;
        for (var attempt = 0; attempt < AttemptsMax; attempt++)
        {
            var snapshot = await MembershipTable.ReadAsync(CancellationToken.None);
            var entry = snapshot.Entries.Single(e => e.Silo == silo);
            if (await MembershipTable.TryWriteAsync(snapshot.Version, [entry with { Status = SiloStatus.Dead }], CancellationToken.None))
            {
                return;
            }
        }

        Assert.Fail($"another writer changed the membership table {AttemptsMax} times in a row");
    }

    /// <summary>The slot whose silo owns wallet <paramref name="walletId"/> among <paramref name="slots"/> (all when null), by the silos' own placement.</summary>
    public int OwnerOf(string walletId, IEnumerable<int>? slots = null)
    {
        var candidates = (slots ?? Enumerable.Range(0, Count)).Select(i => new SiloAddress(_slots[i].ClusterEndpoint, 0)).ToList();
        var owner = GrainPlacement.OwnerOf(new GrainId(typeof(IWalletGrain), walletId), candidates)
            ?? throw new InvalidOperationException("no silo to own the grain");
        return Array.FindIndex(_slots, s => s.ClusterEndpoint == owner.Endpoint);
    }

    /// <summary>Every host's view and log tail, for failure messages.</summary>
    public string Describe() => string.Join(Environment.NewLine, _slots.Select(s => s.Current).OfType<InProcessHost>().Concat(_apis).Select(h => h.Describe()));

    public async ValueTask DisposeAsync()
    {
        var hosts = _slots.Select(s => s.Current).OfType<InProcessHost>().Concat(_apis).ToList();
        await Task.WhenAll(hosts.Select(h => h.StopAsync()));
        await _dataSource.DisposeAsync();
    }

    /// <summary>A loopback port nobody listens on now (bound to port 0, then released); a slot keeps its ports for the cluster's life.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Slot(int index, int apiPort, int clusterPort)
    {
        public int Index { get; } = index;

        public int ApiPort { get; } = apiPort;

        public int ClusterPort { get; } = clusterPort;

        public string ClusterEndpoint { get; } = $"127.0.0.1:{clusterPort.ToString(CultureInfo.InvariantCulture)}";

        public int Generation { get; set; }

        public InProcessHost? Current { get; set; }
    }
}

/// <summary>
/// One started <see cref="WebApplication"/> (a silo or the API process) on real Kestrel, run the way
/// <c>RunAsync</c> would run it: when its lifetime's ApplicationStopping fires (a graceful stop, or
/// a silo that finds itself dead), the host stops. Its log goes to memory, for failure messages.
/// </summary>
public sealed class InProcessHost : IAsyncDisposable
{
    private const int Running = 0;
    private const int Stopping = 1;
    private const int Crashed = 2;
    private const int Disposed = 3;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;
    private readonly RecentLogs _logs;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ClusterMembershipService? _membership;
    private int _state;

    private InProcessHost(string name, Uri address, WebApplication app, RecentLogs logs)
    {
        Name = name;
        Address = address;
        _app = app;
        _logs = logs;
        _membership = app.Services.GetService<ClusterMembershipService>();
        app.Lifetime.ApplicationStopping.Register(() => _ = Task.Run(StopHostAsync));
    }

    public string Name { get; }

    /// <summary>The HTTP API's base address.</summary>
    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public IHostApplicationLifetime Lifetime => _app.Lifetime;

    /// <summary>Started, not stopped (by a test or by itself) and not crashed.</summary>
    public bool IsRunning => Volatile.Read(ref _state) == Running && !_stopped.Task.IsCompleted;

    /// <summary>Completes when the host has stopped, whoever asked it to.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>A silo's membership; readable after the silo stopped or crashed.</summary>
    public ClusterMembershipService Membership => _membership ?? throw new InvalidOperationException($"{Name} is not a silo");

    public SiloStatistics Statistics => GetService<SiloStatistics>();

    public GrainCallStatistics Calls => GetService<GrainCallStatistics>();

    /// <summary>The silo's own grain factory: calls from inside the silo, routed like the silo's grains' calls.</summary>
    public IClusterClient Client => GetService<IClusterClient>();

    public T GetService<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>
    /// Builds the application with <paramref name="settings"/> as command-line arguments (<c>--key=value</c>),
    /// listening for its HTTP API on <c>127.0.0.1:<paramref name="apiPort"/></c>, and starts it.
    /// </summary>
    public static async Task<InProcessHost> StartAsync(
        string name, int apiPort, Func<string[], Action<WebApplicationBuilder>?, WebApplication> build, IEnumerable<string> settings)
    {
        var address = new Uri($"http://127.0.0.1:{apiPort.ToString(CultureInfo.InvariantCulture)}");
        string[] args =
        [
            $"--urls={address.ToString().TrimEnd('/')}",
            "--environment=Testing",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Wallet.Runtime.Cluster=Information",
            "--Logging:LogLevel:Wallet.Runtime.Client=Information",
            .. settings.Select(s => "--" + s),
        ];
        var logs = new RecentLogs();
        var app = build(args, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
        });
        try
        {
            using var timeout = new CancellationTokenSource(StartTimeout);
            await app.StartAsync(timeout.Token);
        }
        catch (Exception exception)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException($"{name} did not start: {exception.Message}{Environment.NewLine}{logs.Tail(name)}", exception);
        }

        return new InProcessHost(name, address, app, logs);
    }

    /// <summary>An HTTP client of this host's API with the operator key of the default tenant.</summary>
    public HttpClient CreateClient()
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", WalletApiFactory.OperatorKey);
        return client;
    }

    /// <summary>A graceful stop (SIGTERM): ApplicationStopping fires, every hosted service stops, then the host is disposed.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Stopping, Running) != Running)
        {
            await DisposeAsync();
            return;
        }

        _app.Lifetime.StopApplication();
        try
        {
            await _stopped.Task.WaitAsync(StopTimeout);
        }
        finally
        {
            await DisposeAsync();
        }
    }

    /// <summary>
    /// A crash: the host is disposed without being stopped. Kestrel's disposal closes its listeners
    /// and connections at once (peers get refused connections), the database pool is disposed, and
    /// the background loops (heartbeats included) end with their services; no hosted service's
    /// stop runs (not even when a cancelled background service asks the host to stop), so the silo
    /// never writes <c>leaving</c> or <c>dead</c> and its row stays active until a peer declares it
    /// dead. What it does not model is the loss of memory mid-instruction: a turn running at that
    /// instant may still finish against the disposed services and fail.
    /// </summary>
    public async Task CrashAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Crashed, Running) != Running)
        {
            throw new InvalidOperationException($"{Name} is not running");
        }

        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        var state = Interlocked.Exchange(ref _state, Disposed);
        if (state is Disposed or Crashed)
        {
            return;
        }

        await _app.DisposeAsync();
    }

    // What RunAsync does once ApplicationStopping fires; never for a crashed host.
    private async Task StopHostAsync()
    {
        if (Volatile.Read(ref _state) is Crashed or Disposed)
        {
            return;
        }

        try
        {
            await _app.StopAsync(CancellationToken.None);
            _stopped.TrySetResult();
        }
        catch (Exception exception)
        {
            _stopped.TrySetException(exception);
        }
    }

    /// <summary>This host's state, its view of the cluster and the tail of its log.</summary>
    public string Describe()
    {
        var view = _membership is not { } m ? "" : $" self {m.Self}, active {m.IsActive}, view {m.View.Version}: [{string.Join(", ", m.View.ActiveSilos)}]";
        return $"{Name} at {Address} ({(IsRunning ? "running" : "not running")}){view}{Environment.NewLine}{_logs.Tail(Name)}";
    }
}

/// <summary>The last lines a host logged, kept in memory; enough to explain a failed wait.</summary>
internal sealed class RecentLogs : ILoggerProvider
{
    private const int LinesMax = 200;

    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public string Tail(string name) => $"----- {name} -----{Environment.NewLine}{string.Join(Environment.NewLine, _lines)}";

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > LinesMax && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(RecentLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}";
            logs.Add(exception is null ? line : $"{line} {exception.GetType().Name}: {exception.Message}");
        }
    }
}

/// <summary>A cluster shared by the tests of one class (xunit runs them one after another).</summary>
public abstract class ClusterFixture(string name, int siloCount) : IAsyncLifetime
{
    private InProcessCluster? _cluster;

    public InProcessCluster Cluster => _cluster ?? throw new InvalidOperationException("The fixture is not initialized.");

    public virtual async Task InitializeAsync() => _cluster = await InProcessCluster.StartAsync(name, siloCount);

    public virtual async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
