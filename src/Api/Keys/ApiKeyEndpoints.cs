using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Api.Keys;

public sealed record CreateApiKeyRequest(string TenantId, string? Role = null, string? Name = null, int? ExpiresInDays = null);

/// <summary>A key just made: the key itself, shown this once, and how it is listed from now on.</summary>
public sealed record ApiKeyResponse(string Key, string Id, string TenantId, string Role, string? Name, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

public static class ApiKeyEndpoints
{
    public const int TenantIdLengthMax = 64;
    public const int NameLengthMax = 100;
    public const int ExpiresInDaysMax = 3650;

    /// <summary>Operators issue keys for tenants (the key is shown once, in this answer), list them and revoke them.</summary>
    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/v1/api-keys").WithTags("API keys").RequireAuthorization(Permissions.Administer);
        keys.MapPost("", CreateApiKey).Accepts<CreateApiKeyRequest>("application/json")
            .Produces<ApiKeyResponse>(StatusCodes.Status201Created)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey())
            .WithName("CreateApiKey").WithSummary("Issue an API key for a tenant, with a name and an expiry if wanted");
        keys.MapGet("", ListApiKeys).Produces<ListResponse<ApiKeyView>>()
            .WithName("ListApiKeys").WithSummary("List a tenant's API keys (the caller's by default), newest first: never the keys themselves");
        keys.MapDelete("{id}", RevokeApiKey).Produces<ApiKeyView>().Refuses(LedgerErrors.ApiKeyNotFound)
            .WithName("RevokeApiKey").WithSummary("Revoke an API key: refused from then on, on every silo and API process");
        return app;
    }

    private static async Task<IResult> CreateApiKey(HttpRequest http, ClaimsPrincipal user, ApiKeyStore keys, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var tenantId = body.String("tenant_id", required: true, TenantIdLengthMax);
        var role = body.String("role", required: false) ?? UserRoles.Client;
        var name = body.String("name", required: false, NameLengthMax);
        var days = body.Integer("expires_in_days", 1, ExpiresInDaysMax);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (!tenantId!.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "tenant_id may hold letters, digits, '-' and '_' only");
        }

        if (!UserRoles.All.Contains(role))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"role must be one of {string.Join(", ", UserRoles.All)}");
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        var (key, view) = await keys.CreateAsync(new ApiKeyIdentity(tenantId!, role), name, days is { } d ? now.AddDays(d) : null, AuthEndpoints.Actor(user), now,
            http.HttpContext.RequestAborted);
        return JsonBodyResult.From(StatusCodes.Status201Created, new ApiKeyResponse(key, view.Id, view.TenantId, view.Role, view.Name, view.ExpiresAt, view.CreatedAt));
    }

    private static async Task<IResult> ListApiKeys(ClaimsPrincipal user, ApiKeyStore keys, HttpRequest http, [FromQuery(Name = "tenant_id")] string? tenantId = null) =>
        TypedResults.Ok(new ListResponse<ApiKeyView>(await keys.ListAsync(tenantId ?? user.TenantId(), http.HttpContext.RequestAborted), null));

    private static async Task<IResult> RevokeApiKey(
        string id, ClaimsPrincipal user, ApiKeyStore keys, RevokedCredentials revocations, TimeProvider clock, HttpRequest http)
    {
        if (await keys.RevokeAsync(id, AuthEndpoints.Actor(user), LedgerTime.Truncate(clock.GetUtcNow()), http.HttpContext.RequestAborted) is not { } revoked)
        {
            return Problems.Create(LedgerErrors.ApiKeyNotFound, $"API key {id} not found");
        }

        // Refused here from this answer on; the other processes hear the notice within moments.
        revocations.Publish(CredentialRevocations.ApiKey(revoked.Id));
        return TypedResults.Ok(revoked);
    }
}
