using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using Wallet.Api;
using Wallet.Silo.Hosting;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>
/// A cluster of N silos in this process, over one fresh database of the test PostgreSQL: each silo
/// is the real composition (<see cref="SiloApplication.Build"/>) on real Kestrel with its HTTP API and
/// the dashboard, joined through Orleans' ADO.NET membership on real TCP sockets. Each slot keeps its
/// HTTP, silo and gateway ports, so a restarted silo comes back on the same endpoint. Orleans'
/// failover itself is tested on <see cref="Orleans.TestingHost.TestCluster"/> (<see cref="ClusterTests"/>);
/// this harness is for what needs the HTTP surface: the API process and the dashboards.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    // Long enough for a loaded 2-core machine, short enough that a broken join fails the test, not the run.
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly Slot[] _slots;
    private readonly List<InProcessHost> _apis = [];

    private InProcessCluster(string connectionString, int siloCount)
    {
        ConnectionString = connectionString;
        _slots = [.. Enumerable.Range(0, siloCount).Select(i => new Slot(i, FreePorts.Next(), FreePorts.Next(), FreePorts.Next()))];
    }

    public string ConnectionString { get; }

    public int Count => _slots.Length;

    /// <summary>The current generation of silo <paramref name="index"/>; it may have stopped.</summary>
    public InProcessHost this[int index] => _slots[index].Current ?? throw new InvalidOperationException($"silo {index} was never started");

    /// <summary>The silos whose host runs now.</summary>
    public IReadOnlyList<InProcessHost> Running => [.. _slots.Select(s => s.Current).OfType<InProcessHost>().Where(h => h.IsRunning)];

    /// <summary>Starts <paramref name="siloCount"/> silos over a fresh database and waits until each sees all of them active.</summary>
    public static async Task<InProcessCluster> StartAsync(string name, int siloCount)
    {
        var cluster = new InProcessCluster(await PostgresServer.CreateDatabaseAsync(name), siloCount);
        try
        {
            // The first silo migrates the database; the others then join it.
            await cluster.StartSiloAsync(0);
            await Task.WhenAll(Enumerable.Range(1, siloCount - 1).Select(cluster.StartSiloAsync));
            await cluster.WaitForViewAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a new generation of silo <paramref name="index"/> on its slot's ports.</summary>
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
            $"Auth:SigningKey={WalletApiFactory.SigningKey}",
            $"Auth:MfaKey={WalletApiFactory.MfaKey}",
            $"Cluster:SiloPort={slot.SiloPort.ToString(CultureInfo.InvariantCulture)}",
            $"Cluster:GatewayPort={slot.GatewayPort.ToString(CultureInfo.InvariantCulture)}",
        ];
        slot.Generation++;
        slot.Current = await InProcessHost.StartAsync(
            $"silo{index.ToString(CultureInfo.InvariantCulture)}.{slot.Generation.ToString(CultureInfo.InvariantCulture)}",
            slot.ApiPort, SiloApplication.Build, settings);
        return slot.Current;
    }

    /// <summary>Stops silo <paramref name="index"/> gracefully, as SIGTERM would: it leaves the cluster, then its host stops.</summary>
    public Task StopSiloAsync(int index) => this[index].StopAsync();

    /// <summary>The HTTP API as its own process (<see cref="ApiApplication"/>), an Orleans client finding the gateways in the membership table.</summary>
    public async Task<InProcessHost> StartApiAsync()
    {
        string[] settings =
        [
            $"ConnectionStrings:Wallet={ConnectionString}",
            $"Cards:NumberHashKey={WalletApiFactory.CardNumberHashKey}",
            $"Auth:SigningKey={WalletApiFactory.SigningKey}",
            $"Auth:MfaKey={WalletApiFactory.MfaKey}",
        ];
        var api = await InProcessHost.StartAsync("api", FreePorts.Next(), ApiApplication.Build, settings);
        _apis.Add(api);
        return api;
    }

    /// <summary>Waits until every running silo sees exactly the running silos as active.</summary>
    public Task WaitForViewAsync() => WaitUntilAsync(
        async () =>
        {
            var running = Running;
            var expected = running.Select(h => h.SiloAddress).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToList();
            foreach (var silo in running)
            {
                var hosts = await silo.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                if (!hosts.Keys.OrderBy(s => s.ToString(), StringComparer.Ordinal).SequenceEqual(expected))
                {
                    return false;
                }
            }

            return true;
        },
        ConvergeTimeout,
        "every running silo to see all running silos as active");

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

    /// <summary>The slot of the silo holding the wallet's activation (the call activates it if it was not).</summary>
    public async Task<int> HostOfAsync(string walletId)
    {
        var client = Running[0].Client;
        var grain = client.GetGrain<Wallet.Grains.Wallets.IWalletGrain>(walletId);
        var host = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        return Array.FindIndex(_slots, s => s.Current is { IsRunning: true } silo && silo.SiloAddress.Equals(host));
    }

    public string Describe() => string.Join(Environment.NewLine, _slots.Select(s => s.Current).OfType<InProcessHost>().Concat(_apis).Select(h => h.Describe()));

    public async ValueTask DisposeAsync()
    {
        // The API first, then the silos one at a time, as in a rolling shutdown. Two silos stopped at
        // once (both handing their grain directory ranges over) once took longer than StopTimeout
        // on a busy machine.
        await Task.WhenAll(_apis.Select(h => h.StopAsync()));
        foreach (var silo in _slots.Select(s => s.Current).OfType<InProcessHost>())
        {
            await silo.StopAsync();
        }
    }

    private sealed class Slot(int index, int apiPort, int siloPort, int gatewayPort)
    {
        public int Index { get; } = index;

        public int ApiPort { get; } = apiPort;

        public int SiloPort { get; } = siloPort;

        public int GatewayPort { get; } = gatewayPort;

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
    private const int Disposed = 2;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;
    private readonly RecentLogs _logs;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    private InProcessHost(string name, Uri address, WebApplication app, RecentLogs logs)
    {
        Name = name;
        Address = address;
        _app = app;
        _logs = logs;
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
    /// <summary>This silo's address in the cluster, as Orleans knows it.</summary>
    public SiloAddress SiloAddress => GetService<ILocalSiloDetails>().SiloAddress;

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
            "--Logging:LogLevel:Orleans.Runtime.MembershipService=Information",
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

    public async ValueTask DisposeAsync()
    {
        var state = Interlocked.Exchange(ref _state, Disposed);
        if (state is Disposed)
        {
            return;
        }

        await _app.DisposeAsync();
    }

    // What RunAsync does once ApplicationStopping fires.
    private async Task StopHostAsync()
    {
        if (Volatile.Read(ref _state) is Disposed)
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

    /// <summary>This host's state and the tail of its log.</summary>
    public string Describe() => $"{Name} at {Address} ({(IsRunning ? "running" : "not running")}){Environment.NewLine}{_logs.Tail(Name)}";
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
