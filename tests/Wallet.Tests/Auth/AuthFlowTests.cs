using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>
/// People signing in: invited, a password set, tokens issued, refreshed and revoked, failures
/// counted into a lockout, answers that never tell whether an email has an account, and all of it
/// in a tamper-evident audit trail that holds no secret.
/// </summary>
public sealed class AuthFlowTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string Password = "correct horse battery staple";

    [Fact]
    public async Task Invite_SetPassword_SignIn_Refresh_ReuseRevokesTheFamily_Logout()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("auth-flow");
        var email = $"Finance.{Guid.NewGuid():N}@Example.com";
        var invited = await (await tenant.PostJsonAsync("/v1/users", new { email, roles = new[] { "operator", "finance" } })).ExpectAsync(HttpStatusCode.Created);
        var invitation = invited.Str("invitation_token");

        await (await api.Client.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invitation, password = "Password123!" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "password_rejected");
        var accepted = await (await api.Client.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invitation, password = Password }))
            .ExpectAsync(HttpStatusCode.OK);
        await (await api.Client.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invitation, password = Password }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "invitation_invalid");
        await (await tenant.PostJsonAsync("/v1/users", new { email = email.ToUpperInvariant(), roles = new[] { "client" } }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "user_exists");

        Assert.Equal(("invited", "active", email.ToLowerInvariant()), (invited.Str("status"), accepted.Str("status"), accepted.Str("email")));
        var first = await LoginAsync(email, Password);
        Assert.Equal(("Bearer", 900), (first.Str("token_type"), first.GetProperty("expires_in").GetInt32()));
        using var person = Bearer(first.Str("access_token"));
        var me = await (await person.GetAsync("/v1/auth/me")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("user", invited.Str("id"), tenantId, email.ToLowerInvariant()), (me.Str("kind"), me.Str("id"), me.Str("tenant_id"), me.Str("email")));
        Assert.Equal(["operator", "finance"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        // An operator signed in without a second factor is not one yet (Auth:RequireMfaForOperators is on outside Development).
        await (await person.GetAsync("/v1/users")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var second = await RefreshAsync(first.Str("refresh_token"), HttpStatusCode.OK);
        var third = await RefreshAsync(second.Str("refresh_token"), HttpStatusCode.OK);
        Assert.NotEqual(second.Str("refresh_token"), third.Str("refresh_token"));
        // The first token again: someone else holds it. Its whole family goes, the newest token with it.
        var reused = await RefreshAsync(first.Str("refresh_token"), HttpStatusCode.Unauthorized);
        Assert.Equal("invalid_token", reused.Str("code"));
        Assert.Contains("used before", reused.Str("detail"), StringComparison.Ordinal);
        await RefreshAsync(third.Str("refresh_token"), HttpStatusCode.Unauthorized);

        var again = await LoginAsync(email, Password);
        (await api.Client.PostJsonAsync("/v1/auth/logout", new { refresh_token = again.Str("refresh_token") })).EnsureSuccessStatusCode();
        await RefreshAsync(again.Str("refresh_token"), HttpStatusCode.Unauthorized);

        var actions = await AuditActionsAsync(tenant);
        // The tenant's own operator key was made first, and is audited first.
        Assert.Equal(["api_key.created", "user.invited", "user.activated", "auth.login", "auth.refresh_reused", "auth.login", "auth.logout"], actions);
    }

    [Fact]
    public async Task SecondFactor_Enrolled_ThenRequired_ByCodeOnceOrRecoveryCodeOnce_AndItOpensOperatorRoutes()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("auth-mfa");
        var email = $"operator.{Guid.NewGuid():N}@example.com";
        await InviteActiveAsync(tenant, email, "operator");
        using var person = Bearer((await LoginAsync(email, Password)).Str("access_token"));

        var enrolled = await (await person.PostEmptyAsync("/v1/auth/mfa/enable")).ExpectAsync(HttpStatusCode.OK);
        var secret = OtpNet.Base32Encoding.ToBytes(enrolled.Str("secret"));
        var totp = new OtpNet.Totp(secret);
        Assert.StartsWith($"otpauth://totp/Wallet%3A{Uri.EscapeDataString(email)}?secret={enrolled.Str("secret")}&issuer=Wallet", enrolled.Str("otpauth_uri"), StringComparison.Ordinal);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], Convert.FromBase64String(enrolled.Str("qr_png"))[..4]);
        await (await person.PostJsonAsync("/v1/auth/mfa/verify", new { code = totp.ComputeTotp(DateTime.UtcNow.AddMinutes(10)) }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
        var now = totp.ComputeTotp(DateTime.UtcNow);
        var enabled = await (await person.PostJsonAsync("/v1/auth/mfa/verify", new { code = now })).ExpectAsync(HttpStatusCode.OK);
        var recovery = enabled.GetProperty("recovery_codes").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(10, recovery.Distinct().Count());
        await (await person.PostEmptyAsync("/v1/auth/mfa/enable")).ExpectProblemAsync(HttpStatusCode.Conflict, "mfa_enabled");

        // The password alone no longer signs in: a second-factor token comes back instead of tokens.
        var challenge = await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password = Password })).ExpectAsync(HttpStatusCode.Accepted);
        Assert.True(challenge.GetProperty("mfa_required").GetBoolean());
        // The code already taken (its step is spent), then the next step's code.
        await (await api.Client.PostJsonAsync("/v1/auth/login/mfa", new { mfa_token = challenge.Str("mfa_token"), code = now }))
            .ExpectProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        var tokens = await (await api.Client.PostJsonAsync("/v1/auth/login/mfa", new { mfa_token = challenge.Str("mfa_token"), code = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)) }))
            .ExpectAsync(HttpStatusCode.OK);
        using var strong = Bearer(tokens.Str("access_token"));
        var users = await (await strong.GetAsync("/v1/users")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(users.GetProperty("data").EnumerateArray());
        // Renewed tokens keep the second factor their sign-in gave.
        using var renewed = Bearer((await RefreshAsync(tokens.Str("refresh_token"), HttpStatusCode.OK)).Str("access_token"));
        (await renewed.GetAsync("/v1/users")).EnsureSuccessStatusCode();

        // A recovery code instead of the app: once.
        var second = await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password = Password })).ExpectAsync(HttpStatusCode.Accepted);
        await (await api.Client.PostJsonAsync("/v1/auth/login/mfa", new { mfa_token = second.Str("mfa_token"), code = recovery[3].ToUpperInvariant() }))
            .ExpectAsync(HttpStatusCode.OK);
        var third = await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password = Password })).ExpectAsync(HttpStatusCode.Accepted);
        await (await api.Client.PostJsonAsync("/v1/auth/login/mfa", new { mfa_token = third.Str("mfa_token"), code = recovery[3] }))
            .ExpectProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");

        var audit = (await (await tenant.GetAsync("/v1/audit?limit=200")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").GetRawText();
        foreach (var secretText in (string[])[enrolled.Str("secret"), .. recovery, now])
        {
            Assert.DoesNotContain(secretText, audit, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(["auth.mfa_enrolling", "auth.mfa_enabled", "auth.login_failed", "auth.login", "auth.recovery_code_used", "auth.login", "auth.login_failed"],
            (await AuditActionsAsync(tenant)).SkipWhile(a => a != "auth.mfa_enrolling").ToList());
        Assert.True((await (await tenant.GetAsync("/v1/audit/verify")).ExpectAsync(HttpStatusCode.OK)).GetProperty("ok").GetBoolean(), tenantId);
    }

    [Fact]
    public async Task WrongPasswords_LockTheAccount_WhichRecoversAfterTheWindow_AndNoAnswerTellsAnEmailExists()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("auth-lockout");
        var email = $"support.{Guid.NewGuid():N}@example.com";
        await InviteActiveAsync(tenant, email, "support");

        var unknown = await LoginProblemAsync($"nobody.{Guid.NewGuid():N}@example.com", Password);
        var wrong = new List<JsonElement>();
        for (var i = 0; i < 5; i++)
        {
            wrong.Add(await LoginProblemAsync(email, "not the password at all"));
        }

        var whileLocked = await LoginProblemAsync(email, Password);
        Assert.All([.. wrong, whileLocked], p => Assert.Equal((unknown.Str("code"), unknown.Str("detail")), (p.Str("code"), p.Str("detail"))));
        Assert.Equal("invalid_credentials", unknown.Str("code"));

        // The window passes (moved back in the database rather than waited for).
        await using (var connection = new NpgsqlConnection(api.Factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE users SET locked_until = now() - interval '1 second' WHERE email = @email", connection);
            command.Parameters.AddWithValue("email", email);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        await LoginAsync(email, Password);
        var actions = await AuditActionsAsync(tenant);
        Assert.Equal(["api_key.created", "user.invited", "user.activated", .. Enumerable.Repeat("auth.login_failed", 5), "auth.locked_out", "auth.login"], actions);
    }

    [Fact]
    public async Task AuditTrail_HoldsNoSecret_AndATamperedRowIsNamedByVerify()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("auth-audit");
        var email = $"audit.{Guid.NewGuid():N}@example.com";
        var invitation = await InviteActiveAsync(tenant, email, "client");
        var tokens = await LoginAsync(email, Password);
        await LoginProblemAsync(email, "a wrong password here");

        var rows = (await (await tenant.GetAsync("/v1/audit")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").GetRawText();
        foreach (var secret in (string[])[Password, "a wrong password here", invitation, tokens.Str("access_token"), tokens.Str("refresh_token")])
        {
            Assert.DoesNotContain(secret, rows, StringComparison.Ordinal);
        }

        var sound = await (await tenant.GetAsync("/v1/audit/verify")).ExpectAsync(HttpStatusCode.OK);
        // The tenant's key made, the person invited and activated, a sign-in, a failed one.
        Assert.Equal((true, 5L), (sound.GetProperty("ok").GetBoolean(), sound.GetProperty("rows_checked").GetInt64()));
        var filtered = await (await tenant.GetAsync("/v1/audit?action=auth.login")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal([4L], filtered.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("seq").GetInt64()));

        // Someone with the database's keys rewrites row 2, past the append-only trigger.
        await using (var connection = new NpgsqlConnection(api.Factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SET session_replication_role = replica;
                UPDATE audit_log SET actor = 'someone else' WHERE tenant_id = @tenant AND seq = 2;
                SET session_replication_role = origin;
                """, connection);
            command.Parameters.AddWithValue("tenant", tenantId);
            await command.ExecuteNonQueryAsync();
        }

        var broken = await (await tenant.GetAsync("/v1/audit/verify")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal((false, 2L, 1L), (broken.GetProperty("ok").GetBoolean(), broken.GetProperty("broken_seq").GetInt64(), broken.GetProperty("rows_checked").GetInt64()));
        Assert.Contains("does not match its hash", broken.Str("problem"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokens_NotOurs_Expired_OrForged_AreRefusedWithAProblem()
    {
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "wallet", Audience = "wallet", Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "usr_x", ["tenant"] = "default", ["role"] = "operator" },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('x', 40))) { KeyId = "k1" }, SecurityAlgorithms.HmacSha256),
        });
        using var client = Bearer(forged);

        var problem = await (await client.GetAsync("/v1/auth/me")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        await (await api.Client.PostJsonAsync("/v1/auth/register", new { email = "someone@example.com", password = Password }))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "registration_closed");

        Assert.Contains("access token", problem.Str("detail"), StringComparison.Ordinal);
        var me = await (await api.Client.GetAsync("/v1/auth/me")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("api_key", "default"), (me.Str("kind"), me.Str("tenant_id")));
    }

    private async Task<string> InviteActiveAsync(HttpClient tenant, string email, string role)
    {
        var invited = await (await tenant.PostJsonAsync("/v1/users", new { email, roles = new[] { role } })).ExpectAsync(HttpStatusCode.Created);
        await (await api.Client.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invited.Str("invitation_token"), password = Password }))
            .ExpectAsync(HttpStatusCode.OK);
        return invited.Str("invitation_token");
    }

    private async Task<JsonElement> LoginAsync(string email, string password) =>
        await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password })).ExpectAsync(HttpStatusCode.OK);

    private async Task<JsonElement> LoginProblemAsync(string email, string password) =>
        await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password })).ExpectProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");

    private async Task<JsonElement> RefreshAsync(string token, HttpStatusCode status) =>
        await (await api.Client.PostJsonAsync("/v1/auth/refresh", new { refresh_token = token })).ExpectAsync(status);

    private HttpClient Bearer(string token)
    {
        var client = api.Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<List<string>> AuditActionsAsync(HttpClient tenant) =>
        (await (await tenant.GetAsync("/v1/audit?limit=200")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray()
            .Select(r => r.Str("action")).Reverse().ToList();
}
