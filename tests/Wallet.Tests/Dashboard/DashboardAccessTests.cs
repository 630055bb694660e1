using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Wallet.Dashboard.Access;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;
using Wallet.Tests.Api;
using Wallet.Tests.Auth;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>Who may see the dashboard and how a session starts and ends, through the HTTP surface.</summary>
public sealed class DashboardAccessTests : IAsyncLifetime
{
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() => _factory = await WalletApiFactory.CreateAsync("dashboardaccess");

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Theory]
    [InlineData("/dashboard/")]
    [InlineData("/dashboard/index.html")]
    [InlineData("/dashboard/DashboardCounters")]
    [InlineData("/dashboard/ledger")]
    [InlineData("/dashboard/cards")]
    [InlineData("/dashboard/reports")]
    public async Task Page_WithoutSession_RedirectsToLoginWithReturnUrl(string page)
    {
        using var browser = Browser();

        var response = await browser.GetAsync(new Uri(page, UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/dashboard/login?return_url={Uri.EscapeDataString(page)}", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Api_WithoutSession_Is401Problem()
    {
        using var browser = Browser();

        var response = await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("unauthorized", (await response.Content.ReadAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task SignIn_WithOperatorKey_SetsAStrictHttpOnlyCookieAndOpensThePage()
    {
        using var browser = Browser();

        var response = await SignInAsync(browser, WalletApiFactory.OperatorKey, "/dashboard/cards");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/dashboard/cards", response.Headers.Location!.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith(DashboardSessionHandler.CookieName + "=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/dashboard", cookie, StringComparison.OrdinalIgnoreCase);
        var page = await browser.GetAsync(new Uri("/dashboard/cards", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("/dashboard/assets/app.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.StartsWith("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);

        // Orleans' dashboard, page and JSON, under the same session.
        var orleans = await browser.GetAsync(new Uri("/dashboard/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, orleans.StatusCode);
        Assert.Contains("index.min.js", await orleans.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var counters = await browser.GetAsync(new Uri("/dashboard/DashboardCounters", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
        Assert.Equal(JsonValueKind.Object, (await counters.Content.ReadAsync<JsonElement>()).ValueKind);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync(new Uri("/dashboard/Trace", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task SignIn_WithWrongOrClientKey_ShowsTheErrorAndSetsNoCookie()
    {
        using var browser = Browser();
        using var tenant = await _factory.CreateTenantClientAsync("dashboard-client");
        var clientKey = tenant.DefaultRequestHeaders.Authorization!.Parameter!;

        var wrong = await SignInAsync(browser, "not-a-key", "/dashboard");
        var client = await SignInAsync(browser, clientKey, "/dashboard");
        var empty = await SignInAsync(browser, "  ", "/dashboard");

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("That API key is not valid.", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, client.StatusCode);
        Assert.Contains("needs an operator key", await client.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.False(wrong.Headers.Contains("Set-Cookie") || client.Headers.Contains("Set-Cookie") || empty.Headers.Contains("Set-Cookie"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/dashboard/api/money", UriKind.Relative))).StatusCode);
    }

    [Theory]
    [InlineData("//elsewhere.example/dashboard")]
    [InlineData("https://elsewhere.example/")]
    [InlineData("/v1/wallets")]
    [InlineData("/dashboard\\..\\x")]
    public async Task SignIn_WithForeignReturnUrl_LandsOnTheDashboard(string returnUrl)
    {
        using var browser = Browser();

        var response = await SignInAsync(browser, WalletApiFactory.OperatorKey, returnUrl);

        Assert.Equal("/dashboard", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task SignIn_FromAnotherOrigin_IsRefused()
    {
        using var browser = Browser();
        browser.DefaultRequestHeaders.Add("Origin", "https://elsewhere.example");

        var response = await SignInAsync(browser, WalletApiFactory.OperatorKey, "/dashboard");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task SignOut_EndsTheSessionForItsCookie()
    {
        using var browser = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        var signedIn = await SignInAsync(browser, WalletApiFactory.OperatorKey, "/dashboard");
        browser.DefaultRequestHeaders.Add("Cookie", signedIn.Headers.GetValues("Set-Cookie").Single().Split(';')[0]);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);

        var response = await browser.PostAsync(new Uri("/dashboard/logout", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/dashboard/login", response.Headers.Location!.OriginalString);
        Assert.StartsWith(DashboardSessionHandler.CookieName + "=;", response.Headers.GetValues("Set-Cookie").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task SignIn_AsAnOperator_PasswordThenCode_OpensASessionActingAsThem_AndIsAudited()
    {
        using var admin = _factory.CreateOperatorClient();
        using var anonymous = _factory.CreateClient();
        var (email, authenticator) = await People.WithSecondFactorAsync(admin, anonymous, "operator");
        using var browser = Browser();

        var wrong = await PostFormAsync(browser, ("email", email), ("password", "not the password"), ("return_url", "/dashboard/ledger"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("That email or password is wrong", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The right password (its email in capitals): the second step's page, and no session yet.
        var password = await PostFormAsync(browser, ("email", email.ToUpperInvariant()), ("password", People.Password), ("return_url", "/dashboard/ledger"));
        Assert.Equal(HttpStatusCode.OK, password.StatusCode);
        Assert.False(password.Headers.Contains("Set-Cookie"));
        var page = await password.Content.ReadAsStringAsync();
        Assert.Contains("id=\"code\"", page, StringComparison.Ordinal);
        var challenge = Regex.Match(page, "name=\"mfa_token\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(challenge);

        var badCode = await PostFormAsync(browser, ("mfa_token", challenge), ("code", "12345"), ("return_url", "/dashboard/ledger"));
        Assert.Equal(HttpStatusCode.Unauthorized, badCode.StatusCode);
        Assert.Contains("That code is not right", await badCode.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(badCode.Headers.Contains("Set-Cookie"));

        var signedIn = await PostFormAsync(browser, ("mfa_token", challenge), ("code", People.NextCode(authenticator)), ("return_url", "/dashboard/ledger"));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/dashboard/ledger", signedIn.Headers.Location!.OriginalString);
        Assert.StartsWith(DashboardSessionHandler.CookieName + "=", Assert.Single(signedIn.Headers.GetValues("Set-Cookie")), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/api/money", UriKind.Relative))).StatusCode);

        // The sign-in is the person's in the audit trail, from the dashboard, with its second factor.
        var person = (await (await admin.GetAsync("/v1/users")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray()
            .Single(u => u.Str("email") == email).Str("id");
        var login = (await (await admin.GetAsync($"/v1/audit?action=auth.login&actor=user:{person}")).ExpectAsync(HttpStatusCode.OK))
            .GetProperty("data").EnumerateArray().First();
        Assert.True(login.GetProperty("details").GetProperty("dashboard").GetBoolean());
        Assert.True(login.GetProperty("details").GetProperty("multi_factor").GetBoolean());
    }

    [Fact]
    public async Task SignIn_AsAPerson_WhoIsNoOperator_OrHasNoSecondFactor_IsRefused()
    {
        using var admin = _factory.CreateOperatorClient();
        using var anonymous = _factory.CreateClient();
        var (finance, _) = await People.WithSecondFactorAsync(admin, anonymous, "finance");
        var bare = $"operator.{Guid.NewGuid():N}@example.com";
        var invited = await (await admin.PostJsonAsync("/v1/users", new { email = bare, roles = new[] { "operator" } })).ExpectAsync(HttpStatusCode.Created);
        await (await anonymous.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invited.Str("invitation_token"), password = People.Password }))
            .ExpectAsync(HttpStatusCode.OK);
        using var browser = Browser();

        var notOperator = await PostFormAsync(browser, ("email", finance), ("password", People.Password), ("return_url", "/dashboard"));
        var noSecondFactor = await PostFormAsync(browser, ("email", bare), ("password", People.Password), ("return_url", "/dashboard"));

        Assert.Equal(HttpStatusCode.Forbidden, notOperator.StatusCode);
        Assert.Contains("this account is not one", await notOperator.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Outside Development an operator signs in with a second factor (Auth:RequireMfaForOperators).
        Assert.Equal(HttpStatusCode.Forbidden, noSecondFactor.StatusCode);
        Assert.Contains("enable one first", await noSecondFactor.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(notOperator.Headers.Contains("Set-Cookie") || noSecondFactor.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Session_InUse_EndsAtOnceWhenItsKeyIsRevoked_AndWhenAnotherProcessClosesIt()
    {
        using var admin = _factory.CreateOperatorClient();
        var made = await (await admin.PostJsonAsync("/v1/api-keys", new { tenant_id = "default", role = "operator", name = "dashboard" }))
            .ExpectAsync(HttpStatusCode.Created);
        using var byKey = await SignedInAsync(made.Str("key"));
        using var other = await SignedInAsync(WalletApiFactory.OperatorKey);
        var otherToken = other.DefaultRequestHeaders.GetValues("Cookie").Single().Split('=', 2)[1];

        await (await admin.DeleteAsync($"/v1/api-keys/{made.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.Unauthorized, (await byKey.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);

        // Signed out through another silo: only the database's notice reaches this one.
        await using (var dataSource = NpgsqlDataSource.Create(_factory.ConnectionString))
        {
            await new DashboardSessionStore(dataSource).CloseAsync(otherToken, CancellationToken.None);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOnceNotOkAsync(other));
    }

    [Fact]
    public async Task Session_OfAPerson_InUse_EndsWhenAnotherProcessTakesAwayTheirOperatorRole()
    {
        using var admin = _factory.CreateOperatorClient();
        var (user, token) = await OperatorSessionAsync(admin);
        using var browser = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        browser.DefaultRequestHeaders.Add("Cookie", $"{DashboardSessionHandler.CookieName}={token}");
        // Looked up once, so this silo holds the session in its cache.
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);

        // Changed through another silo: only the database's notice reaches this one.
        await using (var dataSource = NpgsqlDataSource.Create(_factory.ConnectionString))
        {
            Assert.NotNull(await new UserStore(dataSource).ChangeRolesAsync("default", user.Id, ["finance"], "user:test", DateTimeOffset.UtcNow, CancellationToken.None));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOnceNotOkAsync(browser));
    }

    /// <summary>A new person of the default tenant, an operator (and finance) with a second factor, and a dashboard session of theirs.</summary>
    private async Task<(UserView User, string Token)> OperatorSessionAsync(HttpClient admin)
    {
        using var anonymous = _factory.CreateClient();
        var (email, _) = await People.WithSecondFactorAsync(admin, anonymous, "operator", "finance");
        var id = (await (await admin.GetAsync("/v1/users")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray()
            .Single(u => u.Str("email") == email).Str("id");
        var user = new UserView(id, "default", email, ["operator", "finance"], "active", DateTimeOffset.UtcNow);
        var token = await _factory.GetService<DashboardSessionStore>().OpenAsync(user, multiFactor: true, TimeSpan.FromHours(1), DateTimeOffset.UtcNow, CancellationToken.None);
        return (user, token);
    }

    /// <summary>
    /// The status of the first dashboard request that is not answered 200, asked every 50 ms for up to
    /// 5 s (a notice takes moments; a cached session would otherwise last its 10 s), or 200 if none.
    /// </summary>
    private static async Task<HttpStatusCode> StatusOnceNotOkAsync(HttpClient browser)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        HttpStatusCode status;
        while ((status = (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode) == HttpStatusCode.OK && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        return status;
    }

    /// <summary>A browser signed in with <paramref name="key"/> whose session this silo has looked up (so holds in its cache).</summary>
    private async Task<HttpClient> SignedInAsync(string key)
    {
        var browser = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        var signedIn = await SignInAsync(browser, key, "/dashboard");
        browser.DefaultRequestHeaders.Add("Cookie", signedIn.Headers.GetValues("Set-Cookie").Single().Split(';')[0]);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/api/cards", UriKind.Relative))).StatusCode);
        return browser;
    }

    [Fact]
    public async Task Session_OfAPerson_EndsWhenTheyAreNoLongerAnOperator()
    {
        using var admin = _factory.CreateOperatorClient();
        var (user, token) = await OperatorSessionAsync(admin);
        var sessions = _factory.GetService<DashboardSessionStore>();
        Assert.Equal(("default", user.Id, null), await SessionAsync(sessions, token));

        await (await admin.PatchAsJsonAsync($"/v1/users/{user.Id}", new { roles = new[] { "finance" } })).ExpectAsync(HttpStatusCode.OK);

        Assert.Null(await sessions.FindAsync(token, CancellationToken.None));
    }

    [Fact]
    public async Task Session_WhenItsKeyIsDeleted_IsNoLongerFound()
    {
        var sessions = _factory.GetService<DashboardSessionStore>();
        var keys = _factory.GetService<ApiKeyStore>();
        var (key, _) = await keys.CreateAsync(new ApiKeyIdentity("default", UserRoles.Operator), null, null, "test", DateTimeOffset.UtcNow, CancellationToken.None);
        var token = await sessions.OpenAsync(key, TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(UserRoles.Operator, (await sessions.FindAsync(token, CancellationToken.None))?.Role);

        await using (var connection = new NpgsqlConnection(_factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand("DELETE FROM api_keys WHERE key_hash = @hash", connection);
            delete.Parameters.AddWithValue("hash", ApiKeyStore.Hash(key));
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }

        Assert.Null(await sessions.FindAsync(token, CancellationToken.None));
    }

    [Fact]
    public async Task Session_PastItsLifetime_IsNotFound()
    {
        var sessions = _factory.GetService<DashboardSessionStore>();

        var token = await sessions.OpenAsync(WalletApiFactory.OperatorKey, TimeSpan.FromMilliseconds(-1), CancellationToken.None);

        Assert.Null(await sessions.FindAsync(token, CancellationToken.None));
    }

    [Fact]
    public async Task Api_WithBearerKeys_AnswersOperatorsAndForbidsClients()
    {
        using var operatorClient = _factory.CreateOperatorClient();
        using var tenant = await _factory.CreateTenantClientAsync("dashboard-bearer");

        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync(new Uri("/dashboard/api/money", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.GetAsync(new Uri("/dashboard/api/money", UriKind.Relative))).StatusCode);
    }

    [Theory]
    [InlineData(true, true, false, "127.0.0.1", true)]
    [InlineData(true, true, false, "::1", true)]
    [InlineData(true, true, false, "10.1.2.3", false)]
    [InlineData(true, false, false, "127.0.0.1", false)]
    [InlineData(true, true, true, "127.0.0.1", false)]
    [InlineData(false, true, false, "127.0.0.1", false)]
    public void WithoutSignIn_OnlyDevelopmentAloneAndFromThisMachine(bool requested, bool development, bool clustered, string remote, bool lets)
    {
        var access = new DashboardAccess(requested, development, clustered);
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);

        Assert.Equal(lets, access.LetsInWithoutSignIn(context));
    }

    private HttpClient Browser() => _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    private static Task<HttpResponseMessage> SignInAsync(HttpClient browser, string key, string returnUrl) =>
        browser.PostAsync(new Uri("/dashboard/login", UriKind.Relative),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["api_key"] = key, ["return_url"] = returnUrl }));

    private static Task<HttpResponseMessage> PostFormAsync(HttpClient browser, params (string Name, string Value)[] fields) =>
        browser.PostAsync(new Uri("/dashboard/login", UriKind.Relative), new FormUrlEncodedContent(fields.ToDictionary(f => f.Name, f => f.Value)));

    private static async Task<(string TenantId, string? UserId, string? KeyId)?> SessionAsync(DashboardSessionStore sessions, string token) =>
        await sessions.FindAsync(token, CancellationToken.None) is { } session ? (session.TenantId, session.UserId, session.KeyId) : null;
}
