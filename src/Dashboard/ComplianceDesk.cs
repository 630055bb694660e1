using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans;
using Wallet.Api.Compliance;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Compliance;

namespace Wallet.Dashboard;

/// <summary>The compliance page's figures: the review queue (oldest first) and the newest rescreening jobs.</summary>
public sealed record ComplianceDeskFigures(IReadOnlyList<ScreeningView> Reviews, bool MoreReviews, IReadOnlyList<ComplianceJobView> Jobs);

/// <summary>
/// The compliance page, for the signed-in operator's tenant: the potential matches and matches
/// waiting for a decision, resolved from the page itself (cleared or confirmed, with a note), and
/// the latest rescreenings.
/// </summary>
public static class ComplianceDesk
{
    public const int ReviewsMax = 200;
    public const int JobsMax = 10;

    public static async Task<Ok<ComplianceDeskFigures>> ReadAsync(ClaimsPrincipal user, ComplianceStore screenings, ComplianceJobStore jobs, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var reviews = await screenings.OpenAsync(tenantId, ReviewsMax, null, ct);
        var latest = await jobs.ListAsync(tenantId, JobsMax, null, ct);
        return TypedResults.Ok(new ComplianceDeskFigures(reviews.Data, reviews.NextCursor is not null, latest.Data));
    }

    public static async Task<IResult> ResolveAsync(
        string id, HttpRequest request, ClaimsPrincipal user, ComplianceStore screenings, IClusterClient client, TimeProvider clock)
    {
        if (!DashboardEndpoints.SameOrigin(request))
        {
            return Problems.Create(LedgerErrors.Forbidden, "a resolution must be made from this dashboard's own page");
        }

        return await ComplianceEndpoints.Resolve(id, request, user, screenings, client, clock);
    }
}
