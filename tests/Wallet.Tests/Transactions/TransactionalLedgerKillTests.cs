using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.TestingHost;
using Orleans.Transactions;
using Wallet.Grains.Ledger;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Transactions;

/// <summary>
/// A silo killed while transfers between accounts on both silos are in flight: whatever each
/// caller was told (committed, aborted or in doubt), once the survivors have settled every entry is
/// whole, money is conserved, no prepared ledger row is orphaned, and verify holds, including that
/// each account's committed state stands where its ledger rows say.
/// </summary>
public sealed class TransactionalLedgerKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Treasury = "@ledger-kill-treasury";
    private const int Accounts = 16;
    private const long Funding = 100_000;
    private static readonly TimeSpan SettleMax = TimeSpan.FromSeconds(90);

    private LedgerAccountCluster? _ledger;

    private TestCluster Cluster => _ledger!.Cluster;

    private NpgsqlDataSource Database => _ledger!.Database;

    /// <summary>
    /// Transfers among accounts on two silos in both joining orders, so that one batch commits
    /// several entries of one wallet from different managers: entries are numbered so that each
    /// wallet's postings follow its versions (verify's running balances), and states match rows.
    /// </summary>
    [Fact]
    public Task RandomTransfersOnTwoSilos_NumberEntriesInEveryWalletsVersionOrder() => TransferAndCheckAsync(kill: false);

    [Fact]
    public Task KillASiloMidTransfers_LeavesEveryEntryWholeAndEveryStateEqualToItsRows() => TransferAndCheckAsync(kill: true);

    private async Task TransferAndCheckAsync(bool kill)
    {
        var transactions = Cluster.Client.ServiceProvider.GetRequiredService<ITransactionClient>();
        var accounts = new List<ILedgerAccountGrain>();
        for (var i = 0; i < Accounts; i++)
        {
            var id = $"kill-{i:00}-{Guid.NewGuid():N}";
            await Database.AddAccountAsync(id);
            accounts.Add(Cluster.GrainFactory.GetGrain<ILedgerAccountGrain>(id));
            await accounts[i].Deposit($"entry-{Guid.NewGuid():N}", Treasury, Funding, null);
        }

        var victim = Cluster.SecondarySilos[0];
        var hosted = 0;
        foreach (var account in accounts)
        {
            hosted += victim.SiloAddress.Equals(await Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(account)) ? 1 : 0;
        }

        output.WriteLine($"{hosted} of {Accounts} accounts live on the second silo");
        Assert.InRange(hosted, 1, Accounts - 1);

        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var stopAt = DateTime.UtcNow.AddSeconds(8);
        var killed = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            if (kill)
            {
                await Cluster.KillSiloAsync(victim);
            }
        });
        await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (DateTime.UtcNow < stopAt)
            {
                var (from, to) = (random.Next(Accounts), random.Next(Accounts - 1));
                to = to >= from ? to + 1 : to;
                var (debited, credited) = (accounts[from], accounts[to]);
                var amount = 1L + random.Next(100);
                var entryId = $"entry-{Guid.NewGuid():N}";
                var outcome = "committed";
                try
                {
                    await transactions.RunTransaction(TransactionOption.Create, async () =>
                    {
                        // The account with the lower index joins first, debited or credited: one fixed order.
                        if (from < to)
                        {
                            await debited.Debit(entryId, credited.GetPrimaryKeyString(), amount);
                            await credited.Credit(entryId, amount);
                        }
                        else
                        {
                            await credited.Credit(entryId, amount);
                            await debited.Debit(entryId, credited.GetPrimaryKeyString(), amount);
                        }
                    });
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    outcome = exception.GetType().Name;
                }

                outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
            }
        })));
        await killed;
        output.WriteLine(string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}")));
        Assert.True(outcomes.GetValueOrDefault("committed") > 0);

        // The survivors finish or abort what was in flight, which an account whose silo died does once
        // it is activated again. A ledger row may wait only while its state is still prepared in
        // Orleans' own records (its manager's outcome not yet known to the account): never orphaned.
        var settling = System.Diagnostics.Stopwatch.StartNew();
        foreach (var account in accounts)
        {
            await account.ReadSettledAsync();
        }

        const string Orphaned = """
            SELECT count(*) FROM ledger_prepared l
            WHERE NOT EXISTS (SELECT 1 FROM transactional_prepares t WHERE t.state_key = l.state_key AND t.sequence_id = l.sequence_id)
            """;
        while (await Database.ScalarAsync(Orphaned) > 0 && settling.Elapsed < SettleMax)
        {
            await Task.Delay(500);
        }

        Assert.True(await Database.ScalarAsync(Orphaned) == 0, $"prepared ledger rows without a prepared state after {SettleMax.TotalSeconds:0} s: {await DescribeAsync()}");
        output.WriteLine($"prepared ledger rows still waiting for their outcome: {await DescribeAsync()}");

        // Money is conserved, and every committed state stands where its rows say (verify's state check).
        var ids = accounts.Select(a => a.GetPrimaryKeyString()).ToArray();
        Assert.Equal(Funding * Accounts, await Database.ScalarAsync("SELECT sum(balance) FROM wallets WHERE id = ANY(@ids)", ("ids", ids)));
        Assert.Equal(Accounts, await Database.ScalarAsync("SELECT count(*) FROM transactional_states WHERE ledger_wallet_id = ANY(@ids)", ("ids", ids)));
        var verify = await new LedgerVerifier(Database, TimeProvider.System).VerifyAsync(CancellationToken.None);
        Assert.True(verify.Ok, string.Join("; ", verify.Problems.Select(p => $"{p.Code} {p.WalletId} {p.EntryId} {p.Detail}")));
        output.WriteLine($"settled in {settling.Elapsed.TotalSeconds:0.0} s; {await Database.ScalarAsync("SELECT count(*) FROM entries")} entries");
    }

    public async Task InitializeAsync() => _ledger = await LedgerAccountCluster.StartAsync("transactional_kill", 2, Treasury);

    public async Task DisposeAsync()
    {
        if (_ledger is not null)
        {
            await _ledger.DisposeAsync();
        }
    }


    private async Task<string> DescribeAsync()
    {
        await using var command = Database.Command("""
            SELECT format('%s v%s seq%s tx %s entry_written=%s committed_seq=%s wallet_version=%s prepares=%s',
                   p.state_key, p.version, p.sequence_id, p.transaction_id, EXISTS (SELECT 1 FROM entries e WHERE e.id = p.entry_id),
                   s.committed_sequence, (SELECT version FROM wallets w WHERE w.id = p.wallet_id), (SELECT string_agg(sequence_id::text, ',') FROM transactional_prepares t WHERE t.state_key = p.state_key))
            FROM ledger_prepared p JOIN transactional_states s ON s.state_key = p.state_key
            """);
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join("; ", lines);
    }
}
