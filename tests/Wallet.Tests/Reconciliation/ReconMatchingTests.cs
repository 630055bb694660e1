using System.Net;
using System.Text.Json;
using Npgsql;
using Orleans;
using Wallet.Grains.Reconciliation;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Wallet.Tests.Reconciliation.ReconRunTests;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// Matching as a property over generated data, and a run's life when its silo dies or two attempts
/// race: it completes once, its items written once.
/// </summary>
public sealed class ReconMatchingTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const int Entries = 40;
    private const int WindowSeconds = 3600;
    private const long ToleranceMinor = 50;

    /// <summary>
    /// Records made from ledger entries, each moved at random either inside every tolerance (amount
    /// within 0.50, time within the hour, the reference written another way, any description) or
    /// outside one of them (amount, time or currency): every record inside matches its own entry,
    /// none outside matches anything, and no record or entry is in two items.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RecordsInsideTheTolerances_AllMatchTheirEntry_AndOutsideNeverMatch(int seed)
    {
        var random = new Random(seed);
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-property");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100000.00");
        var entries = new List<(Posted Entry, long Amount, string Reference)>();
        for (var i = 0; i < Entries; i++)
        {
            var amount = 1000 + (i * 700L); // 7.00 apart: no record moved inside or outside its own entry's tolerance comes near another's
            var reference = "TR-" + Convert.ToHexString(BitConverter.GetBytes(random.NextInt64()))[..10];
            entries.Add((await WithdrawAsync(tenant, wallet, Format(amount), reference), amount, reference));
        }

        var source = await CreateSourceAsync(tenant, "bank", new { amount = "0.50", time_window_seconds = WindowSeconds });
        var inside = new Dictionary<string, string>();
        var outside = new List<string>();
        var records = new List<object>();
        foreach (var (entry, amount, reference) in entries)
        {
            var id = "B-" + entry.Id[^8..];
            if (random.Next(2) == 0)
            {
                var written = random.Next(4) switch
                {
                    0 => reference,
                    1 => reference.ToLowerInvariant(),
                    2 => reference.Replace("-", "", StringComparison.Ordinal),
                    _ => reference.Replace("-", " ", StringComparison.Ordinal),
                };
                records.Add(Record(id, Format(amount + random.NextInt64(-ToleranceMinor, ToleranceMinor + 1)),
                    entry.At.AddSeconds(random.Next(-WindowSeconds + 5, WindowSeconds - 5)), written, random.Next(2) == 0 ? null : "SETTLEMENT " + random.Next()));
                inside[id] = entry.Id;
            }
            else
            {
                var sign = random.Next(2) == 0 ? -1 : 1;
                records.Add(random.Next(3) switch
                {
                    0 => Record(id, Format(amount + (sign * random.NextInt64(ToleranceMinor + 1, 300))), entry.At, reference, null),
                    1 => Record(id, Format(amount), entry.At.AddSeconds(sign * random.Next(WindowSeconds + 5, 3 * WindowSeconds)), reference, null),
                    _ => Record(id, Format(amount), entry.At, reference, null, currency: "EUR"),
                });
                outside.Add(id);
            }
        }

        await PushAsync(tenant, source, [.. records]);
        var items = await ItemsAsync(tenant, await RunAsync(tenant, source));

        var pairs = items.Where(i => i.Str("kind") != "unmatched")
            .ToDictionary(i => i.GetProperty("external").Str("id"), i => i.GetProperty("internal").Str("entry_id"));
        Assert.Equal(inside.OrderBy(p => p.Key), pairs.OrderBy(p => p.Key));
        Assert.All(outside, id => Assert.DoesNotContain(id, pairs.Keys));
        var recordIds = items.Select(i => i.GetProperty("external")).Where(e => e.ValueKind != JsonValueKind.Null).Select(e => e.Str("id")).ToList();
        var entryIds = items.Select(i => i.GetProperty("internal")).Where(e => e.ValueKind != JsonValueKind.Null).Select(e => e.Str("entry_id")).ToList();
        Assert.Equal(recordIds.Count, recordIds.Distinct().Count());
        Assert.Equal(entryIds.Count, entryIds.Distinct().Count());
        Assert.Equal(Entries, entryIds.Count); // every entry is in the period: matched or unmatched, once
    }

    /// <summary>
    /// Two attempts at one run at once (a second activation, a retry): whichever claims it last
    /// completes it, the other's work is rolled back, and the items are written once.
    /// </summary>
    [Fact]
    public async Task TwoAttemptsAtOnce_CompleteTheRunOnce()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-race");
        var (source, expected) = await SampleAsync(tenant);
        var run = await QueueAsync(tenantId, source);
        var matcher = api.Factory.GetService<ReconMatcher>();

        var outcomes = await Task.WhenAll(
            Task.Run(() => matcher.RunAsync(run, 3, TimeProvider.System, CancellationToken.None)),
            Task.Run(() => matcher.RunAsync(run, 3, TimeProvider.System, CancellationToken.None)));

        Assert.Contains(true, outcomes);
        var view = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("completed", view.Str("status"));
        Assert.Equal(expected, (await ItemsAsync(tenant, run)).Count);
        Assert.Equal(expected, (int)await CountItemsAsync(run));
    }

    /// <summary>
    /// A run whose silo died mid-run (left running by its first attempt) is finished by its grain as
    /// the second attempt; one cut short as often as allowed is failed with why, and never runs again.
    /// </summary>
    [Fact]
    public async Task RunCutShort_IsFinishedByTheNextAttempt_UntilItsAttemptsAreSpent()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-crash");
        var (source, expected) = await SampleAsync(tenant);
        var grains = api.Factory.GetService<IGrainFactory>();

        var resumed = await QueueAsync(tenantId, source, attemptsUsed: 1);
        await grains.GetGrain<IReconRunGrain>(resumed).Start();
        var spent = await QueueAsync(tenantId, source, attemptsUsed: 3);
        await grains.GetGrain<IReconRunGrain>(spent).Start();

        var done = await WaitAsync(tenant, resumed);
        Assert.Equal(("completed", 2), (done.Str("status"), done.GetProperty("attempts").GetInt32()));
        Assert.Equal(expected, (await ItemsAsync(tenant, resumed)).Count);
        var failed = await WaitAsync(tenant, spent);
        Assert.Equal(("failed", "its runs were cut short 3 times"), (failed.Str("status"), failed.Str("error")));
        await (await tenant.GetAsync($"/v1/reconciliation/runs/{spent}/items")).ExpectProblemAsync(HttpStatusCode.Conflict, "run_not_completed");
        Assert.Equal(0, await CountItemsAsync(spent));
    }

    private static string Format(long minor) => Wallet.Grains.Money.Amount.Format(minor, 2);

    // Two entries and three records: one exact pair, one unmatched record, one unmatched entry.
    private static async Task<(string Source, int Items)> SampleAsync(HttpClient tenant)
    {
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100.00");
        var one = await WithdrawAsync(tenant, wallet, "10.00", "R-1");
        await WithdrawAsync(tenant, wallet, "20.00", "R-2");
        var source = await CreateSourceAsync(tenant, "bank", new { });
        await PushAsync(tenant, source, Record("B-1", "10.00", one.At, "R-1", null), Record("B-2", "99.00", one.At, "NONE", null));
        return (source, 3);
    }

    // A run written straight into PostgreSQL, as if asked for, with attempts already spent (each left running by a silo that died).
    private async Task<string> QueueAsync(string tenantId, string source, int attemptsUsed = 0)
    {
        var now = DateTimeOffset.UtcNow;
        var run = await api.Factory.GetService<ReconRunStore>().CreateRunAsync(tenantId, source, now.AddDays(-1), now.AddDays(1), now, null, null!, CancellationToken.None);
        if (attemptsUsed > 0)
        {
            await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE recon_runs SET status = 'running', attempts = @attempts, started_at = now() WHERE id = @id", connection);
            command.Parameters.AddWithValue("id", run!.Id);
            command.Parameters.AddWithValue("attempts", attemptsUsed);
            await command.ExecuteNonQueryAsync();
        }

        return run!.Id;
    }

    private async Task<long> CountItemsAsync(string run)
    {
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM recon_items WHERE run_id = @run", connection);
        command.Parameters.AddWithValue("run", run);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<JsonElement> WaitAsync(HttpClient tenant, string run)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            var view = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}")).ExpectAsync(HttpStatusCode.OK);
            if (view.Str("status") is "completed" or "failed" || DateTimeOffset.UtcNow > deadline)
            {
                return view;
            }

            await Task.Delay(100);
        }
    }
}
