using Microsoft.Extensions.Hosting;

namespace Wallet.Api.Auth;

/// <summary>The <c>Auth</c> settings: how people's tokens are signed and last, and how sign-in is guarded.</summary>
public sealed class AuthOptions
{
    public const int SigningKeyLengthMin = 32;

    /// <summary>The secret access tokens are signed with (HMAC-SHA256), at least 32 characters; required.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The secret TOTP secrets are sealed with at rest, at least 32 characters; required. Changing it makes every enrolled second factor unreadable.</summary>
    public string? MfaKey { get; set; }

    /// <summary>
    /// Whether a person needs a second factor to act as an operator: a token of a sign-in without
    /// one is refused on operator routes. Null: on, except in Development. API keys are not people.
    /// </summary>
    public bool? RequireMfaForOperators { get; set; }

    /// <summary><see cref="RequireMfaForOperators"/> as it applies in <paramref name="environment"/>.</summary>
    public bool OperatorsNeedMfa(IHostEnvironment environment) => RequireMfaForOperators ?? !environment.IsDevelopment();

    /// <summary>How long the token between a password and its second factor lasts.</summary>
    public int MfaTokenMinutes { get; set; } = 5;

    /// <summary>The issuer shown in authenticator apps.</summary>
    public string MfaIssuerName { get; set; } = "Wallet";

    /// <summary>The id of <see cref="SigningKey"/>, written in each token's header (<c>kid</c>).</summary>
    public string SigningKeyId { get; set; } = "k1";

    /// <summary>Keys signed with before, by id: tokens they signed stay valid until they expire, so a key is rotated without signing anyone out.</summary>
    public Dictionary<string, string> PreviousSigningKeys { get; set; } = [];

    /// <summary>Who issues the tokens, and for whom (<c>iss</c> and <c>aud</c>).</summary>
    public string Issuer { get; set; } = "wallet";

    public int AccessTokenMinutes { get; set; } = 15;

    public int RefreshTokenDays { get; set; } = 30;

    public int InvitationDays { get; set; } = 7;

    /// <summary>Failed sign-ins in a row that lock an account.</summary>
    public int LockoutFailures { get; set; } = 5;

    /// <summary>How long a locked account stays locked.</summary>
    public int LockoutMinutes { get; set; } = 15;

    public int PasswordLengthMin { get; set; } = 10;

    /// <summary>The tenant people who register themselves join (as clients); none: registration is closed.</summary>
    public string? SelfRegistrationTenant { get; set; }
}
