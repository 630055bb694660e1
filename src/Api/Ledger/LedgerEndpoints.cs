using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Ledger;

namespace Wallet.Api.Ledger;

public static class LedgerEndpoints
{
    public static IEndpointRouteBuilder MapLedgerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/events").WithTags("Ledger").RequireAuthorization(Permissions.Read).MapGet("", GetEvents)
            .Paged().WithName("ListEvents").WithSummary("List committed entries in commit order");
        app.MapGroup("/v1/ledger").WithTags("Ledger").RequireAuthorization(Permissions.Finance).MapGet("/verify", Verify)
            .WithName("VerifyLedger").WithSummary("Verify the whole ledger: balances equal their postings, entries balance");
        return app;
    }

    /// <summary>Committed entries in commit order; <c>after</c> (or <c>cursor</c>) is the last sequence number seen.</summary>
    private static async Task<Results<Ok<ListResponse<LedgerEvent>>, ProblemHttpResult>> GetEvents(
        HttpRequest http, ClaimsPrincipal user, LedgerStore ledger, long? after = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var (cursor, cursorProblem) = paging.SeqCursor();
        if (cursorProblem is not null)
        {
            return cursorProblem;
        }

        if (after < 0)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "after must be zero or a sequence number");
        }

        var page = await ledger.EventsAsync(user.TenantId(), cursor ?? after ?? 0, paging.Limit, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<LedgerEvent>(page.Data, page.NextCursor));
    }

    private static async Task<Ok<VerifyReport>> Verify(LedgerVerifier verifier, CancellationToken cancellationToken) =>
        TypedResults.Ok(await verifier.VerifyAsync(cancellationToken));
}
