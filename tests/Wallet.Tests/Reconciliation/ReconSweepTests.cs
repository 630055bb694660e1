using System.Net;
using Npgsql;
using Wallet.Grains.Reconciliation;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Wallet.Tests.Reconciliation.ReconRunTests;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// Runs no grain was told of are found by the silos' sweep: one queued whose grain was never
/// reached, and one left running by a process that died without a reminder (the command line's).
/// </summary>
public sealed class ReconSweepTests : IAsyncLifetime
{
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() =>
        _factory = await WalletApiFactory.CreateAsync("reconsweep", new() { ["Reconciliation:RunRetryPeriod"] = "00:00:01" });

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task RunsQueuedOrLeftRunning_AreFinishedByTheSweep()
    {
        var (tenantId, tenant) = await _factory.CreateOperatorTenantAsync("recon-sweep");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100.00");
        var entry = await WithdrawAsync(tenant, wallet, "10.00", "S-1");
        var source = await CreateSourceAsync(tenant, "bank", new { });
        await PushAsync(tenant, source, Record("B-1", "10.00", entry.At, "S-1", null));
        var store = _factory.GetService<ReconRunStore>();
        var now = DateTimeOffset.UtcNow;

        var queued = (await store.CreateRunAsync(tenantId, source, now.AddDays(-1), now.AddDays(1), now, null, null!, CancellationToken.None))!.Id;
        var abandoned = (await store.CreateRunAsync(tenantId, source, now.AddDays(-1), now.AddDays(1), now, null, null!, CancellationToken.None))!.Id;
        await using (var connection = new NpgsqlConnection(_factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "UPDATE recon_runs SET status = 'running', attempts = 1, started_at = @at, touched_at = @at WHERE id = @id", connection);
            command.Parameters.AddWithValue("id", abandoned);
            command.Parameters.AddWithValue("at", now.AddMinutes(-1));
            await command.ExecuteNonQueryAsync();
        }

        foreach (var (run, attempts) in new[] { (queued, 1), (abandoned, 2) })
        {
            var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
            while (true)
            {
                var view = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}")).ExpectAsync(HttpStatusCode.OK);
                if (view.Str("status") == "completed")
                {
                    Assert.Equal(attempts, view.GetProperty("attempts").GetInt32());
                    break;
                }

                Assert.True(DateTimeOffset.UtcNow < deadline, $"run {run} was not swept: {view.GetRawText()}");
                await Task.Delay(200);
            }

            var summary = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal((1, 0, 0, 0, 0), Counts(summary));
        }
    }
}
