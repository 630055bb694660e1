using Wallet.Grains.Receipts;
using Xunit;

namespace Wallet.Tests.Receipts;

/// <summary>The total, date and merchant found in receipts' text as shops print it, and the lines that must not be taken for them.</summary>
public sealed class ReceiptExtractorTests
{
    private static readonly DateOnly Day = new(2026, 12, 4);

    [Theory]
    [InlineData("23.76", "SUBTOTAL 22.00", "TAX 1.76", "TOTAL 23.76", "CASH 30.00", "CHANGE 6.24")]
    [InlineData("23.76", "TOTAL 23.76", "TOTAL TAX 1.76", "TOTAL SAVINGS 3.00", "TOTAL ITEMS 4")]
    [InlineData("12.00", "TOTAL INCL. VAT 12.00", "VAT 20% 2.00")]
    [InlineData("1234.56", "AMOUNT DUE", "1,234.56")]
    [InlineData("1234.56", "Summe", "TOTAL 1.234,56")]
    [InlineData("40.00", "TOTAL 40.00", "BALANCE DUE 0.00", "VISA 40.00 APPROVED")]
    [InlineData("9.50", "Coffee 2.50", "Sandwich 9.50")]
    public void Total_IsTheAmountTheReceiptSaysIsTheTotal(string total, params string[] lines) =>
        Assert.Equal(total, Extract(lines).Total?.Value);

    [Fact]
    public void Total_WithoutAKeyword_IsTheLargestAmountAtHalfTheConfidence()
    {
        var fields = Extract(["Coffee 2.50", "Sandwich 9.50"]);

        Assert.Equal(("9.50", 0.45), (fields.Total?.Value, fields.Total?.Confidence));
    }

    [Fact]
    public void Amounts_NeverReadADateAsMoney() =>
        Assert.Empty(ReceiptExtractor.Amounts("Date 12.05.2026 14:03"));

    [Theory]
    [InlineData("2026-12-04", "Date: 2026-12-04 12:41")]
    [InlineData("2026-12-04", "Dec 4, 2026")]
    [InlineData("2026-12-04", "4 December 2026")]
    [InlineData("2026-12-04", "04.12.2026")]
    [InlineData("2026-12-04", "12/04/2026")] // read either way round: the way nearer the authorization
    [InlineData("2026-12-04", "04/12/26")]
    public void Date_IsTheFirstPrintedTheWayNearerTheAuthorization(string date, string line) =>
        Assert.Equal(date, Extract(["SHOP", line]).Date?.Value);

    [Fact]
    public void Merchant_IsTheFirstLineWithWordsThatIsNoAddressDateOrAmount()
    {
        var fields = Extract(["12/04/2026", "** 42 **", "Blue Bottle Coffee", "12 Market Street", "TOTAL 5.00"]);

        Assert.Equal("Blue Bottle Coffee", fields.Merchant?.Value);
    }

    [Fact]
    public void NothingFound_IsEmpty() =>
        Assert.True(Extract(["~~~", "..."]).IsEmpty);

    private static ReceiptFields Extract(string[] lines) =>
        ReceiptExtractor.Extract(new ReceiptText([.. lines.Select(l => new ReceiptLine(l, 0.9))], ReceiptText.Ocr, TimeSpan.Zero), Day);
}
