using System.Globalization;
using System.Net;
using System.Text.Json;
using SkiaSharp;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Wallet.Tests.Receipts.ReceiptSamples;

namespace Wallet.Tests.Receipts;

/// <summary>
/// Receipts read for real (Debian's tesseract-ocr, Poppler for a PDF's text): drawn here as a shop
/// prints them, uploaded for real card authorizations, and followed to their final status. A receipt
/// of the authorization is verified however it was photographed; one with another total, date or
/// merchant is a mismatch with its reasons; a picture with no text is unreadable; the authorization
/// and the card-transactions list show what finance must still chase.
/// </summary>
public sealed class ReceiptReadingTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string Merchant = "Blue Bottle Coffee";

    private HttpClient Client => api.Client;

    private static DateOnly Today => DateOnly.FromDateTime(DateTime.UtcNow);

    public static TheoryData<string> Looks => ["clean png", "rotated 3 degrees", "rotated -2 degrees", "low contrast jpeg", "webp", "text pdf", "scanned pdf"];

    [Theory]
    [MemberData(nameof(Looks))]
    public async Task Reading_TheReceiptOfAnAuthorization_IsVerified(string look)
    {
        var authorization = await AuthorizeAsync(Client, "23.76");
        var lines = Lines(Merchant.ToUpperInvariant(), Today, "23.76");
        var file = look switch
        {
            "clean png" => Picture(lines),
            "rotated 3 degrees" => Picture(lines, new ReceiptLook(RotationDegrees: 3)),
            "rotated -2 degrees" => Picture(lines, new ReceiptLook(RotationDegrees: -2, Format: SKEncodedImageFormat.Jpeg)),
            "low contrast jpeg" => Picture(lines, new ReceiptLook(LowContrast: true, Format: SKEncodedImageFormat.Jpeg)),
            "webp" => Picture(lines, new ReceiptLook(Format: SKEncodedImageFormat.Webp)),
            "scanned pdf" => ScannedPdf(Picture(lines)),
            _ => TextPdf(lines),
        };

        var receipt = await UploadAndReadAsync(Client, file, authorization);
        var extracted = receipt.GetProperty("extracted");
        var shown = (await Client.GetAuthorizationAsync(authorization)).GetProperty("receipt");

        Assert.True(receipt.Str("status") == "verified", $"{look}: {receipt}");
        Assert.Empty(receipt.GetProperty("reasons").EnumerateArray());
        Assert.Equal(("23.76", Today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), (Value(extracted, "total"), Value(extracted, "date")));
        Assert.Contains("BLUE BOTTLE", Value(extracted, "merchant"), StringComparison.Ordinal);
        Assert.InRange(extracted.GetProperty("total").GetProperty("confidence").GetDouble(), 0.5, 1.0);
        Assert.InRange(extracted.GetProperty("merchant_similarity").GetInt32(), 70, 100);
        Assert.Equal(look == "text pdf" ? "text_layer" : "ocr", extracted.Str("source"));
        Assert.True(receipt.GetProperty("timings").GetProperty("ocr_ms").GetInt32() >= 0);
        Assert.Equal(JsonValueKind.String, receipt.GetProperty("timings").GetProperty("completed_at").ValueKind);
        Assert.Equal((receipt.Str("id"), "verified", true), (shown.Str("id"), shown.Str("status"), shown.GetProperty("verified").GetBoolean()));
    }

    [Fact]
    public async Task Reading_AReceiptWithAnotherTotal_IsAMismatchBecauseTheAmountDiffers()
    {
        var authorization = await AuthorizeAsync(Client, "23.76");

        var receipt = await UploadAndReadAsync(Client, Picture(Lines(Merchant, Today, "31.20")), authorization);

        Assert.Equal("mismatch", receipt.Str("status"));
        Assert.Equal(["amount_differs"], Reasons(receipt));
        Assert.Equal("31.20", Value(receipt.GetProperty("extracted"), "total"));
        Assert.False((await Client.GetAuthorizationAsync(authorization)).GetProperty("receipt").GetProperty("verified").GetBoolean());
    }

    [Fact]
    public async Task Reading_AnotherShopsReceiptFromLastMonth_IsAMismatchOnDateAndMerchant()
    {
        var authorization = await AuthorizeAsync(Client, "18.00");

        var receipt = await UploadAndReadAsync(Client, TextPdf(Lines("HARDWARE DEPOT", Today.AddDays(-30), "18.00")), authorization);

        Assert.Equal("mismatch", receipt.Str("status"));
        Assert.Equal(["date_out_of_range", "merchant_differs"], Reasons(receipt));
        Assert.True(receipt.GetProperty("extracted").GetProperty("merchant_similarity").GetInt32() < 70);
    }

    [Fact]
    public async Task Reading_ACapturedAuthorizationsReceipt_VerifiesAgainstTheCapturedAmount()
    {
        var authorization = await AuthorizeAsync(Client, "40.00");
        await (await Client.ActAsync(authorization, "capture", new { amount = "36.45", final = true })).ExpectAsync(HttpStatusCode.OK);

        var receipt = await UploadAndReadAsync(Client, TextPdf(Lines(Merchant, Today, "36.45")), authorization);

        Assert.Equal("verified", receipt.Str("status"));
    }

    [Fact]
    public async Task Reading_APictureWithNoText_IsUnreadable()
    {
        var authorization = await AuthorizeAsync(Client, "23.76");

        var receipt = await UploadAndReadAsync(Client, PictureWithoutText(), authorization);

        Assert.Equal("unreadable", receipt.Str("status"));
        Assert.Empty(Reasons(receipt));
        Assert.Equal(JsonValueKind.Null, receipt.GetProperty("extracted").GetProperty("total").ValueKind);
        Assert.Equal("unreadable", (await Client.GetAuthorizationAsync(authorization)).GetProperty("receipt").Str("status"));
    }

    [Fact]
    public async Task Reading_AReceiptForNoAuthorization_IsAMismatchWithNothingToVerifyAgainst()
    {
        var receipt = await UploadAndReadAsync(Client, TextPdf(Lines(Merchant, Today, "9.99")), authorizationId: null);

        Assert.Equal("mismatch", receipt.Str("status"));
        Assert.Equal(["no_authorization"], Reasons(receipt));
        Assert.Equal("9.99", Value(receipt.GetProperty("extracted"), "total"));
    }

    [Fact]
    public async Task Lists_ByReceipt_ShowWhatFinanceMustChase()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("chase");
        var (verified, mismatched, missing) = (await AuthorizeAsync(tenant, "12.00"), await AuthorizeAsync(tenant, "15.00"), await AuthorizeAsync(tenant, "17.00"));
        var good = await UploadAndReadAsync(tenant, TextPdf(Lines(Merchant, Today, "12.00")), verified);
        var bad = await UploadAndReadAsync(tenant, TextPdf(Lines(Merchant, Today, "99.00")), mismatched);

        Assert.Equal([verified], await IdsAsync(tenant, "/v1/card-transactions?receipt=verified"));
        Assert.Equal([mismatched], await IdsAsync(tenant, "/v1/card-transactions?receipt=mismatch"));
        Assert.Equal([missing], await IdsAsync(tenant, "/v1/card-transactions?receipt=missing"));
        Assert.Equal([bad.Str("id"), good.Str("id")], await IdsAsync(tenant, "/v1/receipts"));
        Assert.Equal([bad.Str("id")], await IdsAsync(tenant, "/v1/receipts?status=mismatch"));
        Assert.Equal([good.Str("id")], await IdsAsync(tenant, $"/v1/receipts?authorization_id={verified}"));
        Assert.Equal([bad.Str("id")], await IdsAsync(tenant, "/v1/receipts?limit=1"));
        Assert.Empty(await IdsAsync(tenant, "/v1/receipts?status=processing"));
        await (await tenant.GetAsync("/v1/receipts?status=lost")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.GetAsync("/v1/card-transactions?receipt=lost")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.GetAsync("/v1/receipts?cursor=auth_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b")).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_cursor");
    }

    [Fact]
    public async Task Retry_OfAMismatch_ReadsItAgainAndOfAVerifiedReceipt_IsRefused()
    {
        var authorization = await AuthorizeAsync(Client, "50.00");
        var mismatch = await UploadAndReadAsync(Client, TextPdf(Lines(Merchant, Today, "5.00")), authorization);
        var verified = await UploadAndReadAsync(Client, TextPdf(Lines(Merchant, Today, "50.00")), authorization);

        var retried = await (await Client.PostAsync($"/v1/receipts/{mismatch.Str("id")}/retry", null)).ExpectAsync(HttpStatusCode.Accepted);
        var again = await FinalAsync(Client, mismatch.Str("id"));

        Assert.Equal(("processing", 0), (retried.Str("status"), retried.GetProperty("attempts").GetInt32()));
        Assert.Equal(JsonValueKind.Null, retried.GetProperty("extracted").ValueKind);
        Assert.Equal(("mismatch", "amount_differs"), (again.Str("status"), Reasons(again).Single()));
        Assert.Equal(verified.Str("id"), (await Client.GetAuthorizationAsync(authorization)).GetProperty("receipt").Str("id"));
        await (await Client.PostAsync($"/v1/receipts/{verified.Str("id")}/retry", null)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "receipt_verified");
        await (await Client.PostAsync("/v1/receipts/rcpt_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b/retry", null)).ExpectProblemAsync(HttpStatusCode.NotFound, "receipt_not_found");
    }

    [Fact]
    public async Task Reading_WithOcrMissing_FailsWithTheReasonAfterItsAttemptsAndRetryStartsAgain()
    {
        await using var factory = await WalletApiFactory.CreateAsync("receipt_failed", new()
        {
            ["Receipts:TesseractPath"] = "/nonexistent/tesseract",
            ["Receipts:AttemptsMax"] = "2",
            ["Receipts:RetryPeriod"] = "00:00:01",
        });
        using var client = factory.CreateOperatorClient();
        var picture = Picture(Lines(Merchant, Today, "8.00"));

        var failed = await UploadAndReadAsync(client, picture, authorizationId: null);
        var retried = await (await client.PostAsync($"/v1/receipts/{failed.Str("id")}/retry", null)).ExpectAsync(HttpStatusCode.Accepted);
        var again = await FinalAsync(client, failed.Str("id"));
        var metrics = await client.GetStringAsync("/metrics");

        Assert.Equal(("failed", 2), (failed.Str("status"), failed.GetProperty("attempts").GetInt32()));
        Assert.Contains("/nonexistent/tesseract could not be started", failed.Str("error"), StringComparison.Ordinal);
        Assert.Contains("Receipts:TesseractPath", failed.Str("error"), StringComparison.Ordinal);
        Assert.Equal(("processing", 0), (retried.Str("status"), retried.GetProperty("attempts").GetInt32()));
        Assert.Equal(("failed", 2), (again.Str("status"), again.GetProperty("attempts").GetInt32()));
        // Other silos of the test process report to a meter of the same name, each its own series, in
        // no set order: at least these two among them.
        var counted = System.Text.RegularExpressions.Regex.Matches(metrics, @"^wallet_receipts_read_total\{[^}]*outcome=""failed""[^}]*\} (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(counted.Sum(c => int.Parse(c.Groups[1].Value, CultureInfo.InvariantCulture)) >= 2, metrics);
    }

    [Theory]
    [InlineData(0, "mismatch", null)]
    [InlineData(3, "failed", "its readings were cut short 3 times (the silo reading it stopped)")]
    public async Task Reading_OfAReceiptKeptWhoseGrainWasNeverStarted_IsStartedByTheSweep(int attemptsBefore, string status, string? error)
    {
        await using var factory = await WalletApiFactory.CreateAsync("receipt_sweep", new() { ["Receipts:RetryPeriod"] = "00:00:01" });
        using var client = factory.CreateOperatorClient();
        var pdf = TextPdf(Lines(Merchant, Today, "6.00"));
        var id = $"rcpt_{Guid.CreateVersion7():N}";

        // Kept as an upload keeps it, then its grain never called (unreachable at the time); with
        // every attempt used (readings cut short by silos dying), it may not be read again.
        await using (var database = Npgsql.NpgsqlDataSource.Create(factory.ConnectionString))
        await using (var insert = database.CreateCommand("""
            INSERT INTO receipts (id, tenant_id, file_sha256, content_type, size_bytes, content, status, attempts, created_at, updated_at)
            VALUES (@id, @tenant, @sha, 'application/pdf', @size, @content, 'processing', @attempts, now() - interval '1 minute', now() - interval '1 minute')
            """))
        {
            insert.Parameters.AddWithValue("id", id);
            insert.Parameters.AddWithValue("tenant", Wallet.Grains.Storage.ApiKeyStore.DefaultTenant);
            insert.Parameters.AddWithValue("sha", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(pdf)));
            insert.Parameters.AddWithValue("size", pdf.Length);
            insert.Parameters.AddWithValue("content", pdf);
            insert.Parameters.AddWithValue("attempts", attemptsBefore);
            await insert.ExecuteNonQueryAsync();
        }

        var receipt = await FinalAsync(client, id, TimeSpan.FromSeconds(60));

        Assert.Equal(status, receipt.Str("status"));
        if (error is null)
        {
            Assert.Equal(("no_authorization", "6.00"), (Reasons(receipt).Single(), Value(receipt.GetProperty("extracted"), "total")));
        }
        else
        {
            Assert.Equal((error, JsonValueKind.Null), (receipt.Str("error"), receipt.GetProperty("extracted").ValueKind));
        }
    }

    [Theory]
    [InlineData("while :; do :; done", "was stopped")]
    [InlineData("echo 'Error opening data file' >&2; exit 3", "ended with exit code 3: Error opening data file")]
    public async Task Reading_WithAToolThatSpinsOrFails_IsFailedWithWhy(string script, string error)
    {
        var tool = Path.Combine(Path.GetTempPath(), $"wallet-tool-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(tool, $"#!/bin/sh\n{script}\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        try
        {
            await using var factory = await WalletApiFactory.CreateAsync("receipt_tool", new()
            {
                ["Receipts:TesseractPath"] = tool,
                ["Receipts:AttemptsMax"] = "1",
                ["Receipts:ReadTimeout"] = "00:00:01",
            });
            using var client = factory.CreateOperatorClient();

            var receipt = await UploadAndReadAsync(client, Picture(Lines(Merchant, Today, "8.00")), authorizationId: null);

            Assert.Equal(("failed", 1), (receipt.Str("status"), receipt.GetProperty("attempts").GetInt32()));
            Assert.Contains(error, receipt.Str("error"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(tool);
        }
    }

    private static async Task<string> AuthorizeAsync(HttpClient client, string amount)
    {
        var (_, card) = await client.FundedCardAsync("500.00");
        return (await (await client.AuthorizeAsync(card, amount, merchant: Merchant)).ExpectAsync(HttpStatusCode.Created)).Str("id");
    }

    private static string? Value(JsonElement extracted, string field) =>
        extracted.GetProperty(field) is { ValueKind: JsonValueKind.Object } value ? value.Str("value") : null;

    private static string[] Reasons(JsonElement receipt) => [.. receipt.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!)];

    private static async Task<string[]> IdsAsync(HttpClient client, string path) =>
        [.. (await (await client.GetAsync(path)).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().Select(e => e.Str("id"))];
}
