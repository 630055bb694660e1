using System.Collections.Concurrent;
using System.Reflection;

namespace Wallet.Runtime.Calls;

/// <summary>
/// Everything the runtime needs to know about one grain interface method, built once per method:
/// whether it is one-way, how to make a request for it and how to read its result.
/// </summary>
internal abstract class GrainMethodInvoker
{
    private static readonly ConcurrentDictionary<MethodInfo, GrainMethodInvoker> Cache = new();

    protected GrainMethodInvoker(MethodInfo method)
    {
        Method = method;
        IsOneWay = method.GetCustomAttribute<OneWayAttribute>() is not null;
        Parameters = method.GetParameters();
        if (IsOneWay && method.ReturnType != typeof(Task))
        {
            throw new NotSupportedException($"One-way method {method.DeclaringType?.Name}.{method.Name} must return Task: its caller gets no result.");
        }
    }

    public MethodInfo Method { get; }

    public bool IsOneWay { get; }

    public ParameterInfo[] Parameters { get; }

    /// <summary>The T of Task&lt;T&gt;; null for a method that returns Task.</summary>
    public abstract Type? ResultType { get; }

    public static GrainMethodInvoker For(MethodInfo method) => Cache.GetOrAdd(method, Create);

    public abstract GrainRequest CreateRequest(GrainId target, object?[] arguments);

    /// <summary>The task handed back to the caller, typed as the interface method declares.</summary>
    public abstract object ReplyTask(GrainRequest request, TimeSpan timeout);

    public abstract object? ReadResult(Task completed);

    /// <summary>Types a result that arrived untyped (from another silo) as the interface method declares.</summary>
    public abstract object FromUntyped(Task<object?> untyped);

    private static GrainMethodInvoker Create(MethodInfo method)
    {
        var returnType = method.ReturnType;
        if (returnType == typeof(Task))
        {
            return new VoidGrainMethodInvoker(method);
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var invokerType = typeof(GrainMethodInvoker<>).MakeGenericType(returnType.GetGenericArguments()[0]);
            return (GrainMethodInvoker)Activator.CreateInstance(invokerType, method)!;
        }

        throw new NotSupportedException(
            $"Grain method {method.DeclaringType?.Name}.{method.Name} must return Task or Task<T>.");
    }
}

internal class GrainMethodInvoker<T>(MethodInfo method) : GrainMethodInvoker(method)
{
    public override GrainRequest CreateRequest(GrainId target, object?[] arguments)
        => new GrainRequest<T>(this, target, arguments);

    public override object ReplyTask(GrainRequest request, TimeSpan timeout)
        => WithTimeout(((GrainRequest<T>)request).Reply, request, timeout);

    public override Type? ResultType => typeof(T);

    public override object? ReadResult(Task completed) => ((Task<T>)completed).Result;

    public override object FromUntyped(Task<object?> untyped) => Cast(untyped);

    private static async Task<T> Cast(Task<object?> untyped) => (T)(await untyped)!;

    private static async Task<T> WithTimeout(Task<T> reply, GrainRequest request, TimeSpan timeout)
    {
        try
        {
            return await reply.WaitAsync(timeout);
        }
        catch (TimeoutException) when (!reply.IsCompleted)
        {
            throw new TimeoutException(
                $"{request.TargetId}.{request.Invoker.Method.Name} did not reply within {timeout.TotalMilliseconds:0} ms. " +
                "A call cycle between grains, or an overloaded silo, shows up this way.");
        }
    }
}

internal sealed class VoidGrainMethodInvoker(MethodInfo method) : GrainMethodInvoker<object?>(method)
{
    public override Type? ResultType => null;

    public override object FromUntyped(Task<object?> untyped) => untyped;

    public override object? ReadResult(Task completed) => null;
}
