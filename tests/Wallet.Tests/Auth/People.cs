using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Wallet.Tests.Api;

namespace Wallet.Tests.Auth;

/// <summary>People made through the API as an operator would: invited, their password set, a second factor enrolled.</summary>
public static class People
{
    public const string Password = "correct horse battery staple";

    /// <summary>
    /// A person of <paramref name="admin"/>'s tenant with <paramref name="roles"/>, active, their
    /// second factor enabled (its code of this step spent); the authenticator that gives their codes.
    /// <paramref name="anonymous"/> is a client of the same silo sending no credential.
    /// </summary>
    public static async Task<(string Email, OtpNet.Totp Authenticator)> WithSecondFactorAsync(HttpClient admin, HttpClient anonymous, params string[] roles)
    {
        var email = $"{roles[0]}.{Guid.NewGuid():N}@example.com";
        var invited = await (await admin.PostJsonAsync("/v1/users", new { email, roles })).ExpectAsync(HttpStatusCode.Created);
        await (await anonymous.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invited.Str("invitation_token"), password = Password }))
            .ExpectAsync(HttpStatusCode.OK);
        var token = (await (await anonymous.PostJsonAsync("/v1/auth/login", new { email, password = Password })).ExpectAsync(HttpStatusCode.OK))
            .Str("access_token");

        using var enable = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/mfa/enable");
        enable.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var secret = (await (await anonymous.SendAsync(enable)).ExpectAsync(HttpStatusCode.OK)).Str("secret");
        var authenticator = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret));
        using var verify = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/mfa/verify")
        {
            Content = JsonContent.Create(new { code = authenticator.ComputeTotp(DateTime.UtcNow) }),
        };
        verify.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await (await anonymous.SendAsync(verify)).ExpectAsync(HttpStatusCode.OK);
        return (email, authenticator);
    }

    /// <summary>The authenticator's code for the step after this one: the step it showed at enrolment is spent, the next is taken once.</summary>
    public static string NextCode(OtpNet.Totp authenticator) => authenticator.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
}
