using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Wallet.Grains;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// The Idempotency-Key protocol of mutating POSTs. A key seen before answers from the store: the
/// stored answer with <c>Idempotent-Replayed: true</c> when the request is the same, 409
/// <c>idempotency_key_reused</c> when it is not. A new key travels with the command to the grain,
/// which stores it in the transaction of the effect.
/// </summary>
public static class Idempotency
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Reads the header; a problem when it is present but empty or longer than 255 characters.</summary>
    public static (IdempotencyRequest? Request, IResult? Problem) Read(HttpRequest http, JsonRequest body) => Read(http, body.Hash);

    /// <summary>The header's key with <paramref name="requestHash"/>, what tells a retry from another request.</summary>
    public static (IdempotencyRequest? Request, IResult? Problem) Read(HttpRequest http, string requestHash)
    {
        if (!http.Headers.TryGetValue(HeaderName, out var values))
        {
            return (null, null);
        }

        var key = values.ToString();
        return key.Length is 0 or > IdempotencyStore.KeyLengthMax
            ? (null, Problems.Create(LedgerErrors.ValidationFailed, $"{HeaderName} must be 1 to {IdempotencyStore.KeyLengthMax} characters"))
            : (new IdempotencyRequest(key, requestHash), null);
    }

    /// <summary>
    /// The key of a command that takes no fields (freeze, void, ...): its body may be empty or an
    /// object, and is hashed like any other so a retry with another body is told apart.
    /// </summary>
    public static async Task<(IdempotencyRequest? Request, IResult? Problem)> ReadBodilessAsync(HttpRequest http)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http, allowEmpty: true);
        return body is null ? (null, problem) : Read(http, body);
    }

    /// <summary>The stored answer for the key, or null when the key is new.</summary>
    public static async Task<IResult?> ReplayAsync(IdempotencyStore store, string tenantId, IdempotencyRequest request, CancellationToken cancellationToken)
    {
        var stored = await store.FindAsync(tenantId, request.Key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        return stored.Value.RequestHash == request.RequestHash
            ? Render(stored.Value.Answer, replayed: true)
            : Problems.Create(LedgerErrors.IdempotencyKeyReused, $"{HeaderName} '{request.Key}' was used with a different request");
    }

    /// <summary>
    /// A stored answer as HTTP: 201 (with <paramref name="location"/>) or 200 and the result's body,
    /// or a refusal's problem. The first answer and every replay are rendered here, so they are the
    /// same bytes.
    /// </summary>
    public static JsonBodyResult Render(StoredAnswer answer, bool replayed, string? location = null)
    {
        switch (answer.Outcome)
        {
            case AnswerOutcome.Created:
                return new JsonBodyResult(StatusCodes.Status201Created, answer.Body, replayed, location);
            case AnswerOutcome.Done:
                return new JsonBodyResult(StatusCodes.Status200OK, answer.Body, replayed);
            case AnswerOutcome.Accepted:
                return new JsonBodyResult(StatusCodes.Status202Accepted, answer.Body, replayed, location);
            default:
                var failure = StoredAnswers.FailureOf(answer);
                return new JsonBodyResult(Problems.StatusFor(failure.Code), Problems.Body(failure), replayed);
        }
    }

    /// <summary>
    /// Runs a command under the protocol. The happy path costs no lookup: the grain writes the key
    /// in the transaction of the effect and reports when the key exists already. Only then, or when
    /// the command fails (a retry of a request that succeeded may fail today, e.g. a spend whose
    /// funds are gone), is the stored answer looked up and replayed in place of the new one.
    /// </summary>
    public static Task<IResult> RunAsync(
        IdempotencyStore store, string tenantId, IdempotencyRequest? request, Func<Task<IResult>> run, CancellationToken cancellationToken) =>
        RunAsync(store, tenantId, () => request, run, cancellationToken);

    /// <summary>
    /// <see cref="RunAsync(IdempotencyStore, string, IdempotencyRequest?, Func{Task{IResult}}, CancellationToken)"/> for a request
    /// told apart by what is known only once it has run (a streamed file's SHA-256): <paramref name="request"/> is asked after.
    /// </summary>
    public static async Task<IResult> RunAsync(
        IdempotencyStore store, string tenantId, Func<IdempotencyRequest?> request, Func<Task<IResult>> run, CancellationToken cancellationToken)
    {
        var result = await run();
        if (request() is not { } key || result is not (KeyExistsResult or ProblemHttpResult))
        {
            return result;
        }

        var replay = await ReplayAsync(store, tenantId, key, cancellationToken);
        return replay ?? (result is KeyExistsResult
            ? Problems.Create(LedgerErrors.Conflict, $"{HeaderName} '{key.Key}' is in use by a request still in progress; retry")
            : result);
    }

    /// <summary>
    /// A grain's answer as a handler returns it: the key-taken marker that <see cref="RunAsync"/>
    /// resolves, the problem for any other failure, or <paramref name="success"/>.
    /// </summary>
    public static IResult Answer(LedgerFailure? failure, Func<IResult> success) => failure switch
    {
        { Code: LedgerErrors.IdempotencyKeyExists } => KeyExistsResult.Instance,
        { } refused => Problems.For(refused),
        null => success(),
    };

    /// <summary>The marker a handler returns when the grain reported <see cref="LedgerErrors.IdempotencyKeyExists"/>.</summary>
    public sealed class KeyExistsResult : IResult
    {
        public static readonly KeyExistsResult Instance = new();

        public Task ExecuteAsync(HttpContext httpContext) => throw new InvalidOperationException("Resolved by Idempotency.RunAsync.");
    }
}

/// <summary>A JSON body written as it was serialized, so a replay is byte-for-byte the first answer.</summary>
public sealed record JsonBodyResult(int StatusCode, string Body, bool Replayed = false, string? Location = null) : IResult
{
    public static JsonBodyResult From<T>(int statusCode, T value, bool replayed = false, string? location = null) =>
        new(statusCode, WalletRulesJson.Serialize(value), replayed, location);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        // A stored refusal (a declined authorization) is a problem, replayed as one.
        response.ContentType = StatusCode >= 400 ? "application/problem+json" : "application/json; charset=utf-8";
        if (Replayed)
        {
            response.Headers[Idempotency.ReplayedHeader] = "true";
        }

        if (Location is not null)
        {
            response.Headers.Location = Location;
        }

        await response.WriteAsync(Body, httpContext.RequestAborted);
    }
}

internal static class WalletRulesJson
{
    public static string Serialize<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value, WalletJson.Options);
}
