using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reports;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Accounts;

public sealed record CreateAccountRequest(string Name, string Type, string Asset);

/// <summary>
/// The tenant's chart of accounts: the built-in system accounts, and the custom ones an operator
/// adds (<c>@marketing</c>, an expense; <c>@escrow</c>, a liability), each in one asset. A custom
/// account is a system account like the others: transfers, entries and holds name it, and the
/// reports show it under its type.
/// </summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var administer = app.MapGroup("/v1/accounts").WithTags("Accounts").RequireAuthorization(Permissions.Administer)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        var read = app.MapGroup("/v1/accounts").WithTags("Accounts").RequireAuthorization(Permissions.Read);
        administer.MapPost("", CreateAsync).Accepts<CreateAccountRequest>("application/json").Produces<AccountView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.UnknownCurrency, LedgerErrors.AccountExists).WithName("CreateAccount")
            .WithSummary("Add a custom system account of a type (asset, liability, equity, income, expense or clearing) in one asset. Audited");
        read.MapGet("", ListAsync).Produces<ListResponse<AccountView>>()
            .WithName("ListAccounts").WithSummary("The chart of accounts: the built-in system accounts and the tenant's own, with their types");
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpRequest http, ClaimsPrincipal user, CustomAccounts accounts, CurrencyCatalog currencies, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var name = body.String("name", required: true, SystemAccounts.CustomNameLengthMax + 1)?.TrimStart('@');
        var type = body.String("type", required: true, 20);
        var asset = body.String("asset", required: true, 12)?.ToUpperInvariant();
        if (name is not null && !SystemAccounts.IsBuiltIn(name) && !SystemAccounts.IsCustomName(name))
        {
            body.Fail($"name must be 2 to {SystemAccounts.CustomNameLengthMax} lower-case letters, digits and underscores, starting with a letter");
        }

        if (type is not null && !AccountTypes.Custom.Contains(type))
        {
            body.Fail($"type must be one of {string.Join(", ", AccountTypes.Custom)}");
        }

        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (SystemAccounts.IsBuiltIn(name!))
        {
            return Problems.Create(LedgerErrors.AccountExists, $"@{name} is a built-in account");
        }

        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        if (await currencies.FindAsync(tenantId, asset, ct) is not { } currency)
        {
            return Problems.For(CurrencyCatalog.Unknown(asset!));
        }

        return await accounts.CreateAsync(tenantId, name!, type!, currency, AuthEndpoints.Actor(user), LedgerTime.Truncate(clock.GetUtcNow()), ct) is { } created
            ? JsonBodyResult.From(StatusCodes.Status201Created, created)
            : Problems.Create(LedgerErrors.AccountExists, $"@{name} exists already in {currency.Code}");
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, CustomAccounts accounts, HttpRequest http) =>
        TypedResults.Ok(new ListResponse<AccountView>(await accounts.ListAsync(user.TenantId(), http.HttpContext.RequestAborted), null));
}
