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

    private readonly JsonWebTokenHandler _handler = new();

    public TimeSpan Lifetime => TimeSpan.FromMinutes(options.Value.AccessTokenMinutes);

    public string Issue(UserView user)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new List<Claim>
        {
            new(SubjectClaim, user.Id),
            new(EmailClaim, user.Email),
            new(ApiKeyAuthenticationHandler.TenantClaim, user.TenantId),
        };
        claims.AddRange(user.Roles.Select(role => new Claim(RoleClaim, role)));
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = options.Value.Issuer,
            Audience = options.Value.Issuer,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + Lifetime,
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
