using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>Every failure the API answers: an RFC 9457 problem with a stable <c>code</c> extension.</summary>
public static class Problems
{
    public const string InternalError = "internal_error";
    public const string RateLimited = "rate_limited";

    public static ProblemHttpResult For(LedgerFailure failure) => Create(failure.Code, failure.Detail);

    public static ProblemHttpResult Create(string code, string detail)
    {
        var status = StatusFor(code);
        var problem = new ProblemDetails
        {
            Status = status,
            Title = Title(code),
            Detail = detail,
            Type = $"https://wallet.dev/problems/{code.Replace('_', '-')}",
        };
        problem.Extensions["code"] = code;
        return TypedResults.Problem(problem);
    }

    public static int StatusFor(string code) => code switch
    {
        LedgerErrors.ValidationFailed or LedgerErrors.MalformedJson or LedgerErrors.InvalidAmount or LedgerErrors.UnknownCurrency
            or LedgerErrors.SameWallet or LedgerErrors.InvalidCursor => StatusCodes.Status400BadRequest,
        LedgerErrors.Unauthorized => StatusCodes.Status401Unauthorized,
        LedgerErrors.InsufficientFunds => StatusCodes.Status402PaymentRequired,
        LedgerErrors.Forbidden => StatusCodes.Status403Forbidden,
        LedgerErrors.WalletNotFound or LedgerErrors.TransferNotFound or LedgerErrors.NotFound => StatusCodes.Status404NotFound,
        LedgerErrors.IdempotencyKeyReused or LedgerErrors.Conflict => StatusCodes.Status409Conflict,
        LedgerErrors.CurrencyMismatch or LedgerErrors.WalletFrozen or LedgerErrors.WalletClosed or LedgerErrors.LimitExceeded
            or LedgerErrors.InvalidStatusChange => StatusCodes.Status422UnprocessableEntity,
        RateLimited => StatusCodes.Status429TooManyRequests,
        LedgerErrors.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static string Title(string code) => code switch
    {
        LedgerErrors.InsufficientFunds => "Insufficient funds",
        LedgerErrors.IdempotencyKeyReused => "Idempotency-Key reused with another request",
        LedgerErrors.Unavailable => "Temporarily unavailable",
        _ => char.ToUpperInvariant(code[0]) + code[1..].Replace('_', ' '),
    };
}
