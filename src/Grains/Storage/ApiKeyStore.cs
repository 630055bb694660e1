using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;

namespace Wallet.Grains.Storage;

/// <summary>A key's tenant and role.</summary>
public sealed record ApiKeyIdentity(string TenantId, string Role)
{
    public bool IsOperator => Role == UserRoles.Operator;

    /// <summary>When the key stops being good, as found when it was looked up (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>An API key as it is listed: never the key itself, which exists only in the answer that made it.</summary>
public sealed record ApiKeyView(
    string Id, string TenantId, string Role, string? Name, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, DateTimeOffset CreatedAt);

/// <summary>
/// API keys, stored as SHA-256 hashes: a key is 32 random bytes, so a fast hash is enough, and
/// the key in clear exists only in the answer that created it. A key is named by its id, the start
/// of its hash. Revoked or expired keys are refused; each look-up notes when the key was last used.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    public const string DefaultTenant = "default";

    private const string IdPrefix = "ak_";

    private const string Columns = "id, tenant_id, role, name, expires_at, last_used_at, revoked_at, created_at";

    // A look-up is a use: callers cache what it finds, so this runs about once per key, silo and half minute.
    private const string Use = """
        UPDATE api_keys SET last_used_at = now()
        WHERE key_hash = @hash AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        RETURNING tenant_id, role, expires_at
        """;

    private const string Insert = """
        INSERT INTO api_keys (key_hash, id, tenant_id, role, name, expires_at) VALUES (@hash, @id, @tenant, @role, @name, @expires)
        ON CONFLICT (key_hash) DO NOTHING
        RETURNING id, tenant_id, role, name, expires_at, last_used_at, revoked_at, created_at
        """;

    public async Task<ApiKeyIdentity?> FindAsync(string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Use);
        command.Parameters.AddWithValue("hash", Hash(key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ApiKeyIdentity(reader.GetString(0), reader.GetString(1)) { ExpiresAt = reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2) }
            : null;
    }

    /// <summary>Stores a key given from outside (the bootstrap key); nothing happens if it exists.</summary>
    public async Task EnsureAsync(string key, ApiKeyIdentity identity, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await InsertAsync(connection, null, key, identity, "bootstrap", null, cancellationToken);
    }

    /// <summary>
    /// Creates a new random key for a tenant, recorded in that tenant's audit trail as made by
    /// <paramref name="actor"/>; returns it in clear, once, with how it is listed.
    /// </summary>
    public async Task<(string Key, ApiKeyView View)> CreateAsync(
        ApiKeyIdentity identity, string? name, DateTimeOffset? expiresAt, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var key = "wk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var view = (await InsertAsync(connection, transaction, key, identity, name, expiresAt, cancellationToken))!;
        await AuditLog.AppendAsync(connection, transaction, identity.TenantId, now, actor, "api_key.created", view.Id,
            new { role = identity.Role, name, expires_at = expiresAt }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (key, view);
    }

    /// <summary>A tenant's keys, newest first.</summary>
    public async Task<List<ApiKeyView>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys WHERE tenant_id = @tenant ORDER BY created_at DESC, id");
        command.Parameters.AddWithValue("tenant", tenantId);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>
    /// Revokes a key (of any tenant: operators make keys for any tenant too); its requests are refused
    /// from then on: every process that cached it hears so (<see cref="CredentialRevocations"/>). Null
    /// for a key not found.
    /// </summary>
    public async Task<ApiKeyView?> RevokeAsync(string id, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var update = new NpgsqlCommand($"""
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, @now) WHERE id = @id RETURNING {Columns}
            """, connection, transaction);
        update.Parameters.AddWithValue("id", id);
        update.Parameters.AddWithValue("now", now);
        var revoked = (await ReadAsync(update, cancellationToken)).SingleOrDefault();
        if (revoked is null)
        {
            return null;
        }

        await AuditLog.AppendAsync(connection, transaction, revoked.TenantId, now, actor, "api_key.revoked", id, null, cancellationToken);
        await CredentialRevocations.NotifyAsync(connection, transaction, CredentialRevocations.ApiKey(id), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>How a key is named where it must not be shown: <c>ak_</c> and the start of its hash.</summary>
    public static string IdOf(string keyHash) => IdPrefix + keyHash[..16];

    private static async Task<ApiKeyView?> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string key, ApiKeyIdentity identity, string? name, DateTimeOffset? expiresAt,
        CancellationToken cancellationToken)
    {
        var hash = Hash(key);
        await using var command = new NpgsqlCommand(Insert, connection, transaction);
        command.Parameters.AddWithValue("hash", hash);
        command.Parameters.AddWithValue("id", IdOf(hash));
        command.Parameters.AddWithValue("tenant", identity.TenantId);
        command.Parameters.AddWithValue("role", identity.Role);
        command.Parameters.Add(new NpgsqlParameter<string?>("name", NpgsqlDbType.Text) { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?>("expires", NpgsqlDbType.TimestampTz) { TypedValue = expiresAt });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    private static async Task<List<ApiKeyView>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var keys = new List<ApiKeyView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            keys.Add(new ApiKeyView(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                Time(4), Time(5), Time(6), reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return keys;
    }
}
