using Wallet.Grains.Holds;
using Wallet.Grains.Transactions;
using Xunit;

namespace Wallet.Tests.Transactions;

// A participant's ledger row replaced by another transaction's prepare under the same version.
public sealed partial class TransactionalStorageTests
{
    /// <summary>
    /// Orleans may prepare another transaction under a sequence a participant prepared before: its
    /// ledger row replaces the first in <c>ledger_prepared</c> whole. Nothing of the first row (a
    /// hold it placed, the system accounts' legs and kind of a multi-leg entry it headed, a status)
    /// may ride on the second into the ledger when the second's manager commits it.
    /// </summary>
    [Fact]
    public async Task ReplacedLedgerRow_KeepsNothingOfTheFirstTransaction()
    {
        var (source, destination) = (await storage.NewWalletAsync(balance: 100), await storage.NewWalletAsync(balance: 0));
        var fees = await storage.NewSystemAccountAsync();
        var (manager, participant) = (storage.CreateCarrier(), storage.CreateCarrier());
        var (managerLoad, participantLoad) = (await manager.Load(), await participant.Load());
        var (first, second) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        var (firstEntry, secondEntry) = ($"entry-{Guid.NewGuid():N}", $"entry-{Guid.NewGuid():N}");
        var holdId = $"hold-{Guid.NewGuid():N}";
        var now = DateTimeOffset.UtcNow;
        var heading = new LedgerRow(first, 1, destination, 10, "USD", 10, 5, firstEntry)
        {
            Status = "frozen",
            Entry = new LedgerEntryHeader("t", fees, destination, 10, null, null, null, now, null)
            {
                Kind = "entry",
                Accounts = [fees, destination],
                SystemLegs = [new SystemLeg(fees, -10)],
            },
            Hold = new HoldRecord(holdId, "t", fees, 5, 0, HoldStatuses.Open, null, null, now.AddDays(1), now, null),
        };
        var etag = await participant.Store(participantLoad.ETag, participantLoad.Metadata, [Carrying(1, first, heading)], null, null);

        var credit = new LedgerRow(second, 1, destination, 40, "USD", 40, 0, secondEntry);
        await participant.Store(etag, participantLoad.Metadata, [Carrying(1, second, credit)], null, null);
        var debit = new LedgerRow(second, 1, source, -40, "USD", 60, 0, secondEntry)
        {
            Entry = new LedgerEntryHeader("t", source, destination, 40, null, null, null, now, null),
        };
        await manager.Store(managerLoad.ETag, Committing(second), [Carrying(1, second, debit)], 1, null);

        Assert.Equal((60L, 40L, 0L), (await storage.BalanceAsync(source), await storage.BalanceAsync(destination), await storage.BalanceAsync(fees)));
        Assert.Equal("transfer", await storage.Database.TextAsync("SELECT kind FROM entries WHERE id = @id", ("id", secondEntry)));
        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM postings WHERE wallet_id = @id", ("id", fees)));
        Assert.Equal(0L, await storage.Database.ScalarAsync("SELECT count(*) FROM holds WHERE id = @id", ("id", holdId)));
        Assert.Equal((0L, "active"), (await storage.Database.ScalarAsync("SELECT pending FROM wallets WHERE id = @id", ("id", destination)),
            await storage.Database.TextAsync("SELECT status FROM wallets WHERE id = @id", ("id", destination))));
    }
}
