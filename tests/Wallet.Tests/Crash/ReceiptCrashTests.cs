using System.Net;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Wallet.Tests.Receipts;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Crash;

/// <summary>
/// A receipt's reading survives the silo reading it: the silo is killed (SIGKILL) while a receipt
/// is being read and others wait their turn, and once a silo runs again every receipt still ends in
/// a final status (verified here), through its reminder, which is then gone.
/// </summary>
public sealed class ReceiptCrashTests(ITestOutputHelper output) : IDisposable
{
    private const string ApiKey = "receipt-crash-operator-key";
    private const int ReceiptCount = 4;

    // One reading at a time, so the others queue; a reading cut short is taken up again within
    // about two seconds of the new silo's start.
    private readonly RestartedSilos _silos = new(ApiKey, output, new Dictionary<string, string>
    {
        ["Receipts__OcrConcurrencyMax"] = "1",
        ["Receipts__RetryPeriod"] = "00:00:02",
    });

    [Fact]
    public Task Silo_KilledWhileReadingAReceipt_RestartsAndEveryReceiptEndsFinal() => _silos.RunAsync(KillWhileReadingAsync);

    public void Dispose() => _silos.Dispose();

    private async Task KillWhileReadingAsync()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("receipt_crash");
        await using var database = NpgsqlDataSource.Create(connectionString);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);

        // 1. Receipts for authorizations, uploaded; the silo is killed as soon as one is being read.
        var first = await _silos.StartAsync("silo #1 (killed)", connectionString);
        var receipts = new List<string>();
        using (var client = first.CreateClient(ApiKey))
        {
            for (var i = 0; i < ReceiptCount; i++)
            {
                var amount = $"{10 + i}.25";
                var (_, card) = await client.FundedCardAsync("100.00");
                var authorization = (await (await client.AuthorizeAsync(card, amount, merchant: "Corner Bakery")).ExpectAsync(HttpStatusCode.Created)).Str("id");
                var picture = ReceiptSamples.Picture(ReceiptSamples.Lines("CORNER BAKERY", today, amount));
                receipts.Add((await (await ReceiptSamples.UploadAsync(client, picture, authorization)).ExpectAsync(HttpStatusCode.Accepted)).Str("id"));
            }

            await WaitUntilAsync(async () => await ScalarAsync(database, "SELECT count(*) FROM receipts WHERE status = 'processing' AND started_at IS NOT NULL") > 0);
            first.Kill();
        }

        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var unfinished = await ScalarAsync(database, "SELECT count(*) FROM receipts WHERE status = 'processing'");
        var cutShort = await ScalarAsync(database, "SELECT count(*) FROM receipts WHERE status = 'processing' AND started_at IS NOT NULL");
        output.WriteLine($"{first.Name} exited with {first.ExitCode}; {unfinished} of {ReceiptCount} receipts still processing, {cutShort} of them mid-reading");
        Assert.Equal(128 + 9, first.ExitCode);
        Assert.True(cutShort >= 1, "no receipt was being read when the silo died");

        // 2. A new silo on the same database takes every unfinished reading up again.
        var second = await _silos.StartAsync("silo #2 (restarted)", connectionString);
        using var restarted = second.CreateClient(ApiKey);
        foreach (var id in receipts)
        {
            var receipt = await ReceiptSamples.FinalAsync(restarted, id);
            Assert.True(receipt.Str("status") == "verified", receipt.ToString());
        }

        // 3. Each receipt's reminder is gone once its status is final.
        await WaitUntilAsync(async () => await ScalarAsync(database, "SELECT count(*) FROM orleans_reminders WHERE grain_id LIKE 'receipt/%'") == 0);
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 60 s");
            await Task.Delay(50);
        }
    }
}
