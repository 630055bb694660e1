using Wallet.Grains.Wallets;

namespace Wallet.Grains.Ledger;

/// <summary>What a request finds under its Idempotency-Key among those its grain is running.</summary>
internal readonly record struct InFlightMatch(Task<object>? Outcome, LedgerFailure? Reused);

/// <summary>
/// The requests a grain is running under an Idempotency-Key, until their outcome is durable. The
/// key is written with the effect, so the store cannot answer a retry that arrives meanwhile; the
/// grain can: the same request shares the first one's outcome (replayed), another request under the
/// same key is refused. Used by every grain that moves money, so the rule lives here once.
/// </summary>
internal sealed class InFlightRequests
{
    public const string ReusedDetail = "the Idempotency-Key was used with a different request";

    private static readonly LedgerFailure Reused = new(LedgerErrors.IdempotencyKeyReused, ReusedDetail);

    private readonly Dictionary<string, (string RequestHash, TaskCompletionSource<object> Outcome)> _running = new(StringComparer.Ordinal);

    /// <summary>The running request with the same key: its outcome when it is the same request, a refusal when not.</summary>
    public InFlightMatch Match(IdempotencyRequest? idempotency)
    {
        if (idempotency is null || !_running.TryGetValue(idempotency.Key, out var first))
        {
            return default;
        }

        return first.RequestHash == idempotency.RequestHash ? new InFlightMatch(first.Outcome.Task, null) : new InFlightMatch(null, Reused);
    }

    /// <summary>Runs <paramref name="run"/> as the request under <paramref name="idempotency"/>'s key, sharing its outcome meanwhile.</summary>
    public async Task<TResult> RunAsync<TResult>(IdempotencyRequest? idempotency, Func<Task<TResult>> run)
        where TResult : class
    {
        if (idempotency is null)
        {
            return await run();
        }

        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        _running[idempotency.Key] = (idempotency.RequestHash, outcome);
        try
        {
            var result = await run();
            outcome.SetResult(result);
            return result;
        }
        catch (Exception exception)
        {
            outcome.SetException(exception);
            throw;
        }
        finally
        {
            _running.Remove(idempotency.Key);
        }
    }
}
