using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Wallet.Bench;

/// <summary>What a reconciliation run found, counted: as the bench made the data, or as the run reported it.</summary>
public sealed record ReconCounts(int Exact, int Fuzzy, int UnmatchedInternal, int UnmatchedExternal);

/// <summary>What the matching phase measured: the import of the bank file, then the run over the day.</summary>
public sealed record ReconMatchResult(
    int Entries, int Records, double SeedSeconds, double ImportSeconds, long ImportGrowthBytes, double RunSeconds, long RunGrowthBytes,
    ReconCounts Expected, ReconCounts Found)
{
    public double RunRowsPerSecond => Records / RunSeconds;
}

/// <summary>
/// The reconciliation matching phase (<c>--recon-match N</c>): N withdrawals into @settlement over
/// one day, then a bank file of N records made from them (97% as booked, 2% with the amount a few
/// cents off and the reference written another way, 1% missing, 1% with no entry), streamed in
/// through HTTP, and a run over that day through the API. Prints rows per second for the import
/// and the run, and how far the process's memory (the silo is in it) rose during each.
/// </summary>
/// <remarks>
/// The withdrawals are written into the ledger's tables in one SQL statement, as the bench seeds its
/// wallets (balances, running balances and versions kept exact, so verify passes): through the API
/// a million of them would take minutes and measure the money path, not reconciliation.
/// </remarks>
public static class ReconMatch
{
    private static readonly DateTimeOffset Day = new(2025, 7, 13, 0, 0, 0, TimeSpan.Zero);
    private const int WalletsMin = 200; // at most 5,000.00 a withdrawal, 1,000,000.00 a wallet

    public static async Task<ReconMatchResult> RunAsync(int entries, int wallets, string connectionString, Uri baseAddress, string apiKey)
    {
        if ((long)entries > (long)wallets * WalletsMin)
        {
            throw new ArgumentException($"--recon-match {entries} needs --wallets of at least {(entries + WalletsMin - 1) / WalletsMin} (each wallet gives up to {WalletsMin} withdrawals)");
        }

        var seeding = Stopwatch.GetTimestamp();
        await SeedAsync(connectionString, entries, wallets);
        var seedSeconds = Stopwatch.GetElapsedTime(seeding).TotalSeconds;
        Console.WriteLine($"Seeded {entries:N0} withdrawals into @settlement over {Day:yyyy-MM-dd} in {seedSeconds:N1} s.");

        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var source = await ReconImport.CreateSourceAsync(client, "bench-bank-match", new { amount = "0.05" });

        var import = new PeakMemory();
        var started = Stopwatch.GetTimestamp();
        using var form = new MultipartFormDataContent { { new BankFile(entries) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } }, "file", "bank.csv" } };
        var imported = await ExpectAsync(await client.PostAsync($"/v1/reconciliation/sources/{source}/files", form), HttpStatusCode.Created);
        var importSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await import.DisposeAsync();
        var records = imported.GetProperty("imported").GetInt32();

        var run = new PeakMemory();
        started = Stopwatch.GetTimestamp();
        var body = new StringContent(JsonSerializer.Serialize(new { source_id = source, date = Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) }), Encoding.UTF8, "application/json");
        var id = (await ExpectAsync(await client.PostAsync("/v1/reconciliation/runs", body), HttpStatusCode.Accepted)).GetProperty("id").GetString()!;
        while (true)
        {
            var view = await ExpectAsync(await client.GetAsync($"/v1/reconciliation/runs/{id}"), HttpStatusCode.OK);
            var status = view.GetProperty("status").GetString();
            if (status == "failed")
            {
                throw new InvalidOperationException($"the reconciliation run failed: {view.GetRawText()}");
            }

            if (status == "completed")
            {
                break;
            }

            await Task.Delay(200);
        }

        var runSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await run.DisposeAsync();
        var summary = await ExpectAsync(await client.GetAsync($"/v1/reconciliation/runs/{id}/summary"), HttpStatusCode.OK);
        int Count(string name) => summary.GetProperty(name).GetInt32();
        return new ReconMatchResult(entries, records, seedSeconds, importSeconds, import.GrowthBytes, runSeconds, run.GrowthBytes, Expected(entries),
            new ReconCounts(Count("exact"), Count("fuzzy"), Count("unmatched_internal"), Count("unmatched_external")));
    }

    public static void Print(ReconMatchResult result)
    {
        Console.WriteLine();
        Console.WriteLine($"Reconciliation: {result.Records:N0} bank records against {result.Entries:N0} ledger entries of one day");
        Console.WriteLine($"  import  {result.ImportSeconds,7:N1} s  {result.Records / result.ImportSeconds,9:N0} rows/s  resident memory +{Mib(result.ImportGrowthBytes),6:N1} MiB at its peak");
        Console.WriteLine($"  run     {result.RunSeconds,7:N1} s  {result.RunRowsPerSecond,9:N0} records/s ({(result.Records + result.Entries) / result.RunSeconds:N0} rows of both sides/s)" +
                          $"  resident memory +{Mib(result.RunGrowthBytes),6:N1} MiB at its peak");
        Console.WriteLine($"  found    {Describe(result.Found)}");
        Console.WriteLine($"  expected {Describe(result.Expected)}");
    }

    public static IEnumerable<string> Failures(ReconMatchResult result) =>
        result.Found == result.Expected ? [] : [$"reconciliation run: found {Describe(result.Found)}, expected {Describe(result.Expected)}"];

    private static string Describe(ReconCounts counts) =>
        $"{counts.Exact:N0} exact, {counts.Fuzzy:N0} fuzzy, {counts.UnmatchedInternal:N0} unmatched internal, {counts.UnmatchedExternal:N0} unmatched external";

    private static double Mib(long bytes) => bytes / (1024.0 * 1024);

    // Entry g's record: missing when g % 100 is 0, joined by a stray record when 1, a few cents off when 2 or 3.
    private static ReconCounts Expected(int entries)
    {
        int Having(int remainder) => entries / 100 + (entries % 100 > remainder ? 1 : 0);
        var missing = Having(0);
        var fuzzy = Having(2) + Having(3);
        return new ReconCounts(entries - missing - fuzzy, fuzzy, missing, Having(1));
    }

    private static long Cents(long g) => 100 + (g * 7919 % 500_000);

    private static string Reference(long g) => $"SR-{g:D8}";

    /// <summary>
    /// N withdrawals from the bench's wallets (round robin) into @settlement, evenly over the day,
    /// each with its reference: entries, both postings with their running balances and versions,
    /// the wallets' balances and versions, and the ledger's head, in one transaction.
    /// </summary>
    private static async Task SeedAsync(string connectionString, int entries, int wallets)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("""
            CREATE TEMP TABLE seed ON COMMIT DROP AS
            SELECT g, h.last_seq + g + 1 AS seq, 'wal_b' || lpad((g % @wallets)::text, 9, '0') AS wallet, 100 + (g * 7919) % 500000 AS amount,
                   @day + g * (interval '86400 seconds' / @entries) AS at
            FROM generate_series(0::bigint, @entries - 1) AS g, (SELECT last_seq FROM ledger_head FOR UPDATE) h;

            INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, created_at, committed_at)
            SELECT seq, 'tr_recon' || g, 'default', wallet, 'sys:default:settlement:USD', amount, 'USD', 'SR-' || lpad(g::text, 8, '0'), 'Settlement ' || g, at,
                   clock_timestamp()
            FROM seed;

            INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
            SELECT s.wallet, s.seq, -s.amount, 'USD',
                   w.balance - sum(s.amount) OVER (PARTITION BY s.wallet ORDER BY s.seq), w.version + row_number() OVER (PARTITION BY s.wallet ORDER BY s.seq)
            FROM seed s JOIN wallets w ON w.id = s.wallet
            UNION ALL
            SELECT 'sys:default:settlement:USD', s.seq, s.amount, 'USD',
                   w.balance + sum(s.amount) OVER (ORDER BY s.seq), w.version + row_number() OVER (ORDER BY s.seq)
            FROM seed s JOIN wallets w ON w.id = 'sys:default:settlement:USD';

            UPDATE wallets w SET balance = w.balance - t.total, version = w.version + t.moves
            FROM (SELECT wallet, sum(amount) AS total, count(*) AS moves FROM seed GROUP BY wallet
                  UNION ALL
                  SELECT 'sys:default:settlement:USD', -sum(amount), count(*) FROM seed) t
            WHERE w.id = t.wallet;

            UPDATE ledger_head SET last_seq = last_seq + @entries;
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("wallets", wallets);
            command.Parameters.AddWithValue("entries", (long)entries);
            command.Parameters.AddWithValue("day", Day);
            command.CommandTimeout = 0;
            await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        await using var analyze = new NpgsqlCommand("ANALYZE entries; ANALYZE postings; ANALYZE wallets", connection);
        await analyze.ExecuteNonQueryAsync();
    }

    private static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != status)
            {
                throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: " +
                                                    (text.Length > 500 ? text[..500] + "…" : text));
            }

            return JsonDocument.Parse(text).RootElement.Clone();
        }
    }

    /// <summary>The bank's file of the day, written row by row into the request as it is sent.</summary>
    private sealed class BankFile(int entries) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var text = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            await text.WriteAsync("txn_id,booked,amount,ccy,ref,memo\n");
            for (long g = 0; g < entries; g++)
            {
                var at = Day + (g * TimeSpan.FromSeconds(86400) / entries);
                switch (g % 100)
                {
                    case 0:
                        continue; // the bank has no record of it
                    case 1:
                        // One with no entry: an amount no withdrawal has.
                        await WriteAsync(text, $"X-{g:D8}", at, 9_000_000 + g, $"STRAY-{g}", "Unknown credit");
                        break;
                    case 2 or 3:
                        // A few cents off, the reference written another way.
                        await WriteAsync(text, $"B-{g:D8}", at.AddMinutes(5), Cents(g) + (g % 2 == 0 ? 3 : -4), Reference(g).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant(), "SETTLEMENT LESS FEE");
                        continue;
                }

                // As booked, a little later.
                await WriteAsync(text, $"B-{g:D8}", at.AddSeconds(g % 120), Cents(g), Reference(g), $"Card settlement {g % 97}");
            }

            await text.FlushAsync();
        }

        private static Task WriteAsync(StreamWriter text, string id, DateTimeOffset at, long cents, string reference, string memo) =>
            text.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                $"{id},{at.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'},{cents / 100}.{cents % 100:D2},USD,{reference},{memo}\n"));

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
