using Npgsql;

namespace Wallet.Bench;

/// <summary>
/// Funds the wallets of both sides with the same balances. The ledger's wallets are funded by real
/// deposit entries from the treasury, written set-based, so that verify holds from the start.
/// </summary>
public static class Seed
{
    /// <summary>Every wallet starts with 1,000,000.00 USD.</summary>
    public const long StartingBalance = 100_000_000;

    public const string TenantId = "default";

    public const string Treasury = "sys:default:treasury:USD";

    public static string WalletId(int index) => $"wal_b{index:D9}";

    public static async Task LedgerAsync(string connectionString, int wallets)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, """
            INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, may_go_negative, created_at)
            SELECT 'sys:default:' || n || ':USD', 'default', 'system', 'USD', 2, 'active', n = 'treasury', now()
            FROM unnest(ARRAY['treasury', 'revenue', 'promotions', 'settlement', 'fees']) AS n
            ON CONFLICT (id) DO NOTHING
            """);
        await ExecuteAsync(connection, """
            DO $$
            DECLARE
                n bigint := @wallets;
                amount bigint := @amount;
                head bigint;
                treasury_balance bigint;
                treasury_version bigint;
            BEGIN
                SELECT last_seq INTO head FROM ledger_head FOR UPDATE;
                SELECT balance, version INTO treasury_balance, treasury_version FROM wallets WHERE id = 'sys:default:treasury:USD' FOR UPDATE;
                INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, balance, version, created_at)
                SELECT 'wal_b' || lpad(g::text, 9, '0'), 'default', 'user', 'USD', 2, 'active', amount, 1, now()
                FROM generate_series(0, n - 1) AS g;
                INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, created_at)
                SELECT head + g + 1, 'tr_seed' || g, 'default', 'sys:default:treasury:USD', 'wal_b' || lpad(g::text, 9, '0'), amount, 'USD', now()
                FROM generate_series(0, n - 1) AS g;
                INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
                SELECT 'sys:default:treasury:USD', head + g + 1, -amount, 'USD', treasury_balance - (g + 1) * amount, treasury_version + g + 1
                FROM generate_series(0, n - 1) AS g
                UNION ALL
                SELECT 'wal_b' || lpad(g::text, 9, '0'), head + g + 1, amount, 'USD', amount, 1
                FROM generate_series(0, n - 1) AS g;
                UPDATE wallets SET balance = balance - n * amount, version = version + n WHERE id = 'sys:default:treasury:USD';
                UPDATE ledger_head SET last_seq = head + n;
            END $$
            """.Replace("@wallets", wallets.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
               .Replace("@amount", StartingBalance.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        await transaction.CommitAsync();
        await ExecuteAsync(connection, "VACUUM ANALYZE");
    }

    /// <summary>The seeds' schema: a balance with a CHECK, and a ledger row with a unique idempotency key.</summary>
    public static async Task BaselineAsync(string connectionString, int wallets)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, $"""
            CREATE TABLE accounts (
                id      bigint PRIMARY KEY,
                balance bigint NOT NULL CHECK (balance >= 0));
            CREATE TABLE ledger (
                id              bigserial PRIMARY KEY,
                idempotency_key text NOT NULL UNIQUE,
                debit_account   bigint NOT NULL,
                credit_account  bigint NOT NULL,
                amount          bigint NOT NULL CHECK (amount > 0),
                created_at      timestamptz NOT NULL DEFAULT now());
            INSERT INTO accounts SELECT g, {StartingBalance} FROM generate_series(0, {wallets - 1}) AS g;
            """);
        await ExecuteAsync(connection, "VACUUM ANALYZE");
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
    }
}
