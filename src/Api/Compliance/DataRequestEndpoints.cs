using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Compliance;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Compliance;

public sealed record DataRequestRequest(string OwnerId, string Kind);

/// <summary>
/// Data subject requests (finance and operators), about a wallet owner known by the <c>owner_id</c>
/// their wallets carry: an export of every record about them, as a JSON file, or an erasure that
/// pseudonymises their personal fields and leaves every amount and entry as it was.
/// </summary>
public static class DataRequestEndpoints
{
    public static IEndpointRouteBuilder MapDataRequestEndpoints(this IEndpointRouteBuilder app)
    {
        var requests = app.MapGroup("/v1/compliance/data-requests").WithTags("Compliance").RequireAuthorization(Permissions.Finance)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        requests.MapPost("", Create).Accepts<DataRequestRequest>("application/json").Produces<DataRequestView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.OwnerNotFound).WithName("CreateDataRequest")
            .WithSummary("Make a data subject request: export (every record about the owner, downloaded as JSON) or erasure (personal fields pseudonymised). Audited");
        requests.MapGet("{id}", Get).Produces<DataRequestView>().Refuses(LedgerErrors.DataRequestNotFound)
            .WithName("GetDataRequest").WithSummary("Get a data subject request");
        requests.MapGet("{id}/export", Export).Produces<DataExport>(StatusCodes.Status200OK).Refuses(LedgerErrors.DataRequestNotFound)
            .WithName("DownloadDataExport").WithSummary("Download an export request's file: every record about the owner as the ledger holds it now");
        return app;
    }

    private static async Task<IResult> Create(HttpRequest http, ClaimsPrincipal user, DataRequestStore store, IClusterClient client, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var ownerId = body.String("owner_id", required: true);
        var kind = body.String("kind", required: true, 20);
        if (kind is not null and not (DataRequestKinds.Export or DataRequestKinds.Erasure))
        {
            body.Fail("kind must be export or erasure");
        }

        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        var wallets = await store.WalletsOfAsync(tenantId, ownerId!, ct);
        if (wallets.Count == 0)
        {
            return Problems.Create(LedgerErrors.OwnerNotFound, $"no wallet names owner {ownerId}");
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        if (kind == DataRequestKinds.Export)
        {
            var export = await store.RecordExportAsync(tenantId, ownerId!, wallets, AuthEndpoints.Actor(user), now, ct);
            return JsonBodyResult.From(StatusCodes.Status201Created, export, location: $"/v1/compliance/data-requests/{export.Id}");
        }

        var (erasure, cards) = await store.EraseAsync(tenantId, ownerId!, wallets, AuthEndpoints.Actor(user), now, ct);
        // The rows are pseudonymised; the grains that cache them read them again.
        await Task.WhenAll(wallets.Select(id => client.Wallet(id).RefreshCompliance()).Concat(cards.Select(id => client.Card(id).Refresh())));
        return JsonBodyResult.From(StatusCodes.Status201Created, erasure, location: $"/v1/compliance/data-requests/{erasure.Id}");
    }

    private static async Task<IResult> Get(string id, ClaimsPrincipal user, DataRequestStore store, HttpRequest http) =>
        await store.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } request
            ? TypedResults.Ok(request)
            : Problems.Create(LedgerErrors.DataRequestNotFound, $"data request {id} not found");

    private static async Task<IResult> Export(string id, ClaimsPrincipal user, DataRequestStore store, HttpRequest http, TimeProvider clock)
    {
        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        if (await store.FindAsync(tenantId, id, ct) is not { Kind: DataRequestKinds.Export } request)
        {
            return Problems.Create(LedgerErrors.DataRequestNotFound, $"export request {id} not found");
        }

        using var records = JsonDocument.Parse(await store.ExportAsync(tenantId, request.OwnerId, ct));
        var file = new DataExport(request.Id, request.OwnerId, LedgerTime.Truncate(clock.GetUtcNow()), records.RootElement.Clone());
        http.HttpContext.Response.Headers.ContentDisposition = $"attachment; filename=\"{request.Id}.json\"";
        return JsonBodyResult.From(StatusCodes.Status200OK, file);
    }
}

/// <summary>An export's file: every record about the owner, by table, as the ledger holds it when downloaded.</summary>
public sealed record DataExport(string RequestId, string OwnerId, DateTimeOffset ExportedAt, JsonElement Records);
