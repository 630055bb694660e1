using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;

namespace Wallet.Api.Assets;

public sealed record DeclareAssetRequest(string Code, int Scale, string? Name = null);

/// <summary>
/// A tenant's custom assets (gold by the gram, loyalty points): an operator declares each with its
/// scale, once, and its wallets may then hold it. ISO 4217 currencies need no declaration.
/// </summary>
public static class AssetEndpoints
{
    public const int NameLengthMax = 100;

    public static IEndpointRouteBuilder MapAssetEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/assets").WithTags("Assets").RequireAuthorization(Permissions.Administer);
        var read = app.MapGroup("/v1/assets").WithTags("Assets").RequireAuthorization(Permissions.Finance);
        group.MapPost("", DeclareAsset).Accepts<DeclareAssetRequest>("application/json")
            .Produces<AssetView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.AssetExists)
            .WithName("DeclareAsset").WithSummary("Declare a custom asset for the tenant");
        read.MapGet("", ListAssets).Produces<ListResponse<AssetView>>()
            .Paged().WithName("ListAssets").WithSummary("List the tenant's custom assets");
        return app;
    }

    private static async Task<IResult> DeclareAsset(HttpRequest http, ClaimsPrincipal user, AssetStore assets, CurrencyCatalog currencies, IdempotencyStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var code = body.String("code", required: true, lengthMax: CurrencyCatalog.CodeLengthMax);
        var scale = body.Integer("scale", 0, Amount.ScaleMax);
        var name = body.String("name", required: false, NameLengthMax);
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        var invalid = (IResult?)body.Problem ?? keyProblem;
        if (invalid is not null)
        {
            return invalid;
        }

        if (scale is null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "scale is required");
        }

        if (!CurrencyCatalog.IsCode(code!))
        {
            return Problems.Create(LedgerErrors.ValidationFailed,
                $"code must be {CurrencyCatalog.CodeLengthMin} to {CurrencyCatalog.CodeLengthMax} capital letters or digits, the first a letter (GOLD, POINTS2)");
        }

        if (name is { Length: 0 })
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "name, when given, may not be empty");
        }

        if (currencies.TryGet(code, out var known))
        {
            return Problems.Create(LedgerErrors.AssetExists, Iso4217.All.ContainsKey(code!)
                ? $"{code} is an ISO 4217 currency: wallets may hold it without a declaration"
                : $"{code} is configured for every tenant with scale {known.Scale}");
        }

        var tenantId = user.TenantId();
        var asset = new AssetView(code!, (int)scale, name, AssetView.Declared, LedgerTime.Truncate(clock.GetUtcNow()));
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var declared = await assets.DeclareAsync(tenantId, asset, idempotency, StoredAnswers.Created(asset), http.HttpContext.RequestAborted);
            return declared switch
            {
                AssetDeclaration.Declared => JsonBodyResult.From(StatusCodes.Status201Created, asset),
                AssetDeclaration.IdempotencyKeyExists => Idempotency.KeyExistsResult.Instance,
                _ => await TakenAsync(assets, tenantId, asset.Code, http.HttpContext.RequestAborted),
            };
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<IResult> TakenAsync(AssetStore assets, string tenantId, string code, CancellationToken cancellationToken)
    {
        var existing = await assets.FindAsync(tenantId, code, cancellationToken);
        return Problems.Create(LedgerErrors.AssetExists, existing is null
            ? $"{code} is declared already"
            : $"{code} is declared already, with scale {existing.Scale}; an asset is never changed once declared");
    }

    /// <summary>
    /// The configured assets and the tenant's declared ones, in one list ordered by code; the cursor
    /// is the last code of the page before.
    /// </summary>
    private static async Task<IResult> ListAssets(HttpRequest http, ClaimsPrincipal user, AssetStore assets, CurrencyCatalog currencies)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var after = paging.Cursor;
        if (after is not null && !CurrencyCatalog.IsCode(after) && !currencies.Configured.Any(a => a.Code == after))
        {
            return Paging.InvalidCursor();
        }

        // One more than the page, from each source, tells whether another page follows.
        var declared = await assets.ListAsync(
            user.TenantId(), after, [.. currencies.Configured.Select(a => a.Code)], paging.Limit + 1, http.HttpContext.RequestAborted);
        var all = currencies.Configured.Where(a => after is null || string.CompareOrdinal(a.Code, after) > 0)
            .Concat(declared).OrderBy(a => a.Code, StringComparer.Ordinal).Take(paging.Limit + 1).ToList();
        var more = all.Count > paging.Limit;
        var page = more ? all[..paging.Limit] : all;
        return TypedResults.Ok(new ListResponse<AssetView>(page, more ? page[^1].Code : null));
    }
}
