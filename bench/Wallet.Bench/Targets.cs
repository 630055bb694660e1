using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using Orleans;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;

namespace Wallet.Bench;

public enum OpOutcome
{
    Ok,
    Declined,
    Error,
}

/// <summary>One side of the comparison: how it moves money, reads a balance and authorizes a card payment.</summary>
public interface IBenchTarget
{
    string Name { get; }

    Task<OpOutcome> TransferAsync(int source, int destination, long amount);

    /// <summary>Money into the wallet from the treasury (a wallet-service top-up).</summary>
    Task<OpOutcome> DepositAsync(int wallet, long amount);

    /// <summary>Money out of the wallet to the revenue account (a wallet-service spend).</summary>
    Task<OpOutcome> SpendAsync(int wallet, long amount);

    Task<OpOutcome> ReadAsync(int wallet);

    /// <summary>Authorizes <paramref name="amount"/> at the bench's merchant on the path's card number <paramref name="card"/>.</summary>
    Task<OpOutcome> AuthorizeAsync(int card, long amount);
}

public static class AuthorizationOutcomes
{
    /// <summary>An approval is Ok; a decline for the card's limit or the wallet's funds is Declined; any other refusal is an Error.</summary>
    public static OpOutcome Of(string? declineCode) => declineCode switch
    {
        null => OpOutcome.Ok,
        LedgerErrors.LimitExceeded or LedgerErrors.InsufficientFunds => OpOutcome.Declined,
        _ => OpOutcome.Error,
    };
}

/// <summary>The ledger through the grain client: a grain call per operation.</summary>
public sealed class GrainClientTarget(IClusterClient client, IReadOnlyList<string> cards) : IBenchTarget
{
    public string Name => "client";

    public Task<OpOutcome> TransferAsync(int source, int destination, long amount) =>
        MoveAsync(Seed.WalletId(source), Seed.WalletId(source), Seed.WalletId(destination), amount);

    private async Task<OpOutcome> MoveAsync(string grainId, string source, string destination, long amount)
    {
        var command = new TransferCommand(
            Seed.TenantId, TransferIds.New(), source, destination, Amount.Format(amount, 2),
            null, null, null, null, new IdempotencyRequest(Guid.NewGuid().ToString("N"), "bench"), LedgerTime.Truncate(DateTimeOffset.UtcNow));
        var result = await client.Wallet(grainId).Transfer(command);
        return result.Failure switch
        {
            null => OpOutcome.Ok,
            { Code: LedgerErrors.InsufficientFunds } => OpOutcome.Declined,
            _ => OpOutcome.Error,
        };
    }

    // As the API runs them: a transfer of the system account's grain (the source) or of the wallet's.
    public Task<OpOutcome> DepositAsync(int wallet, long amount) =>
        MoveAsync(Seed.Treasury, "@" + SystemAccounts.Treasury, Seed.WalletId(wallet), amount);

    public Task<OpOutcome> SpendAsync(int wallet, long amount) =>
        MoveAsync(Seed.WalletId(wallet), Seed.WalletId(wallet), "@" + SystemAccounts.Revenue, amount);

    public async Task<OpOutcome> ReadAsync(int wallet)
    {
        var result = await client.Wallet(Seed.WalletId(wallet)).Get(Seed.TenantId);
        return result.Failure is null ? OpOutcome.Ok : OpOutcome.Error;
    }

    public async Task<OpOutcome> AuthorizeAsync(int card, long amount)
    {
        var command = new AuthorizeCommand(Seed.TenantId, CardIds.NewAuthorization(), Amount.Format(amount, 2), Seed.MerchantName, Seed.MerchantCategory,
            null, null, null, LedgerTime.Truncate(DateTimeOffset.UtcNow));
        var result = await client.Card(cards[card]).Authorize(command);
        return AuthorizationOutcomes.Of(result.Failure?.Code);
    }
}

/// <summary>The ledger through its HTTP API, over keep-alive connections.</summary>
public sealed class HttpTarget : IBenchTarget, IDisposable
{
    private readonly HttpClient _http;
    private readonly IReadOnlyList<string> _cards;

    public HttpTarget(Uri baseAddress, string apiKey, int connections, IReadOnlyList<string> cards)
    {
        _cards = cards;
        _http = new HttpClient(new SocketsHttpHandler
        {
            // A load generator as plain as the baseline's client: the API sets no cookies, answers no
            // redirect and is reached directly, so none of those layers runs on each request.
            UseCookies = false,
            AllowAutoRedirect = false,
            UseProxy = false,
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public string Name => "http";

    public Task<OpOutcome> TransferAsync(int source, int destination, long amount) => MoveAsync("/v1/transfers",
        $$"""{"source":"{{Seed.WalletId(source)}}","destination":"{{Seed.WalletId(destination)}}","amount":"{{Amount.Format(amount, 2)}}"}""");

    public Task<OpOutcome> DepositAsync(int wallet, long amount) =>
        MoveAsync($"/v1/wallets/{Seed.WalletId(wallet)}/deposit", $$"""{"amount":"{{Amount.Format(amount, 2)}}"}""");

    public Task<OpOutcome> SpendAsync(int wallet, long amount) =>
        MoveAsync($"/v1/wallets/{Seed.WalletId(wallet)}/spend", $$"""{"amount":"{{Amount.Format(amount, 2)}}"}""");

    private async Task<OpOutcome> MoveAsync(string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        using var response = await _http.SendAsync(request);
        return response.StatusCode switch
        {
            HttpStatusCode.Created => OpOutcome.Ok,
            HttpStatusCode.PaymentRequired => OpOutcome.Declined,
            _ => OpOutcome.Error,
        };
    }

    public async Task<OpOutcome> ReadAsync(int wallet)
    {
        using var response = await _http.GetAsync(new Uri($"/v1/wallets/{Seed.WalletId(wallet)}", UriKind.Relative));
        return response.StatusCode == HttpStatusCode.OK ? OpOutcome.Ok : OpOutcome.Error;
    }

    public async Task<OpOutcome> AuthorizeAsync(int card, long amount)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/cards/{_cards[card]}/authorizations")
        {
            Content = new StringContent(
                $$"""{"amount":"{{Amount.Format(amount, 2)}}","merchant_name":"{{Seed.MerchantName}}","merchant_category":"{{Seed.MerchantCategory}}"}""",
                Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            return OpOutcome.Ok;
        }

        // A decline is a problem body; its code says whether it was the limit, the funds or something else.
        await using var body = await response.Content.ReadAsStreamAsync();
        using var problem = await JsonDocument.ParseAsync(body);
        return problem.RootElement.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String
            ? AuthorizationOutcomes.Of(code.GetString())
            : OpOutcome.Error;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The seeds' design, as pure SQL through Npgsql: per transfer, lock both rows in id order, check the
/// balance less what holds keep, two updates and a ledger insert with a unique idempotency key, commit.
/// Per authorization, one transaction as a CRUD service would run it: lock the card row and read
/// what it spent today and how often it was used in the last minute, apply the fraud rules and the
/// card's status and limit, lock the account and check its available funds, then add to pending,
/// insert the hold and the decision (a declined one too), commit.
/// </summary>
public sealed class BaselineTarget(NpgsqlDataSource dataSource) : IBenchTarget
{
    private const string Lock = "SELECT id, balance - pending FROM accounts WHERE id = ANY(@ids) ORDER BY id FOR UPDATE";
    private const string Debit = "UPDATE accounts SET balance = balance - @amount WHERE id = @id";
    private const string Credit = "UPDATE accounts SET balance = balance + @amount WHERE id = @id";
    private const string Insert = "INSERT INTO ledger (idempotency_key, debit_account, credit_account, amount) VALUES (@key, @debit, @credit, @amount)";
    private const string Read = "SELECT balance FROM accounts WHERE id = @id";

    private const string LockCard = "SELECT account_id, status, daily_limit FROM cards WHERE id = @card FOR UPDATE";
    private const string SpentToday = "SELECT coalesce(sum(amount), 0)::bigint FROM card_authorizations WHERE card_id = @card AND approved AND created_at >= @day";
    private const string RecentAttempts = "SELECT count(*) FROM card_authorizations WHERE card_id = @card AND created_at > @since";
    private const string LockAccount = "SELECT balance - pending FROM accounts WHERE id = @id FOR UPDATE";
    private const string AddPending = "UPDATE accounts SET pending = pending + @amount WHERE id = @id";
    private const string InsertHold = """
        INSERT INTO holds (id, account_id, amount, status, expires_at, created_at) VALUES (@id, @account, @amount, 'open', @expires, @now)
        """;
    private const string InsertAuthorization = """
        INSERT INTO card_authorizations (id, card_id, account_id, approved, decline_code, amount, merchant_name, merchant_category, fraud_reasons, review, hold_id, created_at)
        VALUES (@id, @card, @account, @approved, @decline, @amount, @merchant, @category, @reasons, @review, @hold, @now)
        """;

    private static readonly TimeSpan HoldExpiry = TimeSpan.FromDays(7);
    private static readonly FraudRules Rules = FraudRules.Default;
    private static readonly long FraudAmountMax = Amount.TryParse(Rules.MaxAmount, 2, out var max) == AmountError.None
        ? max
        : throw new InvalidOperationException($"fraud max_amount {Rules.MaxAmount} is not an amount");

    public string Name => "baseline";

    public Task<OpOutcome> TransferAsync(int source, int destination, long amount) => MoveAsync(source, destination, amount);

    // The seeds' wallet service: the same transaction against a system account's row, which every
    // top-up (or every spend) locks.
    public Task<OpOutcome> DepositAsync(int wallet, long amount) => MoveAsync(Seed.BaselineTreasury, wallet, amount);

    public Task<OpOutcome> SpendAsync(int wallet, long amount) => MoveAsync(wallet, Seed.BaselineRevenue, amount);

    private async Task<OpOutcome> MoveAsync(long source, long destination, long amount)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        long sourceBalance = 0;
        await using (var lockRows = new NpgsqlCommand(Lock, connection, transaction))
        {
            lockRows.Parameters.AddWithValue("ids", new[] { source, destination });
            await using var reader = await lockRows.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                if (reader.GetInt64(0) == source)
                {
                    sourceBalance = reader.GetInt64(1);
                }
            }
        }

        if (sourceBalance < amount)
        {
            await transaction.RollbackAsync();
            return OpOutcome.Declined;
        }

        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            batch.BatchCommands.Add(Command(Debit, ("amount", amount), ("id", source)));
            batch.BatchCommands.Add(Command(Credit, ("amount", amount), ("id", destination)));
            batch.BatchCommands.Add(Command(Insert, ("key", Guid.NewGuid().ToString("N")), ("debit", source), ("credit", destination), ("amount", amount)));
            await batch.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return OpOutcome.Ok;
    }

    public async Task<OpOutcome> ReadAsync(int wallet)
    {
        await using var command = dataSource.CreateCommand(Read);
        command.Parameters.AddWithValue("id", (long)wallet);
        return await command.ExecuteScalarAsync() is long ? OpOutcome.Ok : OpOutcome.Error;
    }

    public async Task<OpOutcome> AuthorizeAsync(int card, long amount)
    {
        var now = DateTimeOffset.UtcNow;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (await ReadCardAsync(connection, transaction, card, now) is not { } state)
        {
            await transaction.RollbackAsync();
            return OpOutcome.Error;
        }

        var (reasons, blocked, review) = Fraud(amount, Seed.MerchantName, state.RecentAttempts + 1);
        var decline = blocked ? LedgerErrors.FraudBlocked
            : state.Status == CardStatuses.Frozen ? LedgerErrors.CardFrozen
            : state.Status != CardStatuses.Active ? LedgerErrors.CardCancelled
            : amount > state.DailyLimit - state.SpentToday ? LedgerErrors.LimitExceeded
            : null;
        if (decline is null && await AvailableAsync(connection, transaction, state.Account) < amount)
        {
            decline = LedgerErrors.InsufficientFunds;
        }

        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            var hold = decline is null ? Guid.CreateVersion7() : (Guid?)null;
            if (hold is { } holdId)
            {
                batch.BatchCommands.Add(Command(AddPending, ("amount", amount), ("id", state.Account)));
                batch.BatchCommands.Add(Command(InsertHold, ("id", holdId), ("account", state.Account), ("amount", amount), ("expires", now + HoldExpiry), ("now", now)));
            }

            batch.BatchCommands.Add(Command(InsertAuthorization, ("id", Guid.CreateVersion7()), ("card", (long)card), ("account", state.Account),
                ("approved", decline is null), ("decline", (object?)decline ?? DBNull.Value), ("amount", amount), ("merchant", Seed.MerchantName),
                ("category", Seed.MerchantCategory), ("reasons", reasons), ("review", review), ("hold", (object?)hold ?? DBNull.Value), ("now", now)));
            await batch.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return AuthorizationOutcomes.Of(decline);
    }

    // Locks the card row, then (in the same round trip, so under the lock) reads what the card spent
    // today (UTC) and how many authorizations it had in the minute before now.
    private static async Task<CardRow?> ReadCardAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int card, DateTimeOffset now)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(LockCard, ("card", (long)card)));
        batch.BatchCommands.Add(Command(SpentToday, ("card", (long)card), ("day", new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero))));
        batch.BatchCommands.Add(Command(RecentAttempts, ("card", (long)card), ("since", now - TimeSpan.FromMinutes(1))));
        await using var reader = await batch.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        var (account, status, limit) = (reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? long.MaxValue : reader.GetInt64(2));
        await reader.NextResultAsync();
        await reader.ReadAsync();
        var spent = reader.GetInt64(0);
        await reader.NextResultAsync();
        await reader.ReadAsync();
        return new CardRow(account, status, limit, spent, reader.GetInt64(0));
    }

    private static async Task<long> AvailableAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long account)
    {
        await using var command = new NpgsqlCommand(LockAccount, connection, transaction);
        command.Parameters.AddWithValue("id", account);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    // The tenant's default fraud rules: amount and blacklist block, velocity only flags for review.
    private static (string[] Reasons, bool Blocked, bool Review) Fraud(long amount, string merchant, long attemptsInLastMinute)
    {
        var reasons = new List<string>();
        var blocked = false;
        if (amount > FraudAmountMax)
        {
            reasons.Add($"amount {Amount.Format(amount, 2)} exceeds maximum {Rules.MaxAmount}");
            blocked = true;
        }

        if (Rules.MerchantBlacklist.FirstOrDefault(entry => merchant.Contains(entry, StringComparison.OrdinalIgnoreCase)) is { } listed)
        {
            reasons.Add($"merchant {merchant} matches blacklist entry {listed}");
            blocked = true;
        }

        var review = attemptsInLastMinute > Rules.VelocityPerMinute;
        if (review)
        {
            reasons.Add($"{attemptsInLastMinute} authorizations in the last minute exceed {Rules.VelocityPerMinute}");
        }

        return ([.. reasons], blocked, review);
    }

    private static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    private sealed record CardRow(long Account, string Status, long DailyLimit, long SpentToday, long RecentAttempts);
}
