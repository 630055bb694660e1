using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wallet.Grains.Storage;
using Wallet.Runtime.Cluster;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>
/// The PostgreSQL membership table: every status change is a compare-and-swap on the cluster's
/// version, and heartbeats touch only the silo's own row. Each test takes its own cluster id.
/// </summary>
public sealed class MembershipStoreTests(MembershipDatabase database) : IClassFixture<MembershipDatabase>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task TryWrite_WithStaleVersion_IsRefusedAndWritesNothing()
    {
        var table = database.NewTable();
        var empty = await table.ReadAsync(None);
        var first = Entry("127.0.0.1:20001", 100, SiloStatus.Active, empty.Now);
        Assert.True(await table.TryWriteAsync(empty.Version, [first], None));

        var refused = await table.TryWriteAsync(
            empty.Version, [first with { Status = SiloStatus.Dead }, Entry("127.0.0.1:20002", 200, SiloStatus.Active, empty.Now)], None);

        var after = await table.ReadAsync(None);
        Assert.False(refused);
        Assert.Equal(empty.Version + 1, after.Version);
        var only = Assert.Single(after.Entries);
        Assert.Equal((first.Silo, SiloStatus.Active), (only.Silo, only.Status));
    }

    [Fact]
    public async Task TryWrite_EachAcceptedChange_IncrementsTheVersionByOneAndKeepsTheRow()
    {
        var table = database.NewTable();
        var bystander = database.NewTable();
        var start = await table.ReadAsync(None);
        var silo = Entry("127.0.0.1:20003", 300, SiloStatus.Active, start.Now);
        var versions = new List<long> { start.Version };

        foreach (var status in (SiloStatus[])[SiloStatus.Active, SiloStatus.Leaving, SiloStatus.Dead])
        {
            var read = await table.ReadAsync(None);
            Assert.True(await table.TryWriteAsync(read.Version, [silo with { Status = status }], None));
            var written = await table.ReadAsync(None);
            versions.Add(written.Version);
            var row = Assert.Single(written.Entries);
            Assert.Equal((silo.Silo, status, silo.StartedAt), (row.Silo, row.Status, row.StartedAt));
        }

        Assert.Equal([0, 1, 2, 3], versions);
        Assert.Equal(0, (await bystander.ReadAsync(None)).Version);
        Assert.Empty((await bystander.ReadAsync(None)).Entries);
    }

    [Fact]
    public async Task Heartbeat_KnownSilo_ReturnsItsStatusAndTouchesOnlyItsRow()
    {
        var table = database.NewTable();
        var start = await table.ReadAsync(None);
        var silo = Entry("127.0.0.1:20004", 400, SiloStatus.Active, start.Now);
        var peer = Entry("127.0.0.1:20005", 500, SiloStatus.Active, start.Now);
        Assert.True(await table.TryWriteAsync(start.Version, [silo, peer], None));
        var joined = await table.ReadAsync(None);
        await Task.Delay(20);

        var status = await table.HeartbeatAsync(silo.Silo, None);

        var beaten = await table.ReadAsync(None);
        Assert.Equal(SiloStatus.Active, status);
        Assert.Equal(joined.Version, beaten.Version);
        Assert.True(Row(beaten, silo).HeartbeatAt > Row(joined, silo).HeartbeatAt, "the heartbeat moves the silo's heartbeat_at");
        Assert.Equal(Row(joined, peer).HeartbeatAt, Row(beaten, peer).HeartbeatAt);

        Assert.True(await table.TryWriteAsync(beaten.Version, [silo with { Status = SiloStatus.Dead }], None));
        Assert.Equal(SiloStatus.Dead, await table.HeartbeatAsync(silo.Silo, None));
    }

    [Fact]
    public async Task Heartbeat_UnknownSilo_ReturnsNullAndWritesNothing()
    {
        var table = database.NewTable();
        var start = await table.ReadAsync(None);
        var silo = Entry("127.0.0.1:20006", 600, SiloStatus.Active, start.Now);
        Assert.True(await table.TryWriteAsync(start.Version, [silo], None));

        var otherGeneration = await table.HeartbeatAsync(silo.Silo with { Generation = 601 }, None);
        var otherEndpoint = await table.HeartbeatAsync(new SiloAddress("127.0.0.1:20007", 600), None);

        Assert.Null(otherGeneration);
        Assert.Null(otherEndpoint);
        Assert.Equal(silo.Silo, Assert.Single((await table.ReadAsync(None)).Entries).Silo);
    }

    private static MembershipEntry Entry(string endpoint, long generation, SiloStatus status, DateTimeOffset now) =>
        new(new SiloAddress(endpoint, generation), status, "test-host", now, now);

    private static MembershipEntry Row(MembershipSnapshot snapshot, MembershipEntry entry) =>
        snapshot.Entries.Single(e => e.Silo == entry.Silo);
}

/// <summary>A fresh, migrated database for the membership table's tests; each table gets its own cluster id in it.</summary>
public sealed class MembershipDatabase : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    private NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The fixture is not initialized.");

    public MembershipStore NewTable() => new(DataSource, "cluster-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        _dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync("membership"));
        await new Migrator(_dataSource, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
    }
}
