using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Transactions;

/// <summary>
/// The contract Orleans' transactions hold a state storage to, on PostgreSQL: the cases of Orleans'
/// own storage test runner (load of a new state, stores without changes, stale versions, prepare,
/// confirm, cancel and replace of one and of many states, batches that grow and shrink), then what
/// this storage adds: concurrent stores of many grains in one transaction, a stale one failing alone,
/// a failed store refusing the next until a load, and a participant's ledger rows waiting
/// from its prepare to the manager's commit.
/// </summary>
public sealed partial class TransactionalStorageTests(TransactionalStorageTests.Fixture storage) : IClassFixture<TransactionalStorageTests.Fixture>
{
    public static TheoryData<int> ManyCounts => [99, 100, 200];

    [Fact]
    public async Task FirstTimeLoad_IsEmpty()
    {
        var load = await storage.Create().Load();

        Assert.Equal((null, 0L, 0), (load.ETag, load.CommittedSequenceId, load.PendingStates.Count));
        Assert.Equal(new Account().Balance, load.CommittedState.Balance);
        Assert.Empty(load.Metadata.CommitRecords);
    }

    [Fact]
    public async Task StoreWithoutChanges_AdvancesTheVersionAndKeepsTheMetadata()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag1 = await store.Store(load.ETag, load.Metadata, [], null, null);
        Assert.False(string.IsNullOrEmpty(etag1));

        load = await store.Load();
        Assert.Equal((etag1, 0L, 0, default(DateTime)), (load.ETag, load.CommittedSequenceId, load.PendingStates.Count, load.Metadata.TimeStamp));
        Assert.Empty(load.Metadata.CommitRecords);

        var now = DateTime.UtcNow;
        var etag2 = await store.Store(etag1, new TransactionalStateMetaData { TimeStamp = now, CommitRecords = CommitRecords(2) }, [], null, null);
        Assert.NotEqual(etag1, etag2);

        load = await store.Load();
        Assert.Equal((etag2, 0L, 0, now), (load.ETag, load.CommittedSequenceId, load.PendingStates.Count, load.Metadata.TimeStamp));
        Assert.Equal(2, load.Metadata.CommitRecords.Count);
    }

    [Fact]
    public async Task WrongEtags_AreRefusedAndChangeNothing()
    {
        var store = storage.Create();
        var load = await store.Load();
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.Store("wrong-etag", load.Metadata, [], null, null));

        load = await store.Load();
        Assert.Equal((null, 0L, 0), (load.ETag, load.CommittedSequenceId, load.PendingStates.Count));
        var metadata = new TransactionalStateMetaData { TimeStamp = DateTime.UtcNow, CommitRecords = CommitRecords(2) };
        var etag2 = await store.Store(null, metadata, [], null, null);

        var stored = await store.Load();
        Assert.Equal(etag2, stored.ETag);
        Assert.Equal(metadata.TimeStamp, stored.Metadata.TimeStamp);
        Assert.Equal(metadata.CommitRecords.Keys.Order(), stored.Metadata.CommitRecords.Keys.Order());
        Assert.All(metadata.CommitRecords, r => Assert.Equal(
            r.Value.WriteParticipants.Select(p => p.Name), stored.Metadata.CommitRecords[r.Key].WriteParticipants.Select(p => p.Name)));

        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            store.Store(null, new TransactionalStateMetaData { TimeStamp = DateTime.UtcNow.AddSeconds(1), CommitRecords = CommitRecords(3) }, [], null, null));

        var after = await store.Load();
        Assert.Equal((stored.ETag, stored.CommittedSequenceId, stored.Metadata.TimeStamp, stored.Metadata.CommitRecords.Count),
            (after.ETag, after.CommittedSequenceId, after.Metadata.TimeStamp, after.Metadata.CommitRecords.Count));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConfirmOne_CommitsItsState(bool twoSteps)
    {
        var store = storage.Create();
        var load = await store.Load();
        var prepared = Prepared(1, 123);
        if (twoSteps)
        {
            var etag = await store.Store(load.ETag, load.Metadata, [prepared], null, null);
            await store.Store(etag, load.Metadata, [], 1, null);
        }
        else
        {
            await store.Store(load.ETag, load.Metadata, [prepared], 1, null);
        }

        load = await store.Load();
        Assert.Equal((1L, 0, 123L), (load.CommittedSequenceId, load.PendingStates.Count, load.CommittedState.Balance));
        Assert.Empty(load.Metadata.CommitRecords);
    }

    [Fact]
    public async Task CancelOne_LeavesTheInitialState()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, [Prepared(1, 123)], null, null);
        await store.Store(etag, load.Metadata, [], null, 0);

        load = await store.Load();
        Assert.Equal((0L, 0, 0L), (load.CommittedSequenceId, load.PendingStates.Count, load.CommittedState.Balance));
    }

    [Fact]
    public async Task ReplaceOne_KeepsTheSecondPrepare()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, [Prepared(1, 123)], null, null);
        var replacement = Prepared(1, 456);
        await store.Store(etag, load.Metadata, [replacement], null, null);

        load = await store.Load();
        Assert.Equal(0L, load.CommittedSequenceId);
        AssertPending([replacement], load.PendingStates);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public async Task ConfirmOneAndCancelOne_CommitsTheFirstOnly(bool twoSteps, bool reverseOrder)
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, [Prepared(1, 123), Prepared(2, 456)], null, null);
        if (!twoSteps)
        {
            await store.Store(etag, load.Metadata, [], 1, 1);
        }
        else if (reverseOrder)
        {
            etag = await store.Store(etag, load.Metadata, [], null, 1);
            await store.Store(etag, load.Metadata, [], 1, null);
        }
        else
        {
            etag = await store.Store(etag, load.Metadata, [], 1, null);
            await store.Store(etag, load.Metadata, [], null, 1);
        }

        load = await store.Load();
        Assert.Equal((1L, 0, 123L), (load.CommittedSequenceId, load.PendingStates.Count, load.CommittedState.Balance));
    }

    [Fact]
    public async Task GrowingBatch_CommitsUpToTheSixthAndKeepsTheRest()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, [Prepared(1, 11), Prepared(2, 22), Prepared(3, 333), Prepared(4, 444)], null, null);
        var (p7, p8) = (Prepared(7, 77), Prepared(8, 88));
        await store.Store(etag, load.Metadata, [Prepared(3, 33), Prepared(4, 44), Prepared(5, 55), Prepared(6, 66), p7, p8], 6, null);

        load = await store.Load();
        Assert.Equal((6L, 66L), (load.CommittedSequenceId, load.CommittedState.Balance));
        AssertPending([p7, p8], load.PendingStates);
    }

    [Fact]
    public async Task ShrinkingBatch_CommitsTheReplacementAndAbortsAboveTheFourth()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata,
            [Prepared(1, 11), Prepared(2, 22), Prepared(3, 333), Prepared(4, 444), Prepared(5, 55), Prepared(6, 66), Prepared(7, 77), Prepared(8, 88)], null, null);
        var p4 = Prepared(4, 44);
        await store.Store(etag, load.Metadata, [Prepared(3, 33), p4], 3, 4);

        load = await store.Load();
        Assert.Equal((3L, 33L), (load.CommittedSequenceId, load.CommittedState.Balance));
        AssertPending([p4], load.PendingStates);
    }

    [Theory]
    [MemberData(nameof(ManyCounts))]
    public async Task PrepareMany_LoadsThemInOrder(int count)
    {
        var store = storage.Create();
        var load = await store.Load();
        var prepared = Many(count, 0);
        await store.Store(load.ETag, load.Metadata, prepared, null, null);

        load = await store.Load();
        Assert.Equal(0L, load.CommittedSequenceId);
        AssertPending(prepared, load.PendingStates);
    }

    [Theory]
    [MemberData(nameof(ManyCounts))]
    public async Task ConfirmMany_CommitsTheLast(int count)
    {
        foreach (var twoSteps in new[] { true, false })
        {
            var store = storage.Create();
            var load = await store.Load();
            var prepared = Many(count, 0);
            if (twoSteps)
            {
                var etag = await store.Store(load.ETag, load.Metadata, prepared, null, null);
                await store.Store(etag, load.Metadata, [], count, null);
            }
            else
            {
                await store.Store(load.ETag, load.Metadata, prepared, count, null);
            }

            load = await store.Load();
            Assert.Equal((count, 0, (count - 1) * 1000L), (load.CommittedSequenceId, load.PendingStates.Count, load.CommittedState.Balance));
        }
    }

    [Theory]
    [MemberData(nameof(ManyCounts))]
    public async Task CancelMany_LeavesTheInitialState(int count)
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, Many(count, 0), null, null);
        await store.Store(etag, load.Metadata, [], null, 0);

        load = await store.Load();
        Assert.Equal((0L, 0, 0L), (load.CommittedSequenceId, load.PendingStates.Count, load.CommittedState.Balance));
    }

    [Theory]
    [MemberData(nameof(ManyCounts))]
    public async Task ReplaceMany_KeepsTheSecondPrepares(int count)
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, Many(count, 1), null, null);
        var replacements = Many(count, 0);
        await store.Store(etag, load.Metadata, replacements, null, null);

        load = await store.Load();
        Assert.Equal(0L, load.CommittedSequenceId);
        AssertPending(replacements, load.PendingStates);
    }

    /// <summary>A participant on another grain (a prepare whose manager is remote, a commit record) keeps its grain reference.</summary>
    [Fact]
    public async Task GrainReferences_RoundTrip()
    {
        var manager = new ParticipantId("tm", (GrainReference)storage.Grains.GetGrain<IWalletGrain>("w_manager"), ParticipantId.Role.Resource | ParticipantId.Role.Manager);
        var writer = new ParticipantId("w", (GrainReference)storage.Grains.GetGrain<IWalletGrain>("w_writer"), ParticipantId.Role.Resource);
        var store = storage.Create();
        var load = await store.Load();
        var prepared = Prepared(1, 5);
        prepared.TransactionManager = manager;
        var transaction = Guid.NewGuid();
        var metadata = new TransactionalStateMetaData { CommitRecords = { [transaction] = new CommitRecord { Timestamp = DateTime.UtcNow, WriteParticipants = [writer] } } };
        await store.Store(load.ETag, metadata, [prepared], null, null);

        load = await store.Load();
        Assert.Equal(manager.Reference.GrainId, load.PendingStates.Single().TransactionManager.Reference.GrainId);
        Assert.Equal(writer.Reference.GrainId, load.Metadata.CommitRecords[transaction].WriteParticipants.Single().Reference.GrainId);
    }

    /// <summary>A commit naming a state that was never prepared is refused before anything is written.</summary>
    [Fact]
    public async Task CommitOfAnUnpreparedSequence_IsRefusedAndWritesNothing()
    {
        var store = storage.Create();
        var load = await store.Load();
        var etag = await store.Store(load.ETag, load.Metadata, [Prepared(1, 10)], null, null);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.Store(etag, load.Metadata, [], 2, null));

        load = await store.Load();
        Assert.Equal((etag, 0L), (load.ETag, load.CommittedSequenceId));
        Assert.Single(load.PendingStates);
    }

    /// <summary>
    /// A second instance of the same state (a duplicate activation) that wrote in between makes the
    /// first one stale: its store is refused and changes nothing, the next is refused until it loads,
    /// and after the load it writes again.
    /// </summary>
    [Fact]
    public async Task StaleWriter_IsRefusedUntilItLoads()
    {
        var key = storage.NewKey();
        var writer = storage.Create(key);
        var stale = storage.Create(key);
        var load = await writer.Load();
        var etag = await writer.Store(load.ETag, load.Metadata, [], null, null);
        var staleLoad = await stale.Load();
        etag = await writer.Store(etag, load.Metadata, [Prepared(1, 5)], 1, null);

        await Assert.ThrowsAsync<InconsistentStateException>(() => stale.Store(staleLoad.ETag, staleLoad.Metadata, [Prepared(1, 99)], 1, null));
        await Assert.ThrowsAsync<InvalidOperationException>(() => stale.Store(staleLoad.ETag, staleLoad.Metadata, [], null, null));

        var reload = await stale.Load();
        Assert.Equal((etag, 1L, 5L), (reload.ETag, reload.CommittedSequenceId, reload.CommittedState.Balance));
        var next = await stale.Store(reload.ETag, reload.Metadata, [Prepared(2, 7)], 2, null);
        var final = await writer.Load();
        Assert.Equal((next, 2L, 7L), (final.ETag, final.CommittedSequenceId, final.CommittedState.Balance));
    }

    /// <summary>
    /// The stores of many grains made at once share PostgreSQL transactions (group commit), and one
    /// with a stale version among them fails alone: every other one is written.
    /// </summary>
    [Fact]
    public async Task ConcurrentStoresOfManyGrains_ShareTransactionsAndAStaleOneFailsAlone()
    {
        const int grains = 64;
        var stores = Enumerable.Range(0, grains).Select(_ => storage.Create()).ToList();
        // Loads one at a time: each takes a connection, and the test server is shared with other tests.
        var loads = new List<TransactionalStorageLoadResponse<Account>>();
        foreach (var store in stores)
        {
            loads.Add(await store.Load());
        }

        var etags = await Task.WhenAll(stores.Select((s, i) => s.Store(loads[i].ETag, loads[i].Metadata, [], null, null)));

        // A second instance of grain 0 writes first, so grain 0's own instance is stale.
        var intruder = storage.Create(stores[0].StateKey);
        var intruderLoad = await intruder.Load();
        await intruder.Store(intruderLoad.ETag, intruderLoad.Metadata, [], null, null);

        var batchesBefore = storage.Batches;
        var results = await Task.WhenAll(stores.Select(async (s, i) =>
        {
            try
            {
                await s.Store(etags[i], loads[i].Metadata, [Prepared(1, 1000 + i)], 1, null);
                return null;
            }
            catch (Exception exception)
            {
                return exception;
            }
        }));
        var batches = storage.Batches - batchesBefore;

        Assert.IsType<InconsistentStateException>(results[0]);
        Assert.All(results.Skip(1), Assert.Null);
        Assert.InRange(batches, 1, grains / 2);
        var reloads = new List<TransactionalStorageLoadResponse<Account>>();
        foreach (var store in stores)
        {
            reloads.Add(await storage.Create(store.StateKey).Load());
        }

        Assert.Equal(0L, reloads[0].CommittedSequenceId);
        Assert.All(Enumerable.Range(1, grains - 1), i => Assert.Equal((1L, 1000L + i), (reloads[i].CommittedSequenceId, reloads[i].CommittedState.Balance)));
    }

    private static void AssertPending(IReadOnlyList<PendingTransactionState<Account>> expected, IReadOnlyList<PendingTransactionState<Account>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(
                (expected[i].SequenceId, expected[i].TimeStamp, expected[i].TransactionId, expected[i].TransactionManager.Name,
                 expected[i].TransactionManager.SupportedRoles, expected[i].State.Balance, expected[i].State.Owner),
                (actual[i].SequenceId, actual[i].TimeStamp, actual[i].TransactionId, actual[i].TransactionManager.Name,
                 actual[i].TransactionManager.SupportedRoles, actual[i].State.Balance, actual[i].State.Owner));
            Assert.Null(actual[i].TransactionManager.Reference);
        }
    }

    private static List<PendingTransactionState<Account>> Many(int count, long offset) =>
        [.. Enumerable.Range(0, count).Select(i => Prepared(i + 1, (i * 1000L) + offset))];

    /// <summary>The transaction manager a prepared state names; the storage keeps it as it is given.</summary>
    private static readonly ParticipantId Manager = new("tm", null!, ParticipantId.Role.Resource | ParticipantId.Role.Manager);

    private static PendingTransactionState<Account> Prepared(long sequence, long balance) => new()
    {
        SequenceId = sequence,
        TransactionId = Guid.NewGuid().ToString(),
        TimeStamp = DateTime.UtcNow,
        TransactionManager = Manager,
        State = new Account { Balance = balance, Owner = $"owner-{balance}" },
    };

    private static Dictionary<Guid, CommitRecord> CommitRecords(int size) =>
        Enumerable.Range(0, size).ToDictionary(_ => Guid.NewGuid(), _ => new CommitRecord
        {
            Timestamp = DateTime.UtcNow,
            WriteParticipants = [.. Enumerable.Range(0, size).Select(i => new ParticipantId($"p{i}", null!, ParticipantId.Role.Resource))],
        });

    [GenerateSerializer]
    public sealed class Account
    {
        [Id(0)]
        public long Balance { get; set; }

        [Id(1)]
        public string Owner { get; set; } = "";
    }
}
