namespace Wallet.Runtime.Tests;

public sealed class WhenDurableTaskTests
{
    [Fact]
    public async Task WhenDurable_PendingOutcomeOfAnotherTurn_YieldsSoThatTurnCanRunThenResumes()
    {
        await using var silo = TestSilo.Start(s => s.AddGrain<IOutcomeGrain, OutcomeGrain>());
        var grain = silo.GrainFactory.GetGrain<IOutcomeGrain>("waiter");

        var waiting = grain.WaitForOutcome();
        // Had WaitForOutcome kept its turn, this call would queue behind it and never run.
        await Eventually.Within(grain.SetOutcome(42), "a turn while another awaits a pending outcome");

        Assert.Equal(42, await Eventually.Within(waiting, "the waiting turn to resume"));
        Assert.Equal(1, silo.Statistics.ActivationCount);
    }
}

public interface IOutcomeGrain : IGrainWithStringKey
{
    Task<int> WaitForOutcome();

    Task SetOutcome(int value);
}

internal sealed class OutcomeGrain : Grain, IOutcomeGrain
{
    private readonly TaskCompletionSource<int> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<int> WaitForOutcome() => await WhenDurable(_outcome.Task);

    public Task SetOutcome(int value)
    {
        _outcome.SetResult(value);
        return Task.CompletedTask;
    }
}
