using System.Reflection;

namespace Wallet.Runtime;

/// <summary>What an incoming-call filter sees of one call.</summary>
public interface IIncomingGrainCallContext
{
    Grain Grain { get; }

    GrainId TargetId { get; }

    MethodInfo InterfaceMethod { get; }

    object?[] Arguments { get; }

    /// <summary>The method's result once <see cref="Invoke"/> has completed.</summary>
    object? Result { get; }

    /// <summary>Runs the next filter, or the grain method itself.</summary>
    Task Invoke();
}

/// <summary>
/// Wraps every call a silo receives. The task a filter returns completes when the grain method
/// does, durability included, so timing it measures what the caller waited.
/// </summary>
public interface IIncomingGrainCallFilter
{
    Task Invoke(IIncomingGrainCallContext context);
}
