using Npgsql;

namespace Wallet.Tests.Transactions;

/// <summary>The rows the ledger-account tests start from and the statements they read the ledger with.</summary>
internal static class LedgerAccountRows
{
    /// <summary>A user wallet row for a <see cref="ILedgerAccountGrain"/> keyed by its id.</summary>
    public static Task AddAccountAsync(this NpgsqlDataSource database, string id) => database.ExecuteAsync("""
        INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, created_at)
        VALUES (@id, @tenant, 'user', @currency, 2, 'active', now())
        """, ("id", id), ("tenant", LedgerAccountGrain.Tenant), ("currency", LedgerAccountGrain.Currency));

    /// <summary>A system account that may go negative, for deposits to come from.</summary>
    public static Task AddTreasuryAsync(this NpgsqlDataSource database, string id) => database.ExecuteAsync("""
        INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, may_go_negative, created_at)
        VALUES (@id, @tenant, 'system', @currency, 2, 'active', true, now())
        """, ("id", id), ("tenant", LedgerAccountGrain.Tenant), ("currency", LedgerAccountGrain.Currency));

    public static async Task<long> ScalarAsync(this NpgsqlDataSource database, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(database, sql, parameters);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<string?> TextAsync(this NpgsqlDataSource database, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(database, sql, parameters);
        return await command.ExecuteScalarAsync() as string;
    }

    public static async Task ExecuteAsync(this NpgsqlDataSource database, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(database, sql, parameters);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs <paramref name="sql"/> on <paramref name="connection"/>, for what must happen on that one connection.</summary>
    public static async Task ExecuteAsync(this NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static NpgsqlCommand Command(this NpgsqlDataSource database, string sql, params (string Name, object Value)[] parameters)
    {
        var command = database.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
