using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Wallet.Grains.Money;
using Wallet.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Crash;

/// <summary>
/// The durability promise end to end: a reply is released only after its transaction committed, so
/// a silo that dies by SIGKILL right after acknowledging a burst of transfers must come back with
/// every one of them, once, and with nothing half-written.
/// </summary>
/// <remarks>
/// The database is the shared test PostgreSQL, which runs with fsync off. That is sound here: only
/// the silo process is killed, never PostgreSQL or the machine, so a committed transaction is in
/// PostgreSQL's memory and the OS page cache no matter what the silo did. What is under test is the
/// silo's promise (no reply before commit, key and entry in one transaction), not the disk.
/// </remarks>
public sealed class SiloCrashTests(ITestOutputHelper output) : IDisposable
{
    private const string ApiKey = "crash-test-operator-key";
    private const int WalletCount = 4;
    private const long DepositMinorUnits = 100_000_00;
    private const long TransferMinorUnitsMax = 50_00;

    // A burst that must be acknowledged in full, then a second one, sent all at once, that the silo is
    // killed under: it dies at the first acknowledgement of the second burst.
    private const int BurstSize = 300;
    private const int InFlightSize = 64;
    private const int ConcurrencyMax = 32;
    private const int KillFallbackMs = 10_000;

    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    // Small batches, so the second burst takes many commits and the kill at its first acknowledgement
    // lands while most of it is still in flight. With the default (512) one batch could answer all 64
    // before the signal arrives, leaving nothing in flight to test.
    private readonly RestartedSilos _silos = new(ApiKey, output, new Dictionary<string, string> { ["GroupCommit__CommitBatchSizeMax"] = "4" });

    [Fact]
    public Task Silo_KilledRightAfterAcknowledgedTransfers_RestartsWithEachOfThemExactlyOnce() => _silos.RunAsync(KillAndRestartAsync);

    public void Dispose() => _silos.Dispose();

    private async Task KillAndRestartAsync()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("crash");

        // 1. The first silo acknowledges a burst, then dies by SIGKILL under the next one.
        var first = await _silos.StartAsync("silo #1 (killed)", connectionString);
        string[] wallets;
        TransferAttempt[] deposits;
        TransferAttempt[] burst;
        TransferAttempt[] killedUnder;
        using (var client = first.CreateClient(ApiKey))
        {
            wallets = await CreateWalletsAsync(client);
            deposits = wallets.Select((w, i) => new TransferAttempt($"{_run}-deposit-{i}", "@treasury", w, DepositMinorUnits)).ToArray();
            foreach (var deposit in deposits)
            {
                await SendAsync(client, deposit);
                Assert.True(deposit.Fate == Fate.Acknowledged, $"deposit {deposit.Reference}: {deposit.Answer}");
            }

            burst = PlanBurst(wallets, "burst", BurstSize);
            await SendAllAsync(client, burst);
            Assert.Empty(burst.Where(a => a.Fate != Fate.Acknowledged).Select(a => $"{a.Reference}: {a.Answer}"));

            killedUnder = PlanBurst(wallets, "killed", InFlightSize);
            await OpenConnectionsAsync(client, InFlightSize);
            await SendThenKillAsync(client, first, killedUnder);
        }

        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var acknowledged = deposits.Concat(burst).Concat(killedUnder.Where(a => a.Fate == Fate.Acknowledged)).ToArray();
        var inFlight = killedUnder.Where(a => a.Fate == Fate.Unknown).ToArray();
        output.WriteLine(
            $"{first.Name} exited with {first.ExitCode}; {burst.Length} acknowledged before the kill; of the {killedUnder.Length} sent under it " +
            $"{killedUnder.Length - inFlight.Length} were acknowledged and {inFlight.Length} left without an answer");
        Assert.Equal(128 + 9, first.ExitCode); // died of SIGKILL, not by shutting down
        Assert.Empty(killedUnder.Where(a => a.Fate == Fate.Refused).Select(a => $"{a.Reference}: {a.Answer}"));
        Assert.NotEmpty(inFlight);

        // 2. A new silo on the same database.
        var second = await _silos.StartAsync("silo #2 (restarted)", connectionString);
        using var restarted = second.CreateClient(ApiKey);
        await using var database = NpgsqlDataSource.Create(connectionString);
        var attempts = deposits.Concat(burst).Concat(killedUnder).ToArray();

        var committed = await CommittedEntriesAsync(database);
        await AssertAcknowledgedExactlyOnceAsync(restarted, committed, acknowledged);
        AssertOnlySentRequestsCommitted(committed, attempts);
        await AssertKeysCommittedWithTheirEntriesAsync(database, committed, attempts);
        await AssertBalancesAsync(restarted, database, wallets, committed, attempts);
        await AssertVerifiesAsync(restarted);

        // 3. Clients retry what they never heard back about (and some of what they did): each lands once.
        output.WriteLine($"of the {inFlight.Length} without an answer, {inFlight.Count(a => committed.ContainsKey(a.Reference))} had committed before the kill");
        await AssertRetriesLandOnceAsync(restarted, committed, inFlight, acknowledged.Where((_, i) => i % 10 == 0).ToArray());
        var afterRetries = await CommittedEntriesAsync(database);
        Assert.All(inFlight, a => Assert.True(afterRetries.ContainsKey(a.Reference), $"retried {a.Reference} is not in the ledger"));
        AssertOnlySentRequestsCommitted(afterRetries, attempts);
        await AssertBalancesAsync(restarted, database, wallets, afterRetries, attempts);
        await AssertVerifiesAsync(restarted);
    }

    private static async Task<string[]> CreateWalletsAsync(HttpClient client)
    {
        var wallets = new string[WalletCount];
        for (var i = 0; i < wallets.Length; i++)
        {
            using var content = new StringContent("""{"currency":"USD"}""", Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri("/v1/wallets", UriKind.Relative), content);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"create wallet: {(int)response.StatusCode} {body}");
            wallets[i] = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
        }

        return wallets;
    }

    private TransferAttempt[] PlanBurst(string[] wallets, string name, int count)
    {
        var random = new Random(count);
        return Enumerable.Range(0, count).Select(i =>
        {
            var source = random.Next(wallets.Length);
            var destination = (source + 1 + random.Next(wallets.Length - 1)) % wallets.Length;
            return new TransferAttempt($"{_run}-{name}-{i}", wallets[source], wallets[destination], random.NextInt64(1, TransferMinorUnitsMax + 1));
        }).ToArray();
    }

    private static async Task SendAllAsync(HttpClient client, TransferAttempt[] attempts)
    {
        using var window = new SemaphoreSlim(ConcurrencyMax);
        await Task.WhenAll(attempts.Select(async attempt =>
        {
            await window.WaitAsync();
            try
            {
                await SendAsync(client, attempt);
            }
            finally
            {
                window.Release();
            }
        }));
    }

    /// <summary>
    /// Leaves <paramref name="count"/> idle connections in the client's pool, so that as many requests
    /// sent together are all written at once rather than some waiting for a TCP handshake.
    /// </summary>
    private static async Task OpenConnectionsAsync(HttpClient client, int count)
    {
        await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        })));
    }

    /// <summary>
    /// Sends every attempt at once and kills the silo from the continuation of the first
    /// acknowledgement: the batch that produced it has committed and its other replies are racing the
    /// signal, later batches are being decided or committed, and some requests may not even have
    /// arrived. Whatever answers still arrive before it dies are acknowledgements like any other.
    /// </summary>
    private static async Task SendThenKillAsync(HttpClient client, SiloProcess silo, TransferAttempt[] attempts)
    {
        var killed = 0;
        void KillOnce()
        {
            if (Interlocked.Exchange(ref killed, 1) == 0)
            {
                silo.Kill();
            }
        }

        var sends = attempts.Select(async attempt =>
        {
            await SendAsync(client, attempt);
            if (attempt.Fate == Fate.Acknowledged)
            {
                KillOnce();
            }
        }).ToArray();

        // No acknowledgement at all (the silo refuses or hangs): kill anyway; the assertions will say why.
        await Task.WhenAny(Task.WhenAll(sends), Task.Delay(KillFallbackMs));
        KillOnce();
        await Task.WhenAll(sends);
    }

    /// <summary>Posts the attempt once. A 201 is an acknowledgement; no answer at all leaves the outcome unknown.</summary>
    private static async Task SendAsync(HttpClient client, TransferAttempt attempt)
    {
        attempt.Fate = Fate.Unknown;
        try
        {
            var (status, body, _) = await PostAsync(client, attempt);
            attempt.Answer = $"{(int)status} {body}";
            if (status == HttpStatusCode.Created)
            {
                attempt.TransferId = TransferId(body);
                attempt.Fate = Fate.Acknowledged;
            }
            else
            {
                attempt.Fate = Fate.Refused;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            attempt.Answer = $"{e.GetType().Name}: {e.Message}";
        }
    }

    private static async Task<(HttpStatusCode Status, string Body, bool Replayed)> PostAsync(HttpClient client, TransferAttempt attempt)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/transfers", UriKind.Relative))
        {
            Content = new StringContent(attempt.Body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", attempt.Key);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true");
        return (response.StatusCode, body, replayed);
    }

    // ---- what the restarted silo and the database must show ----

    private static async Task AssertAcknowledgedExactlyOnceAsync(HttpClient client, Dictionary<string, List<Entry>> committed, TransferAttempt[] acknowledged)
    {
        foreach (var attempt in acknowledged)
        {
            var rows = committed.GetValueOrDefault(attempt.Reference) ?? [];
            Assert.True(rows.Count == 1, $"acknowledged {attempt.Reference} ({attempt.TransferId}) is in the ledger {rows.Count} times");
            Assert.Equal(attempt.TransferId, rows[0].Id);
            Assert.Equal((attempt.SourceId, attempt.DestinationId, attempt.Amount), (rows[0].Source, rows[0].Destination, rows[0].Amount));
        }

        await Parallel.ForEachAsync(acknowledged, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (attempt, _) =>
        {
            using var response = await client.GetAsync(new Uri($"/v1/transfers/{attempt.TransferId}", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET transfer {attempt.TransferId} ({attempt.Reference}): {(int)response.StatusCode} {body}");
            var transfer = JsonDocument.Parse(body).RootElement;
            Assert.Equal(attempt.TransferId, transfer.GetProperty("id").GetString());
            Assert.Equal(attempt.Reference, transfer.GetProperty("reference").GetString());
            Assert.Equal(Amount.Format(attempt.Amount, 2), transfer.GetProperty("amount").GetString());
            Assert.Equal(attempt.Source, transfer.GetProperty("source").GetString());
            Assert.Equal(attempt.Destination, transfer.GetProperty("destination").GetString());
        });
    }

    /// <summary>What is in the ledger came from requests that reached the silo: nothing unsent, nothing refused, nothing twice.</summary>
    private static void AssertOnlySentRequestsCommitted(Dictionary<string, List<Entry>> committed, TransferAttempt[] attempts)
    {
        var byReference = attempts.ToDictionary(a => a.Reference);
        foreach (var (reference, rows) in committed)
        {
            Assert.True(byReference.TryGetValue(reference, out var attempt), $"the ledger holds {reference}, which no request carried");
            Assert.True(attempt.Fate is Fate.Acknowledged or Fate.Unknown, $"{reference} is in the ledger but its request was {attempt.Fate}");
            Assert.Single(rows);
            Assert.Equal((attempt.SourceId, attempt.DestinationId, attempt.Amount), (rows[0].Source, rows[0].Destination, rows[0].Amount));
        }
    }

    /// <summary>A transfer's Idempotency-Key is written in its transaction: after the crash, one exists exactly when the other does.</summary>
    private static async Task AssertKeysCommittedWithTheirEntriesAsync(NpgsqlDataSource database, Dictionary<string, List<Entry>> committed, TransferAttempt[] attempts)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = database.CreateCommand("SELECT key FROM idempotency_keys WHERE key = ANY($1)"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = attempts.Select(a => a.Key).ToArray() });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                keys.Add(reader.GetString(0));
            }
        }

        foreach (var attempt in attempts)
        {
            Assert.True(keys.Contains(attempt.Key) == committed.ContainsKey(attempt.Reference),
                $"{attempt.Reference}: key stored {keys.Contains(attempt.Key)}, entry stored {committed.ContainsKey(attempt.Reference)}");
        }
    }

    private static async Task AssertBalancesAsync(
        HttpClient client, NpgsqlDataSource database, string[] wallets, Dictionary<string, List<Entry>> committed, TransferAttempt[] attempts)
    {
        // Every row's balance is the sum of its postings, and money only moved: the balances sum to zero.
        var rows = new List<(string Id, long Balance, long Postings)>();
        await using (var command = database.CreateCommand(
            "SELECT w.id, w.balance, coalesce((SELECT sum(p.amount) FROM postings p WHERE p.wallet_id = w.id), 0)::bigint FROM wallets w"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        Assert.All(rows, r => Assert.True(r.Balance == r.Postings, $"{r.Id}: balance {r.Balance}, postings sum {r.Postings}"));
        Assert.Equal(0, rows.Sum(r => r.Balance));

        // And each user wallet holds exactly what the committed transfers moved, as the API reports it.
        var expected = wallets.ToDictionary(w => w, _ => 0L, StringComparer.Ordinal);
        foreach (var attempt in attempts.Where(a => committed.ContainsKey(a.Reference)))
        {
            if (expected.ContainsKey(attempt.Source))
            {
                expected[attempt.Source] -= attempt.Amount;
            }

            expected[attempt.Destination] += attempt.Amount;
        }

        foreach (var wallet in wallets)
        {
            Assert.Equal(expected[wallet], rows.Single(r => r.Id == wallet).Balance);
            using var response = await client.GetAsync(new Uri($"/v1/wallets/{wallet}", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET wallet {wallet}: {(int)response.StatusCode} {body}");
            Assert.Equal(Amount.Format(expected[wallet], 2), JsonDocument.Parse(body).RootElement.GetProperty("balance").GetProperty("posted").GetString());
        }
    }

    private static async Task AssertVerifiesAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/v1/ledger/verify", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"verify: {(int)response.StatusCode} {body}");
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("ok").GetBoolean(), $"verify: {body}");
    }

    /// <summary>
    /// A retry with the same Idempotency-Key and body answers 201 either way: replayed, with the
    /// original transfer, when the first attempt had committed; a new transfer when it had not.
    /// </summary>
    private static async Task AssertRetriesLandOnceAsync(
        HttpClient client, Dictionary<string, List<Entry>> committedBefore, TransferAttempt[] unanswered, TransferAttempt[] answered)
    {
        foreach (var attempt in unanswered.Concat(answered))
        {
            var (status, body, replayed) = await PostAsync(client, attempt);
            Assert.True(status == HttpStatusCode.Created, $"retry of {attempt.Reference}: {(int)status} {body}");
            var id = TransferId(body);
            if (committedBefore.TryGetValue(attempt.Reference, out var rows))
            {
                Assert.True(replayed, $"retry of {attempt.Reference}, committed before the crash as {rows[0].Id}, was not replayed: {body}");
                Assert.Equal(rows[0].Id, id);
            }
            else
            {
                Assert.False(replayed, $"retry of {attempt.Reference}, never committed, claims to be a replay: {body}");
            }

            if (attempt.Fate == Fate.Acknowledged)
            {
                Assert.Equal(attempt.TransferId, id);
            }

            // A second retry is always a replay of whatever the first one settled on.
            var (again, againBody, againReplayed) = await PostAsync(client, attempt);
            Assert.True(again == HttpStatusCode.Created && againReplayed, $"second retry of {attempt.Reference}: {(int)again} replayed={againReplayed} {againBody}");
            Assert.Equal(id, TransferId(againBody));
        }
    }

    /// <summary>The entries of this run by reference (a list, so that a duplicate would show).</summary>
    private async Task<Dictionary<string, List<Entry>>> CommittedEntriesAsync(NpgsqlDataSource database)
    {
        var entries = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
        await using var command = database.CreateCommand("SELECT reference, id, source_id, destination_id, amount FROM entries WHERE reference LIKE $1");
        command.Parameters.Add(new NpgsqlParameter { Value = $"{_run}-%" });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var reference = reader.GetString(0);
            if (!entries.TryGetValue(reference, out var list))
            {
                entries[reference] = list = [];
            }

            list.Add(new Entry(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
        }

        return entries;
    }

    private static string TransferId(string body) => JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;

    private enum Fate
    {
        NotSent,
        Unknown,
        Acknowledged,
        Refused,
    }

    private sealed record Entry(string Id, string Source, string Destination, long Amount);

    /// <summary>One transfer request as a client would keep it: enough to retry it byte for byte.</summary>
    private sealed class TransferAttempt(string name, string source, string destination, long amount)
    {
        public string Key { get; } = "key-" + name;

        public string Reference { get; } = name;

        /// <summary>As the API writes it: a wallet id, or "@treasury".</summary>
        public string Source { get; } = source;

        public string Destination { get; } = destination;

        public long Amount { get; } = amount;

        public string Body { get; } = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["source"] = source,
            ["destination"] = destination,
            ["amount"] = Wallet.Grains.Money.Amount.Format(amount, 2),
            ["reference"] = name,
        });

        /// <summary>The id in the ledger: the system account's row id for "@treasury".</summary>
        public string SourceId => Source == "@treasury" ? "sys:default:treasury:USD" : Source;

        public string DestinationId => Destination;

        public Fate Fate { get; set; }

        public string? TransferId { get; set; }

        public string? Answer { get; set; }
    }
}
