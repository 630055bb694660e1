using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Catalog;
using Wallet.Runtime.Hosting;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// Routes a call to the silo that owns its grain: into this silo's catalog when that is this silo,
/// over the transport otherwise. A silo that refuses the connection is suspected and placement
/// passes it over, so its grains reactivate on their next owner at once instead of after the
/// death timeout; if the suspicion was wrong, the duplicate activation is harmless because every
/// balance change is decided again in PostgreSQL.
/// </summary>
internal sealed partial class ClusterGrainCallInvoker(
    LocalGrainCallInvoker local,
    ClusterMembershipService membership,
    SiloTransport transport,
    SuspectList suspects,
    IOptions<ClusterOptions> clusterOptions,
    IOptions<GrainRuntimeOptions> runtimeOptions,
    ILogger<ClusterGrainCallInvoker> logger) : IGrainCallInvoker
{
    private readonly ClusterOptions _options = clusterOptions.Value;
    private readonly TimeSpan _callTimeout = runtimeOptions.Value.CallTimeout;

    public object Invoke(GrainId target, MethodInfo method, object?[] arguments)
    {
        var owner = OwnerOf(target);
        if (owner == membership.Self)
        {
            return local.Invoke(target, method, arguments);
        }

        var invoker = GrainMethodInvoker.For(method);
        var call = SendAsync(target, invoker, arguments, hops: 0, owner);
        if (invoker.IsOneWay)
        {
            return OneWayCalls.Queued(call, logger);
        }

        return invoker.FromUntyped(call);
    }

    /// <summary>A call that arrived over the cluster endpoint: served here if this silo owns the grain (or the hops ran out), passed on otherwise.</summary>
    public Task<object?> InvokeArrivedAsync(GrainId target, GrainMethodInvoker invoker, object?[] arguments, int hops)
    {
        var owner = hops >= _options.MaxForwardHops && membership.IsActive ? membership.Self : OwnerOf(target);
        return SendAsync(target, invoker, arguments, hops, owner);
    }

    private async Task<object?> SendAsync(GrainId target, GrainMethodInvoker invoker, object?[] arguments, int hops, SiloAddress owner)
    {
        // Each retry follows a refused connection, so it moves to a silo not tried yet; the bound is a safety net.
        for (var attempt = 0; ; attempt++)
        {
            if (owner == membership.Self)
            {
                var reply = (Task)local.Invoke(target, invoker.Method, arguments);
                await reply;
                return invoker.ReadResult(reply);
            }

            try
            {
                return await transport.CallAsync(owner, target, invoker, arguments, hops + 1, _callTimeout);
            }
            catch (SiloUnreachableException exception) when (exception.NotDelivered && attempt < membership.View.ActiveSilos.Count)
            {
                if (exception.Silo is { } unreachable)
                {
                    suspects.Add(unreachable);
                    membership.RequestRefresh();
                    LogSuspected(logger, unreachable, target);
                }

                owner = OwnerOf(target);
            }
        }
    }

    private SiloAddress OwnerOf(GrainId target)
    {
        var self = membership.Self;
        var view = membership.View;
        return GrainPlacement.OwnerOf(target, view.ActiveSilos, silo => silo != self && suspects.IsSuspected(silo))
            ?? throw new SiloUnreachableException(
                null, notDelivered: true, $"No active silo can take {target} now (cluster view {view.Version}); retry shortly.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} refused a connection; its grains go to their next owner (first: {Grain})")]
    private static partial void LogSuspected(ILogger logger, SiloAddress silo, GrainId grain);

}
