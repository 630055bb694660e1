using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Wallet.Grains.Storage;

public static class ApiKeyRoles
{
    public const string Operator = "operator";
    public const string Client = "client";
}

/// <summary>A key's tenant and role.</summary>
public sealed record ApiKeyIdentity(string TenantId, string Role)
{
    public bool IsOperator => Role == ApiKeyRoles.Operator;
}

/// <summary>
/// API keys, stored as SHA-256 hashes: a key is 32 random bytes, so a fast hash is enough, and
/// the key in clear exists only in the answer that created it.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    public const string DefaultTenant = "default";

    private const string Select = "SELECT tenant_id, role FROM api_keys WHERE key_hash = @hash";

    private const string Insert = "INSERT INTO api_keys (key_hash, tenant_id, role) VALUES (@hash, @tenant, @role) ON CONFLICT (key_hash) DO NOTHING";

    public async Task<ApiKeyIdentity?> FindAsync(string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("hash", Hash(key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new ApiKeyIdentity(reader.GetString(0), reader.GetString(1)) : null;
    }

    /// <summary>Stores a key given from outside (the bootstrap key); nothing happens if it exists.</summary>
    public async Task EnsureAsync(string key, ApiKeyIdentity identity, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Insert);
        command.Parameters.AddWithValue("hash", Hash(key));
        command.Parameters.AddWithValue("tenant", identity.TenantId);
        command.Parameters.AddWithValue("role", identity.Role);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Creates a new random key for a tenant and returns it in clear, once.</summary>
    public async Task<string> CreateAsync(ApiKeyIdentity identity, CancellationToken cancellationToken)
    {
        var key = "wk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await EnsureAsync(key, identity, cancellationToken);
        return key;
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
