using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Wallet.Grains.Money;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>
/// <see cref="Amount"/> is the only door from client text to minor units: every property here is a
/// way money could be silently rounded, inflated or invented if it failed.
/// </summary>
public sealed class AmountTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(1_000);

    private static readonly Gen<int> Scales = Gen.Choose(0, Amount.ScaleMax);

    [Theory]
    [InlineData("149.99", 2, 14_999)]
    [InlineData("149.9", 2, 14_990)]
    [InlineData("149", 2, 14_900)]
    [InlineData("0.01", 2, 1)]
    [InlineData("1.500", 2, 150)]
    [InlineData("007.50", 2, 750)]
    [InlineData("1000", 0, 1_000)]
    [InlineData("1.000", 0, 1)]
    [InlineData("0.001", 3, 1)]
    [InlineData("0.00000001", 8, 1)]
    [InlineData("10000000000000", 2, Amount.MinorUnitsMax)]
    [InlineData("1000000000000000", 0, Amount.MinorUnitsMax)]
    public void TryParse_ValidText_GivesExactMinorUnits(string text, int scale, long expected)
    {
        Assert.Equal(AmountError.None, Amount.TryParse(text, scale, out var minorUnits));
        Assert.Equal(expected, minorUnits);
    }

    // Deliberate leniency of the parser: surrounding whitespace is trimmed and an explicit plus sign is
    // allowed. Neither can change the value, so both read as the plain number.
    [Theory]
    [InlineData(" 5", 500)]
    [InlineData("5 ", 500)]
    [InlineData("+5", 500)]
    [InlineData(" +5.25 ", 525)]
    public void TryParse_WhitespaceOrPlusSign_ReadsThePlainNumber(string text, long expected)
    {
        Assert.Equal(AmountError.None, Amount.TryParse(text, 2, out var minorUnits));
        Assert.Equal(expected, minorUnits);
    }

    [Theory]
    [InlineData("1.001", 2, AmountError.TooPrecise)]
    [InlineData("0.001", 2, AmountError.TooPrecise)]
    [InlineData("1.5", 0, AmountError.TooPrecise)]
    [InlineData("0.000000001", 8, AmountError.TooPrecise)]
    [InlineData("0.00", 2, AmountError.NotPositive)]
    [InlineData("0", 2, AmountError.NotPositive)]
    [InlineData("000", 0, AmountError.NotPositive)]
    [InlineData("-1", 2, AmountError.NotPositive)]
    [InlineData("-0.01", 2, AmountError.NotPositive)]
    [InlineData("-0", 2, AmountError.NotPositive)]
    [InlineData("abc", 2, AmountError.NotANumber)]
    [InlineData("1e5", 2, AmountError.NotANumber)]
    [InlineData("1E5", 0, AmountError.NotANumber)]
    [InlineData(".5", 2, AmountError.NotANumber)]
    [InlineData("5.", 2, AmountError.NotANumber)]
    [InlineData(".", 2, AmountError.NotANumber)]
    [InlineData("-", 2, AmountError.NotANumber)]
    [InlineData("+", 2, AmountError.NotANumber)]
    [InlineData("--5", 2, AmountError.NotANumber)]
    [InlineData("+-5", 2, AmountError.NotANumber)]
    [InlineData("-+5", 2, AmountError.NotANumber)]
    [InlineData("- 5", 2, AmountError.NotANumber)]
    [InlineData("1.2.3", 2, AmountError.NotANumber)]
    [InlineData("1..2", 2, AmountError.NotANumber)]
    [InlineData("1,000", 2, AmountError.NotANumber)]
    [InlineData("1 000", 2, AmountError.NotANumber)]
    [InlineData("0x10", 0, AmountError.NotANumber)]
    [InlineData("NaN", 2, AmountError.NotANumber)]
    [InlineData("Infinity", 2, AmountError.NotANumber)]
    [InlineData("١٢", 0, AmountError.NotANumber)] // Arabic-Indic digits are not ASCII digits
    [InlineData("", 2, AmountError.Empty)]
    [InlineData("   ", 2, AmountError.Empty)]
    [InlineData(null, 2, AmountError.Empty)]
    [InlineData("10000000000000.01", 2, AmountError.TooLarge)]
    [InlineData("1000000000000001", 0, AmountError.TooLarge)]
    [InlineData("9223372036854775807", 0, AmountError.TooLarge)]
    [InlineData("9223372036854775808", 0, AmountError.TooLarge)]
    [InlineData("99999999999999999999999999999999", 2, AmountError.TooLarge)]
    [InlineData("100000000", 8, AmountError.TooLarge)]
    public void TryParse_InvalidText_GivesTheReasonAndZero(string? text, int scale, AmountError expected)
    {
        Assert.Equal(expected, Amount.TryParse(text, scale, out var minorUnits));
        Assert.Equal(0, minorUnits);
    }

    [Theory]
    [InlineData(14_999, 2, "149.99")]
    [InlineData(1, 2, "0.01")]
    [InlineData(100, 2, "1.00")]
    [InlineData(0, 2, "0.00")]
    [InlineData(-1, 3, "-0.001")]
    [InlineData(-14_999, 2, "-149.99")]
    [InlineData(1_000, 0, "1000")]
    [InlineData(long.MinValue, 2, "-92233720368547758.08")]
    public void Format_MinorUnits_WritesExactlyScaleDecimals(long minorUnits, int scale, string expected) =>
        Assert.Equal(expected, Amount.Format(minorUnits, scale));

    [Fact]
    public void FormatThenTryParse_EveryPositiveAmountUpToTheMax_RoundTrips()
    {
        var cases = from scale in Scales from minorUnits in ValidMinorUnits() select (minorUnits, scale);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var text = Amount.Format(c.minorUnits, c.scale);
            Assert.Equal(AmountError.None, Amount.TryParse(text, c.scale, out var parsed));
            Assert.Equal(c.minorUnits, parsed);
            Assert.Equal(c.scale == 0 ? -1 : text.Length - c.scale - 1, text.IndexOf('.', StringComparison.Ordinal));
        }));
    }

    [Fact]
    public void TryParse_MoreSignificantDecimalsThanTheScale_IsTooPrecise()
    {
        var cases =
            from scale in Scales
            from integer in Digits(1, 6)
            from extra in Gen.Choose(1, 4)
            from fraction in Digits(scale + extra - 1, scale + extra - 1)
            from last in Gen.Choose(1, 9)
            from zeros in Gen.Choose(0, 3)
            select (Text: $"{integer}.{fraction}{last}{new string('0', zeros)}", Scale: scale);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            Assert.Equal(AmountError.TooPrecise, Amount.TryParse(c.Text, c.Scale, out var minorUnits));
            Assert.Equal(0, minorUnits);
        }));
    }

    [Fact]
    public void TryParse_TrailingZerosBeyondTheScale_DoNotChangeTheValue()
    {
        var cases = from scale in Scales from minorUnits in ValidMinorUnits() from zeros in Gen.Choose(1, 12) select (minorUnits, scale, zeros);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var text = Amount.Format(c.minorUnits, c.scale);
            var padded = (c.scale == 0 ? text + "." : text) + new string('0', c.zeros);
            Assert.Equal(AmountError.None, Amount.TryParse(padded, c.scale, out var parsed));
            Assert.Equal(c.minorUnits, parsed);
        }));
    }

    [Fact]
    public void TryParse_LeadingZeros_DoNotChangeTheValue()
    {
        var cases = from scale in Scales from minorUnits in ValidMinorUnits() from zeros in Gen.Choose(1, 30) select (minorUnits, scale, zeros);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var padded = new string('0', c.zeros) + Amount.Format(c.minorUnits, c.scale);
            Assert.Equal(AmountError.None, Amount.TryParse(padded, c.scale, out var parsed));
            Assert.Equal(c.minorUnits, parsed);
        }));
    }

    [Fact]
    public void TryParse_ZeroOrNegative_IsNotPositive()
    {
        var zero =
            from integerZeros in Gen.Choose(1, 5)
            from fractionZeros in Gen.Choose(0, 5)
            select new string('0', integerZeros) + (fractionZeros == 0 ? "" : "." + new string('0', fractionZeros));
        var negative = from scale in Scales from minorUnits in ValidMinorUnits() select "-" + Amount.Format(minorUnits, scale);
        var cases = from scale in Scales from text in Gen.OneOf(zero, negative, zero.Select(z => "-" + z)) select (Text: text, Scale: scale);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            Assert.Equal(AmountError.NotPositive, Amount.TryParse(c.Text, c.Scale, out var minorUnits));
            Assert.Equal(0, minorUnits);
        }));
    }

    [Fact]
    public void TryParse_TextWithAnythingButDigitsDotAndSign_IsNotANumber()
    {
        // At least one character that can be no part of a number, anywhere among number-like ones.
        var numberish = Gen.Elements("0123456789.+-".ToCharArray());
        var foreign = Gen.Elements("abcxyzEe_,;:/'\"#$%&*()[]{}<>?!=~^|\\€£¹½".ToCharArray());
        var cases =
            from scale in Scales
            from before in Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(numberish, n))
            from bad in foreign
            from after in Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Gen.OneOf(numberish, foreign), n))
            select (Text: new string(before) + bad + new string(after), Scale: scale);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            Assert.Equal(AmountError.NotANumber, Amount.TryParse(c.Text, c.Scale, out var minorUnits));
            Assert.Equal(0, minorUnits);
        }));
    }

    [Fact]
    public void TryParse_AboveTheMax_IsTooLarge()
    {
        var justAbove = from scale in Scales from over in LongUpTo(1_000_000).Select(o => o + 1) select (Text: Amount.Format(Amount.MinorUnitsMax + over, scale), Scale: scale);
        var farAbove = from scale in Scales from over in LongUpTo(long.MaxValue - Amount.MinorUnitsMax - 1).Select(o => o + 1) select (Text: Amount.Format(Amount.MinorUnitsMax + over, scale), Scale: scale);
        var hugeText =
            from scale in Scales
            from first in Gen.Choose(1, 9)
            from rest in Digits(18, 60)
            select (Text: first.ToString(CultureInfo.InvariantCulture) + rest, Scale: scale);
        Check.One(Runs, Prop.ForAll(Gen.OneOf(justAbove, farAbove, hugeText).ToArbitrary(), c =>
        {
            Assert.Equal(AmountError.TooLarge, Amount.TryParse(c.Text, c.Scale, out var minorUnits));
            Assert.Equal(0, minorUnits);
        }));
    }

    [Fact]
    public void Describe_EveryError_SaysWhatIsWrong()
    {
        Assert.Equal("amount must be greater than zero", Amount.Describe(AmountError.NotPositive, "USD", 2));
        Assert.Contains("USD allows (2)", Amount.Describe(AmountError.TooPrecise, "USD", 2), StringComparison.Ordinal);
        Assert.Contains("10000000000000.00 USD", Amount.Describe(AmountError.TooLarge, "USD", 2), StringComparison.Ordinal);
        Assert.Contains("149.99", Amount.Describe(AmountError.NotANumber, "USD", 2), StringComparison.Ordinal);
    }

    /// <summary>1 to <see cref="Amount.MinorUnitsMax"/>, spread over every order of magnitude, edges included.</summary>
    private static Gen<long> ValidMinorUnits()
    {
        var anyMagnitude =
            from digits in Gen.Choose(1, 16)
            from value in LongUpTo(Amount.MinorUnitsMax)
            select Math.Min(Amount.MinorUnitsMax, 1 + (value % Pow10(digits)));
        var edges = Gen.Elements(1L, 9L, 10L, 99L, 100L, 101L, 999_999L, Amount.MinorUnitsMax - 1, Amount.MinorUnitsMax);
        return Gen.Frequency((8, anyMagnitude), (1, edges));
    }

    /// <summary>Uniform over 0 to <paramref name="max"/> inclusive.</summary>
    private static Gen<long> LongUpTo(long max) =>
        from high in Gen.Choose(0, int.MaxValue)
        from low in Gen.Choose(0, int.MaxValue)
        select (long)(((((ulong)(uint)high) << 31) | (uint)low) % ((ulong)max + 1));

    private static Gen<string> Digits(int lengthMin, int lengthMax) =>
        from length in Gen.Choose(lengthMin, lengthMax)
        from digits in Gen.ArrayOf(Gen.Elements("0123456789".ToCharArray()), length)
        select new string(digits);

    private static long Pow10(int exponent)
    {
        var value = 1L;
        for (var i = 0; i < exponent; i++)
        {
            value *= 10;
        }

        return value;
    }
}
