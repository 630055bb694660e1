using System.Security.Cryptography;
using SkiaSharp;
using Wallet.Grains;
using Wallet.Grains.Receipts;

namespace Wallet.Api.Receipts;

/// <summary>
/// What an uploaded receipt is, decided from its bytes alone (never its name or the type its
/// sender claims): a JPEG, PNG or WebP picture that decodes whole, or a PDF from its header to its
/// end-of-file marker. A PDF is not parsed here: a hostile one can exhaust a parser's stack, which
/// no handler catches, and the request runs in the silo.
/// </summary>
public static class ReceiptFiles
{
    private const string Jpeg = ReceiptContentTypes.Jpeg;
    private const string Png = ReceiptContentTypes.Png;
    private const string WebP = ReceiptContentTypes.WebP;
    private const string Pdf = ReceiptContentTypes.Pdf;

    /// <summary>The most pixels a picture may have (a 50 MP camera's): decoding takes 4 bytes a pixel.</summary>
    public const long PixelsMax = 50_000_000;

    // PDF's end-of-file marker is within the last kilobyte of a whole file.
    private const int PdfTrailerBytes = 1024;

    // Decoding is memory and CPU: two pictures at a time, whatever the number of uploads.
    private static readonly SemaphoreSlim Decoding = new(2);

    /// <summary>The types a receipt may be.</summary>
    public static IReadOnlyList<string> Types { get; } = [Jpeg, Png, WebP, Pdf];

    /// <summary>The file extension of <paramref name="type"/>, for a download's name.</summary>
    public static string ExtensionOf(string type) => type switch
    {
        Jpeg => ".jpg",
        Png => ".png",
        WebP => ".webp",
        _ => ".pdf",
    };

    /// <summary>The file as a receipt keeps it, or the failure that refuses it.</summary>
    public static async Task<(ReceiptFile? File, LedgerFailure? Failure)> InspectAsync(byte[] content, CancellationToken cancellationToken)
    {
        var type = TypeOf(content);
        if (type is null)
        {
            return (null, new LedgerFailure(LedgerErrors.FileTypeUnsupported, "a receipt is a JPEG, PNG or WebP picture or a PDF; this file is none of them"));
        }

        var failure = type == Pdf ? CheckPdf(content) : await CheckPictureAsync(content, type, cancellationToken);
        return failure is null ? (new ReceiptFile(content, type, Convert.ToHexStringLower(SHA256.HashData(content))), null) : (null, failure);
    }

    private static string? TypeOf(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? Jpeg
        : bytes.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? Png
        : bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8) ? WebP
        : bytes.StartsWith("%PDF-"u8) ? Pdf
        : null;

    private static LedgerFailure? CheckPdf(ReadOnlySpan<byte> content) =>
        content[Math.Max(0, content.Length - PdfTrailerBytes)..].IndexOf("%%EOF"u8) >= 0
            ? null
            : Unreadable(Pdf, "it has no end-of-file marker");

    /// <summary>The picture's header, then every pixel: a file cut short or damaged does not decode whole.</summary>
    private static async Task<LedgerFailure?> CheckPictureAsync(byte[] content, string type, CancellationToken cancellationToken)
    {
        using var data = SKData.CreateCopy(content);
        using var codec = SKCodec.Create(data);
        if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0)
        {
            return Unreadable(type, "its header does not open");
        }

        if ((long)codec.Info.Width * codec.Info.Height > PixelsMax)
        {
            return new LedgerFailure(LedgerErrors.FileTooLarge,
                $"the picture is {codec.Info.Width}×{codec.Info.Height} pixels; a receipt has at most {PixelsMax / 1_000_000} million");
        }

        await Decoding.WaitAsync(cancellationToken);
        try
        {
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            using var bitmap = new SKBitmap(info);
            var result = codec.GetPixels(info, bitmap.GetPixels());
            return result == SKCodecResult.Success ? null : Unreadable(type, $"decoding it ends in {result}");
        }
        finally
        {
            Decoding.Release();
        }
    }

    private static LedgerFailure Unreadable(string type, string why) =>
        new(LedgerErrors.FileUnreadable, $"the file starts as {type} but is damaged or cut short: {why}");
}
