using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Cards;

namespace Wallet.Api.Cards;

/// <summary>The body of <c>PUT /v1/fraud-rules</c>: the rules replace the tenant's, and a rule left out takes its default.</summary>
public sealed record ReplaceFraudRulesRequest(
    string? MaxAmount = null,
    IReadOnlyList<string>? MerchantBlacklist = null,
    int? VelocityPerMinute = null,
    IReadOnlyList<string>? BlockedCountries = null,
    IReadOnlyList<string>? ReviewCountries = null,
    IReadOnlyList<string>? BlockedCategories = null,
    IReadOnlyList<string>? ReviewCategories = null);

/// <summary>The tenant's fraud rules: every role of the tenant reads them, an operator replaces them.</summary>
public static class FraudRuleEndpoints
{
    public static IEndpointRouteBuilder MapFraudRuleEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/fraud-rules").WithTags("Fraud rules").RequireAuthorization(Permissions.Administer);
        var read = app.MapGroup("/v1/fraud-rules").WithTags("Fraud rules").RequireAuthorization(Permissions.Read);
        read.MapGet("", GetRules)
            .WithName("GetFraudRules").WithSummary("Get the tenant's fraud rules");
        group.MapPut("", PutRules).Accepts<ReplaceFraudRulesRequest>("application/json").Produces<FraudRulesView>()
            .WithName("ReplaceFraudRules").WithSummary("Replace the tenant's fraud rules");
        return app;
    }

    private static async Task<Ok<FraudRulesView>> GetRules(ClaimsPrincipal user, FraudRuleStore rules, CancellationToken cancellationToken) =>
        TypedResults.Ok(await rules.GetAsync(user.TenantId(), cancellationToken));

    private static async Task<IResult> PutRules(HttpRequest http, ClaimsPrincipal user, FraudRuleStore rules)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var fields = new[] { "max_amount", "merchant_blacklist", "velocity_per_minute", "blocked_countries", "review_countries", "blocked_categories", "review_categories" };
        var unknown = body.Fields.FirstOrDefault(f => !fields.Contains(f));
        if (unknown is not null)
        {
            body.Fail($"'{unknown}' is not a fraud rule; use {string.Join(", ", fields)}");
        }

        // A PUT replaces the rules: a field left out takes its default.
        var defaults = FraudRules.Default;
        var requested = new FraudRules(
            body.AmountText("max_amount", required: false) ?? defaults.MaxAmount,
            body.Strings("merchant_blacklist", countMax: 1_000) ?? defaults.MerchantBlacklist,
            (int)(body.Integer("velocity_per_minute", 1, FraudRules.VelocityPerMinuteMax) ?? defaults.VelocityPerMinute),
            body.Strings("blocked_countries", countMax: 300, lengthMax: 2) ?? defaults.BlockedCountries,
            body.Strings("review_countries", countMax: 300, lengthMax: 2) ?? defaults.ReviewCountries,
            body.Strings("blocked_categories", countMax: 1_000) ?? defaults.BlockedCategories,
            body.Strings("review_categories", countMax: 1_000) ?? defaults.ReviewCategories);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var (saved, invalid) = await rules.SaveAsync(user.TenantId(), requested, AuthEndpoints.Actor(user), http.HttpContext.RequestAborted);
        return saved is null ? Problems.Create(LedgerErrors.ValidationFailed, invalid!) : TypedResults.Ok(saved);
    }
}
