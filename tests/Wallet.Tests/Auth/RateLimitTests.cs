using System.Net;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>
/// Rate limits: a key's burst beyond its bucket is answered 429 with Retry-After while another key
/// goes on unslowed, and signing in is limited per address and per account.
/// </summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() => _factory = await WalletApiFactory.CreateAsync("ratelimits", new()
    {
        ["RateLimits:RequestsPerSecond"] = "2",
        ["RateLimits:Burst"] = "5",
        ["RateLimits:Groups:Sign-in:RequestsPerSecond"] = "1000",
        ["RateLimits:Groups:Sign-in:Burst"] = "1000",
        ["RateLimits:SignInPerAddressPerMinute"] = "8",
        ["RateLimits:SignInPerAccountPerMinute"] = "3",
    });

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task ABurstBeyondTheBucket_Gets429WithRetryAfter_AndAnotherKeyIsUnaffected()
    {
        var (_, noisy) = await _factory.CreateOperatorTenantAsync("noisy");
        var (_, quiet) = await _factory.CreateOperatorTenantAsync("quiet");

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 12; i++)
        {
            answers.Add(await noisy.GetAsync("/v1/wallets"));
        }

        var limited = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(limited.Count, 1, 7); // a bucket of 5, refilled 2 a second while the 12 go out
        var problem = await limited[0].ExpectProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.Contains("try again", problem.Str("detail"), StringComparison.Ordinal);
        Assert.True(int.Parse(limited[0].Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        // Its own bucket: the other tenant's key is served.
        Assert.Equal(HttpStatusCode.OK, (await quiet.GetAsync("/v1/wallets")).StatusCode);
        // Another route group of the same key has its own bucket too.
        Assert.Equal(HttpStatusCode.OK, (await noisy.GetAsync("/v1/auth/me")).StatusCode);
    }

    [Fact]
    public async Task SignIn_IsLimitedPerAccount_ThenPerAddress()
    {
        using var anonymous = _factory.CreateClient();
        var email = $"nobody.{Guid.NewGuid():N}@example.com";
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await anonymous.PostJsonAsync("/v1/auth/login", new { email, password = "whatever it is here" })).StatusCode);
        }

        // Three attempts for one account a minute; the fourth is refused before any password is checked.
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
        var others = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            others.Add(await anonymous.PostJsonAsync("/v1/auth/login", new { email = $"other{i}.{Guid.NewGuid():N}@example.com", password = "whatever it is here" }));
        }

        // Eight sign-in requests from this address a minute: the four above and four of these.
        Assert.Equal(4, others.Count(o => o.StatusCode == HttpStatusCode.Unauthorized));
        await others[^1].ExpectProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
    }
}
