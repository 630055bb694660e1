using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Runtime.Tests;

/// <summary>
/// Liveness under chaos: many grains, every kind of turn the runtime supports (yield at a commit,
/// yield twice, a regular await before staging, a reload inside the turn, a read that waits for
/// staged commits), and a commit handler that delays, fails whole batches and refuses items at
/// random. Every call must finish with a result or a retryable error, well before the call timeout,
/// and no two segments of one activation may ever run at once.
/// </summary>
public sealed class StressTests
{
    private const int Grains = 64;
    private const int Calls = 20_000;
    private const int InFlight = 128;

    [Fact]
    public async Task Calls_ChaoticCommitsAcrossManyGrains_EveryCallFinishesAndSegmentsNeverOverlap()
    {
        var chaos = new Chaos(seed: 4242);
        var silo = TestSilo.Start(
            grains => grains.AddGrain<IStressGrain, StressGrain>(),
            services => services
                .AddSingleton(chaos)
                .AddSingleton<IGrainStorage<StressState>>(chaos)
                .AddSingleton(new GroupCommitter<StressItem, StressOutcome>(
                    chaos, new GroupCommitOptions { CommitBatchSizeMax = 32 }, NullLogger<GroupCommitter<StressItem, StressOutcome>>.Instance)),
            options => options.CallTimeout = TimeSpan.FromSeconds(15));

        try
        {
            await RunChaosAsync(silo, chaos);
        }
        finally
        {
            // A broken runtime may never drain; the test must still end, failing, not hang.
            await Task.WhenAny(silo.DisposeAsync().AsTask(), Task.Delay(TimeSpan.FromSeconds(10)));
        }
    }

    private static async Task RunChaosAsync(TestSilo silo, Chaos chaos)
    {
        var random = new Random(7);
        using var slots = new SemaphoreSlim(InFlight);
        var outcomes = new ConcurrentDictionary<string, int>();
        var calls = new List<Task>(Calls);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var i = 0; i < Calls; i++)
        {
            if (!await slots.WaitAsync(Remaining(deadline)))
            {
                break; // calls are not finishing; the assertions below say how many
            }

            var grain = silo.GrainFactory.GetGrain<IStressGrain>($"g{random.Next(Grains)}");
            var kind = random.Next(5);
            calls.Add(Task.Run(async () =>
            {
                try
                {
                    _ = kind switch
                    {
                        0 => await grain.Stage(1),
                        1 => await grain.StageTwice(1),
                        2 => await grain.AwaitThenStage(1),
                        3 => await grain.ReloadThenRead(),
                        _ => await grain.Read(),
                    };
                    outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
                }
                catch (Exception exception)
                {
                    outcomes.AddOrUpdate(exception.GetType().Name, 1, (_, n) => n + 1);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }

        var all = Task.WhenAll(calls);
        var finished = await Task.WhenAny(all, Task.Delay(Remaining(deadline)));

        var summary = string.Join(", ", outcomes.Select(o => $"{o.Key}={o.Value}"));
        Assert.True(calls.Count == Calls, $"only {calls.Count} of {Calls} calls could start within 60 s ({summary})");
        Assert.True(finished == all, $"calls still pending after 60 s: {calls.Count(c => !c.IsCompleted)} ({summary})");
        Assert.Equal(0, chaos.OverlapsSeen);
        Assert.False(outcomes.ContainsKey(nameof(TimeoutException)), $"a call timed out: {summary}");
        Assert.All(outcomes.Keys, key => Assert.Contains(key, new[] { "ok", nameof(CommitFailedException) }));
        Assert.True(outcomes.GetValueOrDefault("ok") > Calls / 2, summary);
        Assert.True(chaos.FailedBatches > 0 && chaos.RefusedItems > 0, "the chaos must have happened");
    }

    private static TimeSpan Remaining(DateTime deadline) =>
        deadline > DateTime.UtcNow ? deadline - DateTime.UtcNow : TimeSpan.Zero;

    public interface IStressGrain : IGrainWithStringKey
    {
        Task<long> Stage(long amount);

        Task<long> StageTwice(long amount);

        Task<long> AwaitThenStage(long amount);

        Task<long> ReloadThenRead();

        Task<long> Read();
    }

    public sealed record StressItem(string Account, long Amount);

    public sealed record StressOutcome(bool Applied);

    public sealed class StressState
    {
        public long Balance { get; set; }
    }

    /// <summary>The "database": balances, a storage that sometimes stalls, a committer that misbehaves.</summary>
    public sealed class Chaos(int seed) : ICommitHandler<StressItem, StressOutcome>, IGrainStorage<StressState>
    {
        private readonly ConcurrentDictionary<string, long> _balances = new();
        private readonly Random _random = new(seed);
        private readonly Lock _randomLock = new();
        private int _overlaps;
        private int _failedBatches;
        private int _refusedItems;

        public int OverlapsSeen => Volatile.Read(ref _overlaps);

        public int FailedBatches => Volatile.Read(ref _failedBatches);

        public int RefusedItems => Volatile.Read(ref _refusedItems);

        public void Overlap() => Interlocked.Increment(ref _overlaps);

        public async Task<StressOutcome[]> CommitAsync(IReadOnlyList<StressItem> items, CancellationToken cancellationToken)
        {
            var (delay, fail) = Next(r => (r.Next(3), r.Next(100) < 5));
            if (delay == 0)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(delay, cancellationToken);
            }

            if (fail)
            {
                Interlocked.Increment(ref _failedBatches);
                throw new InvalidOperationException("chaos: the batch failed");
            }

            return [.. items.Select(item =>
            {
                if (Next(r => r.Next(100) < 5))
                {
                    Interlocked.Increment(ref _refusedItems);
                    return new StressOutcome(false);
                }

                _balances.AddOrUpdate(item.Account, item.Amount, (_, b) => b + item.Amount);
                return new StressOutcome(true);
            })];
        }

        public bool InvalidatesCachedState(StressOutcome outcome) => !outcome.Applied;

        public async Task<StressState> ReadStateAsync(GrainId grainId, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return new StressState { Balance = _balances.GetValueOrDefault(grainId.Key) };
        }

        private T Next<T>(Func<Random, T> draw)
        {
            lock (_randomLock)
            {
                return draw(_random);
            }
        }
    }

    internal sealed class StressGrain(GroupCommitter<StressItem, StressOutcome> committer, Chaos chaos) : Grain<StressState>, IStressGrain
    {
        private int _segments;

        public async Task<long> Stage(long amount)
        {
            Enter();
            State.Balance += amount;
            var commit = WhenDurable(committer, new StressItem(GetPrimaryKeyString(), amount));
            Exit();
            var outcome = await commit;
            Enter();
            var balance = outcome.Applied ? State.Balance : -1;
            Exit();
            return balance;
        }

        public async Task<long> StageTwice(long amount)
        {
            await Stage(amount);
            return await Stage(amount);
        }

        // A regular await keeps the turn: the segment spans it, so no other segment may start meanwhile.
        public async Task<long> AwaitThenStage(long amount)
        {
            Enter();
            await Task.Delay(1);
            Exit();
            return await Stage(amount);
        }

        public async Task<long> ReloadThenRead()
        {
            Enter();
            await ReloadStateAsync();
            Exit();
            return await Read();
        }

        public async Task<long> Read()
        {
            Enter();
            var balance = State.Balance;
            var durable = WhenStagedDurable();
            Exit();
            await durable;
            return balance;
        }

        private void Enter()
        {
            if (Interlocked.Increment(ref _segments) != 1)
            {
                chaos.Overlap();
            }
        }

        private void Exit() => Interlocked.Decrement(ref _segments);
    }
}
