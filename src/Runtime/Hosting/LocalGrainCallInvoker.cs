using System.Reflection;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Catalog;

namespace Wallet.Runtime.Hosting;

/// <summary>Delivers calls to activations of this silo.</summary>
internal sealed class LocalGrainCallInvoker(GrainCatalog catalog, IOptions<GrainRuntimeOptions> options) : IGrainCallInvoker
{
    private readonly TimeSpan _callTimeout = options.Value.CallTimeout;

    public object Invoke(GrainId target, MethodInfo method, object?[] arguments)
    {
        var invoker = GrainMethodInvoker.For(method);
        var request = invoker.CreateRequest(target, arguments);
        try
        {
            catalog.Send(request);
        }
        catch (Exception exception) when (exception is RetryableGrainException)
        {
            request.Fail(exception);
        }

        return invoker.IsOneWay ? Task.CompletedTask : invoker.ReplyTask(request, _callTimeout);
    }
}

/// <summary>The in-silo <see cref="IGrainFactory"/> and <see cref="IClusterClient"/>.</summary>
internal sealed class GrainFactory(IGrainCallInvoker invoker) : IClusterClient
{
    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey) where TGrainInterface : IGrainWithStringKey
    {
        ArgumentException.ThrowIfNullOrEmpty(primaryKey);
        return GrainReference.Create<TGrainInterface>(new GrainId(typeof(TGrainInterface), primaryKey), invoker);
    }
}
