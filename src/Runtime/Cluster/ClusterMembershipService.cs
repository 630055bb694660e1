using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// This silo's part in membership: joins once the cluster endpoint listens, writes a heartbeat and
/// reads the table every <c>HeartbeatPeriod</c>, declares dead the peers whose heartbeat is older
/// than <c>DeathTimeout</c>, leaves gracefully on shutdown, and stops the process when it finds
/// itself declared dead.
/// </summary>
/// <remarks>
/// Death is judged on the database's clock, and only by a silo that has itself been writing
/// heartbeats for a whole <c>DeathTimeout</c>: after the database was unreachable (a restart, a
/// partition) every heartbeat is stale, and nobody may be declared dead before the living had a
/// chance to write one.
/// </remarks>
public sealed partial class ClusterMembershipService : IHostedLifecycleService, IDisposable
{
    private readonly IServiceProvider _services;
    private readonly ClusterOptions _options;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly WakeSignal _refreshRequested = new();
    private readonly CancellationTokenSource _stopping = new();
    private volatile ClusterView _view = ClusterView.Empty;
    private volatile bool _active;
    private long _connectedSinceTicks = -1;
    private Task _loop = Task.CompletedTask;
    private IMembershipTable? _membershipTable;

    public ClusterMembershipService(
        IServiceProvider services, IOptions<ClusterOptions> options, IHostApplicationLifetime lifetime, ILogger<ClusterMembershipService> logger)
    {
        _services = services;
        _options = options.Value;
        _lifetime = lifetime;
        _logger = logger;
        Self = new SiloAddress(_options.AdvertisedEndpoint, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>This silo; its generation is its start time in Unix milliseconds, so a restart always takes a higher one.</summary>
    public SiloAddress Self { get; }

    /// <summary>The active silos as last read.</summary>
    public ClusterView View => _view;

    /// <summary>The whole table as last read (every silo, dead ones too); null before the first read.</summary>
    public MembershipSnapshot? LastSnapshot { get; private set; }

    // Resolved at join: the table's storage (the database) starts with the host, after this service is built.
    private IMembershipTable Table => _membershipTable ??= _services.GetRequiredService<IMembershipTable>();

    /// <summary>Joined and not leaving: owns its share of the grains.</summary>
    public bool IsActive => _active;

    /// <summary>Raised (on the membership loop) when the set of active silos changes.</summary>
    public event Action<ClusterView>? ViewChanged;

    /// <summary>Asks for an early read of the table, e.g. after a silo refused a connection.</summary>
    public void RequestRefresh()
    {
        _refreshRequested.Set();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Joins after every service started, so the cluster endpoint already listens when others route here.</summary>
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        await ChangeOwnStatusAsync(SiloStatus.Active, supersedeOlderGenerations: true, cancellationToken);
        _active = true;
        _connectedSinceTicks = Environment.TickCount64;
        await RefreshAsync(cancellationToken);
        LogJoined(_logger, Self, _view.ActiveSilos.Count);
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Leaves placement first, so peers route elsewhere while this silo finishes what it holds.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (!_active)
        {
            return;
        }

        _active = false;
        await TryChangeOwnStatusAsync(SiloStatus.Leaving, cancellationToken);
        SetView(new ClusterView(_view.Version, [.. _view.ActiveSilos.Where(s => s != Self)]));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop;
        if (_view.Version >= 0)
        {
            await TryChangeOwnStatusAsync(SiloStatus.Dead, cancellationToken);
            LogLeft(_logger, Self);
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _refreshRequested.Dispose();
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _refreshRequested.WaitAsync(_options.HeartbeatPeriod, stoppingToken);
                await HeartbeatAsync(stoppingToken);
                await DeclareDeadPeersAsync(await RefreshAsync(stoppingToken), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (DeclaredDeadException)
            {
                return;
            }
            catch (Exception exception)
            {
                if (Interlocked.Exchange(ref _connectedSinceTicks, -1) >= 0)
                {
                    LogTableUnreachable(_logger, exception);
                }
            }
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var status = await Table.HeartbeatAsync(Self, cancellationToken);
        if (status is null or SiloStatus.Dead)
        {
            OnDeclaredDead();
        }

        if (Interlocked.CompareExchange(ref _connectedSinceTicks, Environment.TickCount64, -1) == -1)
        {
            LogTableReachable(_logger);
        }
    }

    /// <summary>Reads the table and takes its view if the version moved; returns what it read.</summary>
    private async Task<MembershipSnapshot> RefreshAsync(CancellationToken cancellationToken)
    {
        var snapshot = await Table.ReadAsync(cancellationToken);
        LastSnapshot = snapshot;
        if (snapshot.Version == _view.Version)
        {
            return snapshot;
        }

        if (snapshot.Entries.Any(e => e.Silo == Self && e.Status == SiloStatus.Dead) && _active)
        {
            OnDeclaredDead();
        }

        SetView(new ClusterView(snapshot.Version, [.. snapshot.Entries
            .Where(e => e.Status == SiloStatus.Active && (e.Silo != Self || _active))
            .Select(e => e.Silo)
            .OrderBy(s => s.Endpoint, StringComparer.Ordinal)]));
        return snapshot;
    }

    private async Task DeclareDeadPeersAsync(MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        var connectedSince = Interlocked.Read(ref _connectedSinceTicks);
        if (connectedSince < 0 || Environment.TickCount64 - connectedSince < (long)_options.DeathTimeout.TotalMilliseconds)
        {
            return;
        }

        var dead = snapshot.Entries
            .Where(e => e.Status != SiloStatus.Dead && e.Silo != Self && snapshot.Now - e.HeartbeatAt > _options.DeathTimeout)
            .Select(e => e with { Status = SiloStatus.Dead })
            .ToList();
        if (dead.Count > 0 && await Table.TryWriteAsync(snapshot.Version, dead, cancellationToken))
        {
            foreach (var entry in dead)
            {
                LogDeclaredDead(_logger, entry.Silo, (snapshot.Now - entry.HeartbeatAt).TotalMilliseconds);
            }

            await RefreshAsync(cancellationToken);
        }
    }

    private async Task ChangeOwnStatusAsync(SiloStatus status, bool supersedeOlderGenerations, CancellationToken cancellationToken)
    {
        while (true)
        {
            var snapshot = await Table.ReadAsync(cancellationToken);
            var own = snapshot.Entries.FirstOrDefault(e => e.Silo == Self)
                ?? new MembershipEntry(Self, status, Environment.MachineName, snapshot.Now, snapshot.Now);
            List<MembershipEntry> changes = [own with { Status = status }];
            if (supersedeOlderGenerations)
            {
                // A silo restarted on the same endpoint: its earlier self is gone for good.
                changes.AddRange(snapshot.Entries
                    .Where(e => e.Silo.Endpoint == Self.Endpoint && e.Silo.Generation < Self.Generation && e.Status != SiloStatus.Dead)
                    .Select(e => e with { Status = SiloStatus.Dead }));
            }

            if (await Table.TryWriteAsync(snapshot.Version, changes, cancellationToken))
            {
                return;
            }
        }
    }

    private async Task TryChangeOwnStatusAsync(SiloStatus status, CancellationToken cancellationToken)
    {
        try
        {
            await ChangeOwnStatusAsync(status, supersedeOlderGenerations: false, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Peers will declare this silo dead when its heartbeat stops.
            LogStatusNotWritten(_logger, exception, status);
        }
    }

    private void SetView(ClusterView view)
    {
        _view = view;
        LogView(_logger, view.Version, string.Join(", ", view.ActiveSilos));
        ViewChanged?.Invoke(view);
    }

    private void OnDeclaredDead()
    {
        _active = false;
        _view = ClusterView.Empty;
        LogFoundDead(_logger, Self);
        Environment.ExitCode = 3;
        _lifetime.StopApplication();
        throw new DeclaredDeadException();
    }

    private sealed class DeclaredDeadException : Exception;

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} joined the cluster; {Count} active silos")]
    private static partial void LogJoined(ILogger logger, SiloAddress silo, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} left the cluster")]
    private static partial void LogLeft(ILogger logger, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster view {Version}: {Silos}")]
    private static partial void LogView(ILogger logger, long version, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Declared silo {Silo} dead: no heartbeat for {Milliseconds:0} ms")]
    private static partial void LogDeclaredDead(ILogger logger, SiloAddress silo, double milliseconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Silo {Silo} was declared dead by the cluster; it stops serving and exits")]
    private static partial void LogFoundDead(ILogger logger, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership table cannot be reached; no silo is declared dead until it answers again")]
    private static partial void LogTableUnreachable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The membership table answers again")]
    private static partial void LogTableReachable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record status {Status} in the membership table")]
    private static partial void LogStatusNotWritten(ILogger logger, Exception exception, SiloStatus status);
}
