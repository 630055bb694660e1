using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace Wallet.Runtime.Tests;

public sealed class CallFilterTests
{
    [Fact]
    public async Task GrainCallStatistics_CallsAndFailures_CountedPerGrainTypeAndMethod()
    {
        await using var silo = TestSilo.Start(s => s
            .AddGrain<IFilteredGrain, FilteredGrain>()
            .AddGrain<IOtherFilteredGrain, OtherFilteredGrain>());
        var grain = silo.GrainFactory.GetGrain<IFilteredGrain>("stats");
        var other = silo.GrainFactory.GetGrain<IOtherFilteredGrain>("stats");

        for (var i = 0; i < 3; i++)
        {
            await grain.Echo(i);
        }

        await Assert.ThrowsAsync<ExpectedGrainException>(() => grain.Fail());
        await Assert.ThrowsAsync<ExpectedGrainException>(() => grain.Fail());
        await other.Echo(7);

        var snapshot = silo.GetRequiredService<GrainCallStatistics>().Snapshot();

        Assert.Equal(
            [
                (nameof(IFilteredGrain), nameof(IFilteredGrain.Echo), 3L, 0L),
                (nameof(IFilteredGrain), nameof(IFilteredGrain.Fail), 2L, 2L),
                (nameof(IOtherFilteredGrain), nameof(IOtherFilteredGrain.Echo), 1L, 0L),
            ],
            snapshot.Select(s => (s.GrainType, s.Method, s.Calls, s.Errors)));
        Assert.All(snapshot, s => Assert.Equal(s.Calls, s.LatencyBuckets.Sum()));
    }

    [Fact]
    public async Task AddIncomingGrainCallFilter_CustomFilter_SeesEveryCallWithItsTargetAndResult()
    {
        var log = new FilterLog();
        await using var silo = TestSilo.Start(
            s => s.AddGrain<IFilteredGrain, FilteredGrain>().AddIncomingGrainCallFilter<RecordingFilter>(),
            services => services.AddSingleton(log));
        var first = silo.GrainFactory.GetGrain<IFilteredGrain>("first");
        var second = silo.GrainFactory.GetGrain<IFilteredGrain>("second");

        Assert.Equal(1, await first.Echo(1));
        Assert.Equal(2, await second.Echo(2));
        await Assert.ThrowsAsync<ExpectedGrainException>(() => first.Fail());
        await second.Notify();

        await Eventually.True(() => log.Calls.Count == 4, "the filter to see the one-way call");
        Assert.Equal(
            [
                "first.Echo(1) -> 1",
                "second.Echo(2) -> 2",
                "first.Fail() threw ExpectedGrainException",
                "second.Notify() -> ",
            ],
            log.Calls);
    }
}

internal sealed class FilterLog
{
    private readonly ConcurrentQueue<string> _calls = new();

    public IReadOnlyList<string> Calls => [.. _calls];

    public void Add(string call) => _calls.Enqueue(call);
}

internal sealed class RecordingFilter(FilterLog log) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        Assert.Equal(context.TargetId, context.Grain.GrainId);
        var call = $"{context.TargetId.Key}.{context.InterfaceMethod.Name}({string.Join(", ", context.Arguments)})";
        try
        {
            await context.Invoke();
        }
        catch (Exception exception)
        {
            log.Add($"{call} threw {exception.GetType().Name}");
            throw;
        }

        log.Add($"{call} -> {context.Result}");
    }
}

public interface IFilteredGrain : IGrainWithStringKey
{
    Task<int> Echo(int value);

    Task Fail();

    [OneWay]
    Task Notify();
}

public interface IOtherFilteredGrain : IGrainWithStringKey
{
    Task<int> Echo(int value);
}

internal sealed class FilteredGrain : Grain, IFilteredGrain
{
    public Task<int> Echo(int value) => Task.FromResult(value);

    public Task Fail() => throw new ExpectedGrainException("failed on purpose");

    public Task Notify() => Task.CompletedTask;
}

internal sealed class OtherFilteredGrain : Grain, IOtherFilteredGrain
{
    public Task<int> Echo(int value) => Task.FromResult(value);
}
