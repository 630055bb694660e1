using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Every failure the API answers: an RFC 9457 problem with a stable <c>code</c> extension. The
/// grains speak in codes; the status, title and type of each code are decided here alone.
/// </summary>
public static class Problems
{
    public const string InternalError = "internal_error";
    public const string RateLimited = "rate_limited";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string MethodNotAllowed = "method_not_allowed";

    // The codes the API's routes answer with: the ledger's, a body that is not JSON, and a caller
    // past its rate limit. Not idempotency_key_exists (the grains' own, never sent) nor not_found
    // (the answer to a path no route matches).
    private static readonly string[] RouteCodes =
    [
        .. typeof(LedgerErrors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .Where(code => code is not (LedgerErrors.IdempotencyKeyExists or LedgerErrors.NotFound)),
        UnsupportedMediaType,
        RateLimited,
    ];

    /// <summary>The statuses of <see cref="RouteCodes"/>, in order.</summary>
    public static IReadOnlyList<int> Statuses { get; } = [.. RouteCodes.Select(StatusFor).Distinct().Order()];

    /// <summary>The codes a problem of <paramref name="status"/> from a route may carry.</summary>
    public static IEnumerable<string> CodesOf(int status) => RouteCodes.Where(code => StatusFor(code) == status).Order(StringComparer.Ordinal);

    public static ProblemHttpResult For(LedgerFailure failure)
    {
        var problem = Create(failure.Code, failure.Detail);
        if (failure.Extensions is not null)
        {
            using var extensions = System.Text.Json.JsonDocument.Parse(failure.Extensions);
            foreach (var member in extensions.RootElement.EnumerateObject())
            {
                problem.ProblemDetails.Extensions[member.Name] = member.Value.Clone();
            }
        }

        return problem;
    }

    public static ProblemHttpResult Create(string code, string detail)
    {
        var problem = new ProblemDetails
        {
            Status = StatusFor(code),
            Title = TitleOf(code),
            Detail = detail,
            Type = TypeOf(code),
        };
        problem.Extensions["code"] = code;
        return TypedResults.Problem(problem);
    }

    /// <summary>
    /// The problem body of <paramref name="failure"/> as text, its extensions included: how a
    /// refusal kept with an Idempotency-Key is written, the first time and on every replay alike.
    /// </summary>
    public static string Body(LedgerFailure failure) => StoredAnswers.WithExtensions(
        new JsonObject
        {
            ["type"] = TypeOf(failure.Code),
            ["title"] = TitleOf(failure.Code),
            ["status"] = StatusFor(failure.Code),
            ["detail"] = failure.Detail,
            ["code"] = failure.Code,
        },
        failure);

    public static int StatusFor(string code) => code switch
    {
        LedgerErrors.ValidationFailed or LedgerErrors.MalformedJson or LedgerErrors.InvalidAmount or LedgerErrors.UnknownCurrency
            or LedgerErrors.SameWallet or LedgerErrors.InvalidCursor or LedgerErrors.CardNumberInvalid or LedgerErrors.EntryUnbalanced
            or LedgerErrors.FileUnreadable or LedgerErrors.InvitationInvalid or LedgerErrors.PasswordRejected
            or LedgerErrors.InvalidCode => StatusCodes.Status400BadRequest,
        LedgerErrors.Unauthorized or LedgerErrors.InvalidCredentials or LedgerErrors.InvalidToken => StatusCodes.Status401Unauthorized,
        LedgerErrors.InsufficientFunds or LedgerErrors.BudgetExceeded => StatusCodes.Status402PaymentRequired,
        LedgerErrors.Forbidden or LedgerErrors.FraudBlocked or LedgerErrors.RegistrationClosed => StatusCodes.Status403Forbidden,
        LedgerErrors.WalletNotFound or LedgerErrors.TransferNotFound or LedgerErrors.EntryNotFound or LedgerErrors.NotFound or LedgerErrors.HoldNotFound
            or LedgerErrors.CardNotFound or LedgerErrors.AuthorizationNotFound or LedgerErrors.ReceiptNotFound
            or LedgerErrors.SourceNotFound or LedgerErrors.RunNotFound or LedgerErrors.ItemNotFound
            or LedgerErrors.ApiKeyNotFound or LedgerErrors.UserNotFound or LedgerErrors.ScreeningNotFound
            or LedgerErrors.JobNotFound or LedgerErrors.DataRequestNotFound or LedgerErrors.OwnerNotFound => StatusCodes.Status404NotFound,
        LedgerErrors.FileTooLarge => StatusCodes.Status413PayloadTooLarge,
        LedgerErrors.FileTypeUnsupported => StatusCodes.Status415UnsupportedMediaType,
        LedgerErrors.IdempotencyKeyReused or LedgerErrors.Conflict or LedgerErrors.CardNumberExists or LedgerErrors.AssetExists
            or LedgerErrors.SourceExists or LedgerErrors.RunNotCompleted or LedgerErrors.ItemResolved or LedgerErrors.UserExists
            or LedgerErrors.MfaEnabled or LedgerErrors.MfaNotEnrolling or LedgerErrors.ScreeningResolved or LedgerErrors.PeriodClosed
            or LedgerErrors.AccountExists => StatusCodes.Status409Conflict,
        LedgerErrors.CurrencyMismatch or LedgerErrors.WalletFrozen or LedgerErrors.WalletClosed or LedgerErrors.LimitExceeded
            or LedgerErrors.InvalidStatusChange or LedgerErrors.HoldClosed or LedgerErrors.AmountExceedsHold or LedgerErrors.CardFrozen
            or LedgerErrors.CardCancelled or LedgerErrors.CategoryBlocked or LedgerErrors.AuthorizationClosed or LedgerErrors.BudgetBelowIssued
            or LedgerErrors.ReceiptVerified or LedgerErrors.RecordsRejected or LedgerErrors.ItemNotResolvable
            or LedgerErrors.ComplianceReview or LedgerErrors.PeriodNotEnded => StatusCodes.Status422UnprocessableEntity,
        MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        RateLimited => StatusCodes.Status429TooManyRequests,
        LedgerErrors.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static string TitleOf(string code) => code switch
    {
        LedgerErrors.InsufficientFunds => "Insufficient funds",
        LedgerErrors.IdempotencyKeyReused => "Idempotency-Key reused with another request",
        LedgerErrors.Unavailable => "Temporarily unavailable",
        _ => char.ToUpperInvariant(code[0]) + code[1..].Replace('_', ' '),
    };

    public static string TypeOf(string code) => $"https://wallet.dev/problems/{code.Replace('_', '-')}";
}
