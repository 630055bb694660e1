using System.Security.Cryptography;
using Npgsql;

namespace Wallet.Grains.Storage;

/// <summary>
/// Dashboard sign-in sessions: a random token held by the browser as a cookie, stored here only as
/// its SHA-256, acting with the operator key it was opened with. Kept in the database, so any silo
/// of the cluster accepts it, and a deleted key ends its sessions.
/// </summary>
public sealed class DashboardSessionStore(NpgsqlDataSource dataSource)
{
    private const string Insert = """
        DELETE FROM dashboard_sessions WHERE expires_at < now();
        INSERT INTO dashboard_sessions (token_hash, key_hash, expires_at) VALUES (@token, @key, now() + @lifetime)
        """;

    private const string Select = """
        SELECT k.tenant_id, k.role FROM dashboard_sessions s JOIN api_keys k ON k.key_hash = s.key_hash
        WHERE s.token_hash = @token AND s.expires_at > now() AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
        """;

    private const string Delete = "DELETE FROM dashboard_sessions WHERE token_hash = @token";

    /// <summary>Opens a session for a key already checked; returns its token, in clear, once.</summary>
    public async Task<string> OpenAsync(string apiKey, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await using var command = dataSource.CreateCommand(Insert);
        command.Parameters.AddWithValue("token", Hash(token));
        command.Parameters.AddWithValue("key", ApiKeyStore.Hash(apiKey));
        command.Parameters.AddWithValue("lifetime", lifetime);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return token;
    }

    /// <summary>The identity a live session acts with; null when it is unknown, expired, or its key is gone, revoked or expired.</summary>
    public async Task<ApiKeyIdentity?> FindAsync(string token, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("token", Hash(token));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new ApiKeyIdentity(reader.GetString(0), reader.GetString(1)) : null;
    }

    public async Task CloseAsync(string token, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Delete);
        command.Parameters.AddWithValue("token", Hash(token));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // A token is 32 random bytes like an API key, so the same fast hash serves.
    private static string Hash(string token) => ApiKeyStore.Hash(token);
}
