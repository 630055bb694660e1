using Npgsql;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Storage;

/// <summary>
/// Idempotency keys, scoped to a tenant. A key is written in the same transaction as its effect,
/// with the status and body of the answer, so a retry replays exactly what the first call returned.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource)
{
    public const int KeyLengthMax = 255;

    private const string Insert = """
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response_body)
        VALUES (@tenant, @key, @hash, @status, @body)
        ON CONFLICT (tenant_id, key) DO NOTHING
        """;

    private const string Select = "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE tenant_id = @tenant AND key = @key";

    /// <summary>The stored answer for a key, with the hash of the request that produced it.</summary>
    public async Task<(string RequestHash, StoredResponse Response)?> FindAsync(string tenantId, string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("key", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetString(0), new StoredResponse(reader.GetInt32(1), reader.GetString(2)))
            : null;
    }

    /// <summary>Inserts the key; false when it exists already (after waiting for a concurrent writer of it).</summary>
    internal static async Task<bool> TryInsertAsync(
        NpgsqlConnection connection, string tenantId, IdempotencyRequest idempotency, int statusCode, string body, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Insert, connection);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("key", idempotency.Key);
        command.Parameters.AddWithValue("hash", idempotency.RequestHash);
        command.Parameters.AddWithValue("status", statusCode);
        command.Parameters.AddWithValue("body", body);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
