using Npgsql;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Storage;

/// <summary>
/// Idempotency keys, scoped to a tenant. A key is written in the same transaction as its effect,
/// with the answer's outcome and body, so a retry replays exactly what the first call returned.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource)
{
    public const int KeyLengthMax = 255;

    private const string Insert = """
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
        VALUES (@tenant, @key, @hash, @outcome, @body)
        ON CONFLICT (tenant_id, key) DO NOTHING
        """;

    private const string Select = "SELECT request_hash, outcome, body FROM idempotency_keys WHERE tenant_id = @tenant AND key = @key";

    /// <summary>The stored answer for a key, with the hash of the request that produced it.</summary>
    public async Task<(string RequestHash, StoredAnswer Answer)?> FindAsync(string tenantId, string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("key", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetString(0), new StoredAnswer(OutcomeOf(reader.GetString(1)), reader.GetString(2)))
            : null;
    }

    /// <summary>Inserts the key; false when it exists already (after waiting for a concurrent writer of it).</summary>
    internal static async Task<bool> TryInsertAsync(
        NpgsqlConnection connection, string tenantId, IdempotencyRequest idempotency, StoredAnswer answer, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Insert, connection);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("key", idempotency.Key);
        command.Parameters.AddWithValue("hash", idempotency.RequestHash);
        command.Parameters.AddWithValue("outcome", NameOf(answer.Outcome));
        command.Parameters.AddWithValue("body", answer.Body);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>An outcome as the <c>outcome</c> column holds it.</summary>
    internal static string NameOf(AnswerOutcome outcome) => outcome switch
    {
        AnswerOutcome.Created => "created",
        AnswerOutcome.Done => "done",
        AnswerOutcome.Refused => "refused",
        AnswerOutcome.Accepted => "accepted",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    private static AnswerOutcome OutcomeOf(string name) => name switch
    {
        "created" => AnswerOutcome.Created,
        "done" => AnswerOutcome.Done,
        "refused" => AnswerOutcome.Refused,
        "accepted" => AnswerOutcome.Accepted,
        _ => throw new InvalidOperationException($"unknown stored outcome '{name}'"),
    };
}
