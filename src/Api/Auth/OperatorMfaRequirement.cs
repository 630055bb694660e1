using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Wallet.Api.Auth;

/// <summary>
/// Operator routes, for a person, need a sign-in that gave a second factor when
/// <see cref="AuthOptions.RequireMfaForOperators"/> says so (by default everywhere but Development).
/// API keys are services' credentials, not people's: they pass.
/// </summary>
public sealed class OperatorMfaRequirement : IAuthorizationRequirement;

public sealed class OperatorMfaHandler(IOptions<AuthOptions> options, IHostEnvironment environment) : AuthorizationHandler<OperatorMfaRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, OperatorMfaRequirement requirement)
    {
        var required = options.Value.RequireMfaForOperators ?? !environment.IsDevelopment();
        if (!required || context.User.FindFirst(AccessTokens.SubjectClaim) is null
            || context.User.HasClaim(AccessTokens.MethodsClaim, AccessTokens.MultiFactorMethod))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
