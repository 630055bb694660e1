using System.Collections.Concurrent;
using Npgsql;
using Wallet.Grains.Auth;
using Wallet.Grains.Money;
using Wallet.Grains.Reports;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Wallets;

/// <summary>An account of the tenant's chart: a built-in system account (in every asset) or one the tenant added (in its asset).</summary>
public sealed record AccountView(string Account, string Type, string? Asset, bool BuiltIn, DateTimeOffset? CreatedAt);

/// <summary>
/// The custom system accounts tenants add, and whether one exists. An account is never removed, so
/// what was found once is remembered; what was not is asked again.
/// </summary>
public sealed class CustomAccounts(NpgsqlDataSource dataSource, WalletStore wallets)
{
    private readonly ConcurrentDictionary<string, bool> _rows = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Tenant, string Name), bool> _names = new();

    /// <summary>Whether an account of this type may be debited below zero: the debit-balance types, asset and expense.</summary>
    public static bool MayGoNegative(string type) => type is AccountTypes.Asset or AccountTypes.Expense;

    /// <summary>Adds the account in <paramref name="currency"/>, audited; false when the tenant has it in that asset already.</summary>
    public async Task<AccountView?> CreateAsync(
        string tenantId, string name, string type, Currency currency, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await wallets.EnsureSystemAccountsAsync(tenantId, currency, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, may_go_negative, account_type, created_at)
            VALUES (@id, @tenant, 'system', @currency, @scale, 'active', @negative, @type, @now)
            ON CONFLICT (id) DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", SystemAccounts.WalletId(tenantId, name, currency.Code));
            insert.Parameters.AddWithValue("tenant", tenantId);
            insert.Parameters.AddWithValue("currency", currency.Code);
            insert.Parameters.AddWithValue("scale", (short)currency.Scale);
            insert.Parameters.AddWithValue("negative", MayGoNegative(type));
            insert.Parameters.AddWithValue("type", type);
            insert.Parameters.AddWithValue("now", now);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return null;
            }
        }

        var account = new AccountView("@" + name, type, currency.Code, false, now);
        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, AuditActions.AccountCreated, account.Account,
            new { type, asset = currency.Code }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return account;
    }

    /// <summary>Whether the system account row <paramref name="walletId"/> exists: always for a built-in account, whose rows come with the tenant's assets.</summary>
    public async ValueTask<bool> ExistsAsync(string walletId, CancellationToken cancellationToken)
    {
        if (!SystemAccounts.IsCustomWalletId(walletId) || _rows.ContainsKey(walletId))
        {
            return true;
        }

        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM wallets WHERE id = @id)");
        command.Parameters.AddWithValue("id", walletId);
        var exists = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (exists)
        {
            _rows.TryAdd(walletId, true);
        }

        return exists;
    }

    /// <summary>Whether <paramref name="name"/> names an account of the tenant, in any asset.</summary>
    public async ValueTask<bool> NamesAsync(string tenantId, string name, CancellationToken cancellationToken)
    {
        if (SystemAccounts.IsBuiltIn(name) || _names.ContainsKey((tenantId, name)))
        {
            return true;
        }

        if (!SystemAccounts.IsCustomName(name))
        {
            return false;
        }

        await using var command = dataSource.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM wallets WHERE tenant_id = @tenant AND kind = 'system' AND starts_with(id, @prefix))");
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("prefix", SystemAccounts.WalletId(tenantId, name, ""));
        var exists = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (exists)
        {
            _names.TryAdd((tenantId, name), true);
        }

        return exists;
    }

    /// <summary>The tenant's chart of accounts: the built-in accounts, then those it added, by name and asset.</summary>
    public async Task<IReadOnlyList<AccountView>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        var chart = SystemAccounts.Names.Select(n => new AccountView("@" + n, AccountTypes.Of("@" + n), null, true, null)).ToList();
        await using var command = dataSource.CreateCommand(
            "SELECT id, account_type, currency, created_at FROM wallets WHERE tenant_id = @tenant AND kind = 'system' AND account_type IS NOT NULL ORDER BY id");
        command.Parameters.AddWithValue("tenant", tenantId);
        chart.AddRange(await command.ReadRowsAsync(
            reader => new AccountView(SystemAccounts.Display(reader.GetString(0)), reader.GetString(1), reader.GetString(2), false, reader.GetFieldValue<DateTimeOffset>(3)),
            cancellationToken));
        return chart;
    }
}
