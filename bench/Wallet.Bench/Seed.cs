using System.Globalization;
using Npgsql;
using Orleans;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Money;

namespace Wallet.Bench;

/// <summary>
/// Funds the wallets of both sides with the same balances. The ledger's wallets are funded by real
/// deposit entries from the treasury, written set-based, so that verify holds from the start.
/// Cards, for the authorize workload, are issued through the card grain on the ledger's side (it
/// checks the number and keeps only its keyed hash) and by plain inserts on the baseline's.
/// </summary>
public static class Seed
{
    /// <summary>Every wallet starts with 1,000,000.00 USD.</summary>
    public const long StartingBalance = 100_000_000;

    public const string TenantId = "default";

    public const string Treasury = "sys:default:treasury:USD";

    /// <summary>The baseline's treasury and revenue rows, funded so that no run can empty them.</summary>
    public const long BaselineTreasury = -1;

    public const long BaselineRevenue = -2;

    public const long BaselineSystemBalance = 1_000_000_000_000_000;

    /// <summary>Cards per path at most: each path authorizes on its own fresh cards, one per wallet.</summary>
    public const int CardsPerPathMax = 2_000;

    /// <summary>
    /// Every card's daily limit, 75.00 USD: some 30 authorizations of 0.01 to 5.00 (2.50 on average).
    /// At a few thousand authorizations a second over 2,000 cards, only the busiest cards reach it
    /// within a run of ten seconds or so, and decline from then on: most approve, some decline, more
    /// the faster and longer a path runs. Lower, the fastest path would spend much of its run on
    /// declines, which cost less than approvals on both sides.
    /// </summary>
    public const long CardDailyLimit = 7_500;

    public const string MerchantName = "BENCH MARKET";

    public const string MerchantCategory = "5411";

    private const int CardSeedInFlightMax = 64;

    public static string WalletId(int index) => $"wal_b{index:D9}";

    /// <summary>
    /// Cards for each path: the baseline's and the client's on wallets [0, n), HTTP's on [n, 2n),
    /// so that no path starts with cards or wallets another one has spent on.
    /// </summary>
    public static int CardsPerPath(int wallets) => Math.Min(CardsPerPathMax, wallets / 2);

    /// <summary>A distinct, Luhn-valid 16-digit number per wallet index: 4000, the index in 11 digits, a check digit.</summary>
    public static string CardNumber(int walletIndex)
    {
        var body = "4000" + walletIndex.ToString("D11", CultureInfo.InvariantCulture);
        var sum = 0;
        for (var i = 0; i < body.Length; i++)
        {
            // Counted from the right, the check digit comes first, so the body's last digit is doubled.
            var digit = body[body.Length - 1 - i] - '0';
            if (i % 2 == 0)
            {
                digit = digit * 2 > 9 ? (digit * 2) - 9 : digit * 2;
            }

            sum += digit;
        }

        return body + (char)('0' + ((10 - (sum % 10)) % 10));
    }

    /// <summary>Issues one card on each of <paramref name="count"/> wallets from <paramref name="firstWallet"/>; returns their ids in order.</summary>
    public static async Task<string[]> LedgerCardsAsync(IClusterClient client, int firstWallet, int count)
    {
        var controls = SpendingControls.None with { Daily = Amount.Format(CardDailyLimit, 2) };
        var ids = new string[count];
        for (var start = 0; start < count; start += CardSeedInFlightMax)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(CardSeedInFlightMax, count - start)).Select(async i =>
            {
                var wallet = firstWallet + i;
                var id = CardIds.NewCard();
                var result = await client.Card(id).Create(new CreateCard(
                    TenantId, WalletId(wallet), "BENCH CARDHOLDER", CardNumber(wallet), controls, null, null, LedgerTime.Truncate(DateTimeOffset.UtcNow)));
                ids[i] = result.Failure is { } failure
                    ? throw new InvalidOperationException($"card on {WalletId(wallet)} refused: {failure.Code} {failure.Detail}")
                    : id;
            }));
        }

        return ids;
    }

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
                INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, created_at, committed_at)
                SELECT head + g + 1, 'tr_seed' || g, 'default', 'sys:default:treasury:USD', 'wal_b' || lpad(g::text, 9, '0'), amount, 'USD', now(), clock_timestamp()
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

    /// <summary>
    /// The seeds' schema: a balance with a CHECK, and a ledger row with a unique idempotency key.
    /// For cards, what a CRUD service keeps: the card row with its status and daily limit, a hold
    /// per approval counted in the account's pending, and every decision, found by card and time.
    /// </summary>
    public static async Task BaselineAsync(string connectionString, int wallets, int cards)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, $"""
            CREATE TABLE accounts (
                id      bigint PRIMARY KEY,
                balance bigint NOT NULL CHECK (balance >= 0),
                pending bigint NOT NULL DEFAULT 0 CHECK (pending >= 0 AND pending <= balance));
            CREATE TABLE ledger (
                id              bigserial PRIMARY KEY,
                idempotency_key text NOT NULL UNIQUE,
                debit_account   bigint NOT NULL,
                credit_account  bigint NOT NULL,
                amount          bigint NOT NULL CHECK (amount > 0),
                created_at      timestamptz NOT NULL DEFAULT now());
            CREATE TABLE cards (
                id          bigint PRIMARY KEY,
                account_id  bigint NOT NULL REFERENCES accounts (id),
                status      text NOT NULL CHECK (status IN ('active', 'frozen', 'cancelled')),
                daily_limit bigint CHECK (daily_limit >= 0));
            CREATE TABLE holds (
                id         uuid PRIMARY KEY,
                account_id bigint NOT NULL REFERENCES accounts (id),
                amount     bigint NOT NULL CHECK (amount > 0),
                status     text NOT NULL CHECK (status IN ('open', 'captured', 'voided', 'expired')),
                expires_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL);
            CREATE INDEX holds_account_open ON holds (account_id) WHERE status = 'open';
            CREATE TABLE card_authorizations (
                id                uuid PRIMARY KEY,
                card_id           bigint NOT NULL REFERENCES cards (id),
                account_id        bigint NOT NULL,
                approved          boolean NOT NULL,
                decline_code      text,
                amount            bigint NOT NULL CHECK (amount > 0),
                merchant_name     text NOT NULL,
                merchant_category text NOT NULL,
                fraud_reasons     text[] NOT NULL,
                review            boolean NOT NULL,
                hold_id           uuid REFERENCES holds (id),
                created_at        timestamptz NOT NULL,
                CHECK (approved = (hold_id IS NOT NULL) AND approved = (decline_code IS NULL)));
            CREATE INDEX card_authorizations_card_time ON card_authorizations (card_id, created_at);
            CREATE UNIQUE INDEX card_authorizations_hold ON card_authorizations (hold_id) WHERE hold_id IS NOT NULL;
            INSERT INTO accounts SELECT g, {StartingBalance} FROM generate_series(0, {wallets - 1}) AS g;
            INSERT INTO accounts VALUES ({BaselineTreasury}, {BaselineSystemBalance}), ({BaselineRevenue}, {BaselineSystemBalance});
            INSERT INTO cards SELECT g, g, 'active', {CardDailyLimit} FROM generate_series(0, {cards - 1}) AS g;
            """);
        await ExecuteAsync(connection, "VACUUM ANALYZE");
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
    }
}
