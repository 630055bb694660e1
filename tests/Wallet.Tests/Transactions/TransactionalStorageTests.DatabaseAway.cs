using Xunit;

namespace Wallet.Tests.Transactions;

// The storage while its database is away: what Orleans' restores of a state rely on.
public sealed partial class TransactionalStorageTests
{
    [Fact]
    public async Task Load_WhileTheDatabaseIsAway_WaitsForItToComeBack()
    {
        var key = storage.NewKey();
        var writer = storage.Create(key);
        var first = await writer.Load();
        await writer.Store(first.ETag, first.Metadata, [Prepared(1, 321)], 1, null);
        await using var proxy = new LateDatabaseProxy(storage.Database);
        await using var away = Npgsql.NpgsqlDataSource.Create(proxy.ConnectionString);

        // Failing fast here would fail Orleans' restore again and again, which ends in the grain's
        // deactivation in the middle of its transactions.
        var load = storage.CreateOver(away, key).Load();
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        Assert.False(load.IsCompleted, "the load gave up while the database was away");
        proxy.Open();

        var loaded = await load.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((1L, 321L), (loaded.CommittedSequenceId, loaded.CommittedState.Balance));
    }
}
