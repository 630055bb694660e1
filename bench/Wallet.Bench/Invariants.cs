using Npgsql;

namespace Wallet.Bench;

/// <summary>Checks beyond verify: money conserved on both sides, and the baseline's own books.</summary>
public static class Invariants
{
    public static async Task<List<string>> CheckLedgerAsync(string connectionString)
    {
        var failures = new List<string>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        // Money is only moved, never made: all balances, treasury's negative one included, sum to zero.
        var total = await ScalarAsync(connection, "SELECT coalesce(sum(balance), 0)::bigint FROM wallets");
        if (total != 0)
        {
            failures.Add($"ledger: balances sum to {total}, not 0");
        }

        var negative = await ScalarAsync(connection, "SELECT count(*) FROM wallets WHERE kind = 'user' AND balance < -overdraft_limit");
        if (negative != 0)
        {
            failures.Add($"ledger: {negative} user wallets overdrawn");
        }

        return failures;
    }

    public static async Task<List<string>> CheckBaselineAsync(string connectionString, int wallets, IEnumerable<RunResult> runs)
    {
        var failures = new List<string>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var total = await ScalarAsync(connection, "SELECT coalesce(sum(balance), 0)::bigint FROM accounts");
        if (total != wallets * Seed.StartingBalance)
        {
            failures.Add($"baseline: balances sum to {total}, not {wallets * Seed.StartingBalance}");
        }

        // Warm-up transfers count too, so the ledger holds at least what the measured runs acknowledged.
        var rows = await ScalarAsync(connection, "SELECT count(*) FROM ledger");
        var acknowledged = runs.Sum(r => r.TransfersOk);
        if (rows < acknowledged)
        {
            failures.Add($"baseline: {rows} ledger rows for {acknowledged} acknowledged transfers");
        }

        return failures;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
