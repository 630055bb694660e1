using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>Every failure the API answers: an RFC 9457 problem with a stable <c>code</c> extension.</summary>
public static class Problems
{
    public const string InternalError = LedgerProblems.InternalError;
    public const string RateLimited = LedgerProblems.RateLimited;

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
            Title = LedgerProblems.TitleOf(code),
            Detail = detail,
            Type = LedgerProblems.TypeOf(code),
        };
        problem.Extensions["code"] = code;
        return TypedResults.Problem(problem);
    }

    public static int StatusFor(string code) => LedgerProblems.StatusOf(code);
}
