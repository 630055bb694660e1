using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Wallet.Api.Auth;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>A route group's own limit, in place of the default.</summary>
public sealed class GroupRateLimit
{
    public int RequestsPerSecond { get; set; }

    public int Burst { get; set; }
}

/// <summary>
/// The <c>RateLimits</c> settings. Each API key or person has a token bucket per route group (its
/// OpenAPI tag: Wallets, Transfers, ...) of <see cref="RequestsPerSecond"/> with room for
/// <see cref="Burst"/>, or the group's own under <see cref="Groups"/>. Signing in is limited far
/// tighter, per address and per account.
/// </summary>
public sealed class RateLimitOptions
{
    public int RequestsPerSecond { get; set; } = 10_000;

    public int Burst { get; set; } = 20_000;

    /// <summary>Limits of route groups by their tag, e.g. <c>RateLimits:Groups:Reconciliation:RequestsPerSecond</c>.</summary>
    public Dictionary<string, GroupRateLimit> Groups { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Sign-in requests (login, its second factor, refresh, invitations, registration) from one address a minute.</summary>
    public int SignInPerAddressPerMinute { get; set; } = 30;

    /// <summary>Sign-in attempts for one account (an email, or a person between password and code) a minute.</summary>
    public int SignInPerAccountPerMinute { get; set; } = 10;
}

/// <summary>
/// ASP.NET Core's rate limiter over the API: 429 <c>rate_limited</c> with <c>Retry-After</c> when a
/// bucket is empty. One caller's bucket is theirs alone; others are never slowed by it.
/// </summary>
public static class RateLimits
{
    public const string SignInPolicy = "sign-in";

    public static IServiceCollection AddWalletRateLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration("RateLimits")
            .Validate(o => o.RequestsPerSecond >= 1 && o.Burst >= 1 && o.Groups.Values.All(g => g.RequestsPerSecond >= 1 && g.Burst >= 1),
                "RateLimits: requests per second and bursts must be at least 1")
            .Validate(o => o.SignInPerAddressPerMinute >= 1 && o.SignInPerAccountPerMinute >= 1, "RateLimits: sign-in limits must be at least 1")
            .ValidateOnStart();
        services.AddSingleton<SignInLimiter>();
        services.AddRateLimiter(o =>
        {
            o.OnRejected = (context, cancellationToken) => RejectAsync(context.HttpContext, context.Lease);
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (!http.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) || Caller(http.User) is not { } caller)
                {
                    return RateLimitPartition.GetNoLimiter("");
                }

                var options = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                var group = http.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.ITagsMetadata>()?.Tags.FirstOrDefault() ?? "";
                var (rate, burst) = options.Groups.TryGetValue(group, out var own) ? (own.RequestsPerSecond, own.Burst) : (options.RequestsPerSecond, options.Burst);
                return RateLimitPartition.GetTokenBucketLimiter($"{caller}|{group}", _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = burst,
                    TokensPerPeriod = rate,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.AddPolicy(SignInPolicy, http => RateLimitPartition.GetFixedWindowLimiter(Address(http), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.SignInPerAddressPerMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            }));
        });
        return services;
    }

    /// <summary>The 429 answer: the problem, and when to come back.</summary>
    public static ValueTask RejectAsync(HttpContext http, RateLimitLease lease) =>
        RejectAsync(http, lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1));

    /// <summary>The 429 answer: the problem, and to come back after <paramref name="retryAfter"/>.</summary>
    public static async ValueTask RejectAsync(HttpContext http, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Problems.Create(Problems.RateLimited, $"too many requests: try again in {seconds} s").ExecuteAsync(http);
    }

    /// <summary>Who a request's bucket is: a person by id, an API key by the start of its hash; none before authentication.</summary>
    private static string? Caller(ClaimsPrincipal user) =>
        user.FindFirst(AccessTokens.SubjectClaim)?.Value is { } person ? "user:" + person
        : user.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } key ? "key:" + key
        : null;

    private static string Address(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? IPAddress.None.ToString();
}

/// <summary>Sign-in attempts per account (an email, or the person a second-factor token is for), a fixed window a minute.</summary>
public sealed class SignInLimiter(IOptions<RateLimitOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(account =>
        RateLimitPartition.GetFixedWindowLimiter(account, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.SignInPerAccountPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <summary>A lease for one attempt on <paramref name="account"/>; not acquired when the account's minute is used up.</summary>
    public RateLimitLease Attempt(string account) => _limiter.AttemptAcquire(account);

    public void Dispose() => _limiter.Dispose();
}
