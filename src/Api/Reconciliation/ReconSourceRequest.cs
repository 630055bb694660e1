using System.Globalization;
using Cronos;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Reconciliation;

/// <summary>
/// Reads a reconciliation source from its request body: every field checked, every default filled
/// in, so that the source stored says in full how its records are read and matched.
/// </summary>
internal static class ReconSourceRequest
{
    public const int NameLengthMax = 100;
    private const int ColumnLengthMax = 255;
    private const int FormatLengthMax = 64;
    private const decimal AmountToleranceMax = 1_000_000m;

    /// <summary>The source the body describes; null when a field is bad (the body's problem says which).</summary>
    public static ReconSourceView? Read(JsonRequest body, string id, DateTimeOffset now)
    {
        var name = body.String("name", required: true, NameLengthMax);
        if (name is not null && !IsName(name))
        {
            body.Fail("name must start with a letter or a digit and hold only letters, digits, spaces, '.', '_' and '-'");
        }

        var account = body.String("ledger_account", required: true, ColumnLengthMax);
        if (account is not null && account.StartsWith('@') && !SystemAccounts.TryParseReference(account, out _))
        {
            body.Fail("ledger_account " + SystemAccounts.NotAnAccount(account));
        }

        var format = OneOf(body, "format", ReconSourceView.Formats) ?? ReconSourceView.Csv;
        var badRows = OneOf(body, "bad_rows", ReconSourceView.BadRowPolicies) ?? ReconSourceView.RefuseFile;
        var mapping = body.Object("mapping", named: true) is { } mapped ? Mapping(mapped) : Fail<ReconMapping>(body, "mapping is required");
        var tolerances = body.Object("tolerances", named: true) is { } given ? Tolerances(given) : ReconTolerances.Default;
        var schedule = body.Object("schedule", named: true) is { } timed ? Schedule(timed) : null;
        if (mapping is not null)
        {
            var columns = new[] { mapping.ExternalId, mapping.Amount, mapping.Timestamp, mapping.Currency, mapping.Reference, mapping.Description }
                .OfType<string>().ToList();
            if (columns.Distinct(StringComparer.OrdinalIgnoreCase).Count() != columns.Count)
            {
                body.Fail("mapping names a column twice: each field needs a column of its own");
            }
        }

        return body.Problem is not null ? null : new ReconSourceView(id, name!, account!, format, mapping!, tolerances!, badRows, schedule, now);
    }

    private static bool IsName(string name) =>
        char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is ' ' or '.' or '_' or '-');

    private static ReconMapping? Mapping(JsonRequest mapping)
    {
        var externalId = mapping.String("external_id", required: true, ColumnLengthMax);
        var amount = mapping.String("amount", required: true, ColumnLengthMax);
        var timestamp = mapping.String("timestamp", required: true, ColumnLengthMax);
        var currency = mapping.String("currency", required: false, ColumnLengthMax);
        var reference = mapping.String("reference", required: false, ColumnLengthMax);
        var description = mapping.String("description", required: false, ColumnLengthMax);
        var sign = OneOf(mapping, "amount_sign", ReconMapping.AmountSigns) ?? ReconMapping.CreditPositive;
        var decimalSeparator = OneOf(mapping, "decimal_separator", ReconMapping.DecimalSeparators) ?? ".";
        var thousands = OneOf(mapping, "thousands_separator", ReconMapping.ThousandsSeparators, allowEmpty: true) ?? "";
        var delimiter = OneOf(mapping, "delimiter", ReconMapping.Delimiters) ?? ",";
        var timestampFormat = mapping.String("timestamp_format", required: false, FormatLengthMax);
        var timeZone = mapping.String("time_zone", required: false, FormatLengthMax) ?? "UTC";
        var currencyDefault = mapping.String("currency_default", required: false, 12)?.ToUpperInvariant();
        if (decimalSeparator == thousands)
        {
            mapping.Fail("thousands_separator must differ from decimal_separator");
        }

        if (currency is null && currencyDefault is null)
        {
            mapping.Fail("currency (the currency's column) or currency_default (the source's one currency) is required");
        }

        if (timestampFormat is not null && !IsTimeFormat(timestampFormat))
        {
            mapping.Fail($"timestamp_format '{timestampFormat}' is not a .NET date and time format (such as dd/MM/yyyy HH:mm)");
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out _))
        {
            mapping.Fail($"time_zone '{timeZone}' is not a time zone (an IANA name such as Europe/London)");
        }

        return mapping.Problem is not null ? null : new ReconMapping(
            externalId!, amount!, currency, timestamp!, reference, description, sign, decimalSeparator, thousands, timestampFormat, timeZone, currencyDefault,
            delimiter);
    }

    private static ReconTolerances? Tolerances(JsonRequest tolerances)
    {
        var amount = tolerances.AmountText("amount", required: false) ?? ReconTolerances.AmountDefault;
        if (!decimal.TryParse(amount, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value > AmountToleranceMax)
        {
            tolerances.Fail($"amount must be a decimal from 0 to {AmountToleranceMax.ToString(CultureInfo.InvariantCulture)}, such as \"0.05\"");
        }

        var window = tolerances.Integer("time_window_seconds", 0, ReconTolerances.TimeWindowSecondsMax) ?? ReconTolerances.TimeWindowSecondsDefault;
        var threshold = ReconTolerances.FuzzyThresholdDefault;
        if (tolerances.Has("fuzzy_threshold"))
        {
            threshold = tolerances.Number("fuzzy_threshold") is { } given and > 0 and <= 1 ? given : FailNumber(tolerances);
        }

        return tolerances.Problem is not null ? null : new ReconTolerances(amount, (int)window, threshold);
    }

    private static double FailNumber(JsonRequest tolerances)
    {
        tolerances.Fail("fuzzy_threshold must be a number above 0 and at most 1");
        return 0;
    }

    private static ReconSchedule? Schedule(JsonRequest schedule)
    {
        var cron = schedule.String("cron", required: true, 100);
        var timeZone = schedule.String("time_zone", required: false, FormatLengthMax) ?? "UTC";
        if (cron is not null && !CronExpression.TryParse(cron, CronFormat.Standard, out _))
        {
            schedule.Fail($"cron '{cron}' is not a five-field cron expression (minute hour day-of-month month day-of-week, such as 0 6 * * *)");
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out _))
        {
            schedule.Fail($"time_zone '{timeZone}' is not a time zone (an IANA name such as Europe/London)");
        }

        return schedule.Problem is not null ? null : new ReconSchedule(cron!, timeZone);
    }

    private static bool IsTimeFormat(string format)
    {
        try
        {
            var sample = new DateTime(2025, 7, 13, 14, 5, 9, DateTimeKind.Unspecified).ToString(format, CultureInfo.InvariantCulture);
            return DateTime.TryParseExact(sample, format, CultureInfo.InvariantCulture, DateTimeStyles.None, out _);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string? OneOf(JsonRequest body, string name, IReadOnlyList<string> allowed, bool allowEmpty = false)
    {
        if (!body.Has(name))
        {
            return null;
        }

        var value = allowEmpty && body.RawString(name) is "" ? "" : body.String(name, required: false, 32);
        return value is null || allowed.Contains(value)
            ? value
            : body.Fail($"{name} must be one of {string.Join(", ", allowed.Select(a => $"'{a.Replace("\t", "\\t", StringComparison.Ordinal)}'"))}");
    }

    private static T? Fail<T>(JsonRequest body, string detail) where T : class
    {
        body.Fail(detail);
        return null;
    }
}
