using System.Security.Claims;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Wallet.Api.Infrastructure;
using Wallet.Grains.Auth;

namespace Wallet.Api.Auth;

/// <summary>
/// A person's access tokens: JWTs signed with the current key (HMAC-SHA256, its id in the header),
/// carrying the person's id, tenant and roles in the claims the API's policies read. Validated
/// against the current key and every previous one.
/// </summary>
public sealed class AccessTokens(IOptions<AuthOptions> options, TimeProvider clock)
{
    public const string RoleClaim = "role";
    public const string SubjectClaim = "sub";
    public const string EmailClaim = "email";

    /// <summary>How the person proved who they are (RFC 8176): <c>pwd</c>, and <c>mfa</c> once a second factor was given too.</summary>
    public const string MethodsClaim = "amr";
    public const string PasswordMethod = "pwd";
    public const string MultiFactorMethod = "mfa";

    private const string MfaAudienceSuffix = "/mfa";

    private readonly JsonWebTokenHandler _handler = new();

    public TimeSpan Lifetime => TimeSpan.FromMinutes(options.Value.AccessTokenMinutes);

    public TimeSpan MfaLifetime => TimeSpan.FromMinutes(options.Value.MfaTokenMinutes);

    public string Issue(UserView user, bool multiFactor)
    {
        var claims = new List<Claim>
        {
            new(SubjectClaim, user.Id),
            new(EmailClaim, user.Email),
            new(ApiKeyAuthenticationHandler.TenantClaim, user.TenantId),
        };
        claims.AddRange(user.Roles.Select(role => new Claim(RoleClaim, role)));
        claims.Add(new Claim(MethodsClaim, PasswordMethod));
        if (multiFactor)
        {
            claims.Add(new Claim(MethodsClaim, MultiFactorMethod));
        }

        return Create(claims, options.Value.Issuer, Lifetime);
    }

    /// <summary>The token between a right password and its second factor: good for nothing but <c>/v1/auth/login/mfa</c>, for a few minutes.</summary>
    public string IssueMfaChallenge(UserView user) => Create([new Claim(SubjectClaim, user.Id)], options.Value.Issuer + MfaAudienceSuffix, MfaLifetime);

    /// <summary>The person a second-factor token is for; null when it is not one of ours, or has expired.</summary>
    public async Task<string?> ReadMfaChallengeAsync(string token)
    {
        var validation = Validation(options.Value);
        validation.ValidAudience = options.Value.Issuer + MfaAudienceSuffix;
        var result = await _handler.ValidateTokenAsync(token, validation);
        return result.IsValid && result.Claims.TryGetValue(SubjectClaim, out var subject) ? subject as string : null;
    }

    private string Create(IEnumerable<Claim> claims, string audience, TimeSpan lifetime)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = options.Value.Issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(Key(options.Value.SigningKeyId, options.Value.SigningKey!), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>What a token must be to be taken: ours (issuer and audience), signed by a key we know, unexpired.</summary>
    public static TokenValidationParameters Validation(AuthOptions options) => new()
    {
        ValidIssuer = options.Issuer,
        ValidAudience = options.Issuer,
        IssuerSigningKeys = [Key(options.SigningKeyId, options.SigningKey!), .. options.PreviousSigningKeys.Select(k => Key(k.Key, k.Value))],
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ClockSkew = TimeSpan.FromSeconds(30),
        RoleClaimType = RoleClaim,
        NameClaimType = SubjectClaim,
    };

    private static SymmetricSecurityKey Key(string id, string secret) => new(Encoding.UTF8.GetBytes(secret)) { KeyId = id };
}
