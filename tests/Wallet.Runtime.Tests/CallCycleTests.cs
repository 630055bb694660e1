namespace Wallet.Runtime.Tests;

public sealed class CallCycleTests
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Call_CycleBetweenTwoGrains_SurfacesTimeoutInsteadOfHanging()
    {
        await using var silo = TestSilo.Start(
            s => s.AddGrain<ICycleGrain, CycleGrain>(),
            options: options => options.CallTimeout = CallTimeout);
        var a = silo.GrainFactory.GetGrain<ICycleGrain>("a");

        // a.CallPeer("b") -> b.CallPeer("a") -> a.Ping(): a's second call waits behind its first turn.
        var cycle = a.CallPeer("b", "a");
        await Eventually.Completes(cycle, "the cyclic call to fail");

        await Assert.ThrowsAsync<TimeoutException>(() => cycle);

        // Once the grains' own calls time out, the cycle unwinds and both activations serve again.
        // A ping sent before that may itself time out, as it waits behind the stuck turns.
        await Eventually.True(() => Answers(a, "a"), "a to serve again");
        await Eventually.True(() => Answers(silo.GrainFactory.GetGrain<ICycleGrain>("b"), "b"), "b to serve again");
    }

    private static async Task<bool> Answers(ICycleGrain grain, string key)
    {
        try
        {
            return await grain.Ping() == key;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}

public interface ICycleGrain : IGrainWithStringKey
{
    /// <summary>Calls <paramref name="peer"/>, which calls <paramref name="back"/>.Ping().</summary>
    Task<string> CallPeer(string peer, string back);

    Task<string> CallPing(string target);

    Task<string> Ping();
}

internal sealed class CycleGrain : Grain, ICycleGrain
{
    public Task<string> CallPeer(string peer, string back) =>
        GrainFactory.GetGrain<ICycleGrain>(peer).CallPing(back);

    public Task<string> CallPing(string target) =>
        GrainFactory.GetGrain<ICycleGrain>(target).Ping();

    public Task<string> Ping() => Task.FromResult(GetPrimaryKeyString());
}
