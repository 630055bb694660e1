using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;
using Wallet.Api.Accounts;
using Wallet.Api.Assets;
using Wallet.Api.Audit;
using Wallet.Api.Auth;
using Wallet.Api.Budgets;
using Wallet.Api.Compliance;
using Wallet.Api.Cards;
using Wallet.Api.Entries;
using Wallet.Api.Holds;
using Wallet.Api.Infrastructure;
using Wallet.Api.Keys;
using Wallet.Api.Ledger;
using Wallet.Api.Metrics;
using Wallet.Api.Receipts;
using Wallet.Api.Reconciliation;
using Wallet.Api.Reports;
using Wallet.Api.Transfers;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api;

public static class WalletApi
{
    public const string ReadyTag = "ready";

    /// <summary>
    /// Settings a process serving the API starts from, below every other source (appsettings,
    /// environment and arguments override them): the silo's and the thin API process's alike, the
    /// latter having no appsettings of its own. Information logs, but not ASP.NET Core's below
    /// warnings. Its hosting log is off: whenever that category is enabled at all, it gives each
    /// request an <c>Activity</c> and a log scope, even when nothing it logs is written (it logs a
    /// request's start and end, at Information); off, a request allocates about 900 bytes less. Set
    /// it to <c>Information</c> to see every request in the log.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> ConfigurationDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
    };

    /// <summary>Puts <see cref="ConfigurationDefaults"/> below every other configuration source.</summary>
    public static void AddWalletApiDefaults(this IConfigurationManager configuration) =>
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = ConfigurationDefaults });

    /// <summary>The default scheme: it hands each request to the API key or the access token scheme.</summary>
    public const string BearerScheme = "ApiKeyOrToken";

    /// <summary>Authentication, problem details, JSON, OpenAPI and health checks of the HTTP API.</summary>
    public static IServiceCollection AddWalletApi(this IServiceCollection services)
    {
        // One bearer header, two kinds of credential: a person's access token (a JWT: three dot-separated
        // parts) goes to JwtBearer, anything else is looked up as an API key.
        services.AddAuthentication(BearerScheme)
            .AddPolicyScheme(BearerScheme, "API key or access token", o => o.ForwardDefaultSelector = context =>
                IsJwt(context.Request.Headers.Authorization.ToString()) ? JwtBearerDefaults.AuthenticationScheme : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<IOptions<AuthOptions>>((o, auth) =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = AccessTokens.Validation(auth.Value);
            o.Events = new JwtBearerEvents
            {
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    await Problems.Create(LedgerErrors.Unauthorized, "the access token is not valid or has expired: refresh it, or sign in again")
                        .ExecuteAsync(context.HttpContext);
                },
                OnForbidden = context => Problems.Create(LedgerErrors.Forbidden, Permissions.ForbiddenDetail(context.HttpContext))
                    .ExecuteAsync(context.HttpContext),
            };
        });
        services.AddOptions<AuthOptions>().BindConfiguration("Auth")
            .Validate(o => o.SigningKey is { Length: >= AuthOptions.SigningKeyLengthMin },
                $"Auth:SigningKey must be set to a secret of at least {AuthOptions.SigningKeyLengthMin} characters (env Auth__SigningKey): it signs people's access tokens.")
            .Validate(o => o.MfaKey is { Length: >= AuthOptions.SigningKeyLengthMin },
                $"Auth:MfaKey must be set to a secret of at least {AuthOptions.SigningKeyLengthMin} characters (env Auth__MfaKey): it seals people's second-factor secrets.")
            .Validate(o => o.MfaTokenMinutes is >= 1 and <= 30, "Auth:MfaTokenMinutes must be 1 to 30")
            .Validate(o => o.PreviousSigningKeys.Values.All(k => k.Length >= AuthOptions.SigningKeyLengthMin) && !o.PreviousSigningKeys.ContainsKey(o.SigningKeyId),
                "Auth:PreviousSigningKeys must each be 32+ characters, under ids other than Auth:SigningKeyId")
            .Validate(o => o.AccessTokenMinutes is >= 1 and <= 1440 && o.RefreshTokenDays is >= 1 and <= 365 && o.InvitationDays is >= 1 and <= 90,
                "Auth:AccessTokenMinutes must be 1 to 1440, Auth:RefreshTokenDays 1 to 365, Auth:InvitationDays 1 to 90")
            .Validate(o => o.LockoutFailures >= 1 && o.LockoutMinutes >= 1 && o.PasswordLengthMin is >= 8 and <= PasswordPolicy.LengthMax,
                "Auth:LockoutFailures and Auth:LockoutMinutes must be at least 1, Auth:PasswordLengthMin 8 to 128")
            .ValidateOnStart();
        services.AddSingleton<RevokedCredentials>();
        services.AddHostedService<RevokedCredentialsListener>();
        services.AddSingleton(sp => sp.GetRequiredService<RevokedCredentials>().Track(ApiKeyAuthenticationHandler.NewCache()));
        services.AddWalletRateLimits();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<MfaSecrets>();
        services.AddSingleton<PasswordPolicy>();
        services.AddSingleton<PersonSignIn>();
        services.AddAuthorizationBuilder().AddPermissionPolicies();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, RoleHandler>();
        services.TryAddTimeProvider();
        // Problems the framework writes itself (404 route, 405, 415, status-code pages) get a code too.
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            context.ProblemDetails.Extensions.TryAdd("code", FrameworkCode(context.ProblemDetails.Status));
            context.ProblemDetails.Detail ??= FrameworkDetail(context.ProblemDetails.Status);
        });
        services.AddExceptionHandler<ExceptionProblems>();
        services.ConfigureHttpJsonOptions(options => WalletJson.Configure(options.SerializerOptions));
        services.AddSingleton<TransferService>();
        services.AddOpenApi(OpenApiContract.Configure);
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag]);
        return services;
    }

    public static WebApplication MapWalletApi(this WebApplication app)
    {
        app.UseReceiptReadingHold();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();

        app.MapWalletEndpoints();
        app.MapTransferEndpoints();
        app.MapEntryEndpoints();
        app.MapHoldEndpoints();
        app.MapCardEndpoints();
        app.MapAuthorizationEndpoints();
        app.MapFraudRuleEndpoints();
        app.MapLedgerEndpoints();
        app.MapApiKeyEndpoints();
        app.MapAuthEndpoints();
        app.MapAuditEndpoints();
        app.MapAssetEndpoints();
        app.MapBudgetEndpoints();
        app.MapReceiptEndpoints();
        app.MapReconciliationEndpoints();
        app.MapReconRunEndpoints();
        app.MapReportEndpoints();
        app.MapComplianceEndpoints();
        app.MapDataRequestEndpoints();
        app.MapPeriodEndpoints();
        app.MapAccountEndpoints();
        app.MapMetricsEndpoints();

        app.MapOpenApi("/openapi/{documentName}.json");
        // Only requests under /docs reach Swagger UI: its middleware matches every path it sees against
        // regular expressions and then its static files.
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/docs", StringComparison.Ordinal), docs => docs.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "docs";
            options.DocumentTitle = "Wallet API";
            options.SwaggerEndpoint("/openapi/v1.json", "Wallet API v1");
        }));
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        return app;
    }

    private static bool IsJwt(string header) =>
        header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.AsSpan("Bearer ".Length).Count('.') == 2;

    private static string? FrameworkDetail(int? status) => status switch
    {
        StatusCodes.Status404NotFound => "no route matches this path",
        StatusCodes.Status405MethodNotAllowed => "this route does not take this method",
        StatusCodes.Status415UnsupportedMediaType => "this route does not take this Content-Type: see its request body in /openapi/v1.json",
        _ => null,
    };

    private static string FrameworkCode(int? status) => status switch
    {
        StatusCodes.Status400BadRequest => LedgerErrors.ValidationFailed,
        StatusCodes.Status401Unauthorized => LedgerErrors.Unauthorized,
        StatusCodes.Status403Forbidden => LedgerErrors.Forbidden,
        StatusCodes.Status404NotFound => LedgerErrors.NotFound,
        StatusCodes.Status405MethodNotAllowed => Problems.MethodNotAllowed,
        StatusCodes.Status415UnsupportedMediaType => Problems.UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => Problems.RateLimited,
        StatusCodes.Status503ServiceUnavailable => LedgerErrors.Unavailable,
        _ => Problems.InternalError,
    };

    private static void TryAddTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}

/// <summary>Ready means the database answers.</summary>
internal sealed class DatabaseHealthCheck(Npgsql.NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("the database does not answer", exception);
        }
    }
}
