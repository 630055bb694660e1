using Wallet.Grains.Money;
using Wallet.Grains.Reconciliation;
using Xunit;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// How an external record's amount and time are read through a source's mapping: the ways banks
/// write a negative amount, both decimal conventions, a currency's scale never rounded; ISO times,
/// a custom format, an offset written in the value, and a local time the clocks skipped.
/// </summary>
public sealed class ExternalRecordReaderTests
{
    private static readonly Currency Usd = new("USD", 2);
    private static readonly Currency Jpy = new("JPY", 0);

    [Theory]
    [InlineData("12.34", 1234)]
    [InlineData("+12.34", 1234)]
    [InlineData("-12.34", -1234)]
    [InlineData("12.34-", -1234)]
    [InlineData("(12.34)", -1234)]
    [InlineData(" 1,234.5 ", 123450)]
    [InlineData("7", 700)]
    public void Amount_WithADotForDecimals(string text, long expected)
    {
        var (amount, reason) = Reader(thousands: ",").ReadAmount(text, Usd);

        Assert.Null(reason);
        Assert.Equal(expected, amount);
    }

    [Theory]
    [InlineData("1.234,56", 123456)]
    [InlineData("-0,01", -1)]
    public void Amount_WithACommaForDecimals(string text, long expected)
    {
        var (amount, reason) = Reader(decimalSeparator: ",", thousands: ".").ReadAmount(text, Usd);

        Assert.Null(reason);
        Assert.Equal(expected, amount);
    }

    [Theory]
    [InlineData("1.005", "USD", "USD allows (2)")]
    [InlineData("1.5", "JPY", "JPY allows (0)")]
    [InlineData("0.00", "USD", "it is zero")]
    [InlineData("", "USD", "it is empty")]
    [InlineData("12,34", "USD", "a decimal number")]
    [InlineData("1e5", "USD", "a decimal number")]
    [InlineData("0.0.0", "USD", "a decimal number")]
    public void Amount_ThatIsNotOneForTheCurrency_SaysWhy(string text, string currency, string said)
    {
        var (_, reason) = Reader().ReadAmount(text, currency == "JPY" ? Jpy : Usd);

        Assert.NotNull(reason);
        Assert.Contains(said, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Amount_DebitPositive_IsTurnedToTheAccountsSide()
    {
        var (amount, _) = Reader(sign: ReconMapping.DebitPositive).ReadAmount("12.34", Usd);

        Assert.Equal(-1234, amount);
    }

    [Theory]
    [InlineData("2025-07-13", null, "UTC", "2025-07-13T00:00:00+00:00")]
    [InlineData("2025-07-13", null, "Europe/London", "2025-07-12T23:00:00+00:00")]
    [InlineData("2025-07-13T10:15:30", null, "Europe/Berlin", "2025-07-13T08:15:30+00:00")]
    [InlineData("2025-07-13T10:15:30.25Z", null, "Europe/Berlin", "2025-07-13T10:15:30.25+00:00")]
    [InlineData("2025-07-13 10:15-05:00", null, "UTC", "2025-07-13T15:15:00+00:00")]
    [InlineData("13/07/2025 10:15", "dd/MM/yyyy HH:mm", "Asia/Tokyo", "2025-07-13T01:15:00+00:00")]
    [InlineData("2025-03-30T02:30:00", null, "Europe/Berlin", "2025-03-30T01:30:00+00:00")]
    public void Time_IsReadInTheSourcesZoneUnlessItCarriesItsOffset(string text, string? format, string zone, string expected)
    {
        var (at, reason) = Reader(timestampFormat: format, timeZone: zone).ReadTime(text);

        Assert.Null(reason);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), at);
        Assert.Equal(TimeSpan.Zero, at.Offset);
    }

    [Theory]
    [InlineData("13/07/2025", null, "not an ISO 8601")]
    [InlineData("2025-07-13", "dd/MM/yyyy", "not a time in the format dd/MM/yyyy")]
    [InlineData("yesterday", null, "not an ISO 8601")]
    public void Time_InAnotherFormat_SaysWhich(string text, string? format, string said)
    {
        var (_, reason) = Reader(timestampFormat: format).ReadTime(text);

        Assert.Contains(said, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TakesEachFieldByItsMappedName_AndNamesTheColumnOfABadOne()
    {
        var reader = Reader();
        var fields = new Dictionary<string, string?> { ["id"] = " T-1 ", ["amt"] = "5.00", ["cur"] = "usd", ["at"] = "2025-07-13", ["ref"] = " ", ["memo"] = "Lunch" };

        var (record, reason) = reader.Read(name => fields.GetValueOrDefault(name), 7);
        fields["amt"] = "five";
        var (_, bad) = reader.Read(name => fields.GetValueOrDefault(name), 8);

        Assert.Null(reason);
        Assert.Equal(new ExternalRecord("T-1", 500, "USD", new DateTimeOffset(2025, 7, 13, 0, 0, 0, TimeSpan.Zero), null, "Lunch", 7), record);
        Assert.StartsWith("amt (the amount): 'five'", bad, StringComparison.Ordinal);
    }

    private static ExternalRecordReader Reader(
        string sign = ReconMapping.CreditPositive, string decimalSeparator = ".", string thousands = "", string? timestampFormat = null, string timeZone = "UTC") =>
        new(new ReconMapping("id", "amt", "cur", "at", "ref", "memo", sign, decimalSeparator, thousands, timestampFormat, timeZone, null, ","),
            code => code == "USD" ? Usd : code == "JPY" ? Jpy : null);
}
