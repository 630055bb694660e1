using System.Text;
using SkiaSharp;

namespace Wallet.Grains.Receipts;

/// <summary>
/// A receipt's picture made ready for OCR: grey, its ink stretched to black and its paper to white,
/// straightened when photographed askew, at a size tesseract reads well, as a PGM.
/// </summary>
internal static class ReceiptPicture
{
    /// <summary>The longest side a picture (or a scanned PDF page) is read at.</summary>
    public const int LongSideMax = 4000;

    // Pictures are read at a size tesseract reads well: a receipt photographed or scanned whole
    // has text 20 to 40 pixels high. Tiny ones are scaled up, huge ones down.
    private const int ShortSideMin = 600;

    /// <summary>
    /// The picture in grey, its darkest ink black and its paper white (a faint receipt comes out as
    /// a clean one), turned straight when it was photographed askew, at a size tesseract reads well,
    /// as a binary PGM (which tesseract reads as it is: no compression to spend CPU on).
    /// <paramref name="pause"/> is called between its steps (it may wait there).
    /// </summary>
    public static byte[] Prepare(byte[] content, Action pause)
    {
        using var original = SKBitmap.Decode(content) ?? throw new ReceiptReadException("the picture does not decode");
        pause();
        var (width, height) = (original.Width, original.Height);
        var scale = Math.Min(LongSideMax / (double)Math.Max(width, height), Math.Max(1.0, ShortSideMin / (double)Math.Min(width, height)));
        var info = new SKImageInfo(Math.Max(1, (int)(width * scale)), Math.Max(1, (int)(height * scale)), SKColorType.Gray8, SKAlphaType.Opaque);
        using var grey = new SKBitmap(info);
        using (var canvas = new SKCanvas(grey))
        {
            canvas.Clear(SKColors.White);
            using var image = SKImage.FromBitmap(original);
            canvas.DrawImage(image, new SKRect(0, 0, info.Width, info.Height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        pause();
        Stretch(grey.GetPixelSpan());
        var skew = Skew(grey, pause);
        if (Math.Abs(skew) < SkewStepDegrees)
        {
            return Pgm(grey);
        }

        pause();
        using var straight = new SKBitmap(info);
        using (var canvas = new SKCanvas(straight))
        {
            canvas.Clear(SKColors.White);
            canvas.RotateDegrees((float)-skew, info.Width / 2f, info.Height / 2f);
            using var image = SKImage.FromBitmap(grey);
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear));
        }

        return Pgm(straight);
    }

    /// <summary>A grey picture as a binary PGM (Netpbm P5): a short header, then its rows of bytes.</summary>
    private static byte[] Pgm(SKBitmap grey)
    {
        var header = Encoding.ASCII.GetBytes($"P5\n{grey.Width} {grey.Height}\n255\n");
        var pgm = new byte[header.Length + (grey.Width * grey.Height)];
        header.CopyTo(pgm, 0);
        var pixels = grey.GetPixelSpan();
        for (var y = 0; y < grey.Height; y++)
        {
            pixels.Slice(y * grey.RowBytes, grey.Width).CopyTo(pgm.AsSpan(header.Length + (y * grey.Width)));
        }

        return pgm;
    }

    private const double SkewMaxDegrees = 8;
    private const double SkewStepDegrees = 0.25;

    /// <summary>
    /// How far the text's lines slope, in degrees (clockwise positive): the angle at which the ink,
    /// projected onto rows, gives the sharpest profile (lines of text and the gaps between them).
    /// </summary>
    private static double Skew(SKBitmap grey, Action pause)
    {
        // Every few pixels of ink is enough to see the lines.
        var sample = Math.Max(1, grey.Width / 500);
        var ink = new List<(int X, int Y)>();
        var pixels = grey.GetPixelSpan();
        for (var y = 0; y < grey.Height; y += sample)
        {
            for (var x = 0; x < grey.Width; x += sample)
            {
                if (pixels[(y * grey.RowBytes) + x] < 128)
                {
                    ink.Add((x / sample, y / sample));
                }
            }
        }

        if (ink.Count < 100)
        {
            return 0;
        }

        var rows = new int[(((grey.Width + grey.Height) / sample) * 2) + 2];
        var (best, bestScore) = (0.0, double.MinValue);
        for (var degrees = -SkewMaxDegrees; degrees <= SkewMaxDegrees; degrees += SkewStepDegrees)
        {
            pause();
            var (sin, cos) = Math.SinCos(degrees * Math.PI / 180);
            Array.Clear(rows);
            var offset = rows.Length / 2;
            foreach (var (x, y) in ink)
            {
                rows[(int)Math.Round((y * cos) - (x * sin)) + offset]++;
            }

            var score = 0.0;
            foreach (var count in rows)
            {
                score += (double)count * count;
            }

            if (score > bestScore)
            {
                (best, bestScore) = (degrees, score);
            }
        }

        return best;
    }

    /// <summary>Maps the darkest 1 % of pixels to black and the lightest 1 % to white, linearly between.</summary>
    private static void Stretch(Span<byte> pixels)
    {
        Span<int> histogram = stackalloc int[256];
        foreach (var p in pixels)
        {
            histogram[p]++;
        }

        var tail = pixels.Length / 100;
        int low = 0, high = 255, seen = 0;
        for (; low < 255 && (seen += histogram[low]) <= tail; low++)
        {
        }

        seen = 0;
        for (; high > 0 && (seen += histogram[high]) <= tail; high--)
        {
        }

        if (high - low < 8)
        {
            return; // one tone: nothing to stretch
        }

        Span<byte> map = stackalloc byte[256];
        for (var v = 0; v < 256; v++)
        {
            map[v] = (byte)Math.Clamp((v - low) * 255 / (high - low), 0, 255);
        }

        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = map[pixels[i]];
        }
    }
}
