using Orleans.Runtime;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;
using Wallet.Grains.Transactions;
using Xunit;

namespace Wallet.Tests.Transactions;

// The ledger rows a participant prepares: waiting for the manager's commit, taken by it, swept once passed.
public sealed partial class TransactionalStorageTests
{
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
        Assert.Equal(1L, await PreparedRowsAsync(transfer));
        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM entries WHERE id = @id", ("id", entryId)));

        var debit = TransferDebit(transfer, source, destination, entryId);
        await manager.Store(managerLoad.ETag, Committing(transfer), [Carrying(1, transfer, debit)], 1, null);
        const string Written = "SELECT count(*) FROM postings p JOIN entries e ON e.seq = p.entry_seq WHERE e.id = @id";
        Assert.Equal(2L, await storage.Database.ScalarAsync(Written, ("id", entryId)));
        Assert.Equal((60L, 40L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination)));
        Assert.Equal(0L, await PreparedRowsAsync(transfer));

        // The participant commits the transfer, and prepares another transaction that then aborts.
        participantEtag = await participant.Store(participantEtag, participantLoad.Metadata, [], 1, null);
        var next = new LedgerRow(aborted, 2, destination, 5, "USD", 45, 0, $"entry-{Guid.NewGuid():N}");
        participantEtag = await participant.Store(participantEtag, participantLoad.Metadata, [Carrying(2, aborted, credit, next)], null, null);
        Assert.Equal(1L, await PreparedRowsAsync(aborted));
        await participant.Store(participantEtag, participantLoad.Metadata, [], null, 1);

        Assert.Equal(0L, await PreparedRowsAsync(aborted));
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
        var debit = TransferDebit(transfer, source, destination, entryId);

        await manager.Store(managerLoad.ETag, managerLoad.Metadata, [Carrying(1, transfer, debit)], 1, null);

        Assert.Equal(1L, await PreparedRowsAsync(transfer));
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
        Assert.Equal(1L, await PreparedRowsAsync(dropped));

        var entryId = $"entry-{Guid.NewGuid():N}";
        await participant.Store(participantLoad.ETag, participantLoad.Metadata, [Carrying(1, transfer, new LedgerRow(transfer, 1, destination, 40, "USD", 40, 0, entryId))], null, null);
        var debit = TransferDebit(transfer, source, destination, entryId);
        await manager.Store(managerEtag, Committing(transfer), [Carrying(1, transfer, debit)], 1, null);
        Assert.Equal(1L, await PreparedRowsAsync(dropped));
        Assert.True(await PassedLedgerRowSweeper.SweepAsync(storage.Database, CancellationToken.None) >= 1);

        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = ANY(@ids)", ("ids", new[] { dropped, transfer })));
        Assert.Equal(2L, await storage.Database.ScalarAsync("SELECT count(*) FROM postings p JOIN entries e ON e.seq = p.entry_seq WHERE e.id = @id", ("id", entryId)));
        Assert.Equal((60L, 40L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination)));
    }

    /// <summary>The manager's row of a transfer of 40 from <paramref name="source"/> (100 before), carrying the entry.</summary>
    private static LedgerRow TransferDebit(string transfer, string source, string destination, string entryId) =>
        new(transfer, 1, source, -40, "USD", 60, 0, entryId)
        {
            Entry = new LedgerEntryHeader("t", source, destination, 40, null, null, null, DateTimeOffset.UtcNow, null),
        };

    private Task<long> PreparedRowsAsync(string transactionId) =>
        storage.Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE transaction_id = @id", ("id", transactionId));

    private static PendingTransactionState<LedgerAccount> Carrying(long sequence, string transactionId, params LedgerRow[] rows) => new()
    {
        SequenceId = sequence,
        TransactionId = transactionId,
        TimeStamp = DateTime.UtcNow,
        TransactionManager = Manager,
        State = new LedgerAccount { Balance = rows[^1].BalanceAfter, Version = rows[^1].Version, Rows = [.. rows] },
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
                    Manager,
                    new ParticipantId("participant", null!, ParticipantId.Role.Resource),
                ],
            },
        },
    };
}
