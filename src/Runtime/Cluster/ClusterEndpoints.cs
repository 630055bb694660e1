using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// The silo's cluster endpoint, on its own HTTP/2 port: calls from peers and clients, and the
/// membership view clients route by. It is unauthenticated: keep the port on a private network.
/// </summary>
public static partial class ClusterEndpoints
{
    /// <summary>Maps the cluster endpoint when clustering is enabled; does nothing for a single silo.</summary>
    public static IEndpointRouteBuilder MapGrainCluster(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<ClusterOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }

        var host = $"*:{options.Port}";
        app.MapPost(ClusterWire.CallsPath, HandleCallAsync).RequireHost(host).ExcludeFromDescription();
        app.MapGet(ClusterWire.MembersPath, (ClusterMembershipService membership) =>
            Results.Bytes(ClusterWire.WriteView(membership.View), ClusterWire.ContentType)).RequireHost(host).ExcludeFromDescription();
        return app;
    }

    private static async Task HandleCallAsync(HttpContext context, ClusterGrainCallInvoker invoker, GrainTypeRegistry registry, ILoggerFactory loggers)
    {
        byte[] reply;
        try
        {
            var body = await ReadBodyAsync(context.Request, context.RequestAborted);
            var (target, method, arguments, hops) = ClusterWire.ReadCall(body, registry.FindInterface);
            try
            {
                var result = await invoker.InvokeArrivedAsync(target, method, arguments, hops);
                reply = ClusterWire.WriteResult(method, result);
            }
            catch (Exception exception)
            {
                var kind = ClusterWire.KindOf(exception);
                if (kind == ClusterWire.Error)
                {
                    LogCallFailed(loggers.CreateLogger(typeof(ClusterEndpoints)), exception, target, method.Method.Name);
                }

                reply = ClusterWire.WriteError(kind, exception.Message);
            }
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException or NotSupportedException or KeyNotFoundException or ArgumentException)
        {
            reply = ClusterWire.WriteError(ClusterWire.Error, $"Malformed cluster call: {exception.Message}");
        }

        context.Response.ContentType = ClusterWire.ContentType;
        await context.Response.Body.WriteAsync(reply, context.RequestAborted);
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream(request.ContentLength is > 0 and < 1 << 20 ? (int)request.ContentLength : 1024);
        await request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Call {Grain}.{Method} from another silo failed")]
    private static partial void LogCallFailed(ILogger logger, Exception exception, GrainId grain, string method);
}
