using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Npgsql;
using SkiaSharp;

namespace Wallet.Bench;

/// <summary>What the receipts phase measured: authorizations idle (before and after) and during an OCR burst, and the burst's reading rate.</summary>
public sealed record ReceiptBurstResult(
    RunResult IdleBefore, RunResult DuringBurst, RunResult IdleAfter, int Receipts, double BurstSeconds, double AverageOcrMilliseconds, int OcrSlots,
    IReadOnlyDictionary<string, long> Outcomes, long ReadDuringRun, long StillProcessingAtRunEnd)
{
    /// <summary>
    /// The idle runs before and after the burst as one: the database grows and the machine drifts
    /// from run to run, so the burst is compared with idle on both sides of it.
    /// </summary>
    public RunResult Idle { get; } = Pool(IdleBefore, IdleAfter);

    /// <summary>Receipts read per second over the burst, from the first upload to the last outcome.</summary>
    public double ReceiptsPerSecond => Receipts / BurstSeconds;

    /// <summary>Per core of OCR: each reading is one thread, and a silo runs <see cref="OcrSlots"/> at a time.</summary>
    public double ReceiptsPerSecondPerCore => ReceiptsPerSecond / OcrSlots;

    /// <summary>Receipts read per second in the measured run, with authorizations arriving throughout.</summary>
    public double ReadDuringRunPerSecond => ReadDuringRun / DuringBurst.Seconds;

    public double P99Ratio => DuringBurst.Percentile(0.99) / Math.Max(1e-9, Idle.Percentile(0.99));

    private static RunResult Pool(RunResult first, RunResult second) =>
        first with
        {
            Seconds = first.Seconds + second.Seconds,
            Ok = first.Ok + second.Ok,
            Declined = first.Declined + second.Declined,
            Errors = first.Errors + second.Errors,
            TransfersOk = first.TransfersOk + second.TransfersOk,
            LatencyTicks = [.. first.LatencyTicks.Concat(second.LatencyTicks).Order()],
        };
}

/// <summary>
/// The receipts phase (<c>--receipt-burst</c>): card authorizations through HTTP at a fixed rate,
/// first with nothing else running, then while a burst of receipt pictures queued at once is read
/// by the silo, then idle again once every receipt is read. Prints the authorizations' latency
/// both ways and the burst's receipts per second.
/// </summary>
public static class ReceiptBurst
{
    private const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
    private const string ReceiptAmount = "4.20";
    private const int UploadsInFlight = 8;

    public static async Task<ReceiptBurstResult> RunAsync(
        BenchOptions options, Driver driver, HttpTarget http, Uri baseAddress, string apiKey, IReadOnlyList<string> cards, string connectionString, int ocrSlots)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        await using var database = NpgsqlDataSource.Create(connectionString);

        // Enough receipts to keep the readers busy through the warm-up and the measured run (about 0.6 s each when idle).
        var count = (int)Math.Ceiling((options.Warmup + options.Duration).TotalSeconds * 2.5 * ocrSlots) + 4;
        var authorizations = new List<string>();
        for (var i = 0; i < count; i++)
        {
            authorizations.Add(await AuthorizeAsync(client, cards[i % cards.Count]));
        }

        var pictures = authorizations.Select((_, i) => Picture(i)).ToList();
        Console.WriteLine($"Receipts: {count} receipt pictures for {count} authorizations; authorizations at {options.AuthorizeRate:N0}/s through HTTP.");

        var idleBefore = await driver.RunAsync("authorize", http, options.AuthorizeRate);
        var burstStarted = Stopwatch.GetTimestamp();
        using (var window = new SemaphoreSlim(UploadsInFlight))
        {
            await Task.WhenAll(authorizations.Select(async (authorization, i) =>
            {
                await window.WaitAsync();
                try
                {
                    await UploadAsync(client, pictures[i], authorization);
                }
                finally
                {
                    window.Release();
                }
            }));
        }

        // The driver warms up before it measures: what was read in the measured run is what ended in it.
        var measuredFrom = DateTimeOffset.UtcNow + options.Warmup;
        var during = await driver.RunAsync("authorize", http, options.AuthorizeRate);
        long readDuringRun;
        await using (var read = database.CreateCommand("SELECT count(*) FROM receipts WHERE completed_at >= $1 AND completed_at < $2"))
        {
            read.Parameters.Add(new NpgsqlParameter { Value = measuredFrom });
            read.Parameters.Add(new NpgsqlParameter { Value = measuredFrom + options.Duration });
            readDuringRun = (long)(await read.ExecuteScalarAsync())!;
        }

        var stillProcessing = await ScalarAsync(database, "SELECT count(*) FROM receipts WHERE status = 'processing'");
        while (await ScalarAsync(database, "SELECT count(*) FROM receipts WHERE status = 'processing'") > 0)
        {
            await Task.Delay(100);
        }

        var burstSeconds = Stopwatch.GetElapsedTime(burstStarted).TotalSeconds;
        var averageOcr = await ScalarDoubleAsync(database, "SELECT coalesce(avg(ocr_ms), 0)::float8 FROM receipts WHERE ocr_ms IS NOT NULL");
        var outcomes = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = database.CreateCommand("SELECT status, count(*) FROM receipts GROUP BY status ORDER BY status"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                outcomes[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var idleAfter = await driver.RunAsync("authorize", http, options.AuthorizeRate);
        return new ReceiptBurstResult(idleBefore, during, idleAfter, count, burstSeconds, averageOcr, ocrSlots, outcomes, readDuringRun, stillProcessing);
    }

    public static void Print(ReceiptBurstResult result)
    {
        Console.WriteLine();
        Console.WriteLine("Receipts: card authorizations (HTTP, fixed rate) idle, during an OCR burst, and idle again");
        Line("authorize idle before", result.IdleBefore);
        Line("authorize during burst", result.DuringBurst);
        Line("authorize idle after", result.IdleAfter);
        Line("authorize idle (both)", result.Idle);
        Console.WriteLine($"  p99 during burst / idle {result.P99Ratio,8:N2}x  (target: within 2x) {(result.P99Ratio <= 2 ? "met" : "MISSED")}");
        Console.WriteLine($"  read in the measured run{result.ReadDuringRun,8:N0}: {result.ReadDuringRunPerSecond:N2}/s beside the authorizations");
        Console.WriteLine($"  receipts read           {result.Receipts,8:N0} in {result.BurstSeconds:N1} s: {result.ReceiptsPerSecond:N2}/s with {result.OcrSlots} OCR slot(s), " +
                          $"{result.ReceiptsPerSecondPerCore:N2}/s per core; one reading {result.AverageOcrMilliseconds:N0} ms on average");
        Console.WriteLine($"  outcomes                {string.Join(", ", result.Outcomes.Select(o => $"{o.Key} {o.Value}"))}");
        Console.WriteLine(result.StillProcessingAtRunEnd > 0
            ? $"  the burst lasted the whole measured run ({result.StillProcessingAtRunEnd} receipts still queued at its end)"
            : "  NOTE: the burst ended before the measured run did; part of that run had no OCR beside it");
    }

    private static void Line(string name, RunResult run) =>
        Console.WriteLine($"  {name,-23} {run.Throughput,8:N0} ops/s  p50 {run.Percentile(0.5),7:N2} ms  p99 {run.Percentile(0.99),7:N2} ms");

    /// <summary>Failures the phase reports: errors, and receipts that did not end verified.</summary>
    public static IEnumerable<string> Failures(ReceiptBurstResult result) =>
        [
            .. result.Idle.Errors + result.DuringBurst.Errors > 0 ? [$"receipts phase: {result.Idle.Errors + result.DuringBurst.Errors} authorization errors"] : Array.Empty<string>(),
            .. result.Outcomes.Where(o => o.Key != "verified").Select(o => $"receipts phase: {o.Value} receipts ended {o.Key}"),
        ];

    private static async Task<string> AuthorizeAsync(HttpClient client, string card)
    {
        using var content = new StringContent($$"""{"amount":"{{ReceiptAmount}}","merchant_name":"{{Seed.MerchantName}}","merchant_category":"{{Seed.MerchantCategory}}"}""",
            Encoding.UTF8, "application/json");
        using var response = await client.PostAsync($"/v1/cards/{card}/authorizations", content);
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"authorizing on {card} for a receipt answered {(int)response.StatusCode}: {body}");
        }

        return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task UploadAsync(HttpClient client, byte[] picture, string authorization)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(picture), "file", "receipt.png" }, { new StringContent(authorization), "authorization_id" } };
        using var response = await client.PostAsync("/v1/receipts", form);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"uploading a receipt answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>A receipt as a phone photographs it: a little askew, numbered so every file differs.</summary>
    private static byte[] Picture(int number)
    {
        string[] lines =
        [
            Seed.MerchantName, "1 Bench Road, Testville", $"Date: {DateTime.UtcNow:yyyy-MM-dd}   Till {number % 9 + 1}", "",
            $"{"Coffee",-20}{"2.40",10}", $"{"Bun",-20}{"1.49",10}", "", $"{"SUBTOTAL",-20}{"3.89",10}", $"{"TAX 8%",-20}{"0.31",10}",
            $"{"TOTAL",-20}{ReceiptAmount,10}", "", $"Receipt no. {number:D6}", "Thank you!",
        ];
        using var typeface = SKTypeface.FromFile(FontPath) ?? throw new InvalidOperationException($"{FontPath} is missing (Debian: fonts-dejavu-core)");
        using var font = new SKFont(typeface, 26);
        var (width, height) = (820, 120 + (lines.Length * 40));
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        using (var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true })
        {
            canvas.Clear(SKColors.White);
            canvas.RotateDegrees(number % 5 - 2, width / 2f, height / 2f);
            for (var i = 0; i < lines.Length; i++)
            {
                canvas.DrawText(lines[i], 60, 90 + (i * 40), SKTextAlign.Left, font, ink);
            }
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<double> ScalarDoubleAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        return Convert.ToDouble(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
