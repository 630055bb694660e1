using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SkiaSharp;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Receipts;

/// <summary>How a receipt is drawn: turned by a few degrees, or printed faint (grey ink on grey paper).</summary>
public sealed record ReceiptLook(float RotationDegrees = 0, bool LowContrast = false, SKEncodedImageFormat Format = SKEncodedImageFormat.Png);

/// <summary>
/// Receipts as a shop prints them (merchant, address, date, line items, subtotal, tax, total),
/// drawn here as pictures in DejaVu Sans Mono or written as a text PDF; and the calls that upload
/// them and wait for their reading.
/// </summary>
public static class ReceiptSamples
{
    public const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

    // A reading takes a second or two; a queue of them on a loaded CI machine, much longer.
    private static readonly TimeSpan ReadingTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The lines of a receipt whose items, with 8 % tax, come to <paramref name="total"/> (a decimal like "12.50").</summary>
    public static IReadOnlyList<string> Lines(string merchant, DateOnly date, string total)
    {
        var amount = decimal.Parse(total, CultureInfo.InvariantCulture);
        var subtotal = Math.Round(amount / 1.08m, 2);
        var tax = amount - subtotal;
        var first = Math.Round(subtotal * 0.6m, 2);
        return
        [
            merchant,
            "12 Market Street, Springfield",
            $"Date: {date:yyyy-MM-dd}   Time: 12:41",
            "",
            Item("Flat white", first),
            Item("Almond croissant", subtotal - first),
            "",
            Item("SUBTOTAL", subtotal),
            Item("TAX 8%", tax),
            Item("TOTAL", amount),
            "",
            "Card  **** 4242",
            "Thank you for your visit!",
        ];

        static string Item(string name, decimal value) => $"{name,-20}{value.ToString("0.00", CultureInfo.InvariantCulture),10}";
    }

    /// <summary>A receipt photographed or scanned: its lines in black on white, or faint, possibly turned.</summary>
    public static byte[] Picture(IReadOnlyList<string> lines, ReceiptLook? look = null)
    {
        look ??= new ReceiptLook();
        using var typeface = SKTypeface.FromFile(FontPath) ?? throw new InvalidOperationException($"{FontPath} is missing (Debian: fonts-dejavu-core)");
        using var font = new SKFont(typeface, 26);
        const int margin = 60, lineHeight = 40;
        var (width, height) = (820, (margin * 2) + (lines.Count * lineHeight));
        var (paper, ink) = look.LowContrast ? (new SKColor(0xB4, 0xB4, 0xB4), new SKColor(0x8C, 0x8C, 0x8C)) : (SKColors.White, SKColors.Black);
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Color = ink, IsAntialias = true })
        {
            canvas.Clear(paper);
            canvas.RotateDegrees(look.RotationDegrees, width / 2f, height / 2f);
            for (var i = 0; i < lines.Count; i++)
            {
                canvas.DrawText(lines[i], margin, margin + ((i + 1) * lineHeight) - 10, SKTextAlign.Left, font, paint);
            }
        }

        using var data = bitmap.Encode(look.Format, 92);
        return data.ToArray();
    }

    /// <summary>A picture with no text at all: a grey gradient.</summary>
    public static byte[] PictureWithoutText()
    {
        using var bitmap = new SKBitmap(600, 800);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint())
        {
            paint.Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(600, 800), [new SKColor(0xE0, 0xE0, 0xE0), new SKColor(0x90, 0x90, 0x90)], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, 600, 800, paint);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A one-page PDF with <paramref name="lines"/> in its text layer, one under the other.</summary>
    public static byte[] TextPdf(IReadOnlyList<string> lines)
    {
        var builder = new PdfDocumentBuilder();
        var page = builder.AddPage(PageSize.A4);
        var font = builder.AddStandard14Font(Standard14Font.Courier);
        for (var i = 0; i < lines.Count; i++)
        {
            page.AddText(lines[i], 11, new UglyToad.PdfPig.Core.PdfPoint(50, 780 - (i * 16)), font);
        }

        return builder.Build();
    }

    /// <summary>A one-page PDF holding <paramref name="png"/> and no text: a scanned receipt.</summary>
    public static byte[] ScannedPdf(byte[] png)
    {
        var builder = new PdfDocumentBuilder();
        var page = builder.AddPage(PageSize.A4);
        page.AddPng(png, new UglyToad.PdfPig.Core.PdfRectangle(40, 300, 40 + 410, 300 + 410.0 * 640 / 820));
        return builder.Build();
    }

    public static async Task<HttpResponseMessage> UploadAsync(
        HttpClient client, byte[] file, string? authorizationId, string fileName = "receipt", string contentType = "application/octet-stream", string? key = null)
    {
        using var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        form.Add(part, "file", fileName);
        if (authorizationId is not null)
        {
            form.Add(new StringContent(authorizationId), "authorization_id");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/receipts") { Content = form };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await client.SendAsync(request);
    }

    /// <summary>Uploads a receipt and waits for its reading to end; the receipt with its final status.</summary>
    public static async Task<JsonElement> UploadAndReadAsync(HttpClient client, byte[] file, string? authorizationId)
    {
        var receipt = await (await UploadAsync(client, file, authorizationId)).ExpectAsync(HttpStatusCode.Accepted);
        return await FinalAsync(client, receipt.Str("id"));
    }

    /// <summary>The receipt once its status is final (not processing).</summary>
    public static async Task<JsonElement> FinalAsync(HttpClient client, string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? ReadingTimeout);
        while (true)
        {
            var receipt = await (await client.GetAsync($"/v1/receipts/{id}")).ExpectAsync(HttpStatusCode.OK);
            if (receipt.Str("status") != "processing")
            {
                return receipt;
            }

            Assert.True(DateTime.UtcNow < deadline, $"receipt {id} still processing after {(timeout ?? ReadingTimeout).TotalSeconds} s: {receipt}");
            await Task.Delay(200);
        }
    }
}
