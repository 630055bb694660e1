using Npgsql;
using Orleans;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.GroupCommit;

/// <summary>
/// Group commit against the real database: many movements of one hot wallet share PostgreSQL
/// transactions, and a transaction that dies loses and duplicates nothing.
/// </summary>
public sealed class GroupCommitLedgerTests : IAsyncLifetime
{
    private const string Tenant = "default";
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() => _factory = await WalletApiFactory.CreateAsync("groupcommit");

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public Task Spend_FiveThousandConcurrentOnHotWallet_EndsAtExpectedBalanceWithEveryAcceptedSpendOnce() =>
        HotWalletScenarioAsync(_factory);

    [Fact]
    public async Task Spend_FiveThousandConcurrentWithTwoBatchesInFlight_EndsAtExpectedBalanceWithEveryAcceptedSpendOnce()
    {
        await using var factory = await WalletApiFactory.CreateAsync(
            "groupcommit2", new() { ["GroupCommit:CommitConcurrencyMax"] = "2", ["GroupCommit:CommitBatchSizeMax"] = "64" });
        await HotWalletScenarioAsync(factory);
    }

    private static async Task HotWalletScenarioAsync(WalletApiFactory factory)
    {
        var client = factory.GetService<IClusterClient>();
        var wallet = await CreateFundedWalletAsync(client, "25000.00");
        var random = new Random(20261121);
        var amounts = Enumerable.Range(0, 5_000).Select(_ => random.NextInt64(1, 1_001)).ToArray(); // 0.01 .. 10.00

        var results = await Task.WhenAll(amounts.Select(amount => Spend(client, wallet, amount)));

        Assert.All(results, r => Assert.Null(r.Fault));
        var accepted = results.Where(r => r.Result!.Failure is null).ToList();
        var declined = results.Where(r => r.Result!.Failure is not null).ToList();
        Assert.All(declined, r => Assert.Equal(LedgerErrors.InsufficientFunds, r.Result!.Failure!.Code));
        Assert.NotEmpty(accepted);
        Assert.NotEmpty(declined); // 5,000 spends averaging 5.00 exceed 25,000.00: both outcomes must occur
        var expected = 2_500_000 - accepted.Sum(r => r.Amount);
        Assert.True(expected >= 0);

        Assert.Equal(expected, await BalanceInDatabaseAsync(factory, wallet));
        var view = await client.GetGrain<IWalletGrain>(wallet).Get(Tenant);
        Assert.Equal(Amount.Format(expected, 2), view.Wallet!.Balance.Posted);
        Assert.All(accepted, r => Assert.Equal(r.TransferId, r.Result!.Transfer!.Id));
        var recorded = await TransferCountsAsync(factory, [.. accepted.Select(r => r.TransferId)]);
        Assert.Equal(accepted.Count, recorded.Count);
        Assert.All(recorded.Values, count => Assert.Equal(1, count));
        Assert.Empty(await TransferCountsAsync(factory, [.. declined.Select(r => r.TransferId)]));
        Assert.Equal(accepted.Count + 1, await PostingCountAsync(factory, wallet)); // the spends and the deposit
        Assert.True((await factory.GetService<LedgerVerifier>().VerifyAsync(CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task Commit_ConnectionKilledMidBatch_LosesAndDuplicatesNothingAndWalletAnswersCorrectlyAfter()
    {
        var client = _factory.GetService<IClusterClient>();
        var wallet = await CreateFundedWalletAsync(client, "1000.00");
        var writer = _factory.GetService<TransactionalStateWriter>();
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        writer.BeforeWrite = async (connection, writes) =>
        {
            // The first batch that writes this wallet's state is held until more spends queue
            // behind it, then its connection is terminated by the server before it writes the ledger.
            if (killed.Task.IsCompleted || !writes.Any(w => w.Position?.WalletId == wallet || w.CommittedLedgerRows.Any(r => r.WalletId == wallet)))
            {
                return;
            }

            await gate.Task;
            await TerminateAsync(_factory, connection.ProcessID);
            killed.TrySetResult();
        };

        try
        {
            var first = Enumerable.Range(0, 20).Select(_ => Spend(client, wallet, 100)).ToList();
            await Task.Delay(200);
            var second = Enumerable.Range(0, 20).Select(_ => Spend(client, wallet, 100)).ToList();
            await Task.Delay(200);
            gate.SetResult();
            await killed.Task;
            var all = await Task.WhenAll(first.Concat(second));

            // Each spend was answered committed, or unavailable (aborted, or its outcome unknown:
            // the Idempotency-Key's retry would tell). Nothing is in the ledger twice, every spend
            // answered committed is in it, and the balance is what the ledger's entries say.
            var failed = all.Where(r => r.Fault is not null).ToList();
            var succeeded = all.Where(r => r.Fault is null).ToList();
            Assert.All(failed, r => Assert.IsType<LedgerUnavailableException>(r.Fault));
            Assert.All(succeeded, r => Assert.Null(r.Result!.Failure));
            var recorded = await TransferCountsAsync(_factory, [.. all.Select(r => r.TransferId)]);
            Assert.All(recorded.Values, count => Assert.Equal(1, count));
            Assert.All(succeeded, r => Assert.True(recorded.ContainsKey(r.TransferId), $"{r.TransferId} was answered committed but is not in the ledger"));

            var expected = 100_000 - (recorded.Count * 100L);
            Assert.Equal(expected, await BalanceInDatabaseAsync(_factory, wallet));
            var view = await client.GetGrain<IWalletGrain>(wallet).Get(Tenant);
            Assert.Equal(Amount.Format(expected, 2), view.Wallet!.Balance.Posted);
            var next = await Spend(client, wallet, 100);
            Assert.Null(next.Fault);
            Assert.Null(next.Result!.Failure);
            Assert.Equal(expected - 100, await BalanceInDatabaseAsync(_factory, wallet));
            Assert.True((await _factory.GetService<LedgerVerifier>().VerifyAsync(CancellationToken.None)).Ok);
        }
        finally
        {
            writer.BeforeWrite = null;
        }
    }

    private static async Task<string> CreateFundedWalletAsync(IClusterClient client, string amount)
    {
        var id = "wal_" + Guid.CreateVersion7().ToString("N");
        var created = await client.GetGrain<IWalletGrain>(id).Create(new CreateWallet(Tenant, "USD", null, null, null, null));
        Assert.Null(created.Failure);
        var deposit = await client.GetGrain<IWalletGrain>($"sys:{Tenant}:treasury:USD").Transfer(
            Command("@treasury", id, amount, "tr_" + Guid.CreateVersion7().ToString("N")));
        Assert.Null(deposit.Failure);
        return id;
    }

    /// <summary>A spend to @revenue; a failed commit is an outcome here, not an exception.</summary>
    private static async Task<SpendOutcome> Spend(IClusterClient client, string wallet, long amount)
    {
        var transferId = "tr_" + Guid.CreateVersion7().ToString("N");
        try
        {
            var result = await client.GetGrain<IWalletGrain>(wallet).Transfer(Command(wallet, "@revenue", Amount.Format(amount, 2), transferId));
            return new SpendOutcome(transferId, amount, result, null);
        }
        catch (LedgerUnavailableException exception)
        {
            return new SpendOutcome(transferId, amount, null, exception);
        }
    }

    private static TransferCommand Command(string source, string destination, string amount, string id) =>
        new(Tenant, id, source, destination, amount, null, null, null, null, null, LedgerTime.Truncate(DateTimeOffset.UtcNow));

    private sealed record SpendOutcome(string TransferId, long Amount, TransferResult? Result, Exception? Fault);

    private static async Task<long> BalanceInDatabaseAsync(WalletApiFactory factory, string wallet)
    {
        await using var connection = await OpenAsync(factory);
        await using var command = new NpgsqlCommand("SELECT balance FROM wallets WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", wallet);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> PostingCountAsync(WalletApiFactory factory, string wallet)
    {
        await using var connection = await OpenAsync(factory);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM postings WHERE wallet_id = @id", connection);
        command.Parameters.AddWithValue("id", wallet);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<Dictionary<string, long>> TransferCountsAsync(WalletApiFactory factory, string[] transferIds)
    {
        await using var connection = await OpenAsync(factory);
        await using var command = new NpgsqlCommand("SELECT id, count(*) FROM entries WHERE id = ANY(@ids) GROUP BY id", connection);
        command.Parameters.AddWithValue("ids", transferIds);
        var counts = new Dictionary<string, long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    private static async Task TerminateAsync(WalletApiFactory factory, int processId)
    {
        await using var connection = await OpenAsync(factory);
        await using var command = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", connection);
        command.Parameters.AddWithValue("pid", processId);
        await command.ExecuteScalarAsync();
    }

    private static async Task<NpgsqlConnection> OpenAsync(WalletApiFactory factory)
    {
        var connection = new NpgsqlConnection(factory.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
