using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using Wallet.Grains.Auth;

namespace Wallet.Grains.Cards;

/// <summary>
/// Each tenant's fraud rules: the defaults until the tenant writes its own. Authorizations read
/// them from a cache refreshed every <see cref="CacheAge"/>, so the check costs no round trip.
/// </summary>
public sealed class FraudRuleStore(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly TimeSpan CacheAge = TimeSpan.FromSeconds(2);

    private const string Select = "SELECT rules::text, version, updated_at FROM fraud_rules WHERE tenant_id = @tenant";

    private const string Upsert = """
        INSERT INTO fraud_rules (tenant_id, rules, version, updated_at) VALUES (@tenant, @rules::jsonb, 1, @now)
        ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, version = fraud_rules.version + 1, updated_at = excluded.updated_at
        RETURNING version
        """;

    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);

    public async Task<FraudRulesView> GetAsync(string tenantId, CancellationToken cancellationToken)
    {
        var cached = await GetCompiledAsync(tenantId, cancellationToken);
        return new FraudRulesView(cached.Rules.Rules, cached.Version, cached.UpdatedAt);
    }

    /// <summary>Replaces the tenant's rules, recorded in its audit trail as <paramref name="actor"/>'s; null and a problem when they are not valid.</summary>
    public async Task<(FraudRulesView? Rules, string? Problem)> SaveAsync(string tenantId, FraudRules rules, string actor, CancellationToken cancellationToken)
    {
        var (compiled, problem) = FraudEngine.Compile(rules);
        if (compiled is null)
        {
            return (null, problem);
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(Upsert, connection, transaction);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("rules", JsonSerializer.Serialize(compiled.Rules, WalletJson.Options));
        command.Parameters.AddWithValue("now", now);
        var version = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, AuditActions.FraudRulesReplaced, null,
            new { version, rules = compiled.Rules }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        _cache[tenantId] = new Cached(compiled, version, now, clock.GetUtcNow());
        return (new FraudRulesView(compiled.Rules, version, now), null);
    }

    internal async ValueTask<CompiledFraudRules> GetRulesAsync(string tenantId, CancellationToken cancellationToken) =>
        (await GetCompiledAsync(tenantId, cancellationToken)).Rules;

    private async ValueTask<Cached> GetCompiledAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(tenantId, out var cached) && clock.GetUtcNow() - cached.ReadAt < CacheAge)
        {
            return cached;
        }

        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        cached = await reader.ReadAsync(cancellationToken)
            ? new Cached(
                FraudEngine.Compile(JsonSerializer.Deserialize<FraudRules>(reader.GetString(0), WalletJson.Options)!).Rules ?? CompiledFraudRules.Default,
                reader.GetInt32(1),
                reader.GetFieldValue<DateTimeOffset>(2),
                clock.GetUtcNow())
            : new Cached(CompiledFraudRules.Default, 0, null, clock.GetUtcNow());
        _cache[tenantId] = cached;
        return cached;
    }

    private sealed record Cached(CompiledFraudRules Rules, int Version, DateTimeOffset? UpdatedAt, DateTimeOffset ReadAt);
}
