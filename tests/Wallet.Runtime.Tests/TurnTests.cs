namespace Wallet.Runtime.Tests;

public sealed class TurnTests
{
    private const int CallCount = 1_000;

    [Fact]
    public async Task Call_ThousandConcurrentCallsOnOneActivation_TurnsNeverOverlap()
    {
        await using var silo = TestSilo.Start(s => s.AddGrain<ITurnGrain, TurnGrain>());
        var grain = silo.GrainFactory.GetGrain<ITurnGrain>("turns");

        // Task.Run so that the calls also race each other into the mailbox from many threads.
        var calls = Enumerable.Range(0, CallCount).Select(_ => Task.Run(grain.Enter)).ToArray();
        var replies = await Eventually.Within(Task.WhenAll(calls), "all 1,000 replies");

        // Each turn read the total, yielded, then wrote it back plus one: an overlap would lose an update.
        Assert.Equal(Enumerable.Range(1, CallCount), replies.Order());
        Assert.Equal(CallCount, await grain.GetTotal());
        Assert.Equal(1, await grain.GetMaxConcurrency());
    }
}

public interface ITurnGrain : IGrainWithStringKey
{
    Task<int> Enter();

    Task<int> GetTotal();

    Task<int> GetMaxConcurrency();
}

internal sealed class TurnGrain : Grain, ITurnGrain
{
    private int _inside;
    private int _maxInside;
    private int _total;

    public async Task<int> Enter()
    {
        var inside = Interlocked.Increment(ref _inside);
        InterlockedMax(ref _maxInside, inside);
        var total = _total;
        await Task.Yield();
        if (total % 50 == 0)
        {
            await Task.Delay(1);
        }

        _total = total + 1;
        Interlocked.Decrement(ref _inside);
        return total + 1;
    }

    public Task<int> GetTotal() => Task.FromResult(_total);

    public Task<int> GetMaxConcurrency() => Task.FromResult(Volatile.Read(ref _maxInside));

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
