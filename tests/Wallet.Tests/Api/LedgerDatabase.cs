using Npgsql;

namespace Wallet.Tests.Api;

/// <summary>
/// Direct reads of a test's own ledger rows, to check what the API says against what PostgreSQL
/// holds. Every query is scoped to the wallets the test names.
/// </summary>
public sealed class LedgerDatabase(string connectionString)
{
    public Task<long> PostingCountAsync(string walletId) =>
        ScalarAsync("SELECT count(*) FROM postings WHERE wallet_id = @id", ("id", walletId));

    /// <summary>Entries whose source and destination are both among <paramref name="walletIds"/>.</summary>
    public Task<long> EntriesBetweenAsync(string[] walletIds) =>
        ScalarAsync("SELECT count(*) FROM entries WHERE source_id = ANY(@ids) AND destination_id = ANY(@ids)", ("ids", walletIds));

    /// <summary>Entries out of <paramref name="sourceId"/> (user wallet or system account id).</summary>
    public Task<long> EntriesFromAsync(string sourceId) =>
        ScalarAsync("SELECT count(*) FROM entries WHERE source_id = @id", ("id", sourceId));

    public Task<long> WalletCountAsync(string tenantId, string ownerId) =>
        ScalarAsync("SELECT count(*) FROM wallets WHERE tenant_id = @tenant AND owner_id = @owner", ("tenant", tenantId), ("owner", ownerId));

    /// <summary>Hold rows of a wallet in <paramref name="status"/> (open, captured, voided, expired).</summary>
    public Task<long> HoldCountAsync(string walletId, string status) =>
        ScalarAsync("SELECT count(*) FROM holds WHERE wallet_id = @id AND status = @status", ("id", walletId), ("status", status));

    /// <summary>The balance column of a wallet row, in minor units.</summary>
    public Task<long> BalanceAsync(string walletId) =>
        ScalarAsync("SELECT balance FROM wallets WHERE id = @id", ("id", walletId));

    /// <summary>The receipts a tenant has (rows of <c>receipts</c>).</summary>
    public Task<long> ReceiptCountAsync(string tenantId) =>
        ScalarAsync("SELECT count(*) FROM receipts WHERE tenant_id = @tenant", ("tenant", tenantId));

    /// <summary>The sum of every balance of a tenant, system accounts included: zero while money is conserved.</summary>
    public Task<long> TenantMoneyAsync(string tenantId) =>
        ScalarAsync("SELECT coalesce(sum(balance), 0)::bigint FROM wallets WHERE tenant_id = @tenant", ("tenant", tenantId));

    /// <summary>The outcome and body stored with an Idempotency-Key (keys are unique across the tests).</summary>
    public async Task<(string Outcome, string Body)> StoredAnswerAsync(string key)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT outcome, body FROM idempotency_keys WHERE key = @key", connection);
        command.Parameters.AddWithValue("key", key);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? (reader.GetString(0), reader.GetString(1))
            : throw new InvalidOperationException($"no stored answer for key {key}");
    }

    /// <summary>
    /// Double-entry faults touching the given wallets, one line each: an entry whose postings do not
    /// sum to zero (or are fewer than two), a wallet whose balance is not the sum of its postings, or
    /// whose last running balance is not its balance. Empty when the ledger holds.
    /// </summary>
    public async Task<List<string>> DoubleEntryFaultsAsync(string[] walletIds)
    {
        const string sql = """
            SELECT 'entry ' || e.id || ': ' || count(p.wallet_id) || ' postings summing to ' || coalesce(sum(p.amount), 0)
            FROM entries e LEFT JOIN postings p ON p.entry_seq = e.seq
            WHERE e.source_id = ANY(@ids) OR e.destination_id = ANY(@ids)
            GROUP BY e.id
            HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.wallet_id) < 2
            UNION ALL
            SELECT 'wallet ' || w.id || ': balance ' || w.balance || ', postings sum to ' || coalesce(sum(p.amount), 0)
            FROM wallets w LEFT JOIN postings p ON p.wallet_id = w.id
            WHERE w.id = ANY(@ids)
            GROUP BY w.id, w.balance
            HAVING w.balance <> coalesce(sum(p.amount), 0)
            UNION ALL
            SELECT 'wallet ' || w.id || ': balance ' || w.balance || ', last balance_after ' || p.balance_after
            FROM wallets w JOIN LATERAL (
                SELECT balance_after FROM postings WHERE wallet_id = w.id ORDER BY entry_seq DESC LIMIT 1) p ON true
            WHERE w.id = ANY(@ids) AND p.balance_after <> w.balance
            """;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("ids", walletIds);
        var faults = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            faults.Add(reader.GetString(0));
        }

        return faults;
    }

    private async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
