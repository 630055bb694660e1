using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// <c>Authorization: Bearer &lt;api key&gt;</c>. The key's hash is looked up once and then kept for
/// <see cref="CacheSeconds"/> (or until the key expires, if sooner), so authentication costs no
/// database round trip per request; a key revoked anywhere in the cluster is forgotten at once
/// (<see cref="RevokedCredentials"/>).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    IdentityCache<ApiKeyIdentity> cache,
    TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string TenantClaim = "tenant";
    public const string KeyIdClaim = "key_id";
    private const int CacheSeconds = 30;
    private const int CacheEntriesMax = 10_000;

    /// <summary>The process's cache of keys, cached by hash: a notice names a revoked key by its id.</summary>
    public static IdentityCache<ApiKeyIdentity> NewCache() => new(TimeSpan.FromSeconds(CacheSeconds), CacheEntriesMax,
        (revoked, hash, _) => revoked == CredentialRevocations.ApiKey(KeyId(hash)));

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length == "Bearer ".Length)
        {
            return AuthenticateResult.Fail("the Authorization header must be 'Bearer <api key>'");
        }

        var key = header["Bearer ".Length..].Trim();
        var hash = ApiKeyStore.Hash(key);
        var identity = await cache.FindAsync(hash, clock, () => keys.FindAsync(key, Context.RequestAborted), found => found.ExpiresAt);
        if (identity is null)
        {
            return AuthenticateResult.Fail("the API key is not valid");
        }

        return AuthenticateResult.Success(Ticket(identity, SchemeName, new Claim(KeyIdClaim, KeyId(hash))));
    }

    /// <summary>A request acting as <paramref name="identity"/>: its tenant and role as claims, and any <paramref name="more"/>.</summary>
    public static AuthenticationTicket Ticket(ApiKeyIdentity identity, string scheme, params Claim[] more) =>
        new(new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(TenantClaim, identity.TenantId), new Claim(ClaimTypes.Role, identity.Role), .. more], scheme)), scheme);

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Problems.Create(LedgerErrors.Unauthorized, "a valid API key is required: Authorization: Bearer <api key>").ExecuteAsync(Context);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Create(LedgerErrors.Forbidden, Auth.Permissions.ForbiddenDetail(Context)).ExecuteAsync(Context);

    /// <summary>How a key is named where it must not be shown (the audit trail, rate limits): its id, the start of its hash.</summary>
    public static string KeyId(string keyHash) => ApiKeyStore.IdOf(keyHash);
}

public static class ClaimsPrincipalExtensions
{
    public static string TenantId(this ClaimsPrincipal user) =>
        user.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim) ?? throw new InvalidOperationException("The request is not authenticated.");
}
