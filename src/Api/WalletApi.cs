using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;
using Wallet.Api.Assets;
using Wallet.Api.Budgets;
using Wallet.Api.Cards;
using Wallet.Api.Entries;
using Wallet.Api.Holds;
using Wallet.Api.Infrastructure;
using Wallet.Api.Keys;
using Wallet.Api.Ledger;
using Wallet.Api.Metrics;
using Wallet.Api.Receipts;
using Wallet.Api.Reconciliation;
using Wallet.Api.Transfers;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api;

public static class WalletApi
{
    public const string ReadyTag = "ready";

    /// <summary>Authentication, problem details, JSON, OpenAPI and health checks of the HTTP API.</summary>
    public static IServiceCollection AddWalletApi(this IServiceCollection services)
    {
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyAuthenticationHandler.OperatorPolicy, policy => policy.RequireRole(ApiKeyRoles.Operator));
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
        app.MapAssetEndpoints();
        app.MapBudgetEndpoints();
        app.MapReceiptEndpoints();
        app.MapReconciliationEndpoints();
        app.MapReconRunEndpoints();
        app.MapMetricsEndpoints();

        app.MapOpenApi("/openapi/{documentName}.json");
        app.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "docs";
            options.DocumentTitle = "Wallet API";
            options.SwaggerEndpoint("/openapi/v1.json", "Wallet API v1");
        });
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        return app;
    }

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
