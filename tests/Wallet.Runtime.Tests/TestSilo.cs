using Microsoft.Extensions.DependencyInjection;
using Wallet.Runtime.Hosting;

namespace Wallet.Runtime.Tests;

/// <summary>
/// One in-process silo per test: its own service provider, so every counter a test reads is its own.
/// The hosted collector does not run; tests collect by calling <see cref="SiloStatistics"/> directly.
/// </summary>
internal sealed class TestSilo : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private TestSilo(ServiceProvider services) => _services = services;

    public IGrainFactory GrainFactory => _services.GetRequiredService<IGrainFactory>();

    public SiloStatistics Statistics => _services.GetRequiredService<SiloStatistics>();

    public static TestSilo Start(
        Action<SiloBuilder> grains,
        Action<IServiceCollection>? services = null,
        Action<GrainRuntimeOptions>? options = null)
    {
        var collection = new ServiceCollection().AddLogging();
        collection.Configure<GrainRuntimeOptions>(o => options?.Invoke(o));
        services?.Invoke(collection);
        collection.AddSilo(grains);
        return new TestSilo(collection.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }));
    }

    public T GetRequiredService<T>() where T : notnull => _services.GetRequiredService<T>();

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}

/// <summary>Liveness helpers: wait for something that must happen, and fail clearly when it does not.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    public static async Task True(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {Timeout.TotalSeconds:0} s waiting for: {what}");
            await Task.Delay(PollInterval);
        }
    }

    public static async Task True(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {Timeout.TotalSeconds:0} s waiting for: {what}");
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing the test instead of hanging when it never completes.</summary>
    public static async Task<T> Within<T>(Task<T> task, string what)
    {
        await Completes(task, what);
        return await task;
    }

    /// <summary>Awaits <paramref name="task"/>, failing the test instead of hanging when it never completes.</summary>
    public static async Task Within(Task task, string what)
    {
        await Completes(task, what);
        await task;
    }

    /// <summary>Waits for <paramref name="task"/> to complete in any state, without observing its outcome.</summary>
    public static async Task Completes(Task task, string what)
    {
        var winner = await Task.WhenAny(task, Task.Delay(Timeout));
        Assert.True(ReferenceEquals(winner, task), $"Timed out after {Timeout.TotalSeconds:0} s waiting for: {what}");
    }
}
