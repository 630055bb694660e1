using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Compliance;

/// <summary>
/// The schedule itself: with <c>Compliance:RescreenEvery</c> at two seconds, the tenant's
/// rescreening grain's reminder starts rescreenings on its own after the one an import started.
/// </summary>
public sealed class RescreeningScheduleTests : IAsyncLifetime
{
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() =>
        _factory = await WalletApiFactory.CreateAsync("rescreenschedule", new Dictionary<string, string?> { ["Compliance:RescreenEvery"] = "00:00:02" });

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task TheReminder_StartsRescreeningsOfTheOwners_OnItsOwn()
    {
        var (_, tenant) = await _factory.CreateOperatorTenantAsync("schedule");
        var imported = await tenant.ImportWatchlistAsync("list", "name,aliases,date_of_birth,country\nSomebody Unrelated,,,\n", HttpStatusCode.Created);
        Assert.Equal("completed", (await tenant.JobEndedAsync(imported.GetProperty("rescreening").Str("id"))).Str("status"));
        await tenant.CreateOwnedWalletAsync("person-1", new { name = "Quentin A. Fairweather", country = "GB" });
        await tenant.CreateOwnedWalletAsync("person-2", new { name = "John Smith" });

        var scheduled = await ScheduledJobAsync(tenant, TimeSpan.FromSeconds(20));

        Assert.NotNull(scheduled);
        var job = await tenant.JobEndedAsync(scheduled.Value.Str("id"));
        Assert.Equal(("rescreening", "schedule", "completed", 2, 0), (job.Str("kind"), job.Str("trigger"), job.Str("status"),
            job.GetProperty("screened").GetInt32(), job.GetProperty("flagged").GetInt32()));
    }

    /// <summary>The first rescreening the schedule started after both wallets were created, if one starts within <paramref name="limit"/>.</summary>
    private static async Task<JsonElement?> ScheduledJobAsync(HttpClient tenant, TimeSpan limit)
    {
        var since = DateTimeOffset.UtcNow;
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            var jobs = await (await tenant.GetAsync("/v1/compliance/jobs")).ExpectAsync(HttpStatusCode.OK);
            foreach (var job in jobs.GetProperty("data").EnumerateArray())
            {
                if (job.Str("trigger") == "schedule" && job.GetProperty("started_at").GetDateTimeOffset() >= since)
                {
                    return job;
                }
            }

            await Task.Delay(200);
        }

        return null;
    }
}
