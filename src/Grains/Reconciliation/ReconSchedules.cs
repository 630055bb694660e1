using Cronos;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Times of reconciliation: the day a run covers, read in a time zone, and when a source's schedule
/// is due. A scheduled run reconciles the whole day before the day it fires on, in the schedule's
/// time zone (a 06:00 run on the 14th covers the 13th).
/// </summary>
public static class ReconSchedules
{
    // How far back a tick looks for the occurrence it is for (a silo down longer runs only the latest day).
    private static readonly TimeSpan LookBack = TimeSpan.FromDays(2);

    /// <summary>The day <paramref name="date"/> in <paramref name="timeZone"/>: from its midnight to the next.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Day(DateOnly date, string timeZone)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        return (Midnight(date, zone), Midnight(date.AddDays(1), zone));
    }

    /// <summary>The time zone a source's days are read in: its schedule's, else its mapping's.</summary>
    public static string TimeZoneOf(ReconSourceView source) => source.Schedule?.TimeZone ?? source.Mapping.TimeZone;

    /// <summary>The schedule's first time after <paramref name="now"/>.</summary>
    public static DateTimeOffset? Next(ReconSchedule schedule, DateTimeOffset now) =>
        CronExpression.Parse(schedule.Cron).GetNextOccurrence(now, TimeZoneInfo.FindSystemTimeZoneById(schedule.TimeZone));

    /// <summary>The schedule's latest time at or before <paramref name="now"/> (within two days), if any.</summary>
    public static DateTimeOffset? Latest(ReconSchedule schedule, DateTimeOffset now) =>
        CronExpression.Parse(schedule.Cron)
            .GetOccurrences(now - LookBack, now, TimeZoneInfo.FindSystemTimeZoneById(schedule.TimeZone), fromInclusive: true, toInclusive: true)
            .Select(o => (DateTimeOffset?)o)
            .LastOrDefault();

    /// <summary>The day a run fired at <paramref name="occurrence"/> covers: the day before it, in the schedule's time zone.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) DayBefore(DateTimeOffset occurrence, string timeZone)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        var local = TimeZoneInfo.ConvertTime(occurrence, zone);
        return Day(DateOnly.FromDateTime(local.DateTime).AddDays(-1), timeZone);
    }

    private static DateTimeOffset Midnight(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue);
        // Where a clock change skips midnight, the day starts at the first minute that exists.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }
}
