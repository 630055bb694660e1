using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>What the operator pages' figures show and what their actions do, through the dashboard's JSON and assets.</summary>
public sealed class DashboardPagesTests : IAsyncLifetime
{
    private WalletApiFactory _factory = null!;

    public async Task InitializeAsync() => _factory = await WalletApiFactory.CreateAsync("dashboardpages");

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task Verify_FromTheDashboard_IsRecordedAsTheLastRun()
    {
        using var client = _factory.CreateOperatorClient();
        await client.FundedWalletAsync("25.00");

        var run = await (await client.PostAsync(new Uri("/dashboard/api/verify", UriKind.Relative), null)).Content.ReadAsync<JsonElement>();
        var ledger = await (await client.GetAsync(new Uri("/dashboard/api/ledger", UriKind.Relative))).Content.ReadAsync<JsonElement>();

        Assert.True(run.GetProperty("ok").GetBoolean());
        Assert.True(run.GetProperty("entries_checked").GetInt64() >= 1);
        Assert.Equal(run.GetProperty("ran_at").GetString(), ledger.GetProperty("last_verify").GetProperty("ran_at").GetString());
    }

    [Fact]
    public async Task Receipts_QueueOfTheTenant_ShowsFilesInPlaceAndRetriesOnlyFromThePage()
    {
        var (_, client) = await _factory.CreateOperatorTenantAsync("dashboard-receipts");
        using var tenant = client;
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var picture = Receipts.ReceiptSamples.Picture(Receipts.ReceiptSamples.Lines("CORNER GROCERY", today, "3.10"));
        var pdf = Receipts.ReceiptSamples.TextPdf(Receipts.ReceiptSamples.Lines("CORNER GROCERY", today, "3.10"));
        var image = (await Receipts.ReceiptSamples.UploadAndReadAsync(tenant, picture, authorizationId: null)).Str("id");
        var document = (await Receipts.ReceiptSamples.UploadAndReadAsync(tenant, pdf, authorizationId: null)).Str("id");

        var queue = await (await tenant.GetAsync(new Uri("/dashboard/api/receipts", UriKind.Relative))).ExpectAsync(HttpStatusCode.OK);
        using var shown = await tenant.GetAsync(new Uri($"/dashboard/api/receipts/{image}/file", UriKind.Relative));
        using var downloaded = await tenant.GetAsync(new Uri($"/dashboard/api/receipts/{document}/file", UriKind.Relative));
        using var operatorClient = _factory.CreateOperatorClient();
        using var otherTenants = await operatorClient.GetAsync(new Uri($"/dashboard/api/receipts/{image}/file", UriKind.Relative));
        using var foreignRetry = new HttpRequestMessage(HttpMethod.Post, new Uri($"/dashboard/api/receipts/{image}/retry", UriKind.Relative));
        foreignRetry.Headers.Add("Origin", "https://elsewhere.example");
        using var refused = await tenant.SendAsync(foreignRetry);
        var retried = await (await tenant.PostAsync(new Uri($"/dashboard/api/receipts/{image}/retry", UriKind.Relative), null)).ExpectAsync(HttpStatusCode.OK);

        // Both read as mismatches: they were uploaded for no authorization.
        Assert.Equal(2, queue.GetProperty("counts").GetProperty("mismatch").GetInt64());
        Assert.Equal([document, image], queue.GetProperty("mismatches").EnumerateArray().Select(r => r.Str("id")));
        Assert.Empty(queue.GetProperty("failed").EnumerateArray());
        Assert.Equal(("image/png", null), (shown.Content.Headers.ContentType?.MediaType, shown.Content.Headers.ContentDisposition?.DispositionType));
        Assert.Equal(picture, await shown.Content.ReadAsByteArrayAsync());
        Assert.Equal(("application/pdf", "attachment"), (downloaded.Content.Headers.ContentType?.MediaType, downloaded.Content.Headers.ContentDisposition?.DispositionType));
        Assert.Equal("nosniff", string.Join(",", shown.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal(HttpStatusCode.NotFound, otherTenants.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("processing", retried.Str("status"));
        Assert.Equal("mismatch", (await Receipts.ReceiptSamples.FinalAsync(tenant, image)).Str("status"));
    }

    [Fact]
    public async Task Reconciliation_RunsOfTheTenant_ShowTheirUnmatchedItems_AndResolveOnlyFromThePage()
    {
        var (_, client) = await _factory.CreateOperatorTenantAsync("dashboard-recon");
        using var tenant = client;
        var wallet = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(wallet, "100.00");
        var entry = await Reconciliation.ReconRunTests.WithdrawAsync(tenant, wallet, "40.00", "D-1");
        var source = await Reconciliation.ReconRunTests.CreateSourceAsync(tenant, "desk-bank", new { });
        await Reconciliation.ReconRunTests.PushAsync(tenant, source, Reconciliation.ReconRunTests.Record("B-1", "41.00", entry.At, "ELSEWHERE", null));
        var run = await Reconciliation.ReconRunTests.RunAsync(tenant, source);

        var desk = await (await tenant.GetAsync(new Uri("/dashboard/api/reconciliation", UriKind.Relative))).ExpectAsync(HttpStatusCode.OK);
        var detail = await (await tenant.GetAsync(new Uri($"/dashboard/api/reconciliation/runs/{run}", UriKind.Relative))).ExpectAsync(HttpStatusCode.OK);
        var items = detail.GetProperty("unmatched").EnumerateArray().ToDictionary(i => i.Str("side"), i => i.Str("id"));
        using var operatorClient = _factory.CreateOperatorClient();
        using var otherTenants = await operatorClient.GetAsync(new Uri($"/dashboard/api/reconciliation/runs/{run}", UriKind.Relative));
        using var foreign = new HttpRequestMessage(HttpMethod.Post, new Uri($"/dashboard/api/reconciliation/items/{items["external"]}/resolve", UriKind.Relative))
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { action = "write_off", note = "from elsewhere" }),
        };
        foreign.Headers.Add("Origin", "https://elsewhere.example");
        using var refused = await tenant.SendAsync(foreign);
        var resolved = await (await tenant.PostAsJsonAsync(new Uri($"/dashboard/api/reconciliation/items/{items["external"]}/resolve", UriKind.Relative),
            new { action = "match", counterpart_id = items["internal"], note = "same payout, booked 1.00 higher" })).ExpectAsync(HttpStatusCode.OK);

        var listed = Assert.Single(desk.GetProperty("runs").EnumerateArray());
        Assert.Equal((run, "desk-bank", "completed"), (listed.GetProperty("run").Str("id"), listed.Str("source_name"), listed.GetProperty("run").Str("status")));
        Assert.Equal((1, 1, 2), (listed.GetProperty("summary").GetProperty("unmatched_internal").GetInt32(),
            listed.GetProperty("summary").GetProperty("unmatched_external").GetInt32(), listed.GetProperty("summary").GetProperty("open").GetInt32()));
        Assert.Equal(2, items.Count);
        Assert.False(detail.GetProperty("more_unmatched").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, otherTenants.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(items["internal"], resolved.GetProperty("resolution").Str("counterpart_id"));
        var after = await (await tenant.GetAsync(new Uri("/dashboard/api/reconciliation", UriKind.Relative))).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, after.GetProperty("runs")[0].GetProperty("summary").GetProperty("open").GetInt32());
    }

    [Fact]
    public async Task Ledger_TailAfterASeq_HoldsOnlyNewerEntriesNewestFirst()
    {
        using var client = _factory.CreateOperatorClient();
        var wallet = await client.FundedWalletAsync("10.00");
        var before = await (await client.GetAsync(new Uri("/dashboard/api/ledger", UriKind.Relative))).Content.ReadAsync<JsonElement>();
        var newest = before.GetProperty("entries")[0].GetProperty("seq").GetInt64();
        (await client.PostAsync(new Uri($"/v1/wallets/{wallet}/spend", UriKind.Relative), JsonContent("""{"amount":"1.00"}"""))).EnsureSuccessStatusCode();
        (await client.PostAsync(new Uri($"/v1/wallets/{wallet}/spend", UriKind.Relative), JsonContent("""{"amount":"2.00"}"""))).EnsureSuccessStatusCode();

        var after = await (await client.GetAsync(new Uri($"/dashboard/api/ledger?after={newest}", UriKind.Relative))).Content.ReadAsync<JsonElement>();

        var entries = after.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(2, entries.Count);
        Assert.Equal(["2.00", "1.00"], entries.Select(e => e.GetProperty("transfer").GetProperty("amount").GetString()));
        Assert.True(entries.All(e => e.GetProperty("seq").GetInt64() > newest));
    }

    [Fact]
    public async Task Money_AfterDepositsAndAHold_BalancesPerCurrency()
    {
        using var client = _factory.CreateOperatorClient();
        var wallet = await client.FundedWalletAsync("40.00");
        (await client.PostAsync(new Uri("/v1/holds", UriKind.Relative), JsonContent($$"""{"wallet_id":"{{wallet}}","amount":"15.00"}"""))).EnsureSuccessStatusCode();
        await Task.Delay(TimeSpan.FromSeconds(2.1)); // the totals are cached for two seconds

        var money = await (await client.GetAsync(new Uri("/dashboard/api/money", UriKind.Relative))).Content.ReadAsync<JsonElement>();

        var usd = money.EnumerateArray().Single(m => m.GetProperty("currency").GetString() == "USD");
        decimal Figure(string name) => decimal.Parse(usd.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Figure("issued"), Figure("held_by_users") + Figure("in_system_accounts"));
        Assert.True(Figure("issued") >= 40m);
        Assert.True(Figure("pending_in_holds") >= 15m);
    }

    [Fact]
    public async Task Assets_ShipEverythingTheyNeed_AndNameNoOtherHost()
    {
        using var browser = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        foreach (var asset in new[] { "app.js", "dom.js", "money-pages.js", "review-pages.js", "app.css" })
        {
            var response = await browser.GetAsync(new Uri($"/dashboard/assets/{asset}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            // The SVG namespace is a name, never fetched; any other URL would be a request elsewhere.
            Assert.DoesNotMatch(@"(https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", text.Replace("\"http://www.w3.org/2000/svg\"", "", StringComparison.Ordinal));
        }

        var login = await (await browser.GetAsync(new Uri("/dashboard/login", UriKind.Relative))).Content.ReadAsStringAsync();
        Assert.DoesNotContain("http", login, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(new Uri("/dashboard/assets/missing.js", UriKind.Relative))).StatusCode);
    }

    private static StringContent JsonContent(string json) => new(json, new MediaTypeHeaderValue("application/json"));
}
