using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Cluster;

namespace Wallet.Runtime.Client;

/// <summary>
/// The client's router: learns the active silos from its gateways every <c>ViewRefreshPeriod</c>
/// and sends each call straight to the owner of its grain, by the same placement the silos use
/// (a stale view costs one forwarding hop, never a wrong answer).
/// </summary>
/// <remarks>
/// Only calls that surely did not arrive (no connection could be opened, or the silo answered
/// that it took nothing) are retried, on the next owner. A call whose connection broke after it
/// was sent fails with a retryable error: only the caller knows whether repeating it is safe
/// (every money-moving call of the wallet API carries an idempotency key for that).
/// </remarks>
internal sealed partial class GatewayGrainCallInvoker : IGrainCallInvoker, IDisposable
{
    private readonly ClusterClientOptions _options;
    private readonly SiloTransport _transport;
    private readonly SuspectList _suspects;
    private readonly ILogger _logger;
    private readonly SiloAddress[] _gateways;
    private readonly CancellationTokenSource _disposed = new();
    private readonly WakeSignal _refreshRequested = new();
    private volatile ClusterView _view = ClusterView.Empty;
    private int _nextGateway;
    private int _isDisposed;

    public GatewayGrainCallInvoker(IOptions<ClusterClientOptions> options, ILogger<GatewayGrainCallInvoker> logger)
    {
        _options = options.Value;
        _gateways = [.. _options.Gateways.Select(ParseGateway)];
        if (_gateways.Length == 0)
        {
            throw new InvalidOperationException("The cluster client needs at least one gateway (Client:Gateways, e.g. localhost:11111).");
        }

        _transport = new SiloTransport(_options.ConnectTimeout);
        _suspects = new SuspectList(_options.SuspectTime);
        _logger = logger;
        _ = Task.Run(() => RefreshLoopAsync(_disposed.Token));
    }

    /// <summary>The active silos as last learned; empty until a gateway answered.</summary>
    public ClusterView View => _view;

    /// <summary>Waits until a gateway reported the active silos, or <paramref name="timeout"/> passed (calls still work: a gateway forwards them).</summary>
    public async Task WhenViewKnownAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (_view.ActiveSilos.Count == 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    public object Invoke(GrainId target, MethodInfo method, object?[] arguments)
    {
        var invoker = GrainMethodInvoker.For(method);
        var call = SendAsync(target, invoker, arguments);
        if (invoker.IsOneWay)
        {
            return OneWayCalls.Queued(call, _logger);
        }

        return invoker.FromUntyped(call);
    }

    public void Dispose()
    {
        // The container disposes this twice: as itself and as the IGrainCallInvoker its factory handed out.
        if (Interlocked.Exchange(ref _isDisposed, 1) != 0)
        {
            return;
        }

        _disposed.Cancel();
        _transport.Dispose();
        _disposed.Dispose();
        _refreshRequested.Dispose();
    }

    private async Task<object?> SendAsync(GrainId target, GrainMethodInvoker invoker, object?[] arguments)
    {
        var attemptsMax = _gateways.Length + _view.ActiveSilos.Count + 1;
        for (var attempt = 0; ; attempt++)
        {
            var silo = GrainPlacement.OwnerOf(target, _view.ActiveSilos, _suspects.IsSuspected) ?? NextGateway();
            try
            {
                return await _transport.CallAsync(silo, target, invoker, arguments, hops: 0, _options.CallTimeout);
            }
            catch (SiloUnreachableException exception) when (exception.NotDelivered && attempt < attemptsMax)
            {
                if (exception.Silo is { } unreachable)
                {
                    _suspects.Add(unreachable);
                    RequestRefresh();
                    LogSuspected(_logger, unreachable);
                }
            }
        }
    }

    private SiloAddress NextGateway()
    {
        for (var i = 0; i < _gateways.Length; i++)
        {
            var gateway = _gateways[(uint)Interlocked.Increment(ref _nextGateway) % _gateways.Length];
            if (!_suspects.IsSuspected(gateway))
            {
                return gateway;
            }
        }

        return _gateways[(uint)Interlocked.Increment(ref _nextGateway) % _gateways.Length];
    }

    private void RequestRefresh()
    {
        _refreshRequested.Set();
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(cancellationToken);
                await _refreshRequested.WaitAsync(_options.ViewRefreshPeriod, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        // Ask the silos of the current view first (they may differ from the configured gateways), then the gateways.
        foreach (var silo in _view.ActiveSilos.Where(s => !_suspects.IsSuspected(s)).Concat(_gateways))
        {
            try
            {
                var view = await _transport.ReadViewAsync(silo.BaseUri, _options.ConnectTimeout, cancellationToken);
                if (view.ActiveSilos.Count > 0)
                {
                    if (view.Version != _view.Version)
                    {
                        LogView(_logger, view.Version, string.Join(", ", view.ActiveSilos));
                    }

                    _view = view;
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException
                && !cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    private static SiloAddress ParseGateway(string gateway)
    {
        var endpoint = gateway.Contains("://", StringComparison.Ordinal) ? new Uri(gateway).Authority : gateway.Trim().TrimEnd('/');
        return new SiloAddress(endpoint, 0);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster view {Version}: {Silos}")]
    private static partial void LogView(ILogger logger, long version, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} refused a connection; calls go to the next owner")]
    private static partial void LogSuspected(ILogger logger, SiloAddress silo);

}
