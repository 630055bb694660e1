using System.Globalization;
using System.Net;
using System.Text.Json;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// Reconciliation runs through the API against real ledger entries: the settlement account's
/// withdrawals compared with a bank's records, exact and fuzzy pairs, what is left unmatched on
/// either side, completed runs that never change, and operators' decisions beside them.
/// </summary>
public sealed class ReconRunTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private static readonly object Mapping = new
    {
        external_id = "id", amount = "amount", currency = "currency", timestamp = "at", reference = "ref", description = "memo",
    };

    /// <summary>
    /// The seed's sample: three records against three entries give two exact matches and one
    /// fuzzy match with its score, nothing unmatched. A fourth record with no entry, and an entry
    /// with no record, then show as unmatched external and internal in the next run, while the
    /// first run stays as it was.
    /// </summary>
    [Fact]
    public async Task SeedSample_TwoExactOneFuzzy_ThenAnUnmatchedRecordAndEntry()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-run");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "1000.00");
        var first = await WithdrawAsync(tenant, wallet, "100.00", "R-1001");
        var second = await WithdrawAsync(tenant, wallet, "250.00", "R-1002");
        var third = await WithdrawAsync(tenant, wallet, "75.50", "R-1003");
        var source = await CreateSourceAsync(tenant, "bank", new { amount = "1.00", time_window_seconds = 86400 });
        await PushAsync(tenant, source,
            Record("B-1", "100.00", first.At.AddHours(2), "R-1001", "CARD SETTLEMENT"),
            Record("B-2", "250.00", second.At, "R-1002", null),
            Record("B-3", "75.00", third.At.AddMinutes(5), "R-1003", "SETTLEMENT LESS FEE"));

        var run = await RunAsync(tenant, source);
        var summary = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectAsync(HttpStatusCode.OK);
        var items = await ItemsAsync(tenant, run);

        Assert.Equal((2, 1, 0, 0, 0), Counts(summary));
        var exact = items.Where(i => i.Str("kind") == "exact").OrderBy(i => i.GetProperty("external").Str("id")).ToList();
        Assert.Equal([("B-1", first.Id), ("B-2", second.Id)], exact.Select(Pair));
        Assert.Equal(["time: 2 h 0 min apart"], Reasons(exact[0]));
        Assert.Empty(Reasons(exact[1]));
        var fuzzy = Assert.Single(items, i => i.Str("kind") == "fuzzy");
        Assert.Equal(("B-3", third.Id), Pair(fuzzy));
        var score = fuzzy.GetProperty("score").GetDouble();
        Assert.InRange(score, 0.8, 0.99);
        Assert.Equal(["amount: 75.00 in the record, 75.50 in the ledger", "time: 0 h 5 min apart",
            "description: 'SETTLEMENT LESS FEE' in the record, 'Withdrawal R-1003' in the ledger (similarity " + Similarity(fuzzy) + ")"], Reasons(fuzzy));
        var usd = Assert.Single(summary.GetProperty("amounts").EnumerateArray());
        Assert.Equal(("425.00", "425.50", "350.00", "75.00", "-0.50"),
            (usd.Str("external_total"), usd.Str("internal_total"), usd.Str("exact"), usd.Str("fuzzy"), usd.Str("difference")));

        var fourth = await WithdrawAsync(tenant, wallet, "13.00", "R-1004");
        await PushAsync(tenant, source, Record("B-4", "42.00", fourth.At, "R-9999", "UNKNOWN CREDIT"));
        var next = await RunAsync(tenant, source);
        var nextSummary = await (await tenant.GetAsync($"/v1/reconciliation/runs/{next}/summary")).ExpectAsync(HttpStatusCode.OK);
        var unmatched = await ItemsAsync(tenant, next, "matched=false");

        Assert.Equal((2, 1, 1, 1, 2), Counts(nextSummary));
        var external = Assert.Single(unmatched, i => Side(i) == "external");
        Assert.Equal("B-4", external.GetProperty("external").Str("id"));
        Assert.Equal(JsonValueKind.Null, external.GetProperty("internal").ValueKind);
        var @internal = Assert.Single(unmatched, i => Side(i) == "internal");
        Assert.Equal(fourth.Id, @internal.GetProperty("internal").Str("entry_id"));
        Assert.Equal("13.00", @internal.GetProperty("internal").Str("amount"));
        Assert.Equal([external.Str("id")], (await ItemsAsync(tenant, next, "matched=false&side=external")).Select(i => i.Str("id")));
        Assert.Equal(3, (await ItemsAsync(tenant, next, "matched=true")).Count);
        Assert.Equal(summary.GetRawText(), (await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectAsync(HttpStatusCode.OK)).GetRawText());
    }

    /// <summary>
    /// An operator matches the unmatched record with the unmatched entry by hand; the run's items
    /// and counts stay as they were, the decision shows beside them, and it is taken once.
    /// </summary>
    [Fact]
    public async Task Resolve_MatchesByHandOrWritesOff_OnceEach_WithoutChangingTheRun()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-resolve");
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "500.00");
        var kept = await WithdrawAsync(tenant, wallet, "20.00", "R-1");
        var lost = await WithdrawAsync(tenant, wallet, "30.00", "R-2");
        var source = await CreateSourceAsync(tenant, "bank", new { });
        await PushAsync(tenant, source,
            Record("B-1", "20.00", kept.At, "R-1", null), Record("B-2", "31.00", lost.At, "OTHER", null), Record("B-3", "5.00", lost.At, "X", null));
        var run = await RunAsync(tenant, source);
        var items = await ItemsAsync(tenant, run);
        var record = items.Single(i => i.TryGetProperty("external", out var e) && e.ValueKind != JsonValueKind.Null && e.Str("id") == "B-2").Str("id");
        var stray = items.Single(i => i.TryGetProperty("external", out var e) && e.ValueKind != JsonValueKind.Null && e.Str("id") == "B-3").Str("id");
        var entry = items.Single(i => Side(i) == "internal").Str("id");
        var matched = items.Single(i => i.Str("kind") == "exact").Str("id");

        var resolved = await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{record}/resolve",
            new { action = "match", counterpart_id = entry, note = "bank booked it as OTHER with a 1.00 fee" })).ExpectAsync(HttpStatusCode.OK);
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{entry}/resolve", new { action = "write_off", note = "again" }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "item_resolved");
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{matched}/resolve", new { action = "write_off", note = "no" }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "item_not_resolvable");
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{stray}/resolve", new { action = "match", counterpart_id = record, note = "no" }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "item_resolved");
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{stray}/resolve", new { action = "write_off" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/ritm_nothing_1/resolve", new { action = "write_off", note = "x" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "item_not_found");
        await (await tenant.PostJsonAsync($"/v1/reconciliation/items/{stray}/resolve", new { action = "write_off", note = "test credit" }))
            .ExpectAsync(HttpStatusCode.OK);

        var resolution = resolved.GetProperty("resolution");
        Assert.Equal(("match", entry, "bank booked it as OTHER with a 1.00 fee"), (resolution.Str("action"), resolution.Str("counterpart_id"), resolution.Str("note")));
        Assert.Equal("unmatched", resolved.Str("kind"));
        var after = await ItemsAsync(tenant, run);
        Assert.Equal(items.Select(i => (i.Str("id"), i.Str("kind"))), after.Select(i => (i.Str("id"), i.Str("kind"))));
        Assert.Equal(record, after.Single(i => i.Str("id") == entry).GetProperty("resolution").Str("counterpart_id"));
        var summary = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal((1, 0, 1, 2, 0), Counts(summary));
        Assert.Equal((2, 1), (summary.GetProperty("manual").GetInt32(), summary.GetProperty("written_off").GetInt32()));

        // Each resolution is in the tenant's audit trail, by the key that made it; the refused ones left nothing.
        var audited = (await (await tenant.GetAsync("/v1/audit?action=reconciliation.item_resolved")).ExpectAsync(HttpStatusCode.OK))
            .GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([stray, record], audited.Select(r => r.Str("target")));
        Assert.Equal(("match", entry), (audited[1].GetProperty("details").Str("action"), audited[1].GetProperty("details").Str("counterpart_id")));
        Assert.All(audited, r => Assert.StartsWith("api_key:ak_", r.Str("actor"), StringComparison.Ordinal));

        // What the run found is kept as it was: PostgreSQL refuses to change a completed run or its items.
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        foreach (var sql in (string[])["UPDATE recon_runs SET status = 'queued' WHERE id = @run", "DELETE FROM recon_items WHERE run_id = @run",
                     "UPDATE recon_resolutions SET note = '' WHERE run_id = @run"])
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddWithValue("run", run);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
    }

    [Theory]
    [InlineData("""{"source_id":"S"}""", "either date")]
    [InlineData("""{"source_id":"S","date":"2025-07-13","from":"2025-07-13"}""", "either date")]
    [InlineData("""{"source_id":"S","from":"2025-07-13"}""", "either date")]
    [InlineData("""{"source_id":"S","date":"13/07/2025"}""", "date must be a day")]
    [InlineData("""{"source_id":"S","from":"2025-07-13","to":"2025-07-12"}""", "to must be after from")]
    [InlineData("""{"source_id":"S","from":"2025-07-13T00:00:00","to":"2025-07-14"}""", "with its offset")]
    [InlineData("""{"source_id":"S","from":"2025-01-01","to":"2025-07-01"}""", "at most 92 days")]
    public async Task CreateRun_WithABadPeriod_IsRefusedWithWhy(string body, string said)
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-bad-run");
        var source = await CreateSourceAsync(tenant, "bank", new { });
        using var content = new StringContent(body.Replace("\"S\"", $"\"{source}\"", StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json");

        var problem = await (await tenant.PostAsync("/v1/reconciliation/runs", content)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Contains(said, problem.Str("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Runs_AreTheTenantsAlone_AndUnknownOnesAreNotFound()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon-runs-own");
        var source = await CreateSourceAsync(tenant, "bank", new { });
        var run = await RunAsync(tenant, source, "2025-07-13");
        var (_, other) = await api.Factory.CreateOperatorTenantAsync("recon-runs-other");

        var view = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("completed", 1.0, 1, false), (view.Str("status"), view.GetProperty("progress").GetDouble(), view.GetProperty("attempts").GetInt32(),
            view.GetProperty("scheduled").GetBoolean()));
        Assert.Equal(DateTimeOffset.Parse("2025-07-13T00:00:00Z", CultureInfo.InvariantCulture), view.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(DateTimeOffset.Parse("2025-07-14T00:00:00Z", CultureInfo.InvariantCulture), view.GetProperty("to").GetDateTimeOffset());
        Assert.Equal([run], (await (await tenant.GetAsync($"/v1/reconciliation/runs?source_id={source}")).ExpectAsync(HttpStatusCode.OK))
            .GetProperty("data").EnumerateArray().Select(r => r.Str("id")));
        await (await other.GetAsync($"/v1/reconciliation/runs/{run}")).ExpectProblemAsync(HttpStatusCode.NotFound, "run_not_found");
        await (await other.GetAsync($"/v1/reconciliation/runs/{run}/items")).ExpectProblemAsync(HttpStatusCode.NotFound, "run_not_found");
        await (await other.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectProblemAsync(HttpStatusCode.NotFound, "run_not_found");
        await (await other.PostJsonAsync("/v1/reconciliation/runs", new { source_id = source, date = "2025-07-13" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "source_not_found");
        var summary = await (await tenant.GetAsync($"/v1/reconciliation/runs/{run}/summary")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal((0, 0, 0, 0, 0), Counts(summary));
        Assert.Empty(summary.GetProperty("amounts").EnumerateArray());
    }

    internal sealed record Posted(string Id, DateTimeOffset At);

    internal static async Task<Posted> WithdrawAsync(HttpClient tenant, string wallet, string amount, string reference)
    {
        var transfer = await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", new { amount, reference, description = $"Withdrawal {reference}" }))
            .ExpectAsync(HttpStatusCode.Created);
        return new Posted(transfer.Str("id"), transfer.GetProperty("created_at").GetDateTimeOffset());
    }

    internal static async Task<string> CreateSourceAsync(HttpClient tenant, string name, object tolerances) =>
        (await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name, ledger_account = "@settlement", format = "json", mapping = Mapping, tolerances }))
            .ExpectAsync(HttpStatusCode.Created)).Str("id");

    internal static object Record(string id, string amount, DateTimeOffset at, string? reference, string? memo, string currency = "USD") =>
        new Dictionary<string, string?>
        {
            ["id"] = id, ["amount"] = amount, ["currency"] = currency, ["at"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            ["ref"] = reference, ["memo"] = memo,
        };

    internal static async Task PushAsync(HttpClient tenant, string source, params object[] records)
    {
        var import = await (await tenant.PostJsonAsync($"/v1/reconciliation/sources/{source}/records", new { records })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(records.Length, import.GetProperty("imported").GetInt32());
    }

    /// <summary>Runs the source over a day (or the hour around now) and waits for the run to complete.</summary>
    internal static async Task<string> RunAsync(HttpClient tenant, string source, string? date = null)
    {
        var now = DateTimeOffset.UtcNow;
        object body = date is not null ? new { source_id = source, date }
            : new { source_id = source, from = now.AddDays(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                to = now.AddDays(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) };
        var run = await (await tenant.PostJsonAsync("/v1/reconciliation/runs", body)).ExpectAsync(HttpStatusCode.Accepted);
        var id = run.Str("id");
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            var view = await (await tenant.GetAsync($"/v1/reconciliation/runs/{id}")).ExpectAsync(HttpStatusCode.OK);
            if (view.Str("status") == "completed")
            {
                return id;
            }

            Assert.True(view.Str("status") != "failed" && DateTimeOffset.UtcNow < deadline, $"run {id} is {view.GetRawText()}");
            await Task.Delay(100);
        }
    }

    internal static async Task<List<JsonElement>> ItemsAsync(HttpClient tenant, string run, string? query = null)
    {
        var items = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var path = $"/v1/reconciliation/runs/{run}/items?limit=7" + (query is null ? "" : "&" + query) + (cursor is null ? "" : "&cursor=" + cursor);
            var page = await (await tenant.GetAsync(path)).ExpectAsync(HttpStatusCode.OK);
            items.AddRange(page.GetProperty("data").EnumerateArray().Select(i => i.Clone()));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.Null ? null : page.Str("next_cursor");
        }
        while (cursor is not null);

        return items;
    }

    internal static (int Exact, int Fuzzy, int UnmatchedInternal, int UnmatchedExternal, int Open) Counts(JsonElement summary) =>
        (summary.GetProperty("exact").GetInt32(), summary.GetProperty("fuzzy").GetInt32(), summary.GetProperty("unmatched_internal").GetInt32(),
            summary.GetProperty("unmatched_external").GetInt32(), summary.GetProperty("open").GetInt32());

    private static (string Record, string Entry) Pair(JsonElement item) =>
        (item.GetProperty("external").Str("id"), item.GetProperty("internal").Str("entry_id"));

    private static string? Side(JsonElement item) => item.GetProperty("side").GetString();

    private static List<string> Reasons(JsonElement item) => item.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!).ToList();

    // The similarity the run printed, as it printed it (its own figure, checked for range below).
    private static string Similarity(JsonElement fuzzy)
    {
        var said = Reasons(fuzzy)[^1];
        var figure = said[(said.LastIndexOf("similarity ", StringComparison.Ordinal) + "similarity ".Length)..^1];
        Assert.InRange(double.Parse(figure, CultureInfo.InvariantCulture), 0, 0.99);
        return figure;
    }
}
