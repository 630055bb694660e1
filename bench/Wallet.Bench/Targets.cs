using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Npgsql;
using Wallet.Grains;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;
using Wallet.Runtime;

namespace Wallet.Bench;

public enum OpOutcome
{
    Ok,
    Declined,
    Error,
}

/// <summary>One side of the comparison: how it moves money and reads a balance.</summary>
public interface IBenchTarget
{
    string Name { get; }

    Task<OpOutcome> TransferAsync(int source, int destination, long amount);

    Task<OpOutcome> ReadAsync(int wallet);
}

/// <summary>The ledger through the grain client: a grain call per operation.</summary>
public sealed class GrainClientTarget(IClusterClient client) : IBenchTarget
{
    public string Name => "client";

    public async Task<OpOutcome> TransferAsync(int source, int destination, long amount)
    {
        var sourceId = Seed.WalletId(source);
        var command = new TransferCommand(
            Seed.TenantId, "tr_" + Guid.CreateVersion7().ToString("N"), sourceId, Seed.WalletId(destination), Amount.Format(amount, 2),
            null, null, null, null, new IdempotencyRequest(Guid.NewGuid().ToString("N"), "bench"), LedgerTime.Truncate(DateTimeOffset.UtcNow));
        var result = await client.GetGrain<IWalletGrain>(sourceId).Transfer(command);
        return result.Failure switch
        {
            null => OpOutcome.Ok,
            { Code: LedgerErrors.InsufficientFunds } => OpOutcome.Declined,
            _ => OpOutcome.Error,
        };
    }

    public async Task<OpOutcome> ReadAsync(int wallet)
    {
        var result = await client.GetGrain<IWalletGrain>(Seed.WalletId(wallet)).Get(Seed.TenantId);
        return result.Failure is null ? OpOutcome.Ok : OpOutcome.Error;
    }
}

/// <summary>The ledger through its HTTP API, over keep-alive connections.</summary>
public sealed class HttpTarget : IBenchTarget, IDisposable
{
    private readonly HttpClient _http;

    public HttpTarget(Uri baseAddress, string apiKey, int connections)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
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

    public async Task<OpOutcome> TransferAsync(int source, int destination, long amount)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/transfers")
        {
            Content = new StringContent(
                $$"""{"source":"{{Seed.WalletId(source)}}","destination":"{{Seed.WalletId(destination)}}","amount":"{{Amount.Format(amount, 2)}}"}""",
                Encoding.UTF8, "application/json"),
        };
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

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The seeds' design, as pure SQL through Npgsql: per transfer, lock both rows in id order, check the
/// balance, two updates and a ledger insert with a unique idempotency key, commit.
/// </summary>
public sealed class BaselineTarget(NpgsqlDataSource dataSource) : IBenchTarget
{
    private const string Lock = "SELECT id, balance FROM accounts WHERE id = ANY(@ids) ORDER BY id FOR UPDATE";
    private const string Debit = "UPDATE accounts SET balance = balance - @amount WHERE id = @id";
    private const string Credit = "UPDATE accounts SET balance = balance + @amount WHERE id = @id";
    private const string Insert = "INSERT INTO ledger (idempotency_key, debit_account, credit_account, amount) VALUES (@key, @debit, @credit, @amount)";
    private const string Read = "SELECT balance FROM accounts WHERE id = @id";

    public string Name => "baseline";

    public async Task<OpOutcome> TransferAsync(int source, int destination, long amount)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        long sourceBalance = 0;
        await using (var lockRows = new NpgsqlCommand(Lock, connection, transaction))
        {
            lockRows.Parameters.AddWithValue("ids", new long[] { source, destination });
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
            batch.BatchCommands.Add(Command(Debit, ("amount", amount), ("id", (long)source)));
            batch.BatchCommands.Add(Command(Credit, ("amount", amount), ("id", (long)destination)));
            batch.BatchCommands.Add(Command(Insert, ("key", Guid.NewGuid().ToString("N")), ("debit", (long)source), ("credit", (long)destination), ("amount", amount)));
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

    private static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
