using System.Net;
using System.Net.Http.Headers;
using Wallet.Runtime.Calls;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// Sends calls to silos over HTTP/2 without TLS (prior knowledge): one connection per silo,
/// reused by every call, each call a stream on it. The silo allows
/// <see cref="ClusterOptions.StreamsPerConnectionMax"/> streams at once; calls beyond that wait for a free stream
/// (bounded by the call timeout), which is how a sender that outruns its peer is pushed back.
/// </summary>
internal sealed class SiloTransport : IDisposable
{
    private static readonly MediaTypeHeaderValue JsonType = new(ClusterWire.ContentType);

    private readonly HttpClient _http;

    public SiloTransport(TimeSpan connectTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        _http = new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>
    /// Calls <paramref name="target"/> on <paramref name="silo"/>. Throws <see cref="SiloUnreachableException"/>
    /// with <c>NotDelivered</c> when the call surely did not arrive (no connection), and a retryable
    /// <see cref="SiloUnavailableException"/> when the connection broke with the outcome unknown.
    /// </summary>
    public async Task<object?> CallAsync(
        SiloAddress silo, GrainId target, GrainMethodInvoker invoker, object?[] arguments, int hops, TimeSpan timeout)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(silo.BaseUri, ClusterWire.CallsPath))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(ClusterWire.WriteCall(target, invoker, arguments, hops)) { Headers = { ContentType = JsonType } },
        };
        using var cancellation = new CancellationTokenSource(timeout);
        byte[] body;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellation.Token);
            body = await response.Content.ReadAsByteArrayAsync(cancellation.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new SiloUnavailableException($"Silo {silo} answered {(int)response.StatusCode} to a call of {target}.{invoker.Method.Name}.");
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"{target}.{invoker.Method.Name} did not reply from silo {silo} within {timeout.TotalMilliseconds:0} ms.");
        }
        catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw new SiloUnreachableException(silo, notDelivered: true, $"Silo {silo} could not be reached: {exception.Message}", exception);
        }
        catch (HttpRequestException exception)
        {
            throw new SiloUnreachableException(
                silo, notDelivered: false, $"The connection to silo {silo} broke during {target}.{invoker.Method.Name}; its outcome is unknown: {exception.Message}", exception);
        }

        return ClusterWire.ReadReply(body, invoker, silo);
    }

    /// <summary>Asks a silo (a gateway) for its view of the cluster.</summary>
    public async Task<ClusterView> ReadViewAsync(Uri gateway, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancellation.CancelAfter(timeout);
        var body = await _http.GetByteArrayAsync(new Uri(gateway, ClusterWire.MembersPath), cancellation.Token);
        return ClusterWire.ReadView(body);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Silos that refused a connection lately: placement passes them over until they are due again.</summary>
internal sealed class SuspectList(TimeSpan suspectTime)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SiloAddress, long> _until = new();

    public bool IsEmpty => _until.IsEmpty;

    public void Add(SiloAddress silo) => _until[silo] = Environment.TickCount64 + (long)suspectTime.TotalMilliseconds;

    public bool IsSuspected(SiloAddress silo)
    {
        if (_until.IsEmpty || !_until.TryGetValue(silo, out var until))
        {
            return false;
        }

        if (Environment.TickCount64 < until)
        {
            return true;
        }

        _until.TryRemove(new KeyValuePair<SiloAddress, long>(silo, until));
        return false;
    }
}
