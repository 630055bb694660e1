using System.Security.Cryptography;
using SkiaSharp;
using UglyToad.PdfPig;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api.Receipts;

/// <summary>
/// What an uploaded receipt is, decided from its bytes alone (never its name or the type its
/// sender claims): a JPEG, PNG or WebP picture that decodes, or a PDF that opens with a page.
/// </summary>
public static class ReceiptFiles
{
    public const string Jpeg = "image/jpeg";
    public const string Png = "image/png";
    public const string WebP = "image/webp";
    public const string Pdf = "application/pdf";

    /// <summary>The types a receipt may be.</summary>
    public static IReadOnlyList<string> Types { get; } = [Jpeg, Png, WebP, Pdf];

    /// <summary>The file as a receipt keeps it, or the failure that refuses it.</summary>
    public static (ReceiptFile? File, LedgerFailure? Failure) Inspect(byte[] content)
    {
        var type = TypeOf(content);
        if (type is null)
        {
            return (null, new LedgerFailure(LedgerErrors.FileTypeUnsupported, "a receipt is a JPEG, PNG or WebP picture or a PDF; this file is none of them"));
        }

        if (!Opens(content, type))
        {
            return (null, new LedgerFailure(LedgerErrors.FileUnreadable, $"the file starts as {type} but does not open as one: it is damaged or cut short"));
        }

        return (new ReceiptFile(content, type, Convert.ToHexStringLower(SHA256.HashData(content))), null);
    }

    private static string? TypeOf(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? Jpeg
        : bytes.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? Png
        : bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8) ? WebP
        : bytes.StartsWith("%PDF-"u8) ? Pdf
        : null;

    private static bool Opens(byte[] content, string type)
    {
        try
        {
            if (type == Pdf)
            {
                using var document = PdfDocument.Open(content);
                return document.NumberOfPages > 0 && document.GetPage(1) is not null;
            }

            using var bitmap = SKBitmap.Decode(content);
            return bitmap is { Width: > 0, Height: > 0 };
        }
#pragma warning disable CA1031 // whatever a damaged file makes the decoder throw, the answer is the same
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }
}
