using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Wallet.Grains.Receipts;
using Xunit;

namespace Wallet.Tests.Receipts;

/// <summary>
/// Receipt readings give way to card authorizations: a real child process standing for an OCR tool
/// is stopped (its state in /proc is T) while an authorization is handled and goes on after the
/// last one ends; readings held for long still get their share of the time; work in the silo's own
/// process waits while they are held.
/// </summary>
public sealed class ReadingYieldTests : IDisposable
{
    private readonly Process _tool = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
    private readonly FakeTimeProvider _clock = new();

    public void Dispose()
    {
        _tool.Kill();
        _tool.WaitForExit();
        _tool.Dispose();
    }

    [Fact]
    public async Task Authorizing_StopsAToolUntilTheLastAuthorizationEnds()
    {
        using var yield = Yield(share: 0.05);
        using var tracked = yield.Track(_tool);
        Assert.False(await IsStoppedAsync(_tool, expected: false));

        var first = yield.Authorizing();
        var second = yield.Authorizing();
        Assert.True(await IsStoppedAsync(_tool, expected: true));
        first.Dispose();
        first.Dispose();
        Assert.True(yield.Held);
        Assert.True(await IsStoppedAsync(_tool, expected: true));

        second.Dispose();
        Assert.False(yield.Held);
        Assert.False(await IsStoppedAsync(_tool, expected: false));
    }

    [Fact]
    public async Task Track_WhileHeld_StopsTheToolAtOnce_AndAnUntrackedToolIsLeftAlone()
    {
        using var yield = Yield(share: 0.05);
        using (yield.Authorizing())
        {
            var tracked = yield.Track(_tool);
            Assert.True(await IsStoppedAsync(_tool, expected: true));
            tracked.Dispose();
        }

        Assert.True(await IsStoppedAsync(_tool, expected: true));
        Continue(_tool);
        using (yield.Authorizing())
        {
            Assert.False(await IsStoppedAsync(_tool, expected: false));
        }
    }

    [Fact]
    public async Task Held_ForTheShareLimit_RunsASlice_ThenIsHeldAgain()
    {
        using var yield = Yield(share: 0.05);
        using var tracked = yield.Track(_tool);
        using var authorizing = yield.Authorizing();
        Assert.True(await IsStoppedAsync(_tool, expected: true));

        _clock.Advance(TimeSpan.FromMilliseconds(949));
        Assert.True(yield.Held);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(yield.Held);
        Assert.False(await IsStoppedAsync(_tool, expected: false));

        // An authorization that arrives in the slice does not cut it short.
        using (yield.Authorizing())
        {
            Assert.False(yield.Held);
        }

        _clock.Advance(ReadingYield.Slice);
        Assert.True(yield.Held);
        Assert.True(await IsStoppedAsync(_tool, expected: true));
        Assert.Equal(TimeSpan.FromMilliseconds(950), yield.HeldTime);

        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TimeSpan.FromMilliseconds(1050), yield.HeldTime);
    }

    [Fact]
    public async Task ShareOfOne_NeverHolds()
    {
        using var yield = Yield(share: 1);
        using var tracked = yield.Track(_tool);
        using var authorizing = yield.Authorizing();

        Assert.False(yield.Held);
        Assert.False(await IsStoppedAsync(_tool, expected: false));
        Assert.Equal(TimeSpan.Zero, yield.HeldTime);
    }

    [Fact]
    public async Task WaitWhileHeld_ReturnsOnceLetGo_OrWhenCancelled()
    {
        using var yield = Yield(share: 0.05);
        var authorizing = yield.Authorizing();
        var waiting = Task.Run(() => yield.WaitWhileHeld(CancellationToken.None));
        using var cancel = new CancellationTokenSource();
        var cancelled = Task.Run(() => yield.WaitWhileHeld(cancel.Token));

        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(waiting.IsCompleted);

        authorizing.Dispose();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        yield.WaitWhileHeld(CancellationToken.None);
    }

    private ReadingYield Yield(double share) => new(Options.Create(new ReceiptOptions { ReadingShareMin = share }), _clock);

    /// <summary>Whether the process is stopped, waiting up to 5 s for it to become <paramref name="expected"/> (a signal lands promptly, not at once).</summary>
    private static async Task<bool> IsStoppedAsync(Process process, bool expected)
    {
        var deadline = Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency);
        bool stopped;
        while ((stopped = State(process) == 'T') != expected && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(10);
        }

        return stopped;
    }

    // /proc/<pid>/stat: "pid (name) S ...", the state after the name's closing parenthesis.
    private static char State(Process process)
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    private static void Continue(Process process) =>
        Process.Start("kill", ["-CONT", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
}
