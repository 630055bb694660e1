using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Api.Auth;

/// <summary>Tokens for a person who signed in: a short-lived access token and the refresh token that renews it.</summary>
public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

/// <summary>A right password from a person with a second factor: the token to give with its code.</summary>
public sealed record MfaChallengeResponse(bool MfaRequired, string MfaToken, int ExpiresIn);

/// <summary>A second factor being enrolled: the secret (base32) for an authenticator app, as a URI and as a QR code picture.</summary>
public sealed record MfaEnrollmentResponse(string Secret, string OtpauthUri, string QrPng);

/// <summary>A second factor confirmed, with the ten recovery codes shown this once.</summary>
public sealed record MfaEnabledResponse(bool MfaEnabled, IReadOnlyList<string> RecoveryCodes);

public sealed record MfaLoginRequest(string MfaToken, string Code);

public sealed record MfaCodeRequest(string Code);

/// <summary>A person just invited, with the invitation token shown this once.</summary>
public sealed record InvitedUserResponse(
    string Id, string TenantId, string Email, IReadOnlyList<string> Roles, string Status, string InvitationToken, DateTimeOffset InvitationExpiresAt,
    DateTimeOffset CreatedAt);

/// <summary>Who a request acts as: a person (by token) or an API key.</summary>
public sealed record MeResponse(string Kind, string TenantId, IReadOnlyList<string> Roles, string? Id, string? Email);

/// <summary>What self-registration answers, whether or not the email had an account already.</summary>
public sealed record RegisteredResponse(string Status);

public sealed record InviteUserRequest(string Email, IReadOnlyList<string> Roles);

public sealed record ChangeRolesRequest(IReadOnlyList<string> Roles);

public sealed record AcceptInvitationRequest(string InvitationToken, string Password);

public sealed record LoginRequest(string Email, string Password);

public sealed record RefreshRequest(string RefreshToken);

public sealed record RegisterRequest(string Email, string Password);

/// <summary>
/// People: invited by an operator, they set a password and sign in for a short-lived access token
/// (a JWT the API takes as a bearer token, as it takes API keys) and a refresh token that rotates on
/// every use. No answer says whether an email has an account; repeated failures lock it for a
/// while; every sign-in, failure, lockout and sign-out is in the audit trail.
/// </summary>
public static class AuthEndpoints
{
    public const int EmailLengthMax = 254;

    public static IEndpointRouteBuilder MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/v1/users").WithTags("Users").RequireAuthorization(Permissions.Administer);
        users.MapPost("", Invite).Accepts<InviteUserRequest>("application/json").Produces<InvitedUserResponse>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.UserExists).WithMetadata(new OpenApiContract.WithoutIdempotencyKey())
            .WithName("InviteUser").WithSummary("Invite a person into the tenant with roles; the invitation token is shown once");
        users.MapGet("", ListUsers).Paged().Produces<ListResponse<UserView>>()
            .WithName("ListUsers").WithSummary("List the tenant's people, newest first");
        users.MapPatch("{id}", ChangeRoles).Accepts<ChangeRolesRequest>("application/json").Produces<UserView>().Refuses(LedgerErrors.UserNotFound)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey())
            .WithName("ChangeUserRoles").WithSummary("Give a person of the tenant other roles: their next refresh carries them");

        var auth = app.MapGroup("/v1/auth").WithTags("Sign-in").AllowAnonymous().WithMetadata(new OpenApiContract.WithoutIdempotencyKey())
            .RequireRateLimiting(RateLimits.SignInPolicy);
        auth.MapPost("/invitations/accept", AcceptInvitation).Accepts<AcceptInvitationRequest>("application/json").Produces<UserView>()
            .Refuses(LedgerErrors.InvitationInvalid, LedgerErrors.PasswordRejected)
            .WithName("AcceptInvitation").WithSummary("Set the password of an invited person");
        auth.MapPost("/register", Register).Accepts<RegisterRequest>("application/json").Produces<RegisteredResponse>(StatusCodes.Status202Accepted)
            .Refuses(LedgerErrors.RegistrationClosed, LedgerErrors.PasswordRejected)
            .WithName("Register").WithSummary("Register oneself as a client of the configured tenant, where that is open");
        auth.MapPost("/login", Login).Accepts<LoginRequest>("application/json").Produces<TokenResponse>()
            .Produces<MfaChallengeResponse>(StatusCodes.Status202Accepted).Refuses(LedgerErrors.InvalidCredentials)
            .WithName("Login").WithSummary("Sign in with email and password (202 with an mfa_token when a second factor is due)");
        auth.MapPost("/login/mfa", LoginMfa).Accepts<MfaLoginRequest>("application/json").Produces<TokenResponse>().Refuses(LedgerErrors.InvalidCredentials)
            .WithName("LoginMfa").WithSummary("Finish signing in with a code from the authenticator app, or a recovery code");
        auth.MapPost("/refresh", Refresh).Accepts<RefreshRequest>("application/json").Produces<TokenResponse>().Refuses(LedgerErrors.InvalidToken)
            .WithName("RefreshToken").WithSummary("Trade a refresh token for new tokens (each refresh token renews once)");
        auth.MapPost("/logout", Logout).Accepts<RefreshRequest>("application/json").Produces(StatusCodes.Status204NoContent)
            .WithName("Logout").WithSummary("Sign out: the refresh token's family renews no more");
        app.MapGet("/v1/auth/me", Me).WithTags("Sign-in").RequireAuthorization().Produces<MeResponse>()
            .WithName("Me").WithSummary("Who this request acts as");
        var mfa = app.MapGroup("/v1/auth/mfa").WithTags("Sign-in").RequireAuthorization().WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        mfa.MapPost("/enable", EnableMfa).Produces<MfaEnrollmentResponse>().Refuses(LedgerErrors.MfaEnabled)
            .WithName("EnableMfa").WithSummary("Begin enrolling a second factor: a TOTP secret for an authenticator app");
        mfa.MapPost("/verify", VerifyMfa).Accepts<MfaCodeRequest>("application/json").Produces<MfaEnabledResponse>()
            .Refuses(LedgerErrors.InvalidCode, LedgerErrors.MfaNotEnrolling)
            .WithName("VerifyMfa").WithSummary("Confirm the second factor with a first code; answers the recovery codes, once");
        return app;
    }

    private static async Task<IResult> Invite(HttpRequest http, ClaimsPrincipal user, UserStore users, IOptions<AuthOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var email = ReadEmail(body);
        var roles = ReadRoles(body);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        var invitation = UserStore.NewToken("winv_");
        var expiresAt = now.AddDays(options.Value.InvitationDays);
        var (outcome, invited) = await users.InviteAsync(user.TenantId(), email!, roles!, invitation, expiresAt, now, Actor(user),
            http.HttpContext.RequestAborted);
        return outcome == InviteOutcome.EmailTaken
            ? Problems.Create(LedgerErrors.UserExists, $"{email} has an account already")
            : JsonBodyResult.From(StatusCodes.Status201Created, new InvitedUserResponse(
                invited!.Id, invited.TenantId, invited.Email, invited.Roles, invited.Status, invitation, expiresAt, invited.CreatedAt));
    }

    private static async Task<IResult> ChangeRoles(string id, HttpRequest http, ClaimsPrincipal user, UserStore users, RevokedCredentials revocations, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var roles = ReadRoles(body);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (await users.ChangeRolesAsync(user.TenantId(), id, roles!, Actor(user), LedgerTime.Truncate(clock.GetUtcNow()), http.HttpContext.RequestAborted)
            is not { } changed)
        {
            return Problems.Create(LedgerErrors.UserNotFound, $"user {id} not found");
        }

        // A dashboard session this person opened is looked up again (as an operator, or no longer).
        revocations.Publish(CredentialRevocations.User(id));
        return TypedResults.Ok(changed);
    }

    /// <summary><c>roles</c>: one or more of <see cref="UserRoles.All"/>, each once.</summary>
    private static List<string>? ReadRoles(JsonRequest body)
    {
        var roles = body.Strings("roles", UserRoles.All.Count, 20);
        if (roles is null)
        {
            body.Fail("roles is required: one or more of " + string.Join(", ", UserRoles.All));
        }
        else if (roles.FirstOrDefault(r => !UserRoles.All.Contains(r)) is { } unknown)
        {
            body.Fail($"role {unknown} is not one of {string.Join(", ", UserRoles.All)}");
        }

        return roles?.Distinct().ToList();
    }

    private static Task<IResult> ListUsers(HttpRequest http, ClaimsPrincipal user, UserStore users) =>
        Paging.ListAsync(http, (limit, cursor, ct) => users.ListAsync(user.TenantId(), limit, cursor, ct));

    private static async Task<IResult> AcceptInvitation(HttpRequest http, UserStore users, PasswordPolicy policy, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var invitation = body.String("invitation_token", required: true, 100);
        var password = body.RawString("password");
        if (password is null)
        {
            body.Fail("password is required");
        }

        if (body.Problem is not null)
        {
            return body.Problem;
        }

        // The email the invitation is for is known only once it is found; the policy's email rule is checked against what the password is not.
        if (policy.Check(password!, "") is { } why)
        {
            return Problems.Create(LedgerErrors.PasswordRejected, why);
        }

        var accepted = await users.AcceptInvitationAsync(invitation!, new PasswordHasher<UserView>().HashPassword(null!, password!),
            LedgerTime.Truncate(clock.GetUtcNow()), http.HttpContext.RequestAborted);
        return accepted is null
            ? Problems.Create(LedgerErrors.InvitationInvalid, "the invitation is not valid: unknown, used already, or expired")
            : TypedResults.Ok(accepted);
    }

    private static async Task<IResult> Register(HttpRequest http, UserStore users, PasswordPolicy policy, IOptions<AuthOptions> options, TimeProvider clock)
    {
        if (options.Value.SelfRegistrationTenant is not { Length: > 0 } tenant)
        {
            return Problems.Create(LedgerErrors.RegistrationClosed, "registration is closed here: ask an operator for an invitation");
        }

        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var (email, password) = ReadCredentials(body);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (policy.Check(password!, email!) is { } why)
        {
            return Problems.Create(LedgerErrors.PasswordRejected, why);
        }

        // The same answer whether the email was new or not: registering says nothing of who has an account.
        await users.RegisterAsync(tenant, email!, new PasswordHasher<UserView>().HashPassword(null!, password!), LedgerTime.Truncate(clock.GetUtcNow()),
            http.HttpContext.RequestAborted);
        return JsonBodyResult.From(StatusCodes.Status202Accepted, new RegisteredResponse("if this email had no account, it has one now: sign in"));
    }

    private static async Task<IResult> Login(HttpRequest http, PersonSignIn signIn, UserStore users, AccessTokens tokens, IOptions<AuthOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var (email, password) = ReadCredentials(body);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var check = await signIn.PasswordAsync(email!, password!, http.HttpContext.RequestAborted);
        return check.Step switch
        {
            // The password is right; the sign-in is not done until the second factor is given.
            SignInStep.NeedsCode => JsonBodyResult.From(StatusCodes.Status202Accepted,
                new MfaChallengeResponse(true, tokens.IssueMfaChallenge(check.User!), (int)tokens.MfaLifetime.TotalSeconds)),
            SignInStep.Passed => await IssueAsync(check.User!, users, tokens, options.Value, LedgerTime.Truncate(clock.GetUtcNow()), signIn: true,
                multiFactor: false, refreshed: null, http.HttpContext.RequestAborted),
            _ => await RefusedAsync(http, check),
        };
    }

    private static async Task<IResult> LoginMfa(HttpRequest http, PersonSignIn signIn, UserStore users, AccessTokens tokens, IOptions<AuthOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var challenge = body.String("mfa_token", required: true, 2000);
        var code = body.String("code", required: true, 40);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (await tokens.ReadMfaChallengeAsync(challenge!) is not { } userId)
        {
            return InvalidCredentials();
        }

        var check = await signIn.CodeAsync(userId, code!, http.HttpContext.RequestAborted);
        return check.Step == SignInStep.Passed
            ? await IssueAsync(check.User!, users, tokens, options.Value, LedgerTime.Truncate(clock.GetUtcNow()), signIn: true, multiFactor: true,
                refreshed: null, http.HttpContext.RequestAborted)
            : await RefusedAsync(http, check);
    }

    /// <summary>A sign-in step that did not pass: 429 past the account's attempts, else the one answer for every wrong credential.</summary>
    private static async Task<IResult> RefusedAsync(HttpRequest http, SignInCheck check)
    {
        if (check.Step != SignInStep.Limited)
        {
            return InvalidCredentials();
        }

        await RateLimits.RejectAsync(http.HttpContext, check.RetryAfter);
        return Results.Empty;
    }

    private static async Task<IResult> EnableMfa(
        HttpRequest http, ClaimsPrincipal principal, UserStore users, MfaStore mfa, MfaSecrets secrets, IOptions<AuthOptions> options, TimeProvider clock)
    {
        var cancellationToken = http.HttpContext.RequestAborted;
        if (await PersonAsync(principal, users, cancellationToken) is not { } user)
        {
            return NotAPerson();
        }

        if ((await mfa.FindMfaAsync(user.Id, cancellationToken))?.Secret is not null)
        {
            return Problems.Create(LedgerErrors.MfaEnabled, "a second factor is enabled already");
        }

        var secret = Mfa.NewSecret();
        await mfa.EnrollMfaAsync(user, secrets.Seal(user.Id, secret), LedgerTime.Truncate(clock.GetUtcNow()), cancellationToken);
        var (text, uri) = Mfa.Describe(secret, options.Value.MfaIssuerName, user.Email);
        return TypedResults.Ok(new MfaEnrollmentResponse(text, uri, Mfa.QrPng(uri)));
    }

    private static async Task<IResult> VerifyMfa(HttpRequest http, ClaimsPrincipal principal, UserStore users, MfaStore mfa, MfaSecrets secrets, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var code = body.String("code", required: true, 10);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var cancellationToken = http.HttpContext.RequestAborted;
        if (await PersonAsync(principal, users, cancellationToken) is not { } user)
        {
            return NotAPerson();
        }

        if ((await mfa.FindMfaAsync(user.Id, cancellationToken))?.PendingSecret is not { } pending)
        {
            return Problems.Create(LedgerErrors.MfaNotEnrolling, "no second factor is being enrolled: POST /v1/auth/mfa/enable first");
        }

        if (!Mfa.TryStep(secrets.Open(user.Id, pending), code!, clock, out var step))
        {
            return Problems.Create(LedgerErrors.InvalidCode, "that is not the code the authenticator shows now");
        }

        var recoveryCodes = Mfa.NewRecoveryCodes();
        return await mfa.ConfirmMfaAsync(user, pending, step, recoveryCodes.Select(Mfa.RecoveryHash).ToList(), LedgerTime.Truncate(clock.GetUtcNow()), cancellationToken)
            ? TypedResults.Ok(new MfaEnabledResponse(true, recoveryCodes))
            : Problems.Create(LedgerErrors.MfaNotEnrolling, "the second factor being enrolled changed meanwhile: enable it again");
    }

    private static IResult NotAPerson() =>
        Problems.Create(LedgerErrors.Forbidden, "a second factor is a person's: sign in with email and password, not an API key");

    private static async Task<UserView?> PersonAsync(ClaimsPrincipal principal, UserStore users, CancellationToken cancellationToken) =>
        principal.FindFirst(AccessTokens.SubjectClaim) is { } subject ? await users.FindAsync(subject.Value, cancellationToken) : null;

    private static async Task<IResult> Refresh(HttpRequest http, UserStore users, AccessTokens tokens, IOptions<AuthOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var token = body.String("refresh_token", required: true, 100);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        return await IssueAsync(null, users, tokens, options.Value, now, signIn: false, multiFactor: false, refreshed: token, http.HttpContext.RequestAborted);
    }

    private static async Task<IResult> Logout(HttpRequest http, UserStore users, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var token = body.String("refresh_token", required: true, 100);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        // Signed out either way: an unknown or spent token has nothing left to revoke.
        await users.SignOutAsync(token!, LedgerTime.Truncate(clock.GetUtcNow()), http.HttpContext.RequestAborted);
        return TypedResults.NoContent();
    }

    private static IResult Me(ClaimsPrincipal user)
    {
        var roles = user.Claims.Where(c => c.Type is AccessTokens.RoleClaim or ClaimTypes.Role).Select(c => c.Value).ToList();
        return user.FindFirst(AccessTokens.SubjectClaim) is { } subject
            ? TypedResults.Ok(new MeResponse("user", user.TenantId(), roles, subject.Value, user.FindFirst(AccessTokens.EmailClaim)?.Value))
            : TypedResults.Ok(new MeResponse("api_key", user.TenantId(), roles, null, null));
    }

    /// <summary>New tokens: after a sign-in (a new refresh family), or in exchange for <paramref name="refreshed"/> (the same family).</summary>
    private static async Task<IResult> IssueAsync(
        UserView? user, UserStore users, AccessTokens tokens, AuthOptions options, DateTimeOffset now, bool signIn, bool multiFactor, string? refreshed,
        CancellationToken cancellationToken)
    {
        var refresh = UserStore.NewToken("wrt_");
        var refreshLifetime = TimeSpan.FromDays(options.RefreshTokenDays);
        if (signIn)
        {
            await users.SignedInAsync(user!, multiFactor, refresh, now + refreshLifetime, now, cancellationToken);
        }
        else
        {
            (var outcome, user, multiFactor) = await users.RefreshAsync(refreshed!, refresh, now + refreshLifetime, now, cancellationToken);
            if (outcome != RefreshOutcome.Renewed)
            {
                return Problems.Create(LedgerErrors.InvalidToken, outcome == RefreshOutcome.Reused
                    ? "that refresh token was used before: every token of its sign-in is revoked; sign in again"
                    : "the refresh token is not valid: unknown, revoked or expired; sign in again");
            }
        }

        return TypedResults.Ok(new TokenResponse(tokens.Issue(user!, multiFactor), "Bearer", (int)tokens.Lifetime.TotalSeconds, refresh, (int)refreshLifetime.TotalSeconds));
    }

    private static IResult InvalidCredentials() =>
        Problems.Create(LedgerErrors.InvalidCredentials, "the email or the password is wrong, or the account is locked for a while after failed attempts");

    /// <summary>The email and the password a sign-in or registration body carries (its problem set when either is missing).</summary>
    private static (string? Email, string? Password) ReadCredentials(JsonRequest body)
    {
        var email = ReadEmail(body);
        var password = body.RawString("password");
        if (password is null)
        {
            body.Fail("password is required");
        }

        return (email, password);
    }

    private static string? ReadEmail(JsonRequest body)
    {
        var email = body.String("email", required: true, EmailLengthMax) is { } typed ? PersonSignIn.NormalizeEmail(typed) : null;
        if (email is not null && (email.IndexOf('@', StringComparison.Ordinal) is < 1 || email.EndsWith('@') || email.Any(char.IsWhiteSpace)))
        {
            body.Fail("email must be an email address");
        }

        return email;
    }

    /// <summary>Who did it, as the audit trail names them: a person by id, or an API key (never the key itself).</summary>
    public static string Actor(ClaimsPrincipal user) =>
        user.FindFirst(AccessTokens.SubjectClaim) is { } subject ? UserStore.Actor(subject.Value)
        : $"api_key:{user.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value ?? "unknown"}";
}
