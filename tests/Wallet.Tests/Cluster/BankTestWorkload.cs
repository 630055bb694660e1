using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Wallet.Grains;

namespace Wallet.Tests.Cluster;

/// <summary>What a client finally learned about one transfer.</summary>
internal enum BankOutcome
{
    /// <summary>Still being sent.</summary>
    Pending,

    /// <summary>201 with a transfer id: the client was told the money moved.</summary>
    Acknowledged,

    /// <summary>402 <c>insufficient_funds</c>: the client was told nothing moved.</summary>
    Refused,

    /// <summary>Any other definite answer (a 4xx this workload never provokes): a violation.</summary>
    Unexpected,

    /// <summary>No definite answer before the drain deadline.</summary>
    Indeterminate,
}

/// <summary>One transfer as a client keeps it: enough to retry it byte for byte, and what it was told.</summary>
internal sealed class BankTransfer
{
    public BankTransfer(string run, string key, int phase, string source, string destination, long amount)
    {
        Key = key;
        Phase = phase;
        Source = source;
        Destination = destination;
        Amount = amount;
        Body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["source"] = source,
            ["destination"] = destination,
            ["amount"] = Wallet.Grains.Money.Amount.Format(amount, BankWorkload.Scale),
            // The entry carries the key, so the ledger can be counted per key without trusting the key table.
            ["metadata"] = new Dictionary<string, string> { ["bank_run"] = run, ["bank_key"] = key },
        });
    }

    public string Key { get; }

    public int Phase { get; }

    public string Source { get; }

    public string Destination { get; }

    public long Amount { get; }

    public string Body { get; }

    public BankOutcome Outcome { get; set; }

    public string? TransferId { get; set; }

    /// <summary>Seconds on the run's clock when the 201 arrived.</summary>
    public double AcknowledgedAt { get; set; }

    public int Attempts { get; set; }

    public string? LastAnswer { get; set; }
}

/// <summary>Counts over every HTTP request of the run; incremented by many clients at once.</summary>
internal sealed class BankCounters
{
    private long _requests;
    private long _retries;
    private long _replayed;
    private long _unavailable;
    private long _timeouts;
    private long _connectionFailures;
    private long _conflicts;
    private long _serverErrorsWithoutRetryAfter;

    public long Requests => Interlocked.Read(ref _requests);

    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>201s that carried <c>Idempotent-Replayed: true</c>.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>503 (or 429) with <c>Retry-After</c>: the retryable answers the API promises.</summary>
    public long Unavailable => Interlocked.Read(ref _unavailable);

    public long Timeouts => Interlocked.Read(ref _timeouts);

    public long ConnectionFailures => Interlocked.Read(ref _connectionFailures);

    /// <summary>409 <c>conflict</c>: the key is held by a request still in progress; retried.</summary>
    public long Conflicts => Interlocked.Read(ref _conflicts);

    /// <summary>A 5xx without <c>Retry-After</c>: the API broke its promise; a violation.</summary>
    public long ServerErrorsWithoutRetryAfter => Interlocked.Read(ref _serverErrorsWithoutRetryAfter);

    /// <summary>Answers that are violations in themselves, with the request they answered.</summary>
    public ConcurrentQueue<string> BadAnswers { get; } = new();

    public void Request(bool retry)
    {
        Interlocked.Increment(ref _requests);
        if (retry)
        {
            Interlocked.Increment(ref _retries);
        }
    }

    public void Replay() => Interlocked.Increment(ref _replayed);

    public void RetryableAnswer() => Interlocked.Increment(ref _unavailable);

    public void Timeout() => Interlocked.Increment(ref _timeouts);

    public void ConnectionFailure() => Interlocked.Increment(ref _connectionFailures);

    public void Conflict() => Interlocked.Increment(ref _conflicts);

    public void ServerErrorWithoutRetryAfter(string what)
    {
        Interlocked.Increment(ref _serverErrorsWithoutRetryAfter);
        BadAnswers.Enqueue(what);
    }
}

/// <summary>
/// The bank workload: <see cref="ClientCount"/> clients, each sending one transfer at a time between
/// random wallets of the bank, for random amounts of which some exceed any balance. Every transfer
/// has its own Idempotency-Key and is sent again, same key, same body, after a timeout, a broken
/// connection or a retryable answer, until a definite one: 201 or 402.
/// </summary>
internal sealed class BankWorkload(HttpClient api, string run, IReadOnlyList<string> wallets, Stopwatch clock, int seed)
{
    public const int ClientCount = 16;
    public const int Scale = 2;

    private const long AmountMinorUnitsMax = 250_00;
    private const long LargeAmountMinorUnitsMin = 1_000_00;
    private const long LargeAmountMinorUnitsMax = 5_000_00;
    private const int LargeAmountPercent = 10;

    // Longer than the API's own call timeout (30 s), so a retry never overtakes the attempt before it.
    private const int AttemptTimeoutSeconds = 35;
    private const int RetryAfterCapMs = 1_000;
    private const int NoAnswerRetryDelayMs = 200;
    private const int DrainSecondsMax = 60;

    private readonly ConcurrentQueue<BankTransfer> _transfers = new();
    private readonly ConcurrentQueue<double> _acknowledgedAt = new();
    private int _sequence;

    public BankCounters Counters { get; } = new();

    public IReadOnlyCollection<BankTransfer> Transfers => _transfers;

    /// <summary>
    /// Runs the clients until <paramref name="stop"/> is cancelled, then lets each finish the transfer
    /// it is sending (at most <see cref="DrainSecondsMax"/> more seconds).
    /// </summary>
    public async Task RunAsync(int phase, CancellationToken stop)
    {
        using var drain = new CancellationTokenSource();
        using var registration = stop.Register(() => drain.CancelAfter(TimeSpan.FromSeconds(DrainSecondsMax)));
        await Task.WhenAll(Enumerable.Range(0, ClientCount).Select(client => Task.Run(() => RunClientAsync(phase, client, stop, drain.Token))));
    }

    /// <summary>The acknowledgement times so far (seconds on the run's clock), sorted; safe to call while the clients run.</summary>
    public double[] AcknowledgementTimes() => [.. _acknowledgedAt.Order()];

    /// <summary>
    /// Creates a wallet and deposits <paramref name="minorUnits"/> into it from <c>@treasury</c>, each
    /// step retried under its own key until it succeeds.
    /// </summary>
    public static async Task<string> OpenFundedWalletAsync(HttpClient api, string run, int index, long minorUnits)
    {
        var number = index.ToString(CultureInfo.InvariantCulture);
        var wallet = await PostUntilCreatedAsync(api, "/v1/wallets", """{"currency":"USD"}""", $"open-{run}-{number}");
        var id = JsonDocument.Parse(wallet).RootElement.GetProperty("id").GetString()!;
        var deposit = JsonSerializer.Serialize(new Dictionary<string, string> { ["amount"] = Wallet.Grains.Money.Amount.Format(minorUnits, Scale) });
        await PostUntilCreatedAsync(api, $"/v1/wallets/{id}/deposit", deposit, $"fund-{run}-{number}");
        return id;
    }

    private async Task RunClientAsync(int phase, int client, CancellationToken stop, CancellationToken drain)
    {
        // Not HashCode.Combine: it is seeded per process, and a seed must replay a run's choices.
        var random = new Random(unchecked((seed * 7_919) + (phase * 104_729) + client));
        while (!stop.IsCancellationRequested)
        {
            var transfer = Plan(random, phase, client);
            _transfers.Enqueue(transfer);
            await SendUntilDefiniteAsync(transfer, drain);
        }
    }

    private BankTransfer Plan(Random random, int phase, int client)
    {
        var source = random.Next(wallets.Count);
        var destination = (source + 1 + random.Next(wallets.Count - 1)) % wallets.Count;
        var amount = random.Next(100) < LargeAmountPercent
            ? random.NextInt64(LargeAmountMinorUnitsMin, LargeAmountMinorUnitsMax + 1)
            : random.NextInt64(1, AmountMinorUnitsMax + 1);
        var key = $"bank-{run}-{client.ToString(CultureInfo.InvariantCulture)}-{Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture)}";
        return new BankTransfer(run, key, phase, wallets[source], wallets[destination], amount);
    }

    private async Task SendUntilDefiniteAsync(BankTransfer transfer, CancellationToken drain)
    {
        while (!drain.IsCancellationRequested)
        {
            transfer.Attempts++;
            Counters.Request(retry: transfer.Attempts > 1);
            TimeSpan? retryIn;
            try
            {
                retryIn = await SendOnceAsync(transfer, drain);
            }
            catch (OperationCanceledException) when (!drain.IsCancellationRequested)
            {
                Counters.Timeout();
                transfer.LastAnswer = $"no answer within {AttemptTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s";
                retryIn = TimeSpan.FromMilliseconds(NoAnswerRetryDelayMs);
            }
            catch (HttpRequestException e)
            {
                Counters.ConnectionFailure();
                transfer.LastAnswer = $"{e.GetType().Name}: {e.Message}";
                retryIn = TimeSpan.FromMilliseconds(NoAnswerRetryDelayMs);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (retryIn is not { } delay)
            {
                return;
            }

            try
            {
                await Task.Delay(delay, drain);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        transfer.Outcome = BankOutcome.Indeterminate;
    }

    /// <summary>One POST; null when the answer is definite, else how long to wait before the next attempt.</summary>
    private async Task<TimeSpan?> SendOnceAsync(BankTransfer transfer, CancellationToken drain)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(drain);
        timeout.CancelAfter(TimeSpan.FromSeconds(AttemptTimeoutSeconds));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/transfers", UriKind.Relative))
        {
            Content = new StringContent(transfer.Body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", transfer.Key);
        using var response = await api.SendAsync(request, timeout.Token);
        var body = await response.Content.ReadAsStringAsync(timeout.Token);
        var status = (int)response.StatusCode;
        transfer.LastAnswer = $"{status.ToString(CultureInfo.InvariantCulture)} {body}";
        switch (response.StatusCode)
        {
            case HttpStatusCode.Created:
                transfer.TransferId = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString();
                transfer.AcknowledgedAt = clock.Elapsed.TotalSeconds;
                transfer.Outcome = BankOutcome.Acknowledged;
                _acknowledgedAt.Enqueue(transfer.AcknowledgedAt);
                if (response.Headers.TryGetValues("Idempotent-Replayed", out var replayed) && replayed.Contains("true"))
                {
                    Counters.Replay();
                }

                return null;
            case HttpStatusCode.PaymentRequired when ProblemCode(body) == LedgerErrors.InsufficientFunds:
                transfer.Outcome = BankOutcome.Refused;
                return null;
            case HttpStatusCode.Conflict when ProblemCode(body) == LedgerErrors.Conflict:
                Counters.Conflict();
                return TimeSpan.FromMilliseconds(NoAnswerRetryDelayMs);
        }

        if (status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            if (response.Headers.RetryAfter is { } retryAfter)
            {
                Counters.RetryableAnswer();
                var advised = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.Zero);
                return TimeSpan.FromMilliseconds(Math.Clamp(advised.TotalMilliseconds, 0, RetryAfterCapMs));
            }

            // Outcome unknown: retried like a timeout, but the API owed the client a Retry-After.
            Counters.ServerErrorWithoutRetryAfter($"{transfer.Key}: {transfer.LastAnswer}");
            return TimeSpan.FromMilliseconds(NoAnswerRetryDelayMs);
        }

        transfer.Outcome = BankOutcome.Unexpected;
        return null;
    }

    private static async Task<string> PostUntilCreatedAsync(HttpClient api, string path, string body, string key)
    {
        var deadline = Stopwatch.StartNew();
        string lastAnswer;
        do
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("Idempotency-Key", key);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(AttemptTimeoutSeconds));
                using var response = await api.SendAsync(request, timeout.Token);
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    return text;
                }

                lastAnswer = $"{((int)response.StatusCode).ToString(CultureInfo.InvariantCulture)} {text}";
                if ((int)response.StatusCode < 500)
                {
                    break;
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                lastAnswer = e.Message;
            }

            await Task.Delay(NoAnswerRetryDelayMs);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(DrainSecondsMax));

        throw new InvalidOperationException($"POST {path} (key {key}) did not succeed: {lastAnswer}");
    }

    private static string? ProblemCode(string body)
    {
        try
        {
            return JsonDocument.Parse(body).RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
