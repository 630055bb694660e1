using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Wallet.Grains.Auth;

namespace Wallet.Api.Auth;

/// <summary>
/// What each role may do. Every route belongs to a group that names one permission (its
/// authorization policy, declared once on the group); a caller passes when it holds one of the
/// permission's roles. The README's permission table is this one, route by route.
/// </summary>
public static class Permissions
{
    /// <summary>Read wallets, cards, holds, transfers, entries, authorizations, the fraud rules and the event feed.</summary>
    public const string Read = "read";

    /// <summary>Open and close wallets and cards, move money, hold it, authorize card payments.</summary>
    public const string Transact = "transact";

    /// <summary>Freeze and unfreeze wallets and cards.</summary>
    public const string Freeze = "freeze";

    /// <summary>Upload, read and retry receipts.</summary>
    public const string Receipts = "receipts";

    /// <summary>Reports, compliance screening, reconciliation, the audit trail, ledger verification, and reading the tenant's assets and budgets.</summary>
    public const string Finance = "finance";

    /// <summary>People, API keys, assets, budgets, fraud rules and metrics.</summary>
    public const string Administer = "administer";

    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Roles { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        [Read] = [UserRoles.Operator, UserRoles.Finance, UserRoles.Support, UserRoles.Client],
        [Transact] = [UserRoles.Operator, UserRoles.Client],
        [Freeze] = [UserRoles.Operator, UserRoles.Support, UserRoles.Client],
        [Receipts] = [UserRoles.Operator, UserRoles.Finance, UserRoles.Client],
        [Finance] = [UserRoles.Operator, UserRoles.Finance],
        [Administer] = [UserRoles.Operator],
    };

    /// <summary>One policy per permission.</summary>
    public static AuthorizationBuilder AddPermissionPolicies(this AuthorizationBuilder builder)
    {
        foreach (var (permission, roles) in Roles)
        {
            builder.AddPolicy(permission, policy => policy.RequireAuthenticatedUser().AddRequirements(new RoleRequirement(permission, roles)));
        }

        return builder;
    }

    /// <summary>Why a caller was refused the route it asked for, naming the roles that may use it.</summary>
    public static string ForbiddenDetail(HttpContext http)
    {
        var permission = http.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>()
            .Select(a => a.Policy).LastOrDefault(p => p is not null && Roles.ContainsKey(p));
        if (permission is null)
        {
            return "this caller may not use this route";
        }

        var roles = Roles[permission];
        var detail = $"this route needs the permission '{permission}', held by the roles {string.Join(", ", roles)}";
        return http.User.IsInRole(UserRoles.Operator) && RoleHandler.IsPerson(http.User) && !RoleHandler.GaveSecondFactor(http.User)
            ? detail + "; a person acts as an operator only after signing in with a second factor"
            : detail;
    }
}

/// <summary>The caller holds one of <see cref="Roles"/>.</summary>
public sealed record RoleRequirement(string Permission, IReadOnlyList<string> Roles) : IAuthorizationRequirement;

/// <summary>
/// Passes a caller holding one of the permission's roles. A person's <c>operator</c> role counts only
/// after a sign-in that gave a second factor when <see cref="AuthOptions.RequireMfaForOperators"/>
/// says so (by default everywhere but Development). API keys are services' credentials: their role counts as it is.
/// </summary>
public sealed class RoleHandler(IOptions<AuthOptions> options, IHostEnvironment environment) : AuthorizationHandler<RoleRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RoleRequirement requirement)
    {
        var user = context.User;
        var operatorCounts = !IsPerson(user) || GaveSecondFactor(user) || !options.Value.OperatorsNeedMfa(environment);
        if (requirement.Roles.Any(role => user.IsInRole(role) && (role != UserRoles.Operator || operatorCounts)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }

    internal static bool IsPerson(ClaimsPrincipal user) => user.FindFirst(AccessTokens.SubjectClaim) is not null;

    internal static bool GaveSecondFactor(ClaimsPrincipal user) => user.HasClaim(AccessTokens.MethodsClaim, AccessTokens.MultiFactorMethod);
}
