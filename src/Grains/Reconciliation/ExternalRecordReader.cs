using System.Globalization;
using Wallet.Grains.Money;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Reads one external record through a source's mapping: its fields by the names the mapping
/// gives, its amount in the currency's minor units signed from the ledger account's side, its time
/// in the source's time zone. A row that cannot be read says why, in words an operator can act on.
/// </summary>
public sealed class ExternalRecordReader
{
    public const int ExternalIdLengthMax = 255;
    public const int ReferenceLengthMax = 255;
    public const int DescriptionLengthMax = 1_000;

    private static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd HH:mmK", "yyyy-MM-dd",
    ];

    private readonly ReconMapping _mapping;
    private readonly TimeZoneInfo _zone;
    private readonly Func<string, Currency?> _currency;

    /// <param name="currency">The tenant's currency of a code, or null when it has none by that code.</param>
    public ExternalRecordReader(ReconMapping mapping, Func<string, Currency?> currency)
    {
        _mapping = mapping;
        _zone = TimeZoneInfo.FindSystemTimeZoneById(mapping.TimeZone);
        _currency = currency;
    }

    /// <summary>The columns (or fields) a record must have for the mapping to be read.</summary>
    public IEnumerable<string> Required =>
        new[] { _mapping.ExternalId, _mapping.Amount, _mapping.Timestamp, _mapping.Currency }.OfType<string>();

    /// <summary>The columns (or fields) the mapping reads.</summary>
    public IEnumerable<string> Mapped => Required.Concat(new[] { _mapping.Reference, _mapping.Description }.OfType<string>());

    /// <summary>Reads a record from <paramref name="field"/> (a mapped name's value, null when absent); the reason when it cannot.</summary>
    public (ExternalRecord Record, string? Reason) Read(Func<string, string?> field, int line)
    {
        var externalId = field(_mapping.ExternalId)?.Trim();
        if (string.IsNullOrEmpty(externalId))
        {
            return Bad($"{_mapping.ExternalId} (the external id) is empty");
        }

        if (externalId.Length > ExternalIdLengthMax)
        {
            return Bad($"{_mapping.ExternalId} (the external id) is longer than {ExternalIdLengthMax} characters");
        }

        var code = CurrencyCodeOf(field);
        if (string.IsNullOrEmpty(code))
        {
            return Bad($"{_mapping.Currency} (the currency) is empty");
        }

        if (_currency(code) is not { } currency)
        {
            return Bad($"{code} is not a currency or asset of this tenant");
        }

        var (amount, amountReason) = ReadAmount(field(_mapping.Amount), currency);
        if (amountReason is not null)
        {
            return Bad($"{_mapping.Amount} (the amount): {amountReason}");
        }

        var (occurredAt, timeReason) = ReadTime(field(_mapping.Timestamp));
        if (timeReason is not null)
        {
            return Bad($"{_mapping.Timestamp} (the time): {timeReason}");
        }

        var reference = Optional(field, _mapping.Reference);
        if (reference?.Length > ReferenceLengthMax)
        {
            return Bad($"{_mapping.Reference} (the reference) is longer than {ReferenceLengthMax} characters");
        }

        var description = Optional(field, _mapping.Description);
        if (description?.Length > DescriptionLengthMax)
        {
            description = description[..DescriptionLengthMax];
        }

        return (new ExternalRecord(externalId, amount, currency.Code, occurredAt, reference, description, line), null);
    }

    /// <summary>The currency code a record names (or the source's own); null when it names none.</summary>
    public string? CurrencyCodeOf(Func<string, string?> field) =>
        _mapping.Currency is { } column ? field(column)?.Trim().ToUpperInvariant() is { Length: > 0 } code ? code : null : _mapping.CurrencyDefault;

    private static (ExternalRecord, string?) Bad(string reason) => (default, reason);

    private static string? Optional(Func<string, string?> field, string? name) =>
        name is null || field(name)?.Trim() is not { Length: > 0 } value ? null : value;

    /// <summary>
    /// The amount in minor units from the ledger account's side: a leading minus, a trailing minus or
    /// parentheses make it negative; the mapping's separators are honoured; more decimals than the
    /// currency has are refused, never rounded.
    /// </summary>
    internal (long Amount, string? Reason) ReadAmount(string? text, Currency currency)
    {
        var value = text?.Trim() ?? "";
        if (value.Length == 0)
        {
            return (0, "it is empty");
        }

        var negative = false;
        if (value is ['(', .., ')'])
        {
            (negative, value) = (true, value[1..^1].Trim());
        }

        if (value.StartsWith('-') || value.EndsWith('-'))
        {
            (negative, value) = (!negative, value.Trim('-').Trim());
        }
        else if (value.StartsWith('+'))
        {
            value = value[1..].Trim();
        }

        if (_mapping.ThousandsSeparator.Length > 0)
        {
            value = value.Replace(_mapping.ThousandsSeparator, "", StringComparison.Ordinal);
        }

        if (_mapping.DecimalSeparator != ".")
        {
            if (value.Contains('.', StringComparison.Ordinal))
            {
                return (0, $"'{text}' has a '.' where the decimal separator is '{_mapping.DecimalSeparator}'");
            }

            value = value.Replace(_mapping.DecimalSeparator, ".", StringComparison.Ordinal);
        }

        // The sign is taken off already: what is not positive is zero.
        var error = Money.Amount.TryParse(value, currency.Scale, out var minorUnits);
        if (error == AmountError.NotPositive)
        {
            return (0, "it is zero");
        }

        if (error != AmountError.None)
        {
            return (0, $"'{text}': {Money.Amount.Describe(error, currency.Code, currency.Scale)}");
        }

        var sign = (negative ? -1 : 1) * (_mapping.AmountSign == ReconMapping.DebitPositive ? -1 : 1);
        return (sign * minorUnits, null);
    }

    /// <summary>
    /// The time: in the mapping's format when it has one, else ISO 8601 (a date alone is its
    /// midnight); a time without an offset is read in the source's time zone.
    /// </summary>
    internal (DateTimeOffset At, string? Reason) ReadTime(string? text)
    {
        var value = text?.Trim() ?? "";
        if (value.Length == 0)
        {
            return (default, "it is empty");
        }

        string[] formats = _mapping.TimestampFormat is { } format ? [format] : IsoFormats;
        // An offset written in the value makes the time UTC; without one it stays unspecified, a wall-clock time of the zone.
        if (DateTime.TryParseExact(value, formats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return (parsed.Kind == DateTimeKind.Utc ? new DateTimeOffset(parsed, TimeSpan.Zero) : InZone(parsed), null);
        }

        return (default, _mapping.TimestampFormat is { } expected
            ? $"'{text}' is not a time in the format {expected}"
            : $"'{text}' is not an ISO 8601 date or time (set mapping.timestamp_format for another)");
    }

    private DateTimeOffset InZone(DateTime local)
    {
        if (_zone.IsInvalidTime(local))
        {
            local = local.AddHours(1); // a time the clocks skipped: the first instant after the gap
        }

        return new DateTimeOffset(local, _zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
