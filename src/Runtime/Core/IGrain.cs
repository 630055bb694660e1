namespace Wallet.Runtime;

/// <summary>Marker for anything a grain reference can address.</summary>
public interface IAddressable;

/// <summary>Marker for grain interfaces.</summary>
public interface IGrain : IAddressable;

/// <summary>A grain whose identity is a string (a wallet id, a card id).</summary>
public interface IGrainWithStringKey : IGrain;

/// <summary>Hands out typed references to grains. A reference is cheap and activates nothing until called.</summary>
public interface IGrainFactory
{
    TGrainInterface GetGrain<TGrainInterface>(string primaryKey) where TGrainInterface : IGrainWithStringKey;
}

/// <summary>The entry point for code that calls grains without hosting them.</summary>
public interface IClusterClient : IGrainFactory;

/// <summary>
/// Marks a grain interface method as fire-and-forget: the caller's task completes once the
/// message is queued, and the callee's outcome is not reported. Use only for notifications
/// whose loss is tolerated.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OneWayAttribute : Attribute;
