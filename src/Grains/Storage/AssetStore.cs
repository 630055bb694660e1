using Npgsql;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Storage;

/// <summary>
/// A custom asset a tenant may hold: <c>declared</c> by the tenant (POST /v1/assets), or
/// <c>configured</c> for every tenant (<c>Currencies:Custom</c>, which has no creation time).
/// </summary>
public sealed record AssetView(string Code, int Scale, string? Name, string Kind, DateTimeOffset? CreatedAt)
{
    public const string Declared = "declared";
    public const string Configured = "configured";

    public Currency ToCurrency() => new(Code, Scale);
}

public enum AssetDeclaration
{
    Declared,
    CodeTaken,
    IdempotencyKeyExists,
}

/// <summary>The custom assets tenants declare: each code once per tenant, and never changed after.</summary>
public sealed class AssetStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "code, scale, name, created_at";

    private const string Insert =
        "INSERT INTO assets (tenant_id, code, scale, name, created_at) VALUES (@tenant, @code, @scale, @name, @created_at) ON CONFLICT DO NOTHING";

    private const string Select = $"SELECT {Columns} FROM assets WHERE tenant_id = @tenant AND code = @code";

    // A declared code that is also configured is listed once, as the configured asset that serves it.
    private const string SelectPage =
        $"SELECT {Columns} FROM assets WHERE tenant_id = @tenant AND (@after::text IS NULL OR code COLLATE \"C\" > @after) "
        + "AND NOT code = ANY(@configured) ORDER BY code COLLATE \"C\" LIMIT @limit";

    private const string SelectScaleClashes =
        "SELECT a.tenant_id, a.code, a.scale FROM assets a JOIN unnest(@codes, @scales) AS c(code, scale) ON a.code = c.code AND a.scale <> c.scale "
        + "ORDER BY a.code, a.tenant_id LIMIT 20";

    /// <summary>
    /// Declares <paramref name="asset"/> for <paramref name="tenantId"/>, with the request's
    /// Idempotency-Key and <paramref name="answer"/> in the same transaction. Nothing is written
    /// when the tenant has an asset of that code, or the key was taken first.
    /// </summary>
    public async Task<AssetDeclaration> DeclareAsync(
        string tenantId, AssetView asset, IdempotencyRequest? idempotency, StoredAnswer answer, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer, cancellationToken))
        {
            return AssetDeclaration.IdempotencyKeyExists;
        }

        await using var command = new NpgsqlCommand(Insert, connection, transaction);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("code", asset.Code);
        command.Parameters.AddWithValue("scale", asset.Scale);
        command.Parameters.AddWithValue("name", (object?)asset.Name ?? DBNull.Value);
        command.Parameters.AddWithValue("created_at", asset.CreatedAt ?? throw new ArgumentException("a declared asset has its creation time", nameof(asset)));
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            return AssetDeclaration.CodeTaken;
        }

        await transaction.CommitAsync(cancellationToken);
        return AssetDeclaration.Declared;
    }

    public async Task<AssetView?> FindAsync(string tenantId, string code, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("code", code);
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>
    /// The tenant's declared assets by code (ordinal order), those after <paramref name="after"/> and
    /// not <paramref name="configured"/>, at most <paramref name="limit"/>.
    /// </summary>
    public async Task<IReadOnlyList<AssetView>> ListAsync(
        string tenantId, string? after, IReadOnlyList<string> configured, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectPage);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("configured", configured.ToArray());
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>Declarations of one of <paramref name="assets"/>' codes with another scale, by any tenant (a few, to name them).</summary>
    public async Task<IReadOnlyList<(string TenantId, string Code, int Scale)>> FindScaleClashesAsync(
        IReadOnlyList<AssetView> assets, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectScaleClashes);
        command.Parameters.AddWithValue("codes", assets.Select(a => a.Code).ToArray());
        command.Parameters.AddWithValue("scales", assets.Select(a => a.Scale).ToArray());
        var found = new List<(string, string, int)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add((reader.GetString(0), reader.GetString(1), reader.GetInt32(2)));
        }

        return found;
    }

    private static async Task<List<AssetView>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var assets = new List<AssetView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            assets.Add(new AssetView(reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                AssetView.Declared, reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return assets;
    }
}
