using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Reports;

/// <summary>
/// Closing a fiscal period: its four reports are kept as they were at the close, and answered byte
/// for byte the same, as JSON and as CSV, after later postings.
/// </summary>
public sealed class PeriodTests : IAsyncLifetime
{
    private static readonly string[] Kinds = ["trial-balance", "balance-sheet", "income-statement", "cash-flow"];

    // A database of this class's own: its entries are moved back in time, all of them alike.
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() => _factory = await WalletApiFactory.CreateAsync("periods");

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task AClosedPeriodsReports_AreByteIdentical_BeforeAndAfterLaterPostings()
    {
        using var tenant = _factory.CreateOperatorClient();
        var alice = await tenant.CreateWalletAsync();
        var bob = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(alice, "100.00");
        await (await tenant.TransferAsync(alice, bob, "30.00")).ExpectAsync(HttpStatusCode.Created);
        await tenant.MoveAsync(alice, "spend", "10.00");
        await tenant.MoveAsync(bob, "bonus", "5.00");
        await tenant.MoveAsync(bob, "withdraw", "20.00");
        // Postings are dated by their commit, so a past month can only hold postings made then: these
        // are moved to the middle of the month before last, every entry of this database by the same
        // span, so that their order in time stays their order in the ledger.
        var now = DateTimeOffset.UtcNow;
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(-2);
        var period = month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        await MoveEntriesBackAsync(now - month.AddDays(14));

        var open = await ReadAllAsync(tenant, period);
        var closed = await (await tenant.PostEmptyAsync($"/v1/periods/{period}/close")).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal((period, month, month.AddMonths(1)), (closed.Str("period"), closed.GetProperty("starts_at").GetDateTimeOffset(), closed.GetProperty("ends_at").GetDateTimeOffset()));
        var atClose = await ReadAllAsync(tenant, period);
        // What the close kept is what the ledger gave for that month before it.
        Assert.Equal(open, atClose);
        var trial = ApiCalls.Parse(atClose["trial-balance json"]).GetProperty("by_asset")[0];
        Assert.Equal(("USD", "105.00", "105.00", true), (trial.Str("asset"), trial.Str("debits"), trial.Str("credits"), trial.GetProperty("balanced").GetBoolean()));
        var income = ApiCalls.Parse(atClose["income-statement json"]).GetProperty("by_asset")[0];
        Assert.Equal(("10.00", "5.00", "5.00"), (income.Str("total_income"), income.Str("total_expenses"), income.Str("net_income")));

        await tenant.DepositAsync(bob, "250.00");
        await (await tenant.TransferAsync(bob, alice, "40.00")).ExpectAsync(HttpStatusCode.Created);
        await tenant.MoveAsync(alice, "spend", "7.00");

        Assert.Equal(atClose, await ReadAllAsync(tenant, period));
        var live = await (await tenant.GetAsync("/v1/reports/trial-balance")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("355.00", live.GetProperty("by_asset")[0].Str("debits"));

        var listed = Assert.Single((await (await tenant.GetAsync("/v1/periods")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        Assert.Equal((period, closed.GetProperty("ledger_seq").GetInt64()), (listed.Str("period"), listed.GetProperty("ledger_seq").GetInt64()));
        var audit = await (await tenant.GetAsync("/v1/audit?action=period.closed")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(period, Assert.Single(audit.GetProperty("data").EnumerateArray()).Str("target"));

        await (await tenant.PostEmptyAsync($"/v1/periods/{period}/close")).ExpectProblemAsync(HttpStatusCode.Conflict, "period_closed");
        await (await tenant.PostEmptyAsync($"/v1/periods/{now:yyyy-MM}/close")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "period_not_ended");
        await (await tenant.PostEmptyAsync("/v1/periods/2026-13/close")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.GetAsync($"/v1/reports/trial-balance?period={period}&as_of=2020-01-01T00:00:00Z"))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    /// <summary>The four reports of the period, as JSON and as CSV, by kind and format.</summary>
    private static async Task<Dictionary<string, string>> ReadAllAsync(HttpClient tenant, string period)
    {
        var bodies = new Dictionary<string, string>();
        foreach (var kind in Kinds)
        {
            var json = await tenant.GetAsync($"/v1/reports/{kind}?period={period}");
            Assert.Equal(HttpStatusCode.OK, json.StatusCode);
            bodies[kind + " json"] = await json.Content.ReadAsStringAsync();
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/reports/{kind}?period={period}&asset=USD");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
            var csv = await tenant.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
            bodies[kind + " csv"] = await csv.Content.ReadAsStringAsync();
        }

        return bodies;
    }

    private async Task MoveEntriesBackAsync(TimeSpan span)
    {
        await using var connection = new NpgsqlConnection(_factory.ConnectionString);
        await connection.OpenAsync();
        await using var move = new NpgsqlCommand("""
            ALTER TABLE entries DISABLE TRIGGER USER;
            UPDATE entries SET committed_at = committed_at - @span;
            ALTER TABLE entries ENABLE TRIGGER USER;
            """, connection);
        move.Parameters.AddWithValue("span", span);
        await move.ExecuteNonQueryAsync();
    }
}
