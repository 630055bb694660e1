namespace Wallet.Runtime.Tests;

/// <summary>
/// Pipelined turns: a turn stages a posting and yields; later turns run while the commit is in
/// flight; replies wait for durability. Batches are numbered from 0 in the order the handler gets them.
/// </summary>
public sealed class GroupCommitTests
{
    // A grace period for a wrong reply to show up; a correct runtime never depends on it.
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task WhenDurable_CommitInFlight_LaterTurnsRunAndTheirItemsShareTheNextBatch()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("hot");
        var firstGate = silo.Handler.Hold(0);
        var first = account.Post(10);
        Assert.Equal([new Posting("hot", 10)], await Eventually.Within(silo.Handler.Arrived(0), "batch 0"));

        var later = Enumerable.Range(1, 4).Select(i => account.Post(i)).ToArray();
        // A plain read queued behind them replies only after their turns have staged.
        Assert.Equal(20, await Eventually.Within(account.GetBalance(), "a turn while batch 0 is in flight"));
        firstGate.SetResult();

        Assert.True(await Eventually.Within(first, "the first post"));
        Assert.Equal(
            [new Posting("hot", 1), new Posting("hot", 2), new Posting("hot", 3), new Posting("hot", 4)],
            await Eventually.Within(silo.Handler.Arrived(1), "batch 1"));
        Assert.All(await Eventually.Within(Task.WhenAll(later), "the later posts"), Assert.True);
        Assert.Equal(20, silo.Ledger.Balance("hot"));
        Assert.Equal(2, silo.Committer.Statistics.Batches);
        Assert.Equal(5, silo.Committer.Statistics.Items);
    }

    [Fact]
    public async Task WhenDurable_CommitNotReturned_NoReplyReleased()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("patient");
        var gate0 = silo.Handler.Hold(0);
        var gate1 = silo.Handler.Hold(1);
        var first = silo.Logged(account.Post(1), "first");
        await Eventually.Within(silo.Handler.Arrived(0), "batch 0");
        var second = silo.Logged(account.Post(2), "second");
        var third = silo.Logged(account.Post(3), "third");
        Assert.Equal(6, await Eventually.Within(account.GetBalance(), "a turn while batch 0 is in flight"));

        await Task.Delay(Grace);
        Assert.False(first.IsCompleted || second.IsCompleted || third.IsCompleted, "a reply came before its commit");

        gate0.SetResult();
        Assert.True(await Eventually.Within(first, "the first post"));
        Assert.Equal(2, (await Eventually.Within(silo.Handler.Arrived(1), "batch 1")).Length);
        await Task.Delay(Grace);
        Assert.False(second.IsCompleted || third.IsCompleted, "a reply of batch 1 came before its commit");

        gate1.SetResult();
        Assert.All(await Eventually.Within(Task.WhenAll(second, third), "batch 1 replies"), Assert.True);
        await Eventually.True(() => silo.Handler.Events.Count == 5, "every reply to be logged");
        var events = silo.Handler.Events;
        AssertBefore(events, "batch 0 committed", "reply first");
        AssertBefore(events, "batch 1 committed", "reply second");
        AssertBefore(events, "batch 1 committed", "reply third");
    }

    [Fact]
    public async Task WhenDurable_OneBatchFails_OnlyItsCallsFailAndStateReloadsBeforeNextRequest()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("unlucky");
        var gate0 = silo.Handler.Hold(0);
        var gate1 = silo.Handler.Hold(1);
        silo.Handler.Fail(1);

        var before = account.Post(10);
        await Eventually.Within(silo.Handler.Arrived(0), "batch 0");
        var doomed = Enumerable.Range(0, 3).Select(_ => account.Post(1)).ToArray();
        Assert.Equal(13, await Eventually.Within(account.GetBalance(), "the doomed posts to stage"));
        gate0.SetResult();
        Assert.Equal(3, (await Eventually.Within(silo.Handler.Arrived(1), "batch 1")).Length);
        // Staged while the doomed batch is in flight, so it lands in batch 2.
        var after = account.Post(100);
        Assert.Equal(113, await Eventually.Within(account.GetBalance(), "the last post to stage"));
        gate1.SetResult();

        Assert.True(await Eventually.Within(before, "the post of batch 0"));
        foreach (var call in doomed)
        {
            await Eventually.Completes(call, "a post of the failed batch");
            var exception = await Assert.ThrowsAsync<CommitFailedException>(() => call);
            Assert.IsType<InvalidOperationException>(exception.InnerException);
        }

        Assert.True(await Eventually.Within(after, "the post of batch 2"));
        Assert.Equal(1, silo.Ledger.Reads("unlucky"));

        // The cached 113 held the rolled-back postings: the next request turn must see the ledger's 110.
        Assert.Equal(110, await account.GetBalance());
        Assert.Equal(2, silo.Ledger.Reads("unlucky"));
        Assert.Equal(110, silo.Ledger.Balance("unlucky"));
        Assert.Equal(1, silo.Committer.Statistics.FailedBatches);

        Assert.True(await account.Post(5));
        Assert.Equal(115, await account.GetBalance());
        Assert.Equal(2, silo.Ledger.Reads("unlucky"));
    }

    [Fact]
    public async Task WhenDurable_OutcomeInvalidatesCachedState_StateReloadedBeforeNextRequest()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("refused");

        Assert.True(await account.Post(5));
        Assert.Equal(5, await account.GetBalance());
        Assert.Equal(1, silo.Ledger.Reads("refused"));

        // The ledger refuses to overdraw; the grain's tentative -95 must not survive.
        Assert.False(await account.Post(-100));
        Assert.Equal(1, silo.Ledger.Reads("refused"));
        Assert.Equal(5, await account.GetBalance());
        Assert.Equal(2, silo.Ledger.Reads("refused"));
    }

    [Fact]
    public async Task WhenDurable_ReloadAfterFailureFails_RequestFailsRetryablyAndNextRequestReloads()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("flaky-storage");
        Assert.True(await account.Post(5));
        Assert.False(await account.Post(-100));
        silo.Ledger.FailNextReads(1);

        var exception = await Assert.ThrowsAsync<CommitFailedException>(() => account.GetBalance());

        Assert.IsType<TimeoutException>(exception.InnerException);
        Assert.Equal(5, await account.GetBalance());
        Assert.Equal(2, silo.Ledger.Reads("flaky-storage"));
    }

    [Fact]
    public async Task WhenStagedDurable_EarlierStagedItemInFlight_ReadWaitsForItsCommit()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("reader");
        var gate = silo.Handler.Hold(0);
        var post = silo.Logged(account.Post(7), "post");
        await Eventually.Within(silo.Handler.Arrived(0), "batch 0");

        var read = silo.Logged(account.GetDurableBalance(), "read");
        await Eventually.True(() => silo.Probe.DurableReadsEntered == 1, "the read to reach its durability wait");
        await Task.Delay(Grace);
        Assert.False(read.IsCompleted, "the read replied before the posting it reports was durable");

        gate.SetResult();

        Assert.Equal(7, await Eventually.Within(read, "the durable read"));
        Assert.True(await Eventually.Within(post, "the post"));
        await Eventually.True(() => silo.Handler.Events.Count == 3, "every reply to be logged");
        AssertBefore(silo.Handler.Events, "batch 0 committed", "reply read");
    }

    [Fact]
    public async Task WhenStagedDurable_EarlierStagedItemFails_ReadFailsRetryably()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("stale-reader");
        var gate = silo.Handler.Hold(0);
        silo.Handler.Fail(0);
        var post = account.Post(7);
        await Eventually.Within(silo.Handler.Arrived(0), "batch 0");
        var read = account.GetDurableBalance();
        await Eventually.True(() => silo.Probe.DurableReadsEntered == 1, "the read to reach its durability wait");

        gate.SetResult();

        await Eventually.Completes(post, "the post");
        await Assert.ThrowsAsync<CommitFailedException>(() => post);
        await Eventually.Completes(read, "the read");
        var exception = await Assert.ThrowsAsync<CommitFailedException>(() => read);
        Assert.IsAssignableFrom<RetryableGrainException>(exception);
    }

    [Fact]
    public async Task WhenStagedDurable_AfterFailedCommitAndReload_RetriedReadSucceeds()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("retrying-reader");
        silo.Handler.Fail(0);
        await Assert.ThrowsAsync<CommitFailedException>(() => account.Post(7));

        // The failed posting is the last thing this activation staged. The next request turn reloads
        // the state, so a durable read is safe again and must not keep failing.
        Assert.Equal(0, await account.GetDurableBalance());
        Assert.Equal(0, await account.GetDurableBalance());
        Assert.Equal(2, silo.Ledger.Reads("retrying-reader"));

        Assert.True(await account.Post(3));
        Assert.Equal(3, await account.GetDurableBalance());
    }

    [Fact]
    public async Task WhenStagedDurable_NothingStaged_ReturnsAtOnce()
    {
        await using var silo = CommitSilo.Start();
        var account = silo.Account("idle-reader");

        Assert.Equal(0, await Eventually.Within(account.GetDurableBalance(), "a durable read with nothing staged"));
    }

    private static void AssertBefore(IReadOnlyList<string> events, string first, string then)
    {
        var firstIndex = events.ToList().IndexOf(first);
        var thenIndex = events.ToList().IndexOf(then);
        Assert.True(firstIndex >= 0 && thenIndex >= 0, $"Missing '{first}' or '{then}' in: {string.Join(", ", events)}");
        Assert.True(firstIndex < thenIndex, $"Expected '{first}' before '{then}' in: {string.Join(", ", events)}");
    }
}
