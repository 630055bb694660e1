using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Grains.Reconciliation;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// A source's schedule: the day a scheduled run covers (the day before it fires, in the schedule's
/// time zone, clock changes included), and a source run by its cron expression through its reminder, once per day.
/// </summary>
public sealed class ReconScheduleTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Theory]
    [InlineData("0 6 * * *", "UTC", "2025-07-14T07:00:00Z", "2025-07-14T06:00:00Z", "2025-07-13T00:00:00Z", "2025-07-14T00:00:00Z")]
    [InlineData("0 6 * * *", "UTC", "2025-07-14T05:59:00Z", "2025-07-13T06:00:00Z", "2025-07-12T00:00:00Z", "2025-07-13T00:00:00Z")]
    [InlineData("30 1 * * *", "Europe/London", "2025-07-14T01:00:00Z", "2025-07-14T00:30:00Z", "2025-07-12T23:00:00Z", "2025-07-13T23:00:00Z")]
    // The night London's clocks go back: that day lasts 25 hours.
    [InlineData("0 6 * * *", "Europe/London", "2025-10-27T07:00:00Z", "2025-10-27T06:00:00Z", "2025-10-25T23:00:00Z", "2025-10-27T00:00:00Z")]
    public void Latest_AndTheDayItCovers_AreReadInTheSchedulesTimeZone(string cron, string zone, string now, string latest, string from, string to)
    {
        var schedule = new ReconSchedule(cron, zone);

        var occurrence = ReconSchedules.Latest(schedule, Time(now));

        Assert.Equal(Time(latest), occurrence);
        Assert.Equal((Time(from), Time(to)), ReconSchedules.DayBefore(occurrence!.Value, zone));
        Assert.True(ReconSchedules.Next(schedule, Time(now)) > Time(now));
    }

    /// <summary>
    /// A source that runs every minute gets, within about a minute of being made, one scheduled run
    /// of yesterday (UTC), which completes; asked again for that day, the schedule finds the same run.
    /// </summary>
    [Fact]
    public async Task Source_WithASchedule_IsRunByItsReminder_OncePerDay()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-schedule");
        var source = (await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new
        {
            name = "bank", ledger_account = "@settlement", format = "json",
            mapping = new { external_id = "id", amount = "amount", currency_default = "USD", timestamp = "at" },
            schedule = new { cron = "* * * * *" },
        })).ExpectAsync(HttpStatusCode.Created)).Str("id");

        var run = await WaitForRunAsync(tenant, source, DateTimeOffset.UtcNow.AddSeconds(90));

        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        Assert.True(run.GetProperty("scheduled").GetBoolean());
        Assert.Contains(run.GetProperty("from").GetDateTimeOffset(), new[] { today.AddDays(-1), today.AddDays(-2) }.Select(d => Time(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00Z")));
        Assert.Equal(run.GetProperty("from").GetDateTimeOffset().AddDays(1), run.GetProperty("to").GetDateTimeOffset());
        var again = await api.Factory.GetService<ReconRunStore>().CreateScheduledRunAsync(
            tenantId, source, run.GetProperty("from").GetDateTimeOffset(), run.GetProperty("to").GetDateTimeOffset(), DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.Equal(run.Str("id"), again.Id);
    }

    private static async Task<JsonElement> WaitForRunAsync(HttpClient tenant, string source, DateTimeOffset deadline)
    {
        while (true)
        {
            var runs = await (await tenant.GetAsync($"/v1/reconciliation/runs?source_id={source}")).ExpectAsync(HttpStatusCode.OK);
            if (runs.GetProperty("data").EnumerateArray().FirstOrDefault(r => r.Str("status") == "completed") is { ValueKind: JsonValueKind.Object } run)
            {
                return run.Clone();
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"no scheduled run completed: {runs.GetRawText()}");
            await Task.Delay(500);
        }
    }

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
