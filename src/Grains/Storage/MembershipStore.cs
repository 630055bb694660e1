using Npgsql;
using Wallet.Runtime.Cluster;

namespace Wallet.Grains.Storage;

/// <summary>
/// The membership table in PostgreSQL (<c>cluster_versions</c>, <c>cluster_silos</c>). A status
/// change runs in one transaction that first moves the cluster's version from the value the
/// writer read to the next: if another silo changed membership meanwhile, nothing is written.
/// Dead rows older than a day are removed by the next change.
/// </summary>
public sealed class MembershipStore(NpgsqlDataSource dataSource, string clusterId) : IMembershipTable
{
    // A cluster without a version row yet reads as version 0; the first write creates the row.
    private const string Read = """
        SELECT coalesce(v.version, 0), now(), s.endpoint, s.generation, s.status, s.host_name, s.started_at, s.heartbeat_at
        FROM (SELECT @cluster::text AS cluster_id) c
        LEFT JOIN cluster_versions v ON v.cluster_id = c.cluster_id
        LEFT JOIN cluster_silos s ON s.cluster_id = c.cluster_id
        ORDER BY s.endpoint, s.generation
        """;

    private const string EnsureVersion = """
        INSERT INTO cluster_versions (cluster_id) VALUES (@cluster) ON CONFLICT (cluster_id) DO NOTHING
        """;

    private const string BumpVersion = """
        UPDATE cluster_versions SET version = version + 1, changed_at = now()
        WHERE cluster_id = @cluster AND version = @expected
        """;

    private const string Upsert = """
        INSERT INTO cluster_silos (cluster_id, endpoint, generation, status, host_name, started_at, heartbeat_at)
        VALUES (@cluster, @endpoint, @generation, @status, @host, @started, now())
        ON CONFLICT (cluster_id, endpoint, generation) DO UPDATE SET status = excluded.status
        """;

    private const string Cleanup = """
        DELETE FROM cluster_silos WHERE cluster_id = @cluster AND status = 'dead' AND heartbeat_at < now() - interval '1 day'
        """;

    private const string Heartbeat = """
        UPDATE cluster_silos SET heartbeat_at = now()
        WHERE cluster_id = @cluster AND endpoint = @endpoint AND generation = @generation
        RETURNING status
        """;

    public async Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Read);
        command.Parameters.AddWithValue("cluster", clusterId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        long version = 0;
        var now = DateTimeOffset.MinValue;
        var entries = new List<MembershipEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            version = reader.GetInt64(0);
            now = reader.GetFieldValue<DateTimeOffset>(1);
            if (!reader.IsDBNull(2))
            {
                entries.Add(new MembershipEntry(
                    new SiloAddress(reader.GetString(2), reader.GetInt64(3)),
                    ParseStatus(reader.GetString(4)),
                    reader.GetString(5),
                    reader.GetFieldValue<DateTimeOffset>(6),
                    reader.GetFieldValue<DateTimeOffset>(7)));
            }
        }

        return new MembershipSnapshot(version, now, entries);
    }

    public async Task<bool> TryWriteAsync(long expectedVersion, IReadOnlyList<MembershipEntry> changes, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var ensure = new NpgsqlCommand(EnsureVersion, connection, transaction))
        {
            ensure.Parameters.AddWithValue("cluster", clusterId);
            await ensure.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var bump = new NpgsqlCommand(BumpVersion, connection, transaction))
        {
            bump.Parameters.AddWithValue("cluster", clusterId);
            bump.Parameters.AddWithValue("expected", expectedVersion);
            if (await bump.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false;
            }
        }

        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
            foreach (var entry in changes)
            {
                batch.BatchCommands.Add(SqlBatch.Command(
                    Upsert,
                    ("cluster", clusterId),
                    ("endpoint", entry.Silo.Endpoint),
                    ("generation", entry.Silo.Generation),
                    ("status", FormatStatus(entry.Status)),
                    ("host", entry.HostName),
                    ("started", entry.StartedAt)));
            }

            batch.BatchCommands.Add(SqlBatch.Command(Cleanup, ("cluster", clusterId)));
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<SiloStatus?> HeartbeatAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Heartbeat);
        command.Parameters.AddWithValue("cluster", clusterId);
        command.Parameters.AddWithValue("endpoint", silo.Endpoint);
        command.Parameters.AddWithValue("generation", silo.Generation);
        return await command.ExecuteScalarAsync(cancellationToken) is string status ? ParseStatus(status) : null;
    }

    private static SiloStatus ParseStatus(string status) => status switch
    {
        "active" => SiloStatus.Active,
        "leaving" => SiloStatus.Leaving,
        _ => SiloStatus.Dead,
    };

    private static string FormatStatus(SiloStatus status) => status switch
    {
        SiloStatus.Active => "active",
        SiloStatus.Leaving => "leaving",
        _ => "dead",
    };
}
