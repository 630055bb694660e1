using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Wallet.Api.Infrastructure;
using Wallet.Api.Reconciliation;
using Wallet.Grains;
using Wallet.Grains.Reconciliation;

namespace Wallet.Dashboard;

/// <summary>A run as the reconciliation page lists it: with its source's name and, once completed, its summary.</summary>
public sealed record ReconDeskRun(ReconRunView Run, string SourceName, ReconSummary? Summary);

/// <summary>The reconciliation page's list: the operator's tenant's newest runs.</summary>
public sealed record ReconDeskFigures(IReadOnlyList<ReconDeskRun> Runs);

/// <summary>One run on the reconciliation page: its summary and what it left unmatched, with the decisions taken since.</summary>
public sealed record ReconDeskRunDetail(ReconDeskRun Run, IReadOnlyList<ReconItemView> Unmatched, bool MoreUnmatched);

/// <summary>
/// The reconciliation page, for the signed-in operator's tenant: the newest runs with their
/// summaries, one run's unmatched items, and resolving them (a manual match or a write-off, with a
/// note) from the page itself.
/// </summary>
public static class ReconciliationDesk
{
    public const int RunsMax = 20;
    public const int UnmatchedMax = 200;

    public static async Task<Ok<ReconDeskFigures>> ReadAsync(ClaimsPrincipal user, ReconRunStore runs, ReconStore sources, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var listed = new List<ReconDeskRun>();
        foreach (var run in (await runs.ListRunsAsync(tenantId, null, RunsMax, null, ct)).Data)
        {
            listed.Add(await DescribeAsync(tenantId, run, runs, sources, names, ct));
        }

        return TypedResults.Ok(new ReconDeskFigures(listed));
    }

    public static async Task<IResult> RunAsync(string id, ClaimsPrincipal user, ReconRunStore runs, ReconStore sources, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        if (await runs.FindRunAsync(tenantId, id, ct) is not { } run)
        {
            return Problems.Create(LedgerErrors.RunNotFound, $"reconciliation run {id} not found");
        }

        var described = await DescribeAsync(tenantId, run, runs, sources, new Dictionary<string, string>(StringComparer.Ordinal), ct);
        var unmatched = run.Status == ReconRunStatuses.Completed
            ? await runs.ListItemsAsync(tenantId, id, matched: false, side: null, UnmatchedMax, 0, ct)
            : new Wallet.Grains.Storage.Page<ReconItemView>([], null);
        return TypedResults.Ok(new ReconDeskRunDetail(described, unmatched.Data, unmatched.NextCursor is not null));
    }

    public static async Task<IResult> ResolveAsync(string id, HttpRequest request, ClaimsPrincipal user, ReconRunStore runs, TimeProvider clock)
    {
        if (!DashboardEndpoints.SameOrigin(request))
        {
            return Problems.Create(LedgerErrors.Forbidden, "a resolution must be made from this dashboard's own page");
        }

        return await ReconRunEndpoints.ResolveAsync(request, user, id, runs, clock);
    }

    private static async Task<ReconDeskRun> DescribeAsync(
        string tenantId, ReconRunView run, ReconRunStore runs, ReconStore sources, Dictionary<string, string> names, CancellationToken ct)
    {
        if (!names.TryGetValue(run.SourceId, out var name))
        {
            names[run.SourceId] = name = (await sources.FindSourceAsync(tenantId, run.SourceId, ct))?.Name ?? run.SourceId;
        }

        var summary = run.Status == ReconRunStatuses.Completed ? (await runs.SummaryAsync(tenantId, run.Id, ct)).Summary : null;
        return new ReconDeskRun(run, name, summary);
    }
}
