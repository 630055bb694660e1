using Npgsql;

namespace Wallet.Bench;

/// <summary>
/// Checks beyond verify: money conserved on both sides, no card over its daily limit on either, and
/// the baseline's own books, pending and holds included.
/// </summary>
public static class Invariants
{
    // Cards whose approved authorizations since midnight UTC add up to more than their daily limit (in cents, as USD cards hold it).
    private const string LedgerCardsOverDailyLimit = """
        SELECT count(*) FROM cards c
        JOIN (SELECT card_id, sum(amount) AS spent FROM card_authorizations
              WHERE approved AND created_at >= date_trunc('day', now(), 'UTC') GROUP BY card_id) a ON a.card_id = c.id
        WHERE c.spending_controls->>'daily' IS NOT NULL AND a.spent > (c.spending_controls->>'daily')::numeric * 100
        """;

    private const string BaselineCardsOverDailyLimit = """
        SELECT count(*) FROM cards c
        JOIN (SELECT card_id, sum(amount) AS spent FROM card_authorizations
              WHERE approved AND created_at >= date_trunc('day', now(), 'UTC') GROUP BY card_id) a ON a.card_id = c.id
        WHERE a.spent > c.daily_limit
        """;

    // Accounts whose pending is not what their open holds keep, or more than their balance.
    private const string BaselinePendingMismatches = """
        SELECT count(*) FROM accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS held FROM holds WHERE status = 'open' GROUP BY account_id) h ON h.account_id = a.id
        WHERE a.pending <> coalesce(h.held, 0) OR a.pending > a.balance
        """;

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

        var overLimit = await ScalarAsync(connection, LedgerCardsOverDailyLimit);
        if (overLimit != 0)
        {
            failures.Add($"ledger: {overLimit} cards approved past their daily limit");
        }

        return failures;
    }

    public static async Task<List<string>> CheckBaselineAsync(string connectionString, int wallets, IEnumerable<RunResult> runs)
    {
        var failures = new List<string>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var total = await ScalarAsync(connection, "SELECT coalesce(sum(balance), 0)::bigint FROM accounts");
        var funded = (wallets * Seed.StartingBalance) + (2 * Seed.BaselineSystemBalance);
        if (total != funded)
        {
            failures.Add($"baseline: balances sum to {total}, not {funded}");
        }

        // Warm-up transfers count too, so the ledger holds at least what the measured runs acknowledged.
        var rows = await ScalarAsync(connection, "SELECT count(*) FROM ledger");
        var acknowledged = runs.Sum(r => r.TransfersOk);
        if (rows < acknowledged)
        {
            failures.Add($"baseline: {rows} ledger rows for {acknowledged} acknowledged transfers");
        }

        var mismatched = await ScalarAsync(connection, BaselinePendingMismatches);
        if (mismatched != 0)
        {
            failures.Add($"baseline: {mismatched} accounts whose pending is not their open holds' sum or exceeds their balance");
        }

        var approved = await ScalarAsync(connection, "SELECT count(*) FROM card_authorizations WHERE approved");
        var approvedAcknowledged = runs.Where(r => r.Workload == "authorize").Sum(r => r.Ok);
        if (approved < approvedAcknowledged)
        {
            failures.Add($"baseline: {approved} approved authorizations for {approvedAcknowledged} acknowledged");
        }

        var overLimit = await ScalarAsync(connection, BaselineCardsOverDailyLimit);
        if (overLimit != 0)
        {
            failures.Add($"baseline: {overLimit} cards approved past their daily limit");
        }

        return failures;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
