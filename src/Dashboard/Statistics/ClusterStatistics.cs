using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wallet.Grains;
using Wallet.Runtime.Cluster;

namespace Wallet.Dashboard.Statistics;

/// <summary>A silo as the dashboard shows it: its membership row and, when it answered, its report.</summary>
public sealed record SiloState(
    string Silo,
    string Status,
    string HostName,
    DateTimeOffset? StartedAt,
    DateTimeOffset? HeartbeatAt,
    bool Answering,
    SiloReport? Report);

/// <summary>Every silo at one moment, with up to ten minutes of samples from each that answers.</summary>
public sealed record ClusterSnapshot(DateTimeOffset At, IReadOnlyList<SiloState> Silos);

/// <summary>
/// Gathers the cluster for the dashboard, on the silo that serves it: its own report, and each
/// other active silo's from the cluster port (<see cref="ReportPath"/>). It keeps a mirror of each
/// peer's samples and asks only for the seconds it lacks, at most once per <see cref="RefreshPeriodMin"/>
/// however many dashboards are open; with no dashboard open it does nothing.
/// </summary>
public sealed partial class ClusterStatistics : IDisposable
{
    public const string ReportPath = "/cluster/v1/statistics";
    private static readonly TimeSpan RefreshPeriodMin = TimeSpan.FromMilliseconds(900);
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DeadShownFor = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan HotGrainsWantedFor = TimeSpan.FromSeconds(5);

    private readonly SiloSampler _local;
    private readonly ClusterMembershipService? _membership;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, PeerMirror> _peers = new(StringComparer.Ordinal);
    private ClusterSnapshot? _last;
    private long _lastTimestamp;
    private long _hotGrainsWantedUntil;

    public ClusterStatistics(SiloSampler local, IServiceProvider services, TimeProvider clock, ILogger<ClusterStatistics> logger)
    {
        _local = local;
        _membership = services.GetService<ClusterMembershipService>();
        _clock = clock;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = PeerTimeout, UseProxy = false })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = PeerTimeout,
        };
    }

    /// <summary>
    /// Every silo's report, at most <see cref="RefreshPeriodMin"/> old. With <paramref name="hotGrains"/>
    /// (the grains page), silos also take their hottest grains for the next few seconds: the one
    /// figure that walks every activation, so only the page that shows it asks for it.
    /// </summary>
    public async Task<ClusterSnapshot> ReadAsync(bool hotGrains, CancellationToken cancellationToken)
    {
        if (hotGrains)
        {
            _local.MarkWatched();
            Volatile.Write(ref _hotGrainsWantedUntil, _clock.GetTimestamp() + (long)(HotGrainsWantedFor.TotalSeconds * _clock.TimestampFrequency));
        }

        if (Fresh() is { } fresh)
        {
            return fresh;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Fresh() is { } refreshed)
            {
                return refreshed;
            }

            var snapshot = await CollectAsync(cancellationToken);
            _last = snapshot;
            _lastTimestamp = _clock.GetTimestamp();
            return snapshot;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _gate.Dispose();
    }

    private ClusterSnapshot? Fresh() =>
        _last is { } last && _clock.GetElapsedTime(_lastTimestamp) < RefreshPeriodMin ? last : null;

    private async Task<ClusterSnapshot> CollectAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var local = _local.Report(since: 0);
        if (_membership is not { LastSnapshot: { } table } membership)
        {
            return new ClusterSnapshot(now, [new SiloState(local.Silo, "active", local.HostName, local.StartedAt, now, true, local)]);
        }

        var self = membership.Self;
        var shown = table.Entries
            .Where(e => e.Status != SiloStatus.Dead || table.Now - e.HeartbeatAt < DeadShownFor)
            .OrderBy(e => e.Silo.Endpoint, StringComparer.Ordinal).ThenByDescending(e => e.Silo.Generation)
            .ToList();
        var asked = shown.Where(e => e.Status == SiloStatus.Active && e.Silo != self).Select(e => e.Silo).ToList();
        var answers = await Task.WhenAll(asked.Select(silo => FetchAsync(silo, cancellationToken)));
        ForgetPeersNotIn(asked);

        var silos = new List<SiloState>(shown.Count);
        foreach (var entry in shown)
        {
            var report = entry.Silo == self ? local : answers.FirstOrDefault(a => a?.Silo == entry.Silo.ToString());
            var status = entry.Status.ToString().ToLowerInvariant();
            silos.Add(new SiloState(entry.Silo.ToString(), status, entry.HostName, entry.StartedAt, entry.HeartbeatAt, report is not null, report));
        }

        return new ClusterSnapshot(now, silos);
    }

    // Asks a peer for the seconds after the last one mirrored; null when it does not answer in time.
    private async Task<SiloReport?> FetchAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        var name = silo.ToString();
        if (!_peers.TryGetValue(name, out var mirror))
        {
            _peers[name] = mirror = new PeerMirror();
        }

        try
        {
            var hot = _clock.GetTimestamp() <= Volatile.Read(ref _hotGrainsWantedUntil);
            var uri = new Uri(silo.BaseUri, $"{ReportPath.TrimStart('/')}?since={mirror.LastAt}&hot_grains={(hot ? "true" : "false")}");
            var report = await _http.GetFromJsonAsync<SiloReport>(uri, WalletJson.Options, cancellationToken);
            return report is null ? null : mirror.Take(report);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            LogPeerSilent(_logger, name, exception.Message);
            return null;
        }
    }

    private void ForgetPeersNotIn(List<SiloAddress> asked)
    {
        foreach (var name in _peers.Keys.Where(name => !asked.Any(a => a.ToString() == name)).ToList())
        {
            _peers.Remove(name);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Silo {Silo} did not give its statistics: {Reason}")]
    private static partial void LogPeerSilent(ILogger logger, string silo, string reason);

    /// <summary>A peer's last ten minutes, as far as this silo has fetched them.</summary>
    private sealed class PeerMirror
    {
        private readonly List<SiloSample> _samples = [];

        public long LastAt => _samples.Count == 0 ? 0 : _samples[^1].At;

        /// <summary>Adds the new samples and returns the report with every sample mirrored.</summary>
        public SiloReport Take(SiloReport report)
        {
            _samples.AddRange(report.Samples.Where(s => s.At > LastAt));
            if (_samples.Count > SiloSampler.HistoryLength)
            {
                _samples.RemoveRange(0, _samples.Count - SiloSampler.HistoryLength);
            }

            return report with { Samples = [.. _samples] };
        }
    }
}
