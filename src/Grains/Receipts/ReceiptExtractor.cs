using System.Globalization;
using System.Text.RegularExpressions;
using Orleans;

namespace Wallet.Grains.Receipts;

/// <summary>A value read from a receipt and how sure the reading is of it (0 to 1).</summary>
[GenerateSerializer, Immutable, Alias("wallet.ReceiptField")]
public sealed record ReceiptField(string Value, double Confidence);

/// <summary>
/// What was read from a receipt: its total (a decimal, as printed), its date (ISO 8601) and its
/// merchant, each null when not found; where the text came from and the text itself.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.ReceiptFields")]
public sealed record ReceiptFields(ReceiptField? Total, ReceiptField? Date, ReceiptField? Merchant, string Source, string Text)
{
    /// <summary>Nothing to check a transaction against.</summary>
    public bool IsEmpty => Total is null && Date is null && Merchant is null;
}

/// <summary>
/// Finds a receipt's total, date and merchant in its text. The total is the amount on the line that
/// says so (grand total, total due, amount due, balance due, total; never a subtotal, the tax, savings
/// or a count of items),
/// the last such line winning; failing that, the largest amount, with half the confidence. The date
/// is the first one printed (ISO, day or month first, or with the month's name); one that reads
/// either way is taken the way nearer <c>near</c>. The merchant is the first line near the top
/// that has words and is no date, amount or address detail.
/// </summary>
public static partial class ReceiptExtractor
{
    // How many lines from the top the merchant's name is looked for in.
    private const int MerchantLinesMax = 4;

    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    public static ReceiptFields Extract(ReceiptText text, DateOnly? near = null)
    {
        var lines = text.Lines;
        return new ReceiptFields(Total(lines), Date(lines, near), Merchant(lines), text.Source, string.Join('\n', lines.Select(l => l.Text)));
    }

    private static ReceiptField? Total(IReadOnlyList<ReceiptLine> lines)
    {
        ReceiptField? best = null;
        var bestRank = 0;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Text;
            if (SubtotalWord().IsMatch(line) || NotTheTotal().IsMatch(line) || TaxWord().IsMatch(line) && !StrongTotalWord().IsMatch(line))
            {
                continue;
            }

            var rank = StrongTotalWord().IsMatch(line) ? 2 : TotalWord().IsMatch(line) ? 1 : 0;
            if (rank == 0 || rank < bestRank)
            {
                continue;
            }

            // The amount on the line, or on the next one when the label stands alone (a line with an
            // amount of its own, even 0.00 due, never takes the next line's).
            var (amount, confidence) = Amounts(line).Any()
                ? (LastAmount(line), lines[i].Confidence)
                : i + 1 < lines.Count && LastAmount(lines[i + 1].Text) is { } next ? (next, Math.Min(lines[i].Confidence, lines[i + 1].Confidence))
                : ((decimal?)null, 0.0);
            if (amount is { } found)
            {
                best = new ReceiptField(found.ToString(CultureInfo.InvariantCulture), confidence);
                bestRank = rank;
            }
        }

        if (best is not null)
        {
            return best;
        }

        var largest = lines.SelectMany(l => Amounts(l.Text).Select(a => (Amount: a, l.Confidence))).OrderByDescending(a => a.Amount).FirstOrDefault();
        return largest.Amount > 0 ? new ReceiptField(largest.Amount.ToString(CultureInfo.InvariantCulture), Math.Round(largest.Confidence / 2, 3)) : null;
    }

    private static decimal? LastAmount(string line) => Amounts(line).LastOrDefault() is var a && a > 0 ? a : null;

    /// <summary>
    /// The money amounts on a line: digits with two decimals, thousands grouped by commas or points,
    /// the last separator the decimal one (1,234.56 and 1.234,56 alike); never part of a date (12.05.2026).
    /// </summary>
    internal static IEnumerable<decimal> Amounts(string line)
    {
        foreach (Match match in Money().Matches(line))
        {
            var digits = match.Groups["whole"].Value.Replace(",", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal);
            if (decimal.TryParse($"{digits}.{match.Groups["cents"].Value}", NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
            {
                yield return amount;
            }
        }
    }

    private static ReceiptField? Date(IReadOnlyList<ReceiptLine> lines, DateOnly? near)
    {
        foreach (var line in lines)
        {
            var candidates = Dates(line.Text).ToList();
            if (candidates.Count > 0)
            {
                var date = near is { } reference ? candidates.MinBy(d => Math.Abs(d.DayNumber - reference.DayNumber)) : candidates[0];
                return new ReceiptField(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), line.Confidence);
            }
        }

        return null;
    }

    /// <summary>The dates a line can mean (two when day and month could be either way round).</summary>
    internal static IEnumerable<DateOnly> Dates(string line)
    {
        if (IsoDate().Match(line) is { Success: true } iso)
        {
            return Valid(Number(iso, "y"), Number(iso, "m"), Number(iso, "d"));
        }

        if (NamedMonthFirst().Match(line) is { Success: true } monthFirst)
        {
            return Valid(Year(monthFirst), MonthOf(monthFirst), Number(monthFirst, "d"));
        }

        if (NamedMonthSecond().Match(line) is { Success: true } dayFirst)
        {
            return Valid(Year(dayFirst), MonthOf(dayFirst), Number(dayFirst, "d"));
        }

        if (NumericDate().Match(line) is { Success: true } numeric)
        {
            var (a, b, year) = (Number(numeric, "a"), Number(numeric, "b"), Year(numeric));
            return Valid(year, b, a).Concat(a == b ? [] : Valid(year, a, b));
        }

        return [];
    }

    private static ReceiptField? Merchant(IReadOnlyList<ReceiptLine> lines)
    {
        foreach (var line in lines.Take(MerchantLinesMax))
        {
            var text = line.Text.Trim();
            var letters = text.Count(char.IsLetter);
            if (letters >= 3 && letters * 2 >= text.Count(c => !char.IsWhiteSpace(c)) && !Dates(text).Any() && !Amounts(text).Any() && !AddressWord().IsMatch(text))
            {
                return new ReceiptField(text, line.Confidence);
            }
        }

        return null;
    }

    private static IEnumerable<DateOnly> Valid(int year, int month, int day) =>
        year is >= 2000 and <= 2099 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month) ? [new DateOnly(year, month, day)] : [];

    private static int Number(Match match, string group) => int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);

    private static int Year(Match match) => Number(match, "y") is var y && y < 100 ? 2000 + y : y;

    private static int MonthOf(Match match) => Array.IndexOf(Months, match.Groups["mon"].Value[..3].ToLowerInvariant()) + 1;

    [GeneratedRegex(@"(?<![\d.,])(?<whole>\d{1,3}(?:[,.]\d{3})+|\d+)[.,](?<cents>\d{2})(?!\d|[.,]\d)")]
    private static partial Regex Money();

    [GeneratedRegex(@"\b(grand\s*total|total\s*due|amount\s*due|balance\s*due|total\s*amount|amount\s*paid|total\s*paid)\b", RegexOptions.IgnoreCase)]
    private static partial Regex StrongTotalWord();

    [GeneratedRegex(@"\b(total|amount|sum)\b", RegexOptions.IgnoreCase)]
    private static partial Regex TotalWord();

    [GeneratedRegex(@"\bsub[\s-]*total\b", RegexOptions.IgnoreCase)]
    private static partial Regex SubtotalWord();

    // Tax named as included in a total ("TOTAL INCL. VAT") does not make the line the tax's.
    [GeneratedRegex(@"(?<!\b(incl|inkl|including)\.?\s*)\b(tax|vat|gst|tip|gratuity|change|cash|tendered)\b", RegexOptions.IgnoreCase)]
    private static partial Regex TaxWord();

    [GeneratedRegex(@"\b(savings?|discounts?|items?|qty|quantity|points)\b", RegexOptions.IgnoreCase)]
    private static partial Regex NotTheTotal();

    [GeneratedRegex(@"\b(street|st\.|avenue|ave\.?|road|rd\.|blvd|suite|tel|phone|www\.|https?:|receipt\s*#|invoice)\b", RegexOptions.IgnoreCase)]
    private static partial Regex AddressWord();

    [GeneratedRegex(@"\b(?<y>20\d{2})[-/.](?<m>\d{1,2})[-/.](?<d>\d{1,2})\b")]
    private static partial Regex IsoDate();

    [GeneratedRegex(@"\b(?<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?<y>20\d{2})\b", RegexOptions.IgnoreCase)]
    private static partial Regex NamedMonthFirst();

    [GeneratedRegex(@"\b(?<d>\d{1,2})(?:st|nd|rd|th)?\s+(?<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?<y>20\d{2})\b", RegexOptions.IgnoreCase)]
    private static partial Regex NamedMonthSecond();

    [GeneratedRegex(@"\b(?<a>\d{1,2})[/.-](?<b>\d{1,2})[/.-](?<y>20\d{2}|\d{2})\b")]
    private static partial Regex NumericDate();
}
