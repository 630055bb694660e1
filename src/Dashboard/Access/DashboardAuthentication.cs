using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Dashboard.Access;

/// <summary>
/// Who may see the dashboard: a browser with a session cookie opened by an operator signing in
/// (email, password and second factor) or by an operator API key, or a client sending
/// <c>Authorization: Bearer &lt;operator key&gt;</c> (scripts, the benchmark). A session is looked
/// up once and kept for <see cref="CacheSeconds"/>, unless it ends before (<see cref="RevokedCredentials"/>).
/// <para>
/// In single-node development, <see cref="DashboardAccess"/> may let requests from this machine in
/// without signing in; nowhere else.
/// </para>
/// </summary>
public sealed class DashboardSessionHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    DashboardSessionStore sessions,
    DashboardAccess access,
    IdentityCache<DashboardSession> cache,
    TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "DashboardSession";
    public const string CookieName = "wallet_dashboard";
    public const string Policy = "dashboard";
    public const string LocalClaim = "dashboard_local";
    private const int CacheSeconds = 10;
    private const int CacheEntriesMax = 1_000;

    /// <summary>
    /// The process's cache of sessions, by token: a notice ends a session closed, or every session of
    /// a key revoked or of a person whose roles changed.
    /// </summary>
    public static IdentityCache<DashboardSession> NewCache() => new(TimeSpan.FromSeconds(CacheSeconds), CacheEntriesMax,
        (revoked, token, session) => revoked == DashboardSessionStore.Revocation(token)
            || (session.KeyId is { } keyId && revoked == CredentialRevocations.ApiKey(keyId))
            || (session.UserId is { } userId && revoked == CredentialRevocations.User(userId)));

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Request.Headers.Authorization.Count > 0)
        {
            return await Context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName);
        }

        if (access.LetsInWithoutSignIn(Context))
        {
            return Success(new DashboardSession(ApiKeyStore.DefaultTenant, UserRoles.Operator, null, null), local: true);
        }

        if (Request.Cookies[CookieName] is not { Length: > 0 } token)
        {
            return AuthenticateResult.NoResult();
        }

        var session = await FindAsync(token);
        return session is null ? AuthenticateResult.Fail("the dashboard session has ended; sign in again") : Success(session, local: false);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (DashboardEndpoints.IsApiRequest(Request))
        {
            return Problems.Create(LedgerErrors.Unauthorized, "sign in to the dashboard as an operator, or send an operator API key").ExecuteAsync(Context);
        }

        var returnUrl = Request.Path + Request.QueryString;
        Response.Redirect(DashboardEndpoints.LoginPath + "?return_url=" + Uri.EscapeDataString(returnUrl));
        return Task.CompletedTask;
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Create(LedgerErrors.Forbidden, "the dashboard is for operators: a person or an API key with the operator role").ExecuteAsync(Context);

    // The session's tenant and role, and who acts (the person, or the key), as the API's routes read them.
    private static AuthenticateResult Success(DashboardSession session, bool local)
    {
        Claim[] who = local ? [new Claim(LocalClaim, "true")]
            : session.UserId is { } user ? [new Claim(AccessTokens.SubjectClaim, user)]
            : session.KeyId is { } key ? [new Claim(ApiKeyAuthenticationHandler.KeyIdClaim, key)]
            : [];
        return AuthenticateResult.Success(ApiKeyAuthenticationHandler.Ticket(new ApiKeyIdentity(session.TenantId, session.Role), SchemeName, who));
    }

    private Task<DashboardSession?> FindAsync(string token) =>
        cache.FindAsync(token, clock, () => sessions.FindAsync(token, Context.RequestAborted));
}

/// <summary>
/// <c>Dashboard:AllowLocalhostWithoutSignIn</c>: honoured only in the Development environment, on a
/// silo that advertises a loopback address (no other machine can join it), for requests from a
/// loopback address. Everywhere else the
/// setting is ignored, with a warning at start.
/// </summary>
public sealed partial class DashboardAccess(bool requested, bool development, bool clustered)
{
    public bool AllowsLocalhostWithoutSignIn { get; } = requested && development && !clustered;

    public bool LetsInWithoutSignIn(HttpContext context) =>
        AllowsLocalhostWithoutSignIn && context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote);

    /// <summary>Says at start whether sign-in is relaxed, and why a request to relax it was refused.</summary>
    public void LogAtStart(ILogger logger)
    {
        if (AllowsLocalhostWithoutSignIn)
        {
            LogRelaxed(logger);
        }
        else if (requested)
        {
            LogRefused(logger, development ? "the silo advertises an address other machines reach" : "the environment is not Development");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dashboard: requests from this machine see it without signing in (Dashboard:AllowLocalhostWithoutSignIn, development only)")]
    private static partial void LogRelaxed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dashboard:AllowLocalhostWithoutSignIn is ignored because {Reason}; sign in with an operator key")]
    private static partial void LogRefused(ILogger logger, string reason);
}
