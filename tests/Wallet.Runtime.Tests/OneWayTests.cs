using Microsoft.Extensions.DependencyInjection;

namespace Wallet.Runtime.Tests;

public sealed class OneWayTests
{
    [Fact]
    public async Task Call_OneWayMethod_ReturnsBeforeTheMethodRunsAndTheMethodStillRuns()
    {
        var probe = new OneWayProbe();
        await using var silo = TestSilo.Start(
            s => s.AddGrain<IOneWayGrain, OneWayGrain>(),
            services => services.AddSingleton(probe));
        var grain = silo.GrainFactory.GetGrain<IOneWayGrain>("notified");

        // The method cannot finish before the gate opens, yet the caller's task is already done.
        var call = grain.Notify("hello");

        Assert.True(call.IsCompletedSuccessfully);
        await Eventually.Within(probe.Entered.Task, "the one-way method to start");
        Assert.Empty(probe.Received);

        probe.Release.SetResult();

        await Eventually.True(() => probe.Received.Count == 1, "the one-way method to finish");
        Assert.Equal(["hello"], probe.Received);
    }

    [Fact]
    public async Task Call_OneWayMethodThrows_CallerUnaffectedAndActivationKeepsServing()
    {
        var probe = new OneWayProbe();
        probe.Release.SetResult();
        await using var silo = TestSilo.Start(
            s => s.AddGrain<IOneWayGrain, OneWayGrain>(),
            services => services.AddSingleton(probe));
        var grain = silo.GrainFactory.GetGrain<IOneWayGrain>("faulty");

        await grain.NotifyAndThrow();
        await grain.Notify("after");

        await Eventually.True(() => probe.Received.Count == 1, "the next one-way call to run");
        Assert.Equal(["after"], probe.Received);
        Assert.Equal(1, await grain.GetNotifyCount());
    }
}

internal sealed class OneWayProbe
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _received = new();

    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> Received => [.. _received];

    public void Receive(string message) => _received.Enqueue(message);
}

public interface IOneWayGrain : IGrainWithStringKey
{
    [OneWay]
    Task Notify(string message);

    [OneWay]
    Task NotifyAndThrow();

    Task<int> GetNotifyCount();
}

internal sealed class OneWayGrain(OneWayProbe probe) : Grain, IOneWayGrain
{
    private int _notifyCount;

    public async Task Notify(string message)
    {
        probe.Entered.TrySetResult();
        await probe.Release.Task;
        _notifyCount++;
        probe.Receive(message);
    }

    public async Task NotifyAndThrow()
    {
        await Task.Yield();
        throw new ExpectedGrainException("nobody is listening");
    }

    public Task<int> GetNotifyCount() => Task.FromResult(_notifyCount);
}
