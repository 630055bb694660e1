using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Silo.Hosting;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Wallet.Tests.Reconciliation.ReconRunTests;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// <c>Wallet.Silo recon</c>: a bank file imported and a day reconciled from the shell, the summary
/// printed, and the exit code saying whether everything matched (0), something did not (1), or it
/// could not run (2).
/// </summary>
public sealed class ReconCommandTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Recon_AllMatchedThenSomethingUnmatched_ExitsZeroThenOne()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-cli");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100.00");
        var first = await WithdrawAsync(tenant, wallet, "12.00", "CLI-1");
        var second = await WithdrawAsync(tenant, wallet, "30.25", "CLI-2");
        var name = "bank-" + Guid.NewGuid().ToString("N")[..8];
        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new
        {
            name, ledger_account = "@settlement",
            mapping = new { external_id = "txn", amount = "amount", currency_default = "USD", timestamp = "booked", reference = "ref" },
        })).ExpectAsync(HttpStatusCode.Created);
        var day = first.At.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var file = await WriteAsync($"txn,booked,amount,ref\nB-1,{Iso(first.At)},12.00,CLI-1\nB-2,{Iso(second.At)},30.25,CLI-2\n");
        var more = await WriteAsync($"txn,booked,amount,ref\nB-3,{Iso(second.At)},8.00,CLI-9\n");

        var (matched, matchedOutput) = await RunAsync("--source", name, "--date", day, "--file", file, "--tenant", tenantId);
        var (again, againOutput) = await RunAsync("--source", name, "--date", day, "--file", file);
        var (unmatched, unmatchedOutput) = await RunAsync("--source", name, "--date", day, "--file", more);

        Assert.Equal(ReconCommand.AllMatched, matched);
        Assert.Contains("2 rows, 2 imported", matchedOutput, StringComparison.Ordinal);
        Assert.Equal((2, 0, 0, 0, 0), Counts(Summary(matchedOutput)));
        Assert.Equal(ReconCommand.AllMatched, again);
        Assert.Contains("was imported before", againOutput, StringComparison.Ordinal);
        Assert.Equal(ReconCommand.Unmatched, unmatched);
        Assert.Equal((2, 0, 0, 1, 1), Counts(Summary(unmatchedOutput)));
        var runs = await (await tenant.GetAsync("/v1/reconciliation/runs")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(3, runs.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Recon_WithoutASourceOrWithABadFile_ExitsTwoSayingWhy()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-cli-bad");
        var name = "bank-" + Guid.NewGuid().ToString("N")[..8];
        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new
        {
            name, ledger_account = "@settlement", mapping = new { external_id = "txn", amount = "amount", currency_default = "USD", timestamp = "booked" },
        })).ExpectAsync(HttpStatusCode.Created);
        var bad = await WriteAsync("txn,booked,amount\nB-1,yesterday,12.00\n");

        var (unknown, unknownOutput) = await RunAsync("--source", "no-such-" + name, "--date", "2025-07-13");
        var (refused, refusedOutput) = await RunAsync("--source", name, "--date", "2025-07-13", "--file", bad);
        var (usage, usageOutput) = await RunAsync("--source", name, "--date", "13/07/2025");
        var (missing, missingOutput) = await RunAsync("--source", name, "--date", "2025-07-13", "--file", bad + ".gone");

        Assert.Equal((ReconCommand.Error, ReconCommand.Error, ReconCommand.Error, ReconCommand.Error), (unknown, refused, usage, missing));
        Assert.Contains("no source named", unknownOutput, StringComparison.Ordinal);
        Assert.Contains("records_rejected", refusedOutput, StringComparison.Ordinal);
        Assert.Contains("usage: recon", usageOutput, StringComparison.Ordinal);
        Assert.Contains("no file", missingOutput, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        var code = await ReconCommand.RunAsync([$"--ConnectionStrings:Wallet={api.Factory.ConnectionString}", .. args], output);
        return (code, output.ToString());
    }

    private static JsonElement Summary(string output) => JsonDocument.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..]).RootElement.Clone();

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static async Task<string> WriteAsync(string csv)
    {
        var path = Path.Combine(Path.GetTempPath(), $"recon-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, csv);
        return path;
    }
}
