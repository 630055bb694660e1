using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wallet.Grains.Ledger;
using Wallet.Grains.Storage;
using Wallet.Tests.Infrastructure;
using Wallet.Tests.Transactions;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>
/// The statements whose plans PostgreSQL keeps per connection (the lookup of keys and references,
/// the ledger's writer, a transactional state's load) find rows by their keys, even when the plan
/// was made while the tables were small and they have grown since (migration 0042).
/// </summary>
public sealed class KeptPlanTests
{
    [Fact]
    public async Task FindAsync_TellsStoredKeysAndUsedReferences_InTheOrderAsked()
    {
        await using var dataSource = await MigratedAsync("taken_lookup");
        await dataSource.ExecuteAsync("""
            INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body) VALUES ('t1', 'k1', 'h', 'done', '{}');
            INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, created_at, committed_at)
            VALUES (1000001, 'e1', 't1', 'a', 'b', 1, 'USD', 'r1', now(), now());
            """);
        await using var lookup = new TakenLookup(dataSource, NullLogger<GroupCommitter<TakenQuery, Taken>>.Instance);

        var answers = await Task.WhenAll(
            lookup.FindAsync("t1", "k1", null),
            lookup.FindAsync("t1", "k2", "r1"),
            lookup.FindAsync("t2", "k1", "r1"),
            lookup.FindAsync("t1", "k1", "r1"),
            lookup.FindAsync("t1", null, "r2"));

        Assert.Equal(
            [new Taken(true, false), new Taken(false, true), new Taken(false, false), new Taken(true, true), new Taken(false, false)],
            answers);
    }

    [Fact]
    public async Task Lookup_PlannedWhileTheTablesWereSmall_ProbesTheirIndexesOnceTheyGrew()
    {
        var scans = await ScansAfterGrowthAsync(
            "taken_plan",
            small: """
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body) VALUES ('t1', 'k0', 'h', 'done', '{}');
                INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, created_at, committed_at)
                VALUES (1000000, 'e0', 't1', 'a', 'b', 1, 'USD', 'r0', now(), now())
                """,
            call: "SELECT count(*) FROM ledger_taken(ARRAY['t1', 't1'], ARRAY['k7', 'none'], ARRAY['r7', NULL])",
            growth: """
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
                SELECT 't1', 'k' || g, 'h', 'done', '{}' FROM generate_series(1, 20000) g;
                INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, created_at, committed_at)
                SELECT 1000000 + g, 'e' || g, 't1', 'a', 'b', 1, 'USD', 'r' || g, now(), now() FROM generate_series(1, 20000) g
                """,
            "idempotency_keys", "entries");

        Assert.All(scans, s => Assert.Equal(0L, s.Sequential));
        Assert.All(scans, s => Assert.True(s.Index > 0));
    }

    [Fact]
    public async Task Writer_PlannedWhileTheWalletsWereFew_ProbesTheirIndexOnceTheyGrew()
    {
        var scans = await ScansAfterGrowthAsync(
            "writer_plan",
            small: null,
            call: "SELECT ledger_write_transactions('[]'::jsonb, '{}'::text[])",
            growth: """
                INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, balance, version, created_at)
                SELECT 'w' || g, 't1', 'user', 'USD', 2, 'active', 0, 0, now() FROM generate_series(1, 20000) g
                """,
            "wallets");

        // An empty batch looks no wallet up: whole scans are what it must not make.
        Assert.Equal(0L, scans[0].Sequential);
    }

    [Fact]
    public async Task StateLoad_PlannedWhileTheStatesWereFew_ProbesTheirIndexesOnceTheyGrew()
    {
        var scans = await ScansAfterGrowthAsync(
            "state_load_plan",
            small: """
                INSERT INTO transactional_states (state_key, etag, committed_sequence, committed_state, metadata, ledger_wallet_id)
                VALUES ('s0', 1, 1, '\x00', '\x00', 'w0');
                INSERT INTO transactional_prepares (state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state)
                VALUES ('s0', 2, 't0', 0, '\x00', '\x00')
                """,
            call: "SELECT count(*) FROM transactional_state_load('s7')",
            growth: """
                INSERT INTO transactional_states (state_key, etag, committed_sequence, committed_state, metadata, ledger_wallet_id)
                SELECT 's' || g, 1, 1, '\x00', '\x00', 'w' || g FROM generate_series(1, 20000) g;
                INSERT INTO transactional_prepares (state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state)
                SELECT 's' || g, 2, 't' || g, 0, '\x00', '\x00' FROM generate_series(1, 20000) g
                """,
            "transactional_states", "transactional_prepares");

        Assert.All(scans, s => Assert.Equal(0L, s.Sequential));
        Assert.All(scans, s => Assert.True(s.Index > 0));
    }

    [Fact]
    public async Task StateLoad_ReturnsTheCommittedStateWithThePreparedAboveIt_InSequenceOrder()
    {
        await using var dataSource = await MigratedAsync("state_load");
        await dataSource.ExecuteAsync("""
            INSERT INTO transactional_states (state_key, etag, committed_sequence, committed_state, metadata)
            VALUES ('a', 7, 3, '\x01', '\x02'), ('b', 1, 1, '\x03', '\x04');
            INSERT INTO transactional_prepares (state_key, sequence_id, transaction_id, time_stamp, transaction_manager, state)
            VALUES ('a', 5, 't5', 50, '\x05', '\x06'), ('a', 4, 't4', 40, '\x07', '\x08'), ('a', 3, 't3', 30, '\x09', '\x0a');
            """);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "SELECT etag, committed_sequence, sequence_id, transaction_id FROM transactional_state_load(@key) ORDER BY sequence_id", connection);
        command.Parameters.AddWithValue("key", "a");
        var rows = new List<(long, long, long?, string?)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetInt64(0), reader.GetInt64(1),
                          reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        // The prepared state at the committed sequence is passed: only those above it are returned.
        Assert.Equal([(7L, 3L, (long?)4L, (string?)"t4"), (7L, 3L, 5L, "t5")], rows);
    }

    /// <summary>
    /// The scans <paramref name="call"/> makes of <paramref name="tables"/> on a connection that made
    /// its plan while they held what <paramref name="small"/> put there (analyzed then: a page each,
    /// where a whole scan is the cheaper plan), after <paramref name="growth"/> has filled them.
    /// </summary>
    private static async Task<(long Sequential, long Index)[]> ScansAfterGrowthAsync(
        string prefix, string? small, string call, string growth, params string[] tables)
    {
        await using var dataSource = await MigratedAsync(prefix);
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(string.Join(";\n", new[] { small }.OfType<string>().Concat(tables.Select(t => $"ANALYZE {t}"))));
        await connection.ExecuteAsync(call);
        await connection.ExecuteAsync(growth);
        return await ScansAsync(connection, call, tables);
    }

    /// <summary>A fresh database with every migration, its autovacuum off so that no analyze makes the connection plan again.</summary>
    private static async Task<NpgsqlDataSource> MigratedAsync(string prefix)
    {
        var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync(prefix));
        await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
        await dataSource.ExecuteAsync("""
            ALTER TABLE idempotency_keys SET (autovacuum_enabled = false);
            ALTER TABLE entries SET (autovacuum_enabled = false);
            ALTER TABLE wallets SET (autovacuum_enabled = false);
            ALTER TABLE transactional_states SET (autovacuum_enabled = false);
            ALTER TABLE transactional_prepares SET (autovacuum_enabled = false);
            """);
        return dataSource;
    }

    /// <summary>
    /// The sequential and index scans of each table that <paramref name="sql"/> made: the backend's
    /// counts not yet reported, read before and after it in one transaction.
    /// </summary>
    private static async Task<(long Sequential, long Index)[]> ScansAsync(NpgsqlConnection connection, string sql, params string[] tables)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        var before = await CountsAsync();
        await using (var run = new NpgsqlCommand(sql, connection, transaction))
        {
            await run.ExecuteNonQueryAsync();
        }

        var after = await CountsAsync();
        await transaction.CommitAsync();
        return [.. after.Zip(before, (a, b) => (a.Sequential - b.Sequential, a.Index - b.Index))];

        async Task<List<(long Sequential, long Index)>> CountsAsync()
        {
            await using var count = new NpgsqlCommand("""
                SELECT coalesce(s.seq_scan, 0), coalesce(s.idx_scan, 0)
                FROM unnest(@tables::text[]) WITH ORDINALITY AS t(name, n) LEFT JOIN pg_stat_xact_user_tables s ON s.relname = t.name
                ORDER BY t.n
                """, connection, transaction);
            count.Parameters.AddWithValue("tables", tables);
            var counts = new List<(long, long)>();
            await using var reader = await count.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                counts.Add((reader.GetInt64(0), reader.GetInt64(1)));
            }

            Assert.Equal(tables.Length, counts.Count);
            return counts;
        }
    }
}
