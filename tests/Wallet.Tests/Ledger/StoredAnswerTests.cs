using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Tests.Infrastructure;
using Wallet.Tests.Transactions;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>
/// The answer kept with an Idempotency-Key is an outcome and its body, never an HTTP status: a
/// refusal keeps its failure, which the API renders as the same problem it first answered.
/// </summary>
public sealed class StoredAnswerTests
{
    private static readonly LedgerFailure Declined = new(
        LedgerErrors.LimitExceeded, "daily limit 75.00 USD: 80.00 requested", """{"authorization_id":"auth_1","limit":"daily"}""");

    [Fact]
    public void Refused_KeepsTheFailureWhole()
    {
        var answer = StoredAnswers.Refused(Declined);

        Assert.Equal(AnswerOutcome.Refused, answer.Outcome);
        Assert.Equal("""{"code":"limit_exceeded","detail":"daily limit 75.00 USD: 80.00 requested","authorization_id":"auth_1","limit":"daily"}""", answer.Body);
        Assert.Equal(Declined, StoredAnswers.FailureOf(answer));
        Assert.Equal(new LedgerFailure("conflict", "busy"), StoredAnswers.FailureOf(StoredAnswers.Refused(new LedgerFailure("conflict", "busy"))));
    }

    [Fact]
    public void FailureOf_AnAnswerThatWasNotRefused_Throws()
    {
        Assert.Throws<ArgumentException>(() => StoredAnswers.FailureOf(StoredAnswers.Created(new { id = "w1" })));
    }

    [Fact]
    public void Render_ARefusal_IsTheProblemOfItsCode()
    {
        var result = Idempotency.Render(StoredAnswers.Refused(Declined), replayed: true);

        Assert.Equal((422, true), (result.StatusCode, result.Replayed));
        Assert.Equal(Problems.Body(Declined), result.Body);
        using var problem = JsonDocument.Parse(result.Body);
        Assert.Equal(("https://wallet.dev/problems/limit-exceeded", 422, "limit_exceeded", "daily"),
            (problem.RootElement.GetProperty("type").GetString(), problem.RootElement.GetProperty("status").GetInt32(),
             problem.RootElement.GetProperty("code").GetString(), problem.RootElement.GetProperty("limit").GetString()));
    }

    [Fact]
    public void Render_CreatedAndDone_AreTheirBodiesAs201And200()
    {
        var created = Idempotency.Render(new StoredAnswer(AnswerOutcome.Created, """{"id":"w1"}"""), replayed: false, "/v1/wallets/w1");
        var done = Idempotency.Render(new StoredAnswer(AnswerOutcome.Done, """{"id":"w1"}"""), replayed: true, "/ignored");

        Assert.Equal((201, """{"id":"w1"}""", "/v1/wallets/w1"), (created.StatusCode, created.Body, created.Location));
        Assert.Equal((200, """{"id":"w1"}""", (string?)null), (done.StatusCode, done.Body, done.Location));
    }

    /// <summary>Keys stored as statuses and problems before migration 0011 replay as they did, byte for byte.</summary>
    [Fact]
    public async Task Migration0011_TurnsStoredStatusesIntoOutcomes()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("stored_answers");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(Migrator.CreateHistory);
            foreach (var (version, name, sql) in Migrator.Scripts().Where(s => s.Version < 11))
            {
                await connection.ExecuteAsync(sql);
                await connection.ExecuteAsync($"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')");
            }

            await using var insert = new NpgsqlCommand("""
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response_body) VALUES
                ('t', 'created', 'h', 201, '{"id":"w1"}'), ('t', 'done', 'h', 200, '{"id":"w2"}'), ('t', 'refused', 'h', 422, @problem)
                """, connection);
            insert.Parameters.AddWithValue("problem", Problems.Body(Declined));
            await insert.ExecuteNonQueryAsync();
        }

        await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);

        var store = new IdempotencyStore(dataSource);
        Assert.Equal(new StoredAnswer(AnswerOutcome.Created, """{"id":"w1"}"""), (await store.FindAsync("t", "created", CancellationToken.None))!.Value.Answer);
        Assert.Equal(new StoredAnswer(AnswerOutcome.Done, """{"id":"w2"}"""), (await store.FindAsync("t", "done", CancellationToken.None))!.Value.Answer);
        var refused = (await store.FindAsync("t", "refused", CancellationToken.None))!.Value.Answer;
        Assert.Equal(AnswerOutcome.Refused, refused.Outcome);
        // The replay of a refusal stored before the migration is the same bytes as its first answer.
        Assert.Equal(Problems.Body(Declined), Idempotency.Render(refused, replayed: true).Body);
    }
}
