using Microsoft.Extensions.DependencyInjection;

namespace Wallet.Runtime.Catalog;

/// <summary>Which grain class implements which grain interface, and how its state is read.</summary>
public sealed class GrainTypeRegistry
{
    private readonly Dictionary<Type, Type> _grainClasses = [];
    private readonly Dictionary<Type, Action<Grain, IServiceProvider>> _storageBinders = [];

    internal void Add<TGrainInterface, TGrain>()
        where TGrainInterface : IGrain
        where TGrain : Grain, TGrainInterface
    {
        _grainClasses[typeof(TGrainInterface)] = typeof(TGrain);
        var stateType = FindStateType(typeof(TGrain));
        if (stateType is not null)
        {
            var bind = typeof(GrainTypeRegistry).GetMethod(nameof(BindStorage), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(stateType);
            _storageBinders[typeof(TGrain)] = bind.CreateDelegate<Action<Grain, IServiceProvider>>();
        }
    }

    /// <summary>The registered grain interface with this full name, or null.</summary>
    internal Type? FindInterface(string fullName) =>
        _grainClasses.Keys.FirstOrDefault(type => type.FullName == fullName);

    internal Type GetGrainClass(Type grainInterface) =>
        _grainClasses.TryGetValue(grainInterface, out var grainClass)
            ? grainClass
            : throw new InvalidOperationException($"No grain class is registered for {grainInterface.Name}.");

    internal void AttachStorage(Grain grain, IServiceProvider services)
    {
        if (_storageBinders.TryGetValue(grain.GetType(), out var bind))
        {
            bind(grain, services);
        }
    }

    private static void BindStorage<TState>(Grain grain, IServiceProvider services) where TState : class =>
        ((Grain<TState>)grain).Storage = services.GetRequiredService<IGrainStorage<TState>>();

    private static Type? FindStateType(Type grainClass)
    {
        for (var type = grainClass; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Grain<>))
            {
                return type.GetGenericArguments()[0];
            }
        }

        return null;
    }
}
