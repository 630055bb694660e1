using System.Globalization;

namespace Wallet.Grains.Money;

public enum AmountError
{
    None,
    Empty,
    NotANumber,
    NotPositive,
    TooPrecise,
    TooLarge,
}

/// <summary>
/// Exact conversion between decimal text ("149.99") and minor units (14999) for a currency scale.
/// No floating point anywhere: text is parsed digit by digit.
/// </summary>
public static class Amount
{
    /// <summary>The largest amount one movement may carry, in minor units (10^15).</summary>
    public const long MinorUnitsMax = 1_000_000_000_000_000;

    /// <summary>The largest currency scale supported.</summary>
    public const int ScaleMax = 8;

    /// <summary>Parses a positive amount written with at most <paramref name="scale"/> decimals.</summary>
    public static AmountError TryParse(string? text, int scale, out long minorUnits)
    {
        minorUnits = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return AmountError.Empty;
        }

        var span = text.AsSpan().Trim();
        if (span[0] == '-')
        {
            return IsDecimal(span[1..]) ? AmountError.NotPositive : AmountError.NotANumber;
        }

        if (span[0] == '+')
        {
            span = span[1..];
        }

        if (!IsDecimal(span))
        {
            return AmountError.NotANumber;
        }

        var dot = span.IndexOf('.');
        var integer = dot < 0 ? span : span[..dot];
        var fraction = dot < 0 ? [] : span[(dot + 1)..];
        fraction = fraction.TrimEnd('0');
        integer = integer.TrimStart('0');
        if (fraction.Length > scale)
        {
            return AmountError.TooPrecise;
        }

        // 19 digits overflow a long; the max check below catches anything shorter.
        if (integer.Length + scale > 18)
        {
            return AmountError.TooLarge;
        }

        long value = 0;
        foreach (var digit in integer)
        {
            value = (value * 10) + (digit - '0');
        }

        for (var i = 0; i < scale; i++)
        {
            value = (value * 10) + (i < fraction.Length ? fraction[i] - '0' : 0);
        }

        if (value == 0)
        {
            return AmountError.NotPositive;
        }

        if (value > MinorUnitsMax)
        {
            return AmountError.TooLarge;
        }

        minorUnits = value;
        return AmountError.None;
    }

    /// <summary>Formats minor units with exactly <paramref name="scale"/> decimals: 14999, 2 → "149.99".</summary>
    public static string Format(long minorUnits, int scale)
    {
        if (scale == 0)
        {
            return minorUnits.ToString(CultureInfo.InvariantCulture);
        }

        // Written from the right, one string and no decimal: every balance a read answers goes through here.
        var negative = minorUnits < 0;
        var magnitude = negative ? (ulong)-(minorUnits + 1) + 1 : (ulong)minorUnits;
        var integerDigits = Math.Max(DigitCount(magnitude) - scale, 1);
        return string.Create((negative ? 1 : 0) + integerDigits + 1 + scale, (magnitude, scale, negative), static (text, amount) =>
        {
            var (rest, decimals, minus) = amount;
            var i = text.Length;
            for (var written = 0; written < decimals; written++)
            {
                text[--i] = (char)('0' + (int)(rest % 10));
                rest /= 10;
            }

            text[--i] = '.';
            var first = minus ? 1 : 0;
            while (i > first)
            {
                text[--i] = (char)('0' + (int)(rest % 10));
                rest /= 10;
            }

            if (minus)
            {
                text[0] = '-';
            }
        });
    }

    private static int DigitCount(ulong value)
    {
        var count = 1;
        while (value >= 10)
        {
            value /= 10;
            count++;
        }

        return count;
    }

    public static string Describe(AmountError error, string currency, int scale) => error switch
    {
        AmountError.Empty => "amount is required",
        AmountError.NotANumber => "amount must be a decimal number such as \"149.99\"",
        AmountError.NotPositive => "amount must be greater than zero",
        AmountError.TooPrecise => $"amount has more decimals than {currency} allows ({scale})",
        AmountError.TooLarge => $"amount exceeds the maximum of {Format(MinorUnitsMax, scale)} {currency}",
        _ => "amount is valid",
    };

    // Digits, optionally a dot and more digits: "5", "5.00", "0.5". No sign, exponent or separators.
    private static bool IsDecimal(ReadOnlySpan<char> span)
    {
        var dot = span.IndexOf('.');
        if (dot < 0)
        {
            return !span.IsEmpty && AllDigits(span);
        }

        return dot > 0 && dot < span.Length - 1 && AllDigits(span[..dot]) && AllDigits(span[(dot + 1)..]);
    }

    private static bool AllDigits(ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}
