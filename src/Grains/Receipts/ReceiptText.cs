using System.Globalization;

namespace Wallet.Grains.Receipts;

/// <summary>One line of a receipt's text, with how sure the reading is of it (0 to 1).</summary>
public sealed record ReceiptLine(string Text, double Confidence);

/// <summary>A receipt's text, line by line, and where it came from (<c>text_layer</c> or <c>ocr</c>).</summary>
public sealed record ReceiptText(IReadOnlyList<ReceiptLine> Lines, string Source, TimeSpan Elapsed)
{
    public const string TextLayer = "text_layer";
    public const string Ocr = "ocr";
}

/// <summary>A reading that could not be done: a tool missing, failing or too slow. The receipt's attempt fails.</summary>
public sealed class ReceiptReadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The types a receipt's file may be, decided from its bytes.</summary>
public static class ReceiptContentTypes
{
    public const string Jpeg = "image/jpeg";
    public const string Png = "image/png";
    public const string WebP = "image/webp";
    public const string Pdf = "application/pdf";
}

/// <summary>Tesseract's TSV output, read as lines of words with their mean confidence.</summary>
internal static class TesseractTsv
{
    // Columns: level page_num block_num par_num line_num word_num left top width height conf text.
    private const int WordLevel = 5;

    public static IReadOnlyList<ReceiptLine> Lines(string tsv)
    {
        var lines = new List<ReceiptLine>();
        (int, int, int, int)? current = null;
        var words = new List<(string Text, double Confidence)>();
        foreach (var row in tsv.Split('\n').Skip(1))
        {
            var cells = row.TrimEnd('\r').Split('\t');
            if (cells.Length < 12 || !int.TryParse(cells[0], CultureInfo.InvariantCulture, out var level) || level != WordLevel)
            {
                continue;
            }

            var text = ReceiptReader.Printable(cells[11]).Trim();
            if (text.Length == 0 || !double.TryParse(cells[10], CultureInfo.InvariantCulture, out var confidence) || confidence < 0)
            {
                continue;
            }

            var line = (int.Parse(cells[1], CultureInfo.InvariantCulture), int.Parse(cells[2], CultureInfo.InvariantCulture),
                int.Parse(cells[3], CultureInfo.InvariantCulture), int.Parse(cells[4], CultureInfo.InvariantCulture));
            if (current != line)
            {
                Flush();
                current = line;
            }

            words.Add((text, confidence / 100));
        }

        Flush();
        return lines;

        void Flush()
        {
            if (words.Count > 0)
            {
                lines.Add(new ReceiptLine(string.Join(' ', words.Select(w => w.Text)), Math.Round(words.Average(w => w.Confidence), 3)));
                words.Clear();
            }
        }
    }
}
