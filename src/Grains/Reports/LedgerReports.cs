using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Reports;

/// <summary>
/// The chart of accounts: what each ledger account is to an accountant. Customers' wallets are the
/// money held for them (liabilities); <c>@treasury</c> is the cash that backs what was issued (an
/// asset); <c>@settlement</c> clears money on its way out (a clearing account, owed until paid);
/// <c>@revenue</c> and <c>@fees</c> are income; <c>@promotions</c>, the bonuses given, an expense.
/// </summary>
public static class AccountTypes
{
    public const string Asset = "asset";
    public const string Liability = "liability";
    public const string Clearing = "clearing";
    public const string Income = "income";
    public const string Expense = "expense";
    public const string Equity = "equity";

    /// <summary>The customers' wallets, as one line of a report: what they hold.</summary>
    public const string Wallets = "wallets";

    /// <summary>What overdrawn wallets owe the tenant: a receivable, so an asset.</summary>
    public const string WalletsOverdrawn = "wallets:overdrawn";

    /// <summary>The types a custom account may have.</summary>
    public static IReadOnlyList<string> Custom { get; } = [Asset, Liability, Equity, Income, Expense, Clearing];

    /// <summary>The type of a system account: its own for a custom one (<paramref name="custom"/>), the built-in's otherwise.</summary>
    public static string Of(string account, string? custom = null) => custom ?? account switch
    {
        "@" + SystemAccounts.Treasury => Asset,
        "@" + SystemAccounts.Settlement => Clearing,
        "@" + SystemAccounts.Revenue or "@" + SystemAccounts.Fees => Income,
        "@" + SystemAccounts.Promotions => Expense,
        _ => Liability,
    };

    /// <summary>
    /// An account's balance as its type reads it. The ledger credits an account with a positive amount
    /// and debits it with a negative one, so assets and expenses (debit balances) read it negated.
    /// </summary>
    public static long Natural(string type, long ledgerBalance) => type is Asset or Expense ? -ledgerBalance : ledgerBalance;
}

/// <summary>Where a report stands in the ledger: the instant asked for and the last entry committed by then.</summary>
public sealed record LedgerInstant(DateTimeOffset At, long Seq);

/// <summary>An account's balance in the ledger's terms (positive: a credit balance), in minor units of its asset.</summary>
public sealed record AccountBalance(string Account, string Type, string Asset, int Scale, long Balance);

/// <summary>An account's debits and credits over a period, in minor units.</summary>
public sealed record AccountMovement(string Account, string Type, string Asset, int Scale, long Debits, long Credits);

/// <summary>
/// Reads the ledger as it was at an instant. An instant maps to the last entry committed by then
/// (<c>ledger_seq_at</c>, migration 0034), and balances are the postings' running balances up to
/// it, so a report of a past instant never changes whatever is posted after it.
/// </summary>
public sealed class LedgerReports(NpgsqlDataSource dataSource)
{
    // Each account's last posting up to the entry: its balance then.
    private const string SelectBalances = """
        SELECT w.id, w.kind, w.currency, w.scale, b.balance, w.account_type
        FROM wallets w
        JOIN LATERAL (SELECT p.balance_after AS balance FROM postings p WHERE p.wallet_id = w.id AND p.entry_seq <= @seq
                      ORDER BY p.entry_seq DESC LIMIT 1) b ON true
        WHERE w.tenant_id = @tenant AND (@asset::text IS NULL OR w.currency = @asset)
        """;

    private const string SelectMovements = """
        SELECT w.id, w.currency, w.scale,
               coalesce(sum(-p.amount) FILTER (WHERE p.amount < 0), 0)::bigint, coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0)::bigint,
               w.account_type
        FROM wallets w JOIN postings p ON p.wallet_id = w.id AND p.entry_seq > @from AND p.entry_seq <= @to
        WHERE w.tenant_id = @tenant AND w.kind = 'system' AND (@asset::text IS NULL OR w.currency = @asset)
        GROUP BY w.id, w.currency, w.scale, w.account_type
        """;

    /// <summary>
    /// The ledger at <paramref name="at"/>: waits for the batch being committed, if any, then finds
    /// the last entry committed by then. Null when <paramref name="at"/> is still to come.
    /// </summary>
    public async Task<LedgerInstant?> InstantAsync(DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT ledger_seq_at(@at)");
        command.Parameters.AddWithValue("at", at);
        return await command.ExecuteScalarAsync(cancellationToken) is long seq ? new LedgerInstant(at, seq) : null;
    }

    /// <summary>
    /// Every system account of the tenant (of <paramref name="asset"/>, when given) with a posting by
    /// <paramref name="at"/>, and its balance then; customers' wallets summed per asset into what they
    /// hold and what the overdrawn ones owe.
    /// </summary>
    public async Task<IReadOnlyList<AccountBalance>> BalancesAsync(string tenantId, string? asset, LedgerInstant at, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectBalances);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("asset", NpgsqlDbType.Text) { TypedValue = asset });
        command.Parameters.AddWithValue("seq", at.Seq);
        var wallets = new Dictionary<(string Asset, bool Owed), AccountBalance>();
        var system = new List<AccountBalance>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (id, kind, currency, scale, balance) = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt16(3), reader.GetInt64(4));
            if (kind == "system")
            {
                var account = SystemAccounts.Display(id);
                system.Add(new AccountBalance(account, AccountTypes.Of(account, reader.IsDBNull(5) ? null : reader.GetString(5)), currency, scale, balance));
                continue;
            }

            // Overdrawn wallets owe the tenant: a debit balance, kept apart from what the others hold.
            var owed = balance < 0;
            wallets[(currency, owed)] = wallets.TryGetValue((currency, owed), out var sum)
                ? sum with { Balance = sum.Balance + balance }
                : owed ? new AccountBalance(AccountTypes.WalletsOverdrawn, AccountTypes.Asset, currency, scale, balance)
                : new AccountBalance(AccountTypes.Wallets, AccountTypes.Liability, currency, scale, balance);
        }

        return [.. system.Concat(wallets.Values).OrderBy(b => b.Asset, StringComparer.Ordinal).ThenBy(b => b.Account, StringComparer.Ordinal)];
    }

    /// <summary>The system accounts' debits and credits after <paramref name="from"/> up to <paramref name="to"/>.</summary>
    public async Task<IReadOnlyList<AccountMovement>> MovementsAsync(
        string tenantId, string? asset, LedgerInstant from, LedgerInstant to, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectMovements);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("asset", NpgsqlDbType.Text) { TypedValue = asset });
        command.Parameters.AddWithValue("from", from.Seq);
        command.Parameters.AddWithValue("to", to.Seq);
        var movements = new List<AccountMovement>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var account = SystemAccounts.Display(reader.GetString(0));
            var type = AccountTypes.Of(account, reader.IsDBNull(5) ? null : reader.GetString(5));
            movements.Add(new AccountMovement(account, type, reader.GetString(1), reader.GetInt16(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return [.. movements.OrderBy(m => m.Asset, StringComparer.Ordinal).ThenBy(m => m.Account, StringComparer.Ordinal)];
    }
}
