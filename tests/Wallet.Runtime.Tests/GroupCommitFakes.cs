using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wallet.Runtime.Commit;

namespace Wallet.Runtime.Tests;

// An in-memory stand-in for the database behind group commit: this project tests the runtime's
// pipelining and failure handling; the real commit handlers are tested against PostgreSQL elsewhere.

public sealed record Posting(string Account, long Amount);

/// <summary>Applied is false when the "database" refused the posting (it would overdraw).</summary>
public sealed record PostingOutcome(bool Applied);

internal sealed class AccountState
{
    public long Balance { get; set; }
}

/// <summary>The durable balances, and the storage that reads them (counting reads per account).</summary>
internal sealed class FakeLedger : IGrainStorage<AccountState>
{
    private readonly ConcurrentDictionary<string, long> _balances = new();
    private readonly ConcurrentDictionary<string, int> _reads = new();
    private int _readsToFail;

    public long Balance(string account) => _balances.GetValueOrDefault(account);

    public int Reads(string account) => _reads.GetValueOrDefault(account);

    public PostingOutcome Apply(Posting posting)
    {
        var balance = Balance(posting.Account);
        if (balance + posting.Amount < 0)
        {
            return new PostingOutcome(Applied: false);
        }

        _balances[posting.Account] = balance + posting.Amount;
        return new PostingOutcome(Applied: true);
    }

    /// <summary>The next <paramref name="count"/> reads throw, as a database that is briefly unreachable.</summary>
    public void FailNextReads(int count) => Volatile.Write(ref _readsToFail, count);

    public async Task<AccountState> ReadStateAsync(GrainId grainId, CancellationToken cancellationToken)
    {
        await Task.Yield();
        if (Interlocked.Decrement(ref _readsToFail) >= 0)
        {
            throw new TimeoutException("Simulated storage outage.");
        }

        _reads.AddOrUpdate(grainId.Key, 1, static (_, n) => n + 1);
        return new AccountState { Balance = Balance(grainId.Key) };
    }
}

/// <summary>
/// A commit handler whose batches a test can hold at a gate or make fail, by batch number (0-based).
/// It appends to <see cref="Events"/> just before a commit returns, so a test can order replies after it.
/// </summary>
internal sealed class ScriptedCommitHandler(FakeLedger ledger) : ICommitHandler<Posting, PostingOutcome>
{
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _gates = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<Posting[]>> _arrivals = new();
    private readonly ConcurrentDictionary<int, bool> _failing = new();
    private readonly ConcurrentQueue<string> _events = new();
    private int _batchCount;

    public IReadOnlyList<string> Events => [.. _events];

    public void Log(string message) => _events.Enqueue(message);

    /// <summary>Batch <paramref name="batch"/> waits inside CommitAsync until the returned gate is opened.</summary>
    public TaskCompletionSource Hold(int batch) => Gate(batch);

    public void Fail(int batch) => _failing[batch] = true;

    /// <summary>Opens every gate, so that a test that failed midway still lets the committer drain.</summary>
    public void ReleaseAll()
    {
        foreach (var gate in _gates.Values)
        {
            gate.TrySetResult();
        }
    }

    /// <summary>Completes with the items of batch <paramref name="batch"/> once the handler has it.</summary>
    public Task<Posting[]> Arrived(int batch) => Arrival(batch).Task;

    public async Task<PostingOutcome[]> CommitAsync(IReadOnlyList<Posting> items, CancellationToken cancellationToken)
    {
        var batch = Interlocked.Increment(ref _batchCount) - 1;
        // The committer reuses its list for the next batch: keep a copy.
        Posting[] postings = [.. items];
        Arrival(batch).SetResult(postings);
        if (_gates.TryGetValue(batch, out var gate))
        {
            await gate.Task;
        }

        if (_failing.ContainsKey(batch))
        {
            Log($"batch {batch} failed");
            throw new InvalidOperationException($"Simulated failure of batch {batch}.");
        }

        var outcomes = postings.Select(ledger.Apply).ToArray();
        Log($"batch {batch} committed");
        return outcomes;
    }

    public bool InvalidatesCachedState(PostingOutcome outcome) => !outcome.Applied;

    private TaskCompletionSource Gate(int batch) =>
        _gates.GetOrAdd(batch, static _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

    private TaskCompletionSource<Posting[]> Arrival(int batch) =>
        _arrivals.GetOrAdd(batch, static _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Counts read turns that reached their durability wait, so a test knows the wait has begun.</summary>
internal sealed class AccountProbe
{
    private int _durableReadsEntered;

    public int DurableReadsEntered => Volatile.Read(ref _durableReadsEntered);

    public void DurableReadEntered() => Interlocked.Increment(ref _durableReadsEntered);
}

public interface IAccountGrain : IGrainWithStringKey
{
    /// <summary>Applies the posting tentatively, stages it, and replies once it is durable.</summary>
    Task<bool> Post(long amount);

    /// <summary>The cached balance, tentative postings included.</summary>
    Task<long> GetBalance();

    /// <summary>The cached balance, read only once everything staged before it is durable.</summary>
    Task<long> GetDurableBalance();
}

internal sealed class AccountGrain(GroupCommitter<Posting, PostingOutcome> committer, AccountProbe probe)
    : Grain<AccountState>, IAccountGrain
{
    public async Task<bool> Post(long amount)
    {
        State.Balance += amount;
        var outcome = await WhenDurable(committer, new Posting(GetPrimaryKeyString(), amount));
        return outcome.Applied;
    }

    public Task<long> GetBalance() => Task.FromResult(State.Balance);

    public async Task<long> GetDurableBalance()
    {
        probe.DurableReadEntered();
        await WhenStagedDurable();
        return State.Balance;
    }
}

/// <summary>A silo with the account grain, its fake ledger and a scripted group committer.</summary>
internal sealed class CommitSilo : IAsyncDisposable
{
    private readonly TestSilo _silo;

    private CommitSilo(TestSilo silo, FakeLedger ledger, ScriptedCommitHandler handler, AccountProbe probe)
    {
        _silo = silo;
        Ledger = ledger;
        Handler = handler;
        Probe = probe;
    }

    public FakeLedger Ledger { get; }

    public ScriptedCommitHandler Handler { get; }

    public AccountProbe Probe { get; }

    public GroupCommitter<Posting, PostingOutcome> Committer => _silo.GetRequiredService<GroupCommitter<Posting, PostingOutcome>>();

    public static CommitSilo Start()
    {
        var ledger = new FakeLedger();
        var handler = new ScriptedCommitHandler(ledger);
        var probe = new AccountProbe();
        var silo = TestSilo.Start(
            s => s.AddGrain<IAccountGrain, AccountGrain>(),
            services => services
                .AddSingleton<IGrainStorage<AccountState>>(ledger)
                .AddSingleton(probe)
                .AddSingleton(sp => new GroupCommitter<Posting, PostingOutcome>(
                    handler,
                    new GroupCommitOptions(),
                    sp.GetRequiredService<ILogger<GroupCommitter<Posting, PostingOutcome>>>())));
        return new CommitSilo(silo, ledger, handler, probe);
    }

    public IAccountGrain Account(string key) => _silo.GrainFactory.GetGrain<IAccountGrain>(key);

    /// <summary>Logs the reply of <paramref name="call"/> into the handler's event log as it arrives.</summary>
    public Task<T> Logged<T>(Task<T> call, string name)
    {
        call.ContinueWith(
            _ => Handler.Log($"reply {name}"),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return call;
    }

    public ValueTask DisposeAsync()
    {
        Handler.ReleaseAll();
        return _silo.DisposeAsync();
    }
}
