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

    /// <summary>
    /// A participant's ledger row waits in <c>ledger_prepared</c> from its prepare until the manager's
    /// commit writes it with the manager's own row and the entry; the participant's own commit then
    /// writes nothing twice; a prepared row whose transaction aborts goes with the abort.
    /// </summary>
    [Fact]
    public async Task LedgerRows_WaitFromPrepareToTheManagersCommit_AndGoWhenTheirTransactionAborts()
    {
        var (source, destination) = (await storage.NewWalletAsync(balance: 100), await storage.NewWalletAsync(balance: 0));
        var (manager, participant) = (storage.CreateCarrier(), storage.CreateCarrier());
        var (managerLoad, participantLoad) = (await manager.Load(), await participant.Load());
        var (transfer, aborted) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        var entryId = $"entry-{Guid.NewGuid():N}";
        var credit = new LedgerRow(transfer, 1, destination, 40, "USD", 40, 0, entryId);

        var participantEtag = await participant.Store(participantLoad.ETag, participantLoad.Metadata, [Carrying(1, transfer, credit)], null, null);
        Assert.Equal(1L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", transfer)));
        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM entries WHERE id = @id", ("id", entryId)));

        var debit = new LedgerRow(transfer, 1, source, -40, "USD", 60, 0, entryId)
        {
            Entry = new LedgerEntryHeader("t", source, destination, 40, null, null, null, DateTimeOffset.UtcNow, null),
        };
        await manager.Store(managerLoad.ETag, Committing(transfer), [Carrying(1, transfer, debit)], 1, null);
        const string Written = "SELECT count(*) FROM postings p JOIN entries e ON e.seq = p.entry_seq WHERE e.id = @id";
        Assert.Equal(2L, await storage.Database.ScalarAsync(Written, ("id", entryId)));
        Assert.Equal((60L, 40L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination)));
        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", transfer)));

        // The participant commits the transfer, and prepares another transaction that then aborts.
        participantEtag = await participant.Store(participantEtag, participantLoad.Metadata, [], 1, null);
        var next = new LedgerRow(aborted, 2, destination, 5, "USD", 45, 0, $"entry-{Guid.NewGuid():N}");
        participantEtag = await participant.Store(participantEtag, participantLoad.Metadata, [Carrying(2, aborted, credit, next)], null, null);
        Assert.Equal(1L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", aborted)));
        await participant.Store(participantEtag, participantLoad.Metadata, [], null, 1);

        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", aborted)));
        Assert.Equal(2L, await storage.Database.ScalarAsync(Written, ("id", entryId)));
        Assert.Equal(40L, await storage.BalanceAsync(destination));
    }

    /// <summary>
    /// Other states' prepared rows are taken only by a commit whose commit record names other write
    /// participants; a transaction Orleans commits without one (it had this state alone) looks for none.
    /// </summary>
    [Fact]
    public async Task CommitWithoutOtherWriteParticipants_TakesNoPreparedRow()
    {
        var (source, destination) = (await storage.NewWalletAsync(balance: 100), await storage.NewWalletAsync(balance: 0));
        var (manager, participant) = (storage.CreateCarrier(), storage.CreateCarrier());
        var (managerLoad, participantLoad) = (await manager.Load(), await participant.Load());
        var transfer = Guid.NewGuid().ToString();
        var entryId = $"entry-{Guid.NewGuid():N}";
        await participant.Store(participantLoad.ETag, participantLoad.Metadata, [Carrying(1, transfer, new LedgerRow(transfer, 1, destination, 40, "USD", 40, 0, entryId))], null, null);
        var debit = new LedgerRow(transfer, 1, source, -40, "USD", 60, 0, entryId)
        {
            Entry = new LedgerEntryHeader("t", source, destination, 40, null, null, null, DateTimeOffset.UtcNow, null),
        };

        await manager.Store(managerLoad.ETag, managerLoad.Metadata, [Carrying(1, transfer, debit)], 1, null);

        Assert.Equal(1L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", transfer)));
        Assert.Equal((60L, 0L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination)));
    }

    /// <summary>
    /// Orleans may drop a prepared transaction without the storage hearing of its abort (a cancel
    /// that overtook the prepare) and commit another transaction under the same sequence: the
    /// dropped transaction's ledger row is swept once a commit has passed it, instead of waiting forever.
    /// </summary>
    [Fact]
    public async Task LedgerRowOfATransactionACommitPassed_IsSweptAfterThatCommit()
    {
        var (source, destination) = (await storage.NewWalletAsync(balance: 100), await storage.NewWalletAsync(balance: 0));
        var (manager, participant) = (storage.CreateCarrier(), storage.CreateCarrier());
        var (managerLoad, participantLoad) = (await manager.Load(), await participant.Load());
        var (dropped, transfer) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        var managerEtag = await manager.Store(managerLoad.ETag, managerLoad.Metadata,
            [Carrying(1, dropped, new LedgerRow(dropped, 1, source, 5, "USD", 105, 0, $"entry-{Guid.NewGuid():N}"))], null, null);
        Assert.Equal(1L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", dropped)));

        var entryId = $"entry-{Guid.NewGuid():N}";
        await participant.Store(participantLoad.ETag, participantLoad.Metadata, [Carrying(1, transfer, new LedgerRow(transfer, 1, destination, 40, "USD", 40, 0, entryId))], null, null);
        var debit = new LedgerRow(transfer, 1, source, -40, "USD", 60, 0, entryId)
        {
            Entry = new LedgerEntryHeader("t", source, destination, 40, null, null, null, DateTimeOffset.UtcNow, null),
        };
        await manager.Store(managerEtag, Committing(transfer), [Carrying(1, transfer, debit)], 1, null);
        Assert.Equal(1L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", dropped)));
        Assert.True(await PassedLedgerRowSweeper.SweepAsync(storage.Database, CancellationToken.None) >= 1);

        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = ANY(@ids)", ("ids", new[] { dropped, transfer })));
        Assert.Equal(2L, await storage.Database.ScalarAsync("SELECT count(*) FROM postings p JOIN entries e ON e.seq = p.entry_seq WHERE e.id = @id", ("id", entryId)));
        Assert.Equal((60L, 40L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination)));
    }

    private static PendingTransactionState<LedgerAccount> Carrying(long sequence, string transactionId, params LedgerRow[] rows) => new()
    {
        SequenceId = sequence,
        TransactionId = transactionId,
        TimeStamp = DateTime.UtcNow,
        TransactionManager = new ParticipantId("tm", null!, ParticipantId.Role.Resource | ParticipantId.Role.Manager),
        State = new LedgerAccount { Balance = rows[^1].BalanceAfter, Version = rows[^1].Version, Rows = [.. rows] },
    };

    private static List<PendingTransactionState<Account>> Many(int count, long offset) =>
        [.. Enumerable.Range(0, count).Select(i => Prepared(i + 1, (i * 1000L) + offset))];

    private static PendingTransactionState<Account> Prepared(long sequence, long balance) => new()
    {
        SequenceId = sequence,
        TransactionId = Guid.NewGuid().ToString(),
        TimeStamp = DateTime.UtcNow,
        TransactionManager = new ParticipantId("tm", null!, ParticipantId.Role.Resource | ParticipantId.Role.Manager),
        State = new Account { Balance = balance, Owner = $"owner-{balance}" },
    };

    /// <summary>
    /// The metadata Orleans hands a manager's storage when it commits a transaction with other write
    /// participants: its commit record, kept until they confirm. Their prepared rows are taken with it.
    /// </summary>
    private static TransactionalStateMetaData Committing(string transactionId) => new()
    {
        TimeStamp = DateTime.UtcNow,
        CommitRecords = new()
        {
            [Guid.Parse(transactionId)] = new CommitRecord
            {
                Timestamp = DateTime.UtcNow,
                WriteParticipants =
                [
                    new ParticipantId("tm", null!, ParticipantId.Role.Resource | ParticipantId.Role.Manager),
                    new ParticipantId("participant", null!, ParticipantId.Role.Resource),
                ],
            },
        },
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
