using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Wallet.Bench;

/// <summary>What one import measured: its rows, how long it took, and how far the process's memory rose meanwhile.</summary>
public sealed record ReconImportResult(int Rows, double Seconds, long PeakGrowthBytes, int Imported)
{
    public double RowsPerSecond => Rows / Seconds;
}

/// <summary>
/// The reconciliation import phase (<c>--recon-import</c>): a bank's CSV of external records,
/// generated as it is sent (never held whole anywhere), uploaded through HTTP at a tenth of the size
/// and then whole. Prints rows per second and how far the bench process's resident memory (the silo
/// is in it) rose above where it was: a streamed import's growth does not follow the file's size.
/// </summary>
public static class ReconImport
{
    public static async Task<IReadOnlyList<ReconImportResult>> RunAsync(int rows, Uri baseAddress, string apiKey)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var results = new List<ReconImportResult>();
        foreach (var size in new[] { rows / 10, rows })
        {
            var source = await CreateSourceAsync(client, $"bench-bank-{size}");
            results.Add(await ImportAsync(client, source, size));
        }

        return results;
    }

    public static void Print(IReadOnlyList<ReconImportResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("Reconciliation: a bank CSV uploaded through HTTP, parsed and copied into PostgreSQL as it streams");
        foreach (var result in results)
        {
            Console.WriteLine($"  {result.Rows,10:N0} rows  {result.Seconds,7:N1} s  {result.RowsPerSecond,9:N0} rows/s  " +
                              $"resident memory +{result.PeakGrowthBytes / (1024.0 * 1024),6:N1} MiB at its peak  ({result.Imported:N0} imported)");
        }

        if (results.Count == 2 && results[0].PeakGrowthBytes > 0)
        {
            Console.WriteLine($"  memory growth, whole file / a tenth of it: {(double)results[1].PeakGrowthBytes / results[0].PeakGrowthBytes:N2}x (the file: 10x)");
        }
    }

    public static IEnumerable<string> Failures(IReadOnlyList<ReconImportResult> results) =>
        results.Where(r => r.Imported != r.Rows).Select(r => $"reconciliation import: {r.Imported:N0} of {r.Rows:N0} rows imported");

    /// <summary>A source of the bank CSVs the bench writes (those of <see cref="ReconMatch"/> too), reconciling @settlement.</summary>
    internal static async Task<string> CreateSourceAsync(HttpClient client, string name, object? tolerances = null)
    {
        var body = JsonSerializer.Serialize(new
        {
            name,
            ledger_account = "@settlement",
            mapping = new { external_id = "txn_id", amount = "amount", currency = "ccy", timestamp = "booked", reference = "ref", description = "memo" },
            tolerances,
        });
        using var response = await client.PostAsync("/v1/reconciliation/sources", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"creating a reconciliation source answered {(int)response.StatusCode}: {text}");
        }

        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<ReconImportResult> ImportAsync(HttpClient client, string source, int rows)
    {
        var memory = new PeakMemory();
        var started = Stopwatch.GetTimestamp();
        using var form = new MultipartFormDataContent { { new BankCsv(rows) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } }, "file", "bank.csv" } };
        using var response = await client.PostAsync($"/v1/reconciliation/sources/{source}/files", form);
        var text = await response.Content.ReadAsStringAsync();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await memory.DisposeAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"uploading {rows:N0} rows answered {(int)response.StatusCode}: {(text.Length > 500 ? text[..500] + "…" : text)}");
        }

        var imported = JsonDocument.Parse(text).RootElement.GetProperty("imported").GetInt32();
        return new ReconImportResult(rows, seconds, memory.GrowthBytes, imported);
    }

    /// <summary>A bank statement written row by row into the request as it is sent: one settlement a minute from a fixed day.</summary>
    private sealed class BankCsv(int rows) : HttpContent
    {
        private static readonly DateTime Start = new(2025, 7, 13, 0, 0, 0, DateTimeKind.Utc);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var text = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            await text.WriteAsync("txn_id,booked,amount,ccy,ref,memo\n");
            for (var i = 0; i < rows; i++)
            {
                var cents = 100 + ((long)i * 7919 % 500_000);
                await text.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                    $"B-{i:D8},{Start.AddMinutes(i):yyyy-MM-dd'T'HH:mm:ss'Z'},{cents / 100}.{cents % 100:D2},USD,TR-{i:D8},Card settlement {i % 97}\n"));
            }

            await text.FlushAsync();
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
