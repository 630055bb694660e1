using Microsoft.Extensions.DependencyInjection;

namespace Wallet.Runtime.Tests;

public sealed class MailboxTests
{
    private const int Capacity = 3;
    private const int Overflow = 2;

    [Fact]
    public async Task Call_MailboxFull_OnlyOverflowCallsFailWithRetryableMailboxFull()
    {
        var gate = new MailboxGate();
        await using var silo = TestSilo.Start(
            s => s.AddGrain<IMailboxGrain, MailboxGrain>(),
            services => services.AddSingleton(gate),
            options => options.MailboxCapacityMax = Capacity);
        var grain = silo.GrainFactory.GetGrain<IMailboxGrain>("narrow");

        // The blocking turn has left the mailbox, so the mailbox is empty while the activation is busy.
        var blocked = grain.Block();
        await Eventually.Within(gate.Entered.Task, "the blocking turn to start");
        var calls = Enumerable.Range(0, Capacity + Overflow).Select(grain.Echo).ToArray();

        foreach (var overflow in calls[Capacity..])
        {
            await Eventually.Completes(overflow, "an overflow call to be rejected");
            var exception = await Assert.ThrowsAsync<MailboxFullException>(() => overflow);
            Assert.IsAssignableFrom<RetryableGrainException>(exception);
            Assert.Equal(new GrainId(typeof(IMailboxGrain), "narrow"), exception.GrainId);
        }

        Assert.All(calls[..Capacity], call => Assert.False(call.IsCompleted));

        gate.Release.SetResult();
        await Eventually.Within(blocked, "the blocking turn");
        var replies = await Eventually.Within(Task.WhenAll(calls[..Capacity]), "the queued calls");

        Assert.Equal(Enumerable.Range(0, Capacity), replies);
        Assert.Equal(42, await grain.Echo(42));
    }
}

internal sealed class MailboxGate
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public interface IMailboxGrain : IGrainWithStringKey
{
    Task Block();

    Task<int> Echo(int value);
}

internal sealed class MailboxGrain(MailboxGate gate) : Grain, IMailboxGrain
{
    public async Task Block()
    {
        gate.Entered.SetResult();
        await gate.Release.Task;
    }

    public Task<int> Echo(int value) => Task.FromResult(value);
}
