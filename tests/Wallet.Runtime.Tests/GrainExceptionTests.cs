namespace Wallet.Runtime.Tests;

public sealed class GrainExceptionTests
{
    [Fact]
    public async Task Call_MethodThrowsAfterAwait_CallerGetsSameExceptionType()
    {
        await using var silo = TestSilo.Start(s => s.AddGrain<IThrowingGrain, ThrowingGrain>());
        var grain = silo.GrainFactory.GetGrain<IThrowingGrain>("async-throw");

        var exception = await Assert.ThrowsAsync<ExpectedGrainException>(() => grain.ThrowAfterAwait("boom"));

        Assert.Equal("boom", exception.Message);
    }

    [Fact]
    public async Task Call_MethodThrowsBeforeReturningTask_CallerGetsSameExceptionType()
    {
        await using var silo = TestSilo.Start(s => s.AddGrain<IThrowingGrain, ThrowingGrain>());
        var grain = silo.GrainFactory.GetGrain<IThrowingGrain>("sync-throw");

        var exception = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.ThrowSynchronously(-1));

        Assert.Equal("value", exception.ParamName);
    }

    [Fact]
    public async Task Call_AfterMethodThrew_SameActivationKeepsServingWithItsState()
    {
        await using var silo = TestSilo.Start(s => s.AddGrain<IThrowingGrain, ThrowingGrain>());
        var grain = silo.GrainFactory.GetGrain<IThrowingGrain>("survivor");
        var instance = await grain.GetInstanceId();
        Assert.Equal(1, await grain.Increment());

        await Assert.ThrowsAsync<ExpectedGrainException>(() => grain.ThrowAfterAwait("first"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.ThrowSynchronously(-1));

        Assert.Equal(2, await grain.Increment());
        Assert.Equal(instance, await grain.GetInstanceId());
        Assert.Equal(1, silo.Statistics.ActivationCount);
    }
}

public sealed class ExpectedGrainException(string message) : Exception(message);

public interface IThrowingGrain : IGrainWithStringKey
{
    Task ThrowAfterAwait(string message);

    Task<int> ThrowSynchronously(int value);

    Task<int> Increment();

    Task<Guid> GetInstanceId();
}

internal sealed class ThrowingGrain : Grain, IThrowingGrain
{
    private readonly Guid _instanceId = Guid.NewGuid();
    private int _count;

    public async Task ThrowAfterAwait(string message)
    {
        await Task.Yield();
        throw new ExpectedGrainException(message);
    }

    // Not async: the exception leaves the method before any task exists.
    public Task<int> ThrowSynchronously(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return Task.FromResult(value);
    }

    public Task<int> Increment() => Task.FromResult(++_count);

    public Task<Guid> GetInstanceId() => Task.FromResult(_instanceId);
}
