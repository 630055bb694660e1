using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.TestingHost;
using Orleans.Transactions;
using Wallet.Grains.Ledger;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Transactions;

/// <summary>
/// The relational ledger written by the transactional state storage at commit: a one-participant
/// deposit writes its entry, both postings, both balances and its Idempotency-Key; a transfer's two
/// legs are written together by the transaction manager's commit; an aborted transaction writes
/// nothing; and under concurrent transfers (a hot account leading, another hot one following) every
/// entry is whole, money is conserved and each account's committed state equals its ledger rows,
/// which verify proves too.
/// </summary>
public sealed class TransactionalLedgerTests : IAsyncLifetime
{
    private const string Treasury = "@ledger-tests-treasury";

    private LedgerAccountCluster? _ledger;

    private TestCluster Cluster => _ledger!.Cluster;

    private NpgsqlDataSource Database => _ledger!.Database;

    private ITransactionClient Transactions => Cluster.Client.ServiceProvider.GetRequiredService<ITransactionClient>();

    [Fact]
    public async Task Deposit_WritesItsEntryBothPostingsBothBalancesAndItsKey()
    {
        var account = await NewAccountAsync("deposit");
        var entryId = NewEntryId();

        await account.Deposit(entryId, Treasury, 500, new IdempotencyRequest($"key-{entryId}", "hash-1"));

        var entry = await EntryAsync(entryId);
        Assert.Equal((Treasury, account.GetPrimaryKeyString(), 500L), (entry.Source, entry.Destination, entry.Amount));
        var postings = await PostingsAsync(entry.Seq);
        Assert.Equal(500L, postings[account.GetPrimaryKeyString()].Amount);
        Assert.Equal((500L, 1L), (postings[account.GetPrimaryKeyString()].BalanceAfter, postings[account.GetPrimaryKeyString()].Version));
        Assert.Equal(-500L, postings[Treasury].Amount);
        Assert.Equal(await WalletBalanceAsync(Treasury), postings[Treasury].BalanceAfter);
        Assert.Equal((500L, 1L), await WalletRowAsync(account.GetPrimaryKeyString()));
        Assert.Equal(("hash-1", "created", $$"""{"id":"{{entryId}}"}"""), await KeyAsync($"key-{entryId}"));
        Assert.Equal(0L, await PreparedRowsAsync());
    }

    [Fact]
    public async Task Transfer_WritesBothLegsAtTheManagersCommit()
    {
        var (from, to) = (await NewAccountAsync("from"), await NewAccountAsync("to"));
        await from.Deposit(NewEntryId(), Treasury, 1_000, null);
        var entryId = NewEntryId();

        await Transactions.RunTransaction(TransactionOption.Create, async () =>
        {
            await from.Debit(entryId, to.GetPrimaryKeyString(), 300);
            await to.Credit(entryId, 300);
        });

        var entry = await EntryAsync(entryId);
        Assert.Equal((from.GetPrimaryKeyString(), to.GetPrimaryKeyString(), 300L), (entry.Source, entry.Destination, entry.Amount));
        var postings = await PostingsAsync(entry.Seq);
        Assert.Equal((-300L, 700L, 2L), (postings[from.GetPrimaryKeyString()].Amount, postings[from.GetPrimaryKeyString()].BalanceAfter, postings[from.GetPrimaryKeyString()].Version));
        Assert.Equal((300L, 300L, 1L), (postings[to.GetPrimaryKeyString()].Amount, postings[to.GetPrimaryKeyString()].BalanceAfter, postings[to.GetPrimaryKeyString()].Version));
        Assert.Equal((700L, 2L), await WalletRowAsync(from.GetPrimaryKeyString()));
        Assert.Equal((300L, 1L), await WalletRowAsync(to.GetPrimaryKeyString()));
        Assert.Equal(0L, await PreparedRowsAsync());
    }

    [Fact]
    public async Task AbortedTransfer_WritesNoLedgerRow()
    {
        var (from, to) = (await NewAccountAsync("abort-from"), await NewAccountAsync("abort-to"));
        await from.Deposit(NewEntryId(), Treasury, 100, null);
        var entryId = NewEntryId();

        await Assert.ThrowsAnyAsync<OrleansTransactionException>(() => Transactions.RunTransaction(TransactionOption.Create, async () =>
        {
            await from.Debit(entryId, to.GetPrimaryKeyString(), 40);
            await to.CreditThenFail(entryId, 40);
        }));

        Assert.Equal(0L, await Database.ScalarAsync("SELECT count(*) FROM entries WHERE id = @id", ("id", entryId)));
        Assert.Equal((100L, 1L), await WalletRowAsync(from.GetPrimaryKeyString()));
        Assert.Equal((0L, 0L), await WalletRowAsync(to.GetPrimaryKeyString()));
        Assert.Equal((100L, 1L), Trim(await from.Read()));
        Assert.Equal((0L, 0L), Trim(await to.Read()));
        Assert.Equal(0L, await Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE entry_id = @id", ("id", entryId)));
    }

    [Fact]
    public async Task ConcurrentTransfers_WriteWholeEntries_ConserveMoney_AndMatchEachAccountsState()
    {
        // Account 0 is hot and leads (it joins first, so it manages its transactions); account 1 is
        // hot and follows (it joins last): its rows are written by other accounts' commits. Accounts
        // join in one fixed order (0, then the others from the highest index, then 1), so no two
        // transactions wait on each other.
        var accounts = new List<ILedgerAccountGrain>();
        for (var i = 0; i < 8; i++)
        {
            accounts.Add(await NewAccountAsync($"many-{i}"));
            await accounts[i].Deposit(NewEntryId(), Treasury, i == 0 ? 200_000 : 10_000, null);
        }

        static int Rank(int account) => account switch { 0 => 0, 1 => int.MaxValue, _ => 100 - account };
        var random = new Random(20261205);
        var moves = Enumerable.Range(0, 400).Select(i =>
        {
            var from = i % 3 == 0 ? 0 : random.Next(2, accounts.Count);
            var to = i % 3 == 1 ? 1 : random.Next(1, accounts.Count);
            return (From: from, To: to == from ? 1 : to, Amount: (long)random.Next(1, 400));
        }).ToList();
        var committed = 0;
        var aborted = new System.Collections.Concurrent.ConcurrentBag<(string EntryId, string Exception)>();
        await Parallel.ForEachAsync(moves, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (move, _) =>
        {
            var entryId = NewEntryId();
            var (debited, credited) = (accounts[move.From], accounts[move.To]);
            try
            {
                await Transactions.RunTransaction(TransactionOption.Create, async () =>
                {
                    if (Rank(move.From) < Rank(move.To))
                    {
                        await debited.Debit(entryId, credited.GetPrimaryKeyString(), move.Amount);
                        await credited.Credit(entryId, move.Amount);
                    }
                    else
                    {
                        await credited.Credit(entryId, move.Amount);
                        await debited.Debit(entryId, credited.GetPrimaryKeyString(), move.Amount);
                    }
                });
                Interlocked.Increment(ref committed);
            }
            catch (OrleansTransactionAbortedException exception)
            {
                // Lock conflicts and refused debits abort some; what aborted must leave no row (checked below).
                aborted.Add((entryId, exception.GetBaseException().GetType().Name));
            }
        });

        Assert.True(committed > moves.Count / 2, $"only {committed} of {moves.Count} transfers committed; aborted: "
            + string.Join(", ", aborted.GroupBy(a => a.Exception).Select(g => $"{g.Key} {g.Count()}")));
        var ids = accounts.Select(a => a.GetPrimaryKeyString()).ToArray();
        Assert.Equal(committed + accounts.Count, await Database.ScalarAsync(
            "SELECT count(*) FROM entries WHERE source_id = ANY(@ids) OR destination_id = ANY(@ids)", ("ids", ids)));
        // Every entry whole: two postings that sum to zero.
        Assert.Equal(0L, await Database.ScalarAsync("""
            SELECT count(*) FROM (SELECT e.seq FROM entries e LEFT JOIN postings p ON p.entry_seq = e.seq
                                  WHERE e.source_id = ANY(@ids) OR e.destination_id = ANY(@ids)
                                  GROUP BY e.seq HAVING count(p.*) <> 2 OR coalesce(sum(p.amount), 1) <> 0) broken
            """, ("ids", ids)));
        Assert.Equal(200_000L + (10_000L * (accounts.Count - 1)), await Database.ScalarAsync("SELECT sum(balance) FROM wallets WHERE id = ANY(@ids)", ("ids", ids)));
        Assert.Equal(await Database.ScalarAsync("SELECT count(*) FROM entries"), await Database.ScalarAsync("SELECT max(seq) FROM entries"));
        foreach (var account in accounts)
        {
            await account.Deactivate();
        }

        foreach (var account in accounts)
        {
            var id = account.GetPrimaryKeyString();
            // After aborted transfers, a read may itself abort behind one of them: it is read again.
            var (balance, version, _) = await account.ReadSettledAsync();
            Assert.Equal((balance, version), await WalletRowAsync(id));
            Assert.Equal(balance, await Database.ScalarAsync("SELECT coalesce(sum(amount), 0) FROM postings WHERE wallet_id = @id", ("id", id)));
            Assert.Equal(version, await Database.ScalarAsync("SELECT count(*) FROM postings WHERE wallet_id = @id", ("id", id)));
        }

        // A prepared row may outlive its aborted transaction: Orleans can drop a prepared transaction
        // without telling the storage, and the sweep removes that row once its state's commits pass
        // it. No committed transaction's row may wait: each was taken by its manager's commit.
        Assert.Equal(0L, await Database.ScalarAsync("SELECT count(*) FROM ledger_prepared WHERE entry_id <> ALL(@aborted)", ("aborted", aborted.Select(a => a.EntryId).ToArray())));
        var verify = await new LedgerVerifier(Database, TimeProvider.System).VerifyAsync(CancellationToken.None);
        Assert.True(verify.Ok, string.Join("; ", verify.Problems.Select(p => $"{p.Code} {p.WalletId} {p.Detail}")));

        // A state drops the rows the ledger has: once a movement commits, the committed state the next
        // transaction starts from carries none of them (after a reload too).
        foreach (var account in accounts)
        {
            await account.Deposit(NewEntryId(), Treasury, 1, null);
            Assert.Equal(0, (await account.Read()).CarriedRows);
        }

        // Each state has committed past whatever waited: a sweep leaves nothing.
        await PassedLedgerRowSweeper.SweepAsync(Database, CancellationToken.None);
        Assert.Equal(0L, await PreparedRowsAsync());
    }

    [Fact]
    public async Task Verify_FindsACommittedStateTheLedgerDoesNotBearOut()
    {
        var account = await NewAccountAsync("verify");
        await account.Deposit(NewEntryId(), Treasury, 250, null);
        var verifier = new LedgerVerifier(Database, TimeProvider.System);
        Assert.True((await verifier.VerifyAsync(CancellationToken.None)).Ok);

        // The state's recorded position no longer matches the wallet's rows: as if a commit had lost its ledger.
        await Database.ExecuteAsync("UPDATE transactional_states SET ledger_balance = ledger_balance + 1 WHERE ledger_wallet_id = @id", ("id", account.GetPrimaryKeyString()));

        var report = await verifier.VerifyAsync(CancellationToken.None);
        var problem = Assert.Single(report.Problems);
        Assert.Equal(("state_mismatch", account.GetPrimaryKeyString()), (problem.Code, problem.WalletId));
    }

    public async Task InitializeAsync() => _ledger = await LedgerAccountCluster.StartAsync("transactional_ledger", 1, Treasury);

    public async Task DisposeAsync()
    {
        if (_ledger is not null)
        {
            await _ledger.DisposeAsync();
        }
    }

    private static string NewEntryId() => $"entry-{Guid.NewGuid():N}";

    private static (long, long) Trim((long Balance, long Version, int CarriedRows) read) => (read.Balance, read.Version);

    private async Task<ILedgerAccountGrain> NewAccountAsync(string name)
    {
        var id = $"{name}-{Guid.NewGuid():N}";
        await Database.AddAccountAsync(id);
        return Cluster.GrainFactory.GetGrain<ILedgerAccountGrain>(id);
    }

    private async Task<(long Seq, string Source, string Destination, long Amount)> EntryAsync(string id)
    {
        await using var command = Database.Command("SELECT seq, source_id, destination_id, amount FROM entries WHERE id = @id", ("id", id));
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"entry {id} was not written");
        return (reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
    }

    private async Task<Dictionary<string, (long Amount, long BalanceAfter, long Version)>> PostingsAsync(long seq)
    {
        await using var command = Database.Command("SELECT wallet_id, amount, balance_after, wallet_version FROM postings WHERE entry_seq = @seq", ("seq", seq));
        await using var reader = await command.ExecuteReaderAsync();
        var postings = new Dictionary<string, (long, long, long)>();
        while (await reader.ReadAsync())
        {
            postings[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }

        Assert.Equal(2, postings.Count);
        return postings;
    }

    private async Task<(long Balance, long Version)> WalletRowAsync(string id)
    {
        await using var command = Database.Command("SELECT balance, version FROM wallets WHERE id = @id", ("id", id));
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private Task<long> WalletBalanceAsync(string id) => Database.ScalarAsync("SELECT balance FROM wallets WHERE id = @id", ("id", id));

    private async Task<(string Hash, string Outcome, string Body)> KeyAsync(string key)
    {
        await using var command = Database.Command("SELECT request_hash, outcome, body FROM idempotency_keys WHERE tenant_id = @tenant AND key = @key",
            ("tenant", LedgerAccountGrain.Tenant), ("key", key));
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"key {key} was not stored");
        return (reader.GetString(0), reader.GetString(1), reader.GetString(2));
    }

    private Task<long> PreparedRowsAsync() => Database.ScalarAsync("SELECT count(*) FROM ledger_prepared");
}
