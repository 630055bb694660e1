using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api.Keys;

public sealed record CreateApiKeyRequest(string TenantId, string? Role = null);

public sealed record ApiKeyResponse(string Key, string TenantId, string Role);

public static class ApiKeyEndpoints
{
    public const int TenantIdLengthMax = 64;

    /// <summary>Operators issue keys for tenants; the key is shown once, in this answer.</summary>
    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/api-keys", CreateApiKey).WithTags("API keys")
            .RequireAuthorization(ApiKeyAuthenticationHandler.OperatorPolicy)
            .Accepts<CreateApiKeyRequest>("application/json")
            .Produces<ApiKeyResponse>(StatusCodes.Status201Created)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey())
            .WithName("CreateApiKey").WithSummary("Issue an API key for a tenant");
        return app;
    }

    private static async Task<IResult> CreateApiKey(HttpRequest http, ApiKeyStore keys)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var tenantId = body.String("tenant_id", required: true, TenantIdLengthMax);
        var role = body.String("role", required: false) ?? ApiKeyRoles.Client;
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (!tenantId!.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "tenant_id may hold letters, digits, '-' and '_' only");
        }

        if (role is not (ApiKeyRoles.Client or ApiKeyRoles.Operator))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "role must be client or operator");
        }

        var key = await keys.CreateAsync(new ApiKeyIdentity(tenantId!, role), http.HttpContext.RequestAborted);
        return JsonBodyResult.From(StatusCodes.Status201Created, new ApiKeyResponse(key, tenantId!, role));
    }
}
