using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Dashboard.Access;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Ledger;
using Wallet.Grains.Storage;

namespace Wallet.Dashboard;

/// <summary>
/// The operators' pages at <c>/dashboard</c>: Orleans' own dashboard (silos, grains, calls,
/// latency, reminders) at <c>/dashboard</c> itself, and beside it the ledger's pages, Ledger, Cards,
/// Receipts, Reconciliation, Reports and Compliance (one HTML shell and its script, shipped inside this assembly), with the JSON they poll every
/// second under <c>/dashboard/api</c>. One sign-in covers all of it: every page and figure needs an
/// operator, a person (email, password, second factor) or an operator API key. The ledger's pages fetch nothing from anywhere but this silo.
/// </summary>
public static class DashboardEndpoints
{
    public const string LoginPath = "/dashboard/login";
    public const string ApiPrefix = "/dashboard/api";
    public const int TailEntriesMax = 50;
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(8);
    private static readonly string[] Pages = ["/ledger", "/cards", "/receipts", "/reconciliation", "/reports", "/compliance"];

    // Only this silo's own scripts, styles and JSON: no CDN could be reached even by mistake.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    public static bool IsApiRequest(HttpRequest request) => request.Path.StartsWithSegments(ApiPrefix, StringComparison.Ordinal);

    public static IEndpointRouteBuilder MapWalletDashboard(this IEndpointRouteBuilder app)
    {
        var dashboard = app.MapGroup("/dashboard").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
        {
            SetSecurityHeaders(context.HttpContext.Response);
            return await next(context);
        });

        foreach (var page in Pages)
        {
            dashboard.MapGet(page, () => DashboardAssets.Result("index.html")).RequireAuthorization(DashboardSessionHandler.Policy);
        }

        dashboard.MapGet("/assets/{name}", (string name) => DashboardAssets.Result(name));
        dashboard.MapGet("/login", (string? return_url) => LoginPage(null, return_url, StatusCodes.Status200OK));
        dashboard.MapPost("/login", SignInAsync);
        dashboard.MapPost("/logout", SignOutAsync);

        var api = dashboard.MapGroup("/api").RequireAuthorization(DashboardSessionHandler.Policy);
        api.MapGet("/me", Me);
        api.MapGet("/cards", async (CardActivity cards, CancellationToken ct, long since = 0) => TypedResults.Ok(await cards.ReadAsync(since, ct)));
        api.MapGet("/money", async (LedgerTotalsCache totals, CancellationToken ct) => TypedResults.Ok(await totals.ReadAsync(ct)));
        api.MapGet("/ledger", GetLedgerAsync);
        api.MapPost("/verify", VerifyAsync);
        api.MapGet("/receipts", ReceiptQueue.ReadAsync);
        api.MapGet("/receipts/{id}/file", ReceiptQueue.FileAsync);
        api.MapPost("/receipts/{id}/retry", ReceiptQueue.RetryAsync);
        api.MapGet("/reconciliation", ReconciliationDesk.ReadAsync);
        api.MapGet("/reconciliation/runs/{id}", ReconciliationDesk.RunAsync);
        api.MapPost("/reconciliation/items/{id}/resolve", ReconciliationDesk.ResolveAsync);
        api.MapGet("/reports", ReportDesk.ReadAsync);
        api.MapGet("/compliance", ComplianceDesk.ReadAsync);
        api.MapPost("/compliance/screenings/{id}/resolve", ComplianceDesk.ResolveAsync);

        // Orleans' dashboard: page and JSON alike behind the same operator sign-in. Its routes are
        // the operator's page, not the API, so the API's OpenAPI document leaves them out.
        app.MapOrleansDashboard("/dashboard").RequireAuthorization(DashboardSessionHandler.Policy).ExcludeFromDescription();
        app.ServiceProvider.GetRequiredService<DashboardAccess>().LogAtStart(
            app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DashboardEndpoints)));
        return app;
    }

    private static Ok<SignedIn> Me(ClaimsPrincipal user) =>
        TypedResults.Ok(new SignedIn(user.TenantId(), user.HasClaim(DashboardSessionHandler.LocalClaim, "true")));

    /// <summary>
    /// The sign-in form's post: an operator's email and password (then, on a page of its own, their
    /// second factor), or an operator API key. A person needs the operator role, and a second factor
    /// where <c>Auth:RequireMfaForOperators</c> applies.
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext context, ApiKeyStore keys, DashboardSessionStore sessions, PersonSignIn signIn,
        AccessTokens tokens, IOptions<AuthOptions> auth, IHostEnvironment environment, TimeProvider clock)
    {
        if (!SameOrigin(context.Request))
        {
            return LoginPage("This sign-in did not come from this dashboard's own page.", null, StatusCodes.Status403Forbidden);
        }

        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : null;
        string Field(string name) => form?[name].ToString() ?? "";
        var returnUrl = Field("return_url");
        var ct = context.RequestAborted;
        if (Field("mfa_token") is { Length: > 0 } challenge)
        {
            var code = Field("code").Trim();
            if (await tokens.ReadMfaChallengeAsync(challenge) is not { } userId)
            {
                return LoginPage("The sign-in took too long: enter your email and password again.", returnUrl, StatusCodes.Status401Unauthorized);
            }

            if (code.Length == 0)
            {
                return CodePage("Enter the code your authenticator app shows, or a recovery code.", challenge, returnUrl, StatusCodes.Status400BadRequest);
            }

            var second = await signIn.CodeAsync(userId, code, ct);
            return second.Step switch
            {
                SignInStep.Passed when second.User!.Roles.Contains(UserRoles.Operator) =>
                    await OpenPersonSessionAsync(context, second.User, multiFactor: true, sessions, returnUrl, clock),
                SignInStep.Passed => NotAnOperator(returnUrl),
                SignInStep.Limited => CodePage(TooMany(second), challenge, returnUrl, StatusCodes.Status429TooManyRequests),
                _ => CodePage("That code is not right, or the account is locked for a while after failed attempts.", challenge, returnUrl,
                    StatusCodes.Status401Unauthorized),
            };
        }

        if (Field("api_key").Trim() is { Length: > 0 } key)
        {
            return await SignInWithKeyAsync(context, key, keys, sessions, returnUrl);
        }

        var email = Field("email");
        var password = Field("password");
        if (email.Trim().Length == 0 || password.Length == 0)
        {
            return LoginPage("Enter your email and password, or an operator API key.", returnUrl, StatusCodes.Status400BadRequest);
        }

        var first = await signIn.PasswordAsync(email, password, ct);
        switch (first.Step)
        {
            case SignInStep.Limited:
                return LoginPage(TooMany(first), returnUrl, StatusCodes.Status429TooManyRequests);
            case SignInStep.Refused:
                return LoginPage("That email or password is wrong, or the account is locked for a while after failed attempts.", returnUrl,
                    StatusCodes.Status401Unauthorized);
        }

        // The password is right: what the person may do is theirs to know.
        var user = first.User!;
        if (!user.Roles.Contains(UserRoles.Operator))
        {
            return NotAnOperator(returnUrl);
        }

        if (first.Step == SignInStep.NeedsCode)
        {
            return CodePage(null, tokens.IssueMfaChallenge(user), returnUrl, StatusCodes.Status200OK);
        }

        return auth.Value.OperatorsNeedMfa(environment)
            ? LoginPage("An operator signs in with a second factor: enable one first (POST /v1/auth/mfa/enable, then /v1/auth/mfa/verify).", returnUrl,
                StatusCodes.Status403Forbidden)
            : await OpenPersonSessionAsync(context, user, multiFactor: false, sessions, returnUrl, clock);
    }

    private static async Task<IResult> SignInWithKeyAsync(HttpContext context, string key, ApiKeyStore keys, DashboardSessionStore sessions, string returnUrl)
    {
        var identity = await keys.FindAsync(key, context.RequestAborted);
        if (identity is null)
        {
            return LoginPage("That API key is not valid.", returnUrl, StatusCodes.Status401Unauthorized, withKey: true);
        }

        if (!identity.IsOperator)
        {
            return LoginPage($"That API key's role is {identity.Role}; the dashboard needs an operator key.", returnUrl, StatusCodes.Status403Forbidden,
                withKey: true);
        }

        return SessionOpened(context, await sessions.OpenAsync(key, SessionLifetime, context.RequestAborted), returnUrl);
    }

    private static async Task<IResult> OpenPersonSessionAsync(
        HttpContext context, UserView user, bool multiFactor, DashboardSessionStore sessions, string returnUrl, TimeProvider clock) =>
        SessionOpened(context, await sessions.OpenAsync(user, multiFactor, SessionLifetime, LedgerTime.Truncate(clock.GetUtcNow()), context.RequestAborted),
            returnUrl);

    private static IResult SessionOpened(HttpContext context, string token, string returnUrl)
    {
        context.Response.Cookies.Append(DashboardSessionHandler.CookieName, token, SessionCookie(context.Request, SessionLifetime));
        return Results.Redirect(LocalReturnUrl(returnUrl), permanent: false, preserveMethod: false);
    }

    private static IResult NotAnOperator(string returnUrl) =>
        LoginPage("The dashboard is for operators, and this account is not one.", returnUrl, StatusCodes.Status403Forbidden);

    private static string TooMany(SignInCheck check) =>
        $"Too many attempts on this account: try again in {Math.Max(1, (int)Math.Ceiling(check.RetryAfter.TotalSeconds))} s.";

    private static async Task<IResult> SignOutAsync(HttpContext context, DashboardSessionStore sessions, RevokedCredentials revocations)
    {
        if (!SameOrigin(context.Request))
        {
            return Problems.Create(LedgerErrors.Forbidden, "sign-out must come from this dashboard's own page");
        }

        if (context.Request.Cookies[DashboardSessionHandler.CookieName] is { Length: > 0 } token)
        {
            await sessions.CloseAsync(token, context.RequestAborted);
            revocations.Publish(DashboardSessionStore.Revocation(token));
        }

        context.Response.Cookies.Delete(DashboardSessionHandler.CookieName, SessionCookie(context.Request, TimeSpan.Zero));
        return Results.Redirect(LoginPath);
    }

    private static async Task<Ok<LedgerFigures>> GetLedgerAsync(
        LedgerStore ledger, LedgerVerifier verifier, LedgerTotalsCache totals, CancellationToken ct, long after = 0)
    {
        var entries = await ledger.RecentAsync(Math.Max(0, after), TailEntriesMax, ct);
        return TypedResults.Ok(new LedgerFigures(entries, await verifier.LastRunAsync(ct), await totals.ReadAsync(ct)));
    }

    private static async Task<Results<Ok<VerifyRun>, ProblemHttpResult>> VerifyAsync(HttpRequest request, VerifyGate gate, LedgerVerifier verifier, CancellationToken ct)
    {
        if (!SameOrigin(request))
        {
            return Problems.Create(LedgerErrors.Forbidden, "verify must be started from this dashboard's own page");
        }

        if (!gate.TryEnter())
        {
            return Problems.Create(LedgerErrors.Conflict, "a verify started from this silo is still running");
        }

        try
        {
            // This run as recorded, not whatever run was recorded last: another process may verify meanwhile.
            return TypedResults.Ok(await verifier.RunAsync(ct));
        }
        finally
        {
            gate.Exit();
        }
    }

    // After a key's refusal the key's form stays open, with the error in it.
    private static IResult LoginPage(string? error, string? returnUrl, int status, bool withKey = false) =>
        Page("login.html", withKey ? null : error, returnUrl, status,
            ("{{key_open}}", withKey ? "open" : ""), ("{{key_error}}", withKey ? error ?? "" : ""), ("{{key_error_class}}", withKey ? "error" : "hidden"));

    // The second step: the token that says the password was right rides in the form, for a few minutes.
    private static IResult CodePage(string? error, string mfaToken, string? returnUrl, int status) =>
        Page("login-code.html", error, returnUrl, status, ("{{mfa_token}}", mfaToken));

    private static IResult Page(string name, string? error, string? returnUrl, int status, params (string Name, string Value)[] more)
    {
        var html = DashboardAssets.Text(name)
            .Replace("{{error}}", WebUtility.HtmlEncode(error ?? ""), StringComparison.Ordinal)
            .Replace("{{error_class}}", error is null ? "hidden" : "error", StringComparison.Ordinal)
            .Replace("{{return_url}}", WebUtility.HtmlEncode(LocalReturnUrl(returnUrl)), StringComparison.Ordinal);
        foreach (var (placeholder, value) in more)
        {
            html = html.Replace(placeholder, WebUtility.HtmlEncode(value), StringComparison.Ordinal);
        }

        return Results.Text(html, "text/html; charset=utf-8", statusCode: status);
    }

    // Only a path of this dashboard: never an absolute URL or "//host" another site could slip in.
    private static string LocalReturnUrl(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url.StartsWith("/dashboard", StringComparison.Ordinal) && !url.StartsWith("//", StringComparison.Ordinal)
            && !url.Contains('\\', StringComparison.Ordinal)
            ? url
            : "/dashboard";

    // Browsers send Origin with every POST; a form on another site gets refused here. Scripts
    // without Origin authenticate with a bearer key, which no other site can send for them.
    internal static bool SameOrigin(HttpRequest request) =>
        request.Headers.Origin.ToString() is not { Length: > 0 } origin
        || string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);

    private static CookieOptions SessionCookie(HttpRequest request, TimeSpan lifetime) => new()
    {
        Path = "/dashboard",
        HttpOnly = true,
        Secure = request.IsHttps,
        SameSite = SameSiteMode.Strict,
        MaxAge = lifetime,
        IsEssential = true,
    };

    private static void SetSecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
        // Not "no-referrer": under it browsers send "Origin: null" with every POST (Fetch spec), and
        // SameOrigin would refuse the dashboard's own sign-in, sign-out and verify.
        response.Headers["Referrer-Policy"] = "same-origin";
        response.Headers.CacheControl = "no-store";
    }
}

public sealed record SignedIn(string TenantId, bool WithoutSignIn);

public sealed record LedgerFigures(IReadOnlyList<LedgerTailEntry> Entries, VerifyRun? LastVerify, IReadOnlyList<CurrencyTotals> Totals);

/// <summary>One dashboard-started verify at a time per silo: it reads the whole ledger.</summary>
public sealed class VerifyGate
{
    private int _running;

    public bool TryEnter() => Interlocked.CompareExchange(ref _running, 1, 0) == 0;

    public void Exit() => Volatile.Write(ref _running, 0);
}
