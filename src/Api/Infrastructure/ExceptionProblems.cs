using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Faults become problems: what a retry can cure (too many calls waiting for a grain, a failed
/// commit, a silo lost or unreachable, a timeout, the database unreachable) is a 503 with <c>Retry-After</c>; anything else is a 500 that hides details.
/// </summary>
public sealed partial class ExceptionProblems(ILogger<ExceptionProblems> logger) : IExceptionHandler
{
    private const int RetryAfterSeconds = 1;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (IsRetryable(exception))
        {
            LogRetryable(logger, exception.GetType().Name, exception.Message);
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Problems.Create(LedgerErrors.Unavailable, "the ledger could not complete the request now; retry with the same Idempotency-Key")
                .ExecuteAsync(httpContext);
            return true;
        }

        LogUnhandled(logger, exception);
        await Problems.Create(Problems.InternalError, "an internal error occurred").ExecuteAsync(httpContext);
        return true;
    }

    public static bool IsRetryable(Exception exception) => exception switch
    {
        LedgerUnavailableException or TimeoutException => true,
        // Orleans: the silo holding the grain died or left, a message was refused (overload, shutdown),
        // or no gateway answers. An Idempotency-Key makes the retry safe whether or not it arrived.
        SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException => true,
        // A grain call canceled under the request (Orleans cancels calls it stops waiting for, e.g.
        // a directory lookup while a silo's death is being handled): it may or may not have applied.
        OperationCanceledException => true,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql is not PostgresException,
        _ => exception.InnerException is { } inner && IsRetryable(inner),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answered 503 after {ExceptionType}: {Message}")]
    private static partial void LogRetryable(ILogger logger, string exceptionType, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception")]
    private static partial void LogUnhandled(ILogger logger, Exception exception);
}
