using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Auth;

namespace Wallet.Api.Audit;

/// <summary>The tenant's audit trail, newest first, and a check that its chain of hashes is whole.</summary>
public static class AuditEndpoints
{
    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        var audit = app.MapGroup("/v1/audit").WithTags("Audit").RequireAuthorization(Permissions.Finance);
        audit.MapGet("", List).Paged().Produces<ListResponse<AuditEntry>>()
            .WithName("ListAudit").WithSummary("List the tenant's audit trail, newest first: of one actor or action, from and to a time");
        audit.MapGet("/verify", Verify).Produces<AuditVerification>()
            .WithName("VerifyAudit").WithSummary("Check the tenant's audit chain: every row's hash, and that none is missing");
        return app;
    }

    private static async Task<IResult> List(
        HttpRequest http, ClaimsPrincipal user, AuditLog audit, string? actor = null, string? action = null, string? from = null, string? to = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var (before, cursorProblem) = paging.SeqCursor();
        if (cursorProblem is not null)
        {
            return cursorProblem;
        }

        DateTimeOffset? Time(string? text, string name, ref string? why)
        {
            if (text is null)
            {
                return null;
            }

            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                return time;
            }

            why = $"{name} must be a time such as 2025-07-13T00:00:00Z";
            return null;
        }

        string? why = null;
        var (fromTime, toTime) = (Time(from, "from", ref why), Time(to, "to", ref why));
        if (why is not null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, why);
        }

        var page = await audit.ListAsync(new AuditQuery(user.TenantId(), actor, action, fromTime, toTime, paging.Limit, before), http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<AuditEntry>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> Verify(ClaimsPrincipal user, AuditLog audit, HttpRequest http) =>
        TypedResults.Ok(await audit.VerifyAsync(user.TenantId(), http.HttpContext.RequestAborted));
}
