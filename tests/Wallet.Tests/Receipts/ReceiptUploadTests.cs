using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using SkiaSharp;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Wallet.Tests.Receipts.ReceiptSamples;

namespace Wallet.Tests.Receipts;

/// <summary>
/// Receipts uploaded over HTTP (POST /v1/receipts, multipart/form-data): taken as what their bytes
/// are whatever their name or declared type, kept as sent, the same file for the same authorization
/// once, downloaded as an attachment; every bad upload (empty, damaged, cut short, another type,
/// too large, a broken form) refused with its own problem and nothing stored; another tenant's unseen.
/// </summary>
public sealed class ReceiptUploadTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string Tenant = Wallet.Grains.Storage.ApiKeyStore.DefaultTenant;

    private HttpClient Client => api.Client;

    [Fact]
    public async Task Upload_APictureForAnAuthorization_IsProcessingAndKeepsTheFileAsSent()
    {
        var authorization = await AuthorizationAsync();
        var picture = Picture(SKEncodedImageFormat.Png);

        // Named and declared as a PDF: its bytes say PNG.
        using var response = await UploadAsync(Client, picture, authorization, fileName: "receipt.pdf", contentType: "application/pdf");
        var receipt = await response.ExpectAsync(HttpStatusCode.Accepted);
        var id = receipt.Str("id");
        var read = await (await Client.GetAsync($"/v1/receipts/{id}")).ExpectAsync(HttpStatusCode.OK);
        using var file = await Client.GetAsync($"/v1/receipts/{id}/file");

        Assert.StartsWith("rcpt_", id, StringComparison.Ordinal);
        Assert.Equal(("processing", authorization, "image/png"), (receipt.Str("status"), receipt.Str("authorization_id"), receipt.Str("content_type")));
        Assert.Equal(picture.Length, receipt.GetProperty("size_bytes").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(picture)), receipt.Str("file_sha256"));
        Assert.Equal($"/v1/receipts/{id}", response.Headers.Location?.OriginalString);
        // Read back as uploaded (its reading may have ended meanwhile: this picture has no text).
        Assert.Equal((id, receipt.Str("file_sha256"), receipt.Str("created_at")), (read.Str("id"), read.Str("file_sha256"), read.Str("created_at")));
        Assert.Equal(HttpStatusCode.OK, file.StatusCode);
        Assert.Equal("image/png", file.Content.Headers.ContentType?.MediaType);
        Assert.Equal(picture, await file.Content.ReadAsByteArrayAsync());
        Assert.Equal(("attachment", $"{id}.png"), (file.Content.Headers.ContentDisposition?.DispositionType, file.Content.Headers.ContentDisposition?.FileName));
        Assert.Equal("nosniff", string.Join(",", file.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task Upload_EachSupportedType_IsTakenAsWhatItsBytesAre()
    {
        var files = new[] { (Picture(SKEncodedImageFormat.Jpeg), "image/jpeg"), (Picture(SKEncodedImageFormat.Webp), "image/webp"), (ReceiptSamples.TextPdf(["CORNER CAFE 12.50"]), "application/pdf") };

        foreach (var (bytes, type) in files)
        {
            var receipt = await (await UploadAsync(Client, bytes, authorizationId: null)).ExpectAsync(HttpStatusCode.Accepted);
            Assert.Equal((type, "processing"), (receipt.Str("content_type"), receipt.Str("status")));
            Assert.Equal(System.Text.Json.JsonValueKind.Null, receipt.GetProperty("authorization_id").ValueKind);
        }
    }

    [Fact]
    public async Task Upload_TheSameFileAgain_IsTheSameReceiptForTheSameAuthorizationOnly()
    {
        var (first, second) = (await AuthorizationAsync(), await AuthorizationAsync());
        var picture = Picture(SKEncodedImageFormat.Png);
        var key = $"receipt-{Guid.NewGuid():N}";

        var once = await (await UploadAsync(Client, picture, first, key: key)).ExpectAsync(HttpStatusCode.Accepted);
        using var retried = await UploadAsync(Client, picture, first, key: key);
        var again = await (await UploadAsync(Client, picture, first)).ExpectAsync(HttpStatusCode.Accepted);
        var forAnother = await (await UploadAsync(Client, picture, second)).ExpectAsync(HttpStatusCode.Accepted);
        using var otherFileSameKey = await UploadAsync(Client, Picture(SKEncodedImageFormat.Jpeg), first, key: key);

        Assert.Equal(once.ToString(), (await retried.ExpectAsync(HttpStatusCode.Accepted)).ToString());
        Assert.Equal("true", retried.Header("Idempotent-Replayed"));
        Assert.Equal(once.Str("id"), again.Str("id"));
        Assert.NotEqual(once.Str("id"), forAnother.Str("id"));
        await otherFileSameKey.ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
    }

    [Fact]
    public async Task Upload_BadFiles_AreRefusedEachWithItsProblemAndNothingIsStored()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("receipts");
        var picture = Picture(SKEncodedImageFormat.Png);

        await (await UploadAsync(tenant, [], authorizationId: null)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await UploadAsync(tenant, "Thank you for shopping"u8.ToArray(), authorizationId: null)).ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType, "file_type_unsupported");
        await (await UploadAsync(tenant, [.. picture[..16], .. new byte[64]], authorizationId: null)).ExpectProblemAsync(HttpStatusCode.BadRequest, "file_unreadable");
        await (await UploadAsync(tenant, "%PDF-1.7\n1 0 obj"u8.ToArray(), authorizationId: null)).ExpectProblemAsync(HttpStatusCode.BadRequest, "file_unreadable");
        var jpeg = Picture(SKEncodedImageFormat.Jpeg);
        await (await UploadAsync(tenant, jpeg[..(jpeg.Length / 2)], authorizationId: null)).ExpectProblemAsync(HttpStatusCode.BadRequest, "file_unreadable");
        foreach (var body in new[] { "no boundary at all", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.png\"\r\n\r\nunfinished" })
        {
            using var content = new ByteArrayContent(System.Text.Encoding.ASCII.GetBytes(body));
            content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b");
            await (await tenant.PostAsync("/v1/receipts", content)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        await (await UploadAsync(tenant, picture, "auth_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b")).ExpectProblemAsync(HttpStatusCode.NotFound, "authorization_not_found");
        await (await tenant.PostJsonAsync("/v1/receipts", new { file = "receipt.png" })).ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        using (var noFile = new MultipartFormDataContent { { new StringContent("x"), "authorization_id" } })
        {
            await (await tenant.PostAsync("/v1/receipts", noFile)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        Assert.Equal(0, await api.Database.ReceiptCountAsync(tenantId));
    }

    [Fact]
    public async Task Upload_AboveTheConfiguredSize_Is413AndStoresNothing()
    {
        await using var factory = await WalletApiFactory.CreateAsync("receipt_size", new() { ["Receipts:MaxBytes"] = "2000" });
        using var client = factory.CreateOperatorClient();
        var noise = Noise(4000);

        var problem = await (await UploadAsync(client, noise, authorizationId: null)).ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge, "file_too_large");

        Assert.Contains("2,000 bytes", problem.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(0, await new LedgerDatabase(factory.ConnectionString).ReceiptCountAsync(Tenant));
    }

    [Fact]
    public async Task Receipt_OfAnotherTenant_IsNotFound()
    {
        var id = (await (await UploadAsync(Client, Picture(SKEncodedImageFormat.Png), authorizationId: null)).ExpectAsync(HttpStatusCode.Accepted)).Str("id");
        using var other = await api.Factory.CreateTenantClientAsync($"receipts-{Guid.NewGuid():N}");

        await (await other.GetAsync($"/v1/receipts/{id}")).ExpectProblemAsync(HttpStatusCode.NotFound, "receipt_not_found");
        await (await other.GetAsync($"/v1/receipts/{id}/file")).ExpectProblemAsync(HttpStatusCode.NotFound, "receipt_not_found");
        await (await other.PostAsync($"/v1/receipts/{id}/retry", null)).ExpectProblemAsync(HttpStatusCode.NotFound, "receipt_not_found");
        Assert.Empty((await (await other.GetAsync("/v1/receipts")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
    }

    private async Task<string> AuthorizationAsync()
    {
        var (_, card) = await Client.FundedCardAsync("100.00");
        return (await Client.ApproveAsync(card, "12.50")).Str("id");
    }

    /// <summary>A small picture (a dark bar on white, each one a little different) in <paramref name="format"/>.</summary>
    private static byte[] Picture(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(240, 120);
        using (var canvas = new SKCanvas(bitmap))
        using (var ink = new SKPaint { Color = SKColors.Black })
        {
            canvas.Clear(SKColors.White);
            canvas.DrawRect(20, 20, 40 + Random.Shared.Next(150), 30, ink);
        }

        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A PNG of random pixels, which compresses to no less than <paramref name="bytes"/>.</summary>
    private static byte[] Noise(int bytes)
    {
        var side = (int)Math.Ceiling(Math.Sqrt(bytes / 3.0)) + 1;
        using var bitmap = new SKBitmap(side, side);
        for (var x = 0; x < side; x++)
        {
            for (var y = 0; y < side; y++)
            {
                bitmap.SetPixel(x, y, new SKColor((uint)Random.Shared.Next() | 0xFF000000));
            }
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
