using System.Security.Cryptography;
using Npgsql;
using Wallet.Grains.Auth;

namespace Wallet.Grains.Storage;

/// <summary>Who a dashboard session acts as: a tenant and role, and the person (<see cref="UserId"/>) or key (<see cref="KeyId"/>) that opened it.</summary>
public sealed record DashboardSession(string TenantId, string Role, string? UserId, string? KeyId);

/// <summary>
/// Dashboard sign-in sessions: a random token held by the browser as a cookie, stored here only as
/// its SHA-256, acting as the operator who signed in or with the operator key it was opened with.
/// Kept in the database, so any silo of the cluster accepts it; a revoked key or a person who is no
/// longer an active operator ends its sessions.
/// </summary>
public sealed class DashboardSessionStore(NpgsqlDataSource dataSource)
{
    private const string Insert = """
        DELETE FROM dashboard_sessions WHERE expires_at < now();
        INSERT INTO dashboard_sessions (token_hash, key_hash, user_id, expires_at) VALUES (@token, @key, @user, now() + @lifetime)
        """;

    private const string Select = """
        SELECT coalesce(k.tenant_id, u.tenant_id), coalesce(k.role, 'operator'), u.id, k.id
        FROM dashboard_sessions s
        LEFT JOIN api_keys k ON k.key_hash = s.key_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
        LEFT JOIN users u ON u.id = s.user_id AND u.status = 'active' AND 'operator' = ANY (u.roles)
        WHERE s.token_hash = @token AND s.expires_at > now() AND (k.key_hash IS NOT NULL OR u.id IS NOT NULL)
        """;

    private const string Delete = "DELETE FROM dashboard_sessions WHERE token_hash = @token";

    /// <summary>Opens a session for a key already checked; returns its token, in clear, once.</summary>
    public async Task<string> OpenAsync(string apiKey, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var token = NewToken();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await InsertAsync(connection, null, token, ApiKeyStore.Hash(apiKey), null, lifetime, cancellationToken);
        return token;
    }

    /// <summary>
    /// Opens a session for a person who just proved who they are, recorded as their sign-in in the
    /// tenant's audit trail in the same transaction; returns its token, in clear, once.
    /// </summary>
    public async Task<string> OpenAsync(UserView user, bool multiFactor, TimeSpan lifetime, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var token = NewToken();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await InsertAsync(connection, transaction, token, null, user.Id, lifetime, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, UserStore.Actor(user.Id), "auth.login", user.Id,
            new { dashboard = true, multi_factor = multiFactor }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return token;
    }

    /// <summary>Who a live session acts as; null when it is unknown, expired, or its key or person may no longer open one.</summary>
    public async Task<DashboardSession?> FindAsync(string token, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("token", Hash(token));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DashboardSession(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3))
            : null;
    }

    /// <summary>Ends a session; every process that cached it hears so (<see cref="CredentialRevocations"/>).</summary>
    public async Task CloseAsync(string token, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(Delete, connection, transaction))
        {
            command.Parameters.AddWithValue("token", Hash(token));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await CredentialRevocations.NotifyAsync(connection, transaction, Revocation(token), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>What a closed session is named by in <see cref="CredentialRevocations"/>.</summary>
    public static string Revocation(string token) => CredentialRevocations.Session(Hash(token));

    private static async Task InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string token, string? keyHash, string? userId, TimeSpan lifetime,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Insert, connection, transaction);
        command.Parameters.AddWithValue("token", Hash(token));
        command.Parameters.Add(new NpgsqlParameter<string?>("key", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = keyHash });
        command.Parameters.Add(new NpgsqlParameter<string?>("user", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = userId });
        command.Parameters.AddWithValue("lifetime", lifetime);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    // A token is 32 random bytes like an API key, so the same fast hash serves.
    private static string Hash(string token) => ApiKeyStore.Hash(token);
}
