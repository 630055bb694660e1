using System.Reflection;

namespace Wallet.Runtime.Calls;

/// <summary>Sends a call to wherever the target grain lives.</summary>
internal interface IGrainCallInvoker
{
    /// <summary>Returns the task the interface method declares (Task or Task&lt;T&gt;).</summary>
    object Invoke(GrainId target, MethodInfo method, object?[] arguments);
}

/// <summary>
/// The typed reference <see cref="IGrainFactory.GetGrain{T}"/> returns: every interface method call
/// becomes a request to the grain. Built with <see cref="DispatchProxy"/>, so no code generation.
/// </summary>
public class GrainReference : DispatchProxy
{
    private IGrainCallInvoker? _invoker;

    public GrainId GrainId { get; private set; }

    internal static TGrainInterface Create<TGrainInterface>(GrainId grainId, IGrainCallInvoker invoker)
        where TGrainInterface : IGrain
    {
        var proxy = Create<TGrainInterface, GrainReference>();
        var reference = (GrainReference)(object)proxy!;
        reference.GrainId = grainId;
        reference._invoker = invoker;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        return _invoker!.Invoke(GrainId, targetMethod, args ?? []);
    }
}
