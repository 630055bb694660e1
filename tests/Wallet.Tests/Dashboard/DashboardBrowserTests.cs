using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Wallet.Api.Keys;
using Wallet.Tests.Api;
using Wallet.Tests.Compliance;
using Wallet.Tests.Cards;
using Wallet.Tests.Cluster;
using Wallet.Tests.Auth;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Microsoft.Playwright.Assertions;
using BrowserCookie = Microsoft.Playwright.Cookie;

namespace Wallet.Tests.Dashboard;

/// <summary>
/// The operator views in Chromium, served by a cluster of two silos on real Kestrel: sign-in and
/// sign-out, Orleans' dashboard listing both silos, the ledger's pages (Ledger, Cards, Receipts, Reconciliation, Reports, Compliance) reached
/// through their navigation and showing what both silos did, and the ledger tail's layout. Each test
/// makes its own wallets and cards; figures that are cluster-wide (counts) are asserted to reach at
/// least what the test did. Every test ends with the page having logged no error, thrown nothing,
/// been answered with no error and reached no other host.
/// </summary>
public sealed class DashboardBrowserTests(DashboardBrowserCluster fixture, Browser browser)
    : IClassFixture<DashboardBrowserCluster>, IClassFixture<Browser>, IDisposable
{
    private const string SessionCookie = "wallet_dashboard";

    private readonly HttpClient[] _clients = [.. Enumerable.Range(0, fixture.Cluster.Count).Select(i => fixture.Cluster[i].CreateClient())];

    private InProcessCluster Cluster => fixture.Cluster;

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task SignIn_WrongKeyThenClientKeyThenOperatorKey_RefusesBothAndLandsOnTheAskedPage()
    {
        var clientKey = await DashboardDriver.NewApiKeyAsync(Api(0), "client");
        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;

        await page.GotoAsync("/dashboard/ledger");

        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        Assert.Equal("?return_url=%2Fdashboard%2Fledger", new Uri(page.Url).Query);
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
        await Expect(page.Locator("#api_key")).ToBeHiddenAsync();

        await DashboardDriver.SubmitKeyAsync(page, "not-a-key-of-this-cluster");
        await Expect(page.Locator("#key-error")).ToHaveTextAsync("That API key is not valid.");
        await Expect(page.Locator("#key-error")).ToBeVisibleAsync();
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        await Expect(page.Locator("#api_key")).ToBeVisibleAsync();
        await browserPage.ScreenshotAsync("dashboard-login-error");

        await DashboardDriver.SubmitKeyAsync(page, clientKey);
        await Expect(page.Locator("#key-error")).ToHaveTextAsync("That API key's role is client; the dashboard needs an operator key.");
        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);

        // The failed attempts kept the page asked for, so the operator lands there, not on Orleans' dashboard.
        await DashboardDriver.SubmitKeyAsync(page, WalletApiFactory.OperatorKey);
        await DashboardDriver.WaitForPathAsync(page, "/dashboard/ledger");
        await Expect(page.Locator("#page[data-page=ledger]")).ToBeVisibleAsync();
        await Expect(page.Locator("nav a.active")).ToHaveTextAsync("Ledger");
        await DashboardDriver.WaitForLiveAsync(page);
        await Expect(page.Locator("table[data-table=tail]")).ToBeVisibleAsync();

        // The refused sign-ins answer 401 and 403 on purpose (scripts read the status), which Chromium
        // logs as failed loads of the login document: exactly those two, and nothing else went wrong.
        var login = new Uri(Cluster[0].Address, DashboardDriver.LoginPath);
        Assert.Equal(
            [
                $"Failed to load resource: the server responded with a status of 401 (Unauthorized) ({login}:0:0)",
                $"Failed to load resource: the server responded with a status of 403 (Forbidden) ({login}:0:0)",
            ],
            browserPage.ConsoleErrors);
        Assert.Equal([$"401 POST {login}", $"403 POST {login}"], browserPage.FailedResponses);
        Assert.Empty(browserPage.PageErrors);
        Assert.Empty(browserPage.ExternalRequests);

        // A page of its own for the rest: a session opened there shows no problem at all.
        await using var signedIn = await OpenAsync(0);
        await DashboardDriver.SignInAsync(signedIn.Page, "/dashboard/cards");
        await Expect(signedIn.Page.Locator("#page[data-page=cards]")).ToBeVisibleAsync();
        await Expect(signedIn.Page.Locator("nav a.active")).ToHaveTextAsync("Cards");
        signedIn.AssertNoProblems();
    }

    [Fact]
    public async Task SignIn_AsAnOperatorWithASecondFactor_AsksForTheCode_ThenOpensTheAskedPage()
    {
        using var anonymous = new HttpClient { BaseAddress = Cluster[1].Address };
        var (email, authenticator) = await People.WithSecondFactorAsync(Api(1), anonymous, "operator");
        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;

        await page.GotoAsync("/dashboard/receipts");
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#password").FillAsync(People.Password);
        await page.Locator("#sign-in").ClickAsync();
        await Expect(page.Locator("#code")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);
        await browserPage.ScreenshotAsync("dashboard-login-code");
        await page.Locator("#code").FillAsync(People.NextCode(authenticator));
        await page.Locator("#verify").ClickAsync();

        await DashboardDriver.WaitForPathAsync(page, "/dashboard/receipts");
        await Expect(page.Locator("#page[data-page=receipts]")).ToBeVisibleAsync();
        await DashboardDriver.WaitForLiveAsync(page);
        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task SignOut_AfterSigningIn_ReturnsToLoginAndTheOldCookieNoLongerWorks()
    {
        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/cards");
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);
        Assert.Equal(HttpStatusCode.OK, await MeWithCookieAsync(1, cookie.Value));

        await page.Locator("#sign-out").ClickAsync();

        await DashboardDriver.WaitForPathAsync(page, DashboardDriver.LoginPath);
        await Expect(page.Locator("#email")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);
        Assert.Equal(HttpStatusCode.Unauthorized, await MeWithCookieAsync(1, cookie.Value));

        // The browser sends the old cookie again (as a copy kept elsewhere would): the ledger's pages
        // and Orleans' dashboard alike ask to sign in.
        await page.Context.AddCookiesAsync([new BrowserCookie { Name = cookie.Name, Value = cookie.Value, Domain = cookie.Domain, Path = cookie.Path }]);
        foreach (var path in new[] { "/dashboard/ledger", DashboardDriver.OrleansDashboardPath })
        {
            await page.GotoAsync(path);
            Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
            Assert.Equal($"?return_url={Uri.EscapeDataString(path)}", new Uri(page.Url).Query);
            await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
        }

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task OrleansDashboard_TwoSiloCluster_ShowsBothSilosActiveWithTheirAddresses()
    {
        var expected = Enumerable.Range(0, 2).Select(i => Cluster[i].SiloAddress.ToParsableString()).Order(StringComparer.Ordinal).ToList();
        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        var answered = new ConcurrentQueue<string>();
        page.Response += (_, response) =>
        {
            if (response.Ok)
            {
                answered.Enqueue(new Uri(response.Url).AbsolutePath);
            }
        };

        await DashboardDriver.SignInAsync(page, DashboardDriver.OrleansDashboardPath);

        // Its overview counts the active silos from the JSON it polls (DashboardCounters).
        await Expect(page).ToHaveTitleAsync("Orleans Dashboard");
        await Expect(page.Locator(".info-box", new() { HasText = "Active Silos" }).Locator(".info-box-number"))
            .ToHaveTextAsync("2", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        // And charts the calls from the cluster statistics it polls (ClusterStats).
        await Expect(page.Locator(".card", new() { HasText = "Cluster Profiling" }).Locator("canvas"))
            .ToBeVisibleAsync(new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await browserPage.ScreenshotAsync("orleans-dashboard-overview");

        // Its Silos view lists each silo by its address, with its status, uptime and activations.
        await page.Locator("#menu a[href='#/silos']").ClickAsync();
        var siloHealth = page.Locator(".card", new() { Has = page.Locator(".card-title", new() { HasText = "Silo Health" }) }).Locator("tbody tr");
        List<string[]> rows = [];
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                rows = await RowsAsync(siloHealth);
                var done = rows.Select(r => r[0]).Order(StringComparer.Ordinal).SequenceEqual(expected) && rows.All(r => r[1] == "Active");
                return (done, string.Join(" | ", rows.Select(r => string.Join(", ", r))));
            },
            DashboardDriver.FigureTimeout,
            $"Orleans' Silo Health table to show {string.Join(" and ", expected)}, both active");
        Assert.Equal(2, rows.Count);
        // "up for 14 seconds", "up for 1 minute, 5 seconds": the two largest units, rounded.
        Assert.All(rows, r => Assert.Matches(@"^up for \d+ \w+(, \d+ \w+)?$", r[4]));
        Assert.All(rows, r => Assert.Matches(@"^\d+ activations$", r[5]));
        await Expect(page.Locator("a[href^='#/host/']", new() { HasText = expected[0] })).ToHaveCountAsync(2);
        await Expect(page.Locator("a[href^='#/host/']", new() { HasText = expected[1] })).ToHaveCountAsync(2);
        await browserPage.ScreenshotAsync("orleans-dashboard-silos");

        // What drew them: its script and its JSON, polled every second (an answer of 400 or above would fail AssertNoProblems).
        Assert.Contains("/dashboard/index.min.js", answered);
        Assert.Contains("/dashboard/ClusterStats", answered);
        Assert.True(answered.Count(p => p == "/dashboard/DashboardCounters") >= 2, string.Join(", ", answered));
        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task Pages_OpenedThroughTheNav_ShowBothSilosTransfersAndCardsAndTheLedgerVerifies()
    {
        var operatorClient = Api(1);
        var (_, card) = await operatorClient.FundedCardAsync("10000.00");
        await operatorClient.ApproveAsync(card, "25.00");
        await operatorClient.ApproveAsync(card, "40.00");
        // Over the default fraud maximum of 5000.00: blocked, whatever the balance.
        var blocked = await (await operatorClient.AuthorizeAsync(card, "6000.00")).ExpectDeclinedAsync(operatorClient, HttpStatusCode.Forbidden, "fraud_blocked");
        Assert.Contains(CardCalls.Reasons(blocked.GetProperty("fraud")), r => r.Contains("maximum 5000.00", StringComparison.Ordinal));
        // One wallet on each silo, and a transfer through each silo's API.
        var first = await Cluster.WalletOwnedByAsync(Api(0), 0);
        var second = await Cluster.WalletOwnedByAsync(Api(1), 1);
        await Api(0).DepositAsync(first, "300.00");
        var there = (await (await Api(1).TransferAsync(first, second, "120.00")).ExpectAsync(HttpStatusCode.Created)).Str("id");
        var back = (await (await Api(0).TransferAsync(second, first, "45.50")).ExpectAsync(HttpStatusCode.Created)).Str("id");

        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page);
        await page.EvaluateAsync("() => { window.__marker = 1; }");

        await OpenThroughNavAsync(page, "cards", "/dashboard/cards");
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var (approved, declined) = (await DashboardDriver.FigureAsync(page, "approved"), await DashboardDriver.FigureAsync(page, "declined"));
                var reasons = await RowsAsync(page.Locator("table[data-table=decline-reasons] tbody tr"));
                var flags = await RowsAsync(page.Locator("table[data-table=fraud-flags] tbody tr"));
                var done = approved >= 2 && declined >= 1
                    && reasons.Any(r => r[0] == "fraud_blocked" && ParseCount(r[1]) >= 1)
                    && flags.Any(r => r[0] == "max_amount" && ParseCount(r[1]) >= 1);
                return (done, $"approved {approved}, declined {declined}, reasons [{string.Join("; ", reasons.Select(r => string.Join(" ", r)))}], flags [{string.Join("; ", flags.Select(r => string.Join(" ", r)))}]");
            },
            DashboardDriver.FigureTimeout, "the cards page to count the approvals, the fraud_blocked decline and its max_amount flag");
        await Expect(page.Locator("[data-figure=approval_rate]")).ToHaveTextAsync(new Regex(@"^\d+(\.\d+)? %$"));
        // The chart plots the decisions as lines over the ten minutes: each rises above zero for the
        // seconds of this test's decisions and lies at zero for the quiet seconds around them.
        foreach (var series in new[] { "approved", "declined" })
        {
            var d = await page.Locator($"svg[data-chart=authorizations] path[data-series={series}]").GetAttributeAsync("d") ?? "";
            var points = DashboardDriver.Points(d);
            Assert.True(
                points.Count >= 2 && points.Any(p => p.Y < DashboardDriver.ChartZeroY - 1) && points.Any(p => Math.Abs(p.Y - DashboardDriver.ChartZeroY) < 0.05),
                $"the {series} line does not show the decisions over a zero line: {d}");
        }

        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-cards");

        await OpenThroughNavAsync(page, "ledger", "/dashboard/ledger");
        foreach (var (transfer, source, destination, amount) in new[] { (there, first, second, "120.00 USD"), (back, second, first, "45.50 USD") })
        {
            var tailRow = page.Locator("table[data-table=tail] tbody tr", new() { HasText = transfer });
            await Expect(tailRow).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
            var cells = Assert.Single(await RowsAsync(tailRow));
            Assert.Equal(["default", source, destination, amount, transfer], cells[2..]);
        }

        // The tail is drawn by the same poll that shows the last verify, so this is what the page showed before the click.
        var lastVerify = await page.Locator("#verify-result").TextContentAsync();
        await page.Locator("#run-verify").ClickAsync();
        await Expect(page.Locator("#verify-result .badge")).ToHaveTextAsync("ok", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(page.Locator("#verify-result")).Not.ToHaveTextAsync(lastVerify ?? "");
        await Expect(page.Locator("#verify-result")).ToContainTextAsync(new Regex(@"[1-9][\d,]* wallets, [1-9][\d,]* entries"));
        await Expect(page.Locator("#run-verify")).ToBeEnabledAsync();
        // Totals are read at most every two seconds; the USD deposits above show up within that.
        await Expect(page.Locator("table[data-table=totals] tbody tr", new() { HasText = "USD" }))
            .ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-ledger");

        // Two pages, one document: the nav never reloaded it.
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__marker"));

        // "Silos and grains" leaves for Orleans' dashboard, under the same session.
        await page.Locator("#orleans-dashboard").ClickAsync();
        await DashboardDriver.WaitForPathAsync(page, DashboardDriver.OrleansDashboardPath);
        await Expect(page).ToHaveTitleAsync("Orleans Dashboard");
        await Expect(page.Locator(".info-box", new() { HasText = "Active Silos" }).Locator(".info-box-number"))
            .ToHaveTextAsync("2", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task ReceiptsPage_ShowsAMismatchWithItsPictureAndRetriesIt()
    {
        var (_, card) = await Api(0).FundedCardAsync("100.00");
        var authorization = (await Api(0).ApproveAsync(card, "7.00")).Str("id");
        var lines = Receipts.ReceiptSamples.Lines(CardCalls.Merchant, DateOnly.FromDateTime(DateTime.UtcNow), "9.00");
        var receipt = await Receipts.ReceiptSamples.UploadAndReadAsync(Api(0), Receipts.ReceiptSamples.Picture(lines), authorization);
        var id = receipt.Str("id");
        Assert.Equal(("mismatch", "amount_differs"), (receipt.Str("status"), receipt.GetProperty("reasons")[0].GetString()));

        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/ledger");
        await OpenThroughNavAsync(page, "receipts", "/dashboard/receipts");

        var row = page.Locator("table[data-table=receipts-mismatch] tbody tr", new() { HasText = id });
        await Expect(row).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        var cells = Assert.Single(await RowsAsync(row));
        Assert.Equal([id, authorization, $"9.00 · {DateTime.UtcNow:yyyy-MM-dd} · CORNER GROCERY", "amount_differs", "1"], [cells[0], cells[2], cells[3], cells[4], cells[5]]);
        Assert.True(await DashboardDriver.FigureAsync(page, "mismatch") >= 1);

        // The file, shown in place (loaded whole), beside the text read from it.
        await row.Locator($"button[data-view='{id}']").ClickAsync();
        var picture = page.Locator($"#receipt-preview img[data-receipt='{id}']");
        await Expect(picture).ToBeVisibleAsync();
        await DashboardDriver.EventuallyAsync(
            async () => (await picture.EvaluateAsync<int>("(img) => img.complete ? img.naturalWidth : 0") > 0, "the picture has not loaded"),
            DashboardDriver.FigureTimeout, "the receipt's picture to load");
        await Expect(page.Locator("#receipt-preview .receipt-text")).ToContainTextAsync("TOTAL");
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-receipts");

        // Retry: read again from the start, and a mismatch again.
        await row.Locator($"button[data-retry='{id}']").ClickAsync();
        await Expect(page.Locator("#receipt-message")).ToHaveTextAsync($"{id} is being read again", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        var again = await Receipts.ReceiptSamples.FinalAsync(Api(0), id);
        Assert.Equal("mismatch", again.Str("status"));
        Assert.True(
            DateTimeOffset.Parse(again.GetProperty("timings").Str("completed_at"), CultureInfo.InvariantCulture)
                > DateTimeOffset.Parse(receipt.GetProperty("timings").Str("completed_at"), CultureInfo.InvariantCulture),
            $"not read again: {again}");

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task ReconciliationPage_ShowsARunsUnmatchedItems_AndMatchesTwoByHand()
    {
        var wallet = await Api(0).CreateWalletAsync();
        await Api(0).DepositAsync(wallet, "100.00");
        var entry = await Reconciliation.ReconRunTests.WithdrawAsync(Api(0), wallet, "25.00", "PAGE-" + Guid.NewGuid().ToString("N")[..8]);
        var source = await Reconciliation.ReconRunTests.CreateSourceAsync(Api(0), "page-bank-" + Guid.NewGuid().ToString("N")[..8], new { });
        var record = "B-" + Guid.NewGuid().ToString("N")[..8];
        await Reconciliation.ReconRunTests.PushAsync(Api(0), source, Reconciliation.ReconRunTests.Record(record, "26.00", entry.At, "SOMETHING ELSE", null));
        var run = await Reconciliation.ReconRunTests.RunAsync(Api(0), source);
        var items = await Reconciliation.ReconRunTests.ItemsAsync(Api(0), run, "matched=false");
        var recordItem = items.Single(i => i.GetProperty("side").GetString() == "external").Str("id");
        var entryItem = items.Single(i => i.GetProperty("side").GetString() == "internal").Str("id");

        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/ledger");
        await OpenThroughNavAsync(page, "reconciliation", "/dashboard/reconciliation");
        var runRow = page.Locator("table[data-table=recon-runs] tbody tr", new() { HasText = run });
        await Expect(runRow).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await runRow.Locator($"button[data-run='{run}']").ClickAsync();
        // The record's row by its first cell: once matched, the entry's row names the record too.
        var row = page.Locator($"table[data-table=recon-unmatched] tbody tr:has(td:first-child:text-is('{recordItem}'))");
        await Expect(row).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        Assert.Equal(["record", record, "26.00 USD"], Assert.Single(await RowsAsync(row))[1..4]);
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-reconciliation");

        await row.Locator($"select[data-choice='{recordItem}']").SelectOptionAsync(entryItem);
        await row.Locator($"input[data-note='{recordItem}']").FillAsync("booked with a 1.00 fee");
        await row.Locator($"button[data-resolve='{recordItem}']").ClickAsync();
        await Expect(page.Locator("#recon-message")).ToHaveTextAsync($"{recordItem} matched with {entryItem}", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(row).ToContainTextAsync($"matched with {entryItem}: booked with a 1.00 fee", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });

        var resolved = (await Reconciliation.ReconRunTests.ItemsAsync(Api(0), run, "matched=false")).Single(i => i.Str("id") == entryItem);
        Assert.Equal(("match", recordItem), (resolved.GetProperty("resolution").Str("action"), resolved.GetProperty("resolution").Str("counterpart_id")));
        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task ReportsPage_ShowsEachAssetsBalanceSheetChecked_AndTheTrialBalanceWithItsTotals()
    {
        var wallet = await Api(0).CreateWalletAsync();
        await Api(0).DepositAsync(wallet, "40.00");
        await Api(0).MoveAsync(wallet, "spend", "15.00");

        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/ledger");
        await OpenThroughNavAsync(page, "reports", "/dashboard/reports");
        await Expect(page.Locator("[data-check=USD]")).ToHaveTextAsync("ok", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(page.Locator("[data-asset=USD] [data-figure=difference]")).ToHaveTextAsync("0.00");

        // The trial balance's total row of USD: its debits equal its credits; the spend is in @revenue's credits.
        var rows = await RowsAsync(page.Locator("table[data-table=trial-balance] tbody tr"));
        var total = rows.Single(r => r[0] == "USD" && r[1] == "total");
        Assert.Equal(("balanced", total[3]), (total[2], total[4]));
        Assert.True(decimal.Parse(rows.Single(r => r[0] == "USD" && r[1] == "@revenue")[4], CultureInfo.InvariantCulture) >= 15.00m);
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-reports");
        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task CompliancePage_ShowsAnOwnerUnderReview_AndClearsIt_LiftingTheReview()
    {
        await Api(0).ImportWatchlistAsync("sample", await File.ReadAllTextAsync(ComplianceCalls.SampleList), HttpStatusCode.Created);
        var wallet = await Api(0).CreateOwnedWalletAsync("page-owner-" + Guid.NewGuid().ToString("N")[..8], new { name = "Weiming Zhang", country = "CN" });
        var screening = wallet.Str("compliance_review");

        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/ledger");
        await OpenThroughNavAsync(page, "compliance", "/dashboard/compliance");
        var row = page.Locator($"table[data-table=reviews] tbody tr:has(td:first-child:text-is('{screening}'))");
        await Expect(row).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        Assert.Equal(["owner", "Weiming Zhang", wallet.Str("id")], Assert.Single(await RowsAsync(row))[1..4]);
        await Expect(row).ToContainTextAsync("Zhang Weiming (sample, line");
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-compliance");

        await row.Locator($"select[data-decision='{screening}']").SelectOptionAsync("cleared");
        await row.Locator($"input[data-note='{screening}']").FillAsync("born 1991, not the listed person");
        await row.Locator($"button[data-resolve='{screening}']").ClickAsync();
        await Expect(page.Locator("#compliance-message")).ToHaveTextAsync($"{screening} cleared", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(row).ToHaveCountAsync(0, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });

        var resolved = await (await Api(0).GetAsync($"/v1/compliance/screenings/{screening}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("born 1991, not the listed person", resolved.GetProperty("resolution").Str("note"));
        // Its review lifted (a withdrawal here would land in the reconciliation page's test's period of @settlement).
        Assert.Equal(JsonValueKind.Null, (await Api(0).GetWalletAsync(wallet.Str("id"))).GetProperty("compliance_review").ValueKind);
        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task LedgerTail_LongestTenantIdAndLargestAmount_FitsA1280PxWindow()
    {
        // The widest row the tail can get: a tenant id of the longest length allowed, three ids, and the
        // largest amount (Amount.MinorUnitsMax cents), in a currency no other test uses so that no total of it can overflow.
        var tenant = $"dashboard-{Guid.NewGuid():N}".PadRight(ApiKeyEndpoints.TenantIdLengthMax, 'x');
        using var tenantClient = Cluster[0].CreateClient();
        tenantClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await DashboardDriver.NewApiKeyAsync(Api(0), "operator", tenant));
        var source = await tenantClient.CreateWalletAsync("EUR");
        var destination = await tenantClient.CreateWalletAsync("EUR");
        await tenantClient.DepositAsync(source, "10000000000000.00");
        var transfer = (await (await tenantClient.TransferAsync(source, destination, "10000000000000.00")).ExpectAsync(HttpStatusCode.Created)).Str("id");

        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/ledger");

        var tailRow = page.Locator("table[data-table=tail] tbody tr", new() { HasText = transfer });
        await Expect(tailRow).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        Assert.Equal([tenant, source, destination, "10000000000000.00 EUR", transfer], Assert.Single(await RowsAsync(tailRow))[2..]);
        await Expect(page.Locator("table[data-table=totals] tbody tr", new() { HasText = "EUR" }))
            .ToContainTextAsync("10000000000000.00", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        Assert.Equal(1280, await page.EvaluateAsync<int>("() => window.innerWidth"));
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-ledger-wide");

        browserPage.AssertNoProblems();
    }

    private static async Task OpenThroughNavAsync(IPage page, string name, string path)
    {
        await page.Locator($"nav a[data-page={name}]").ClickAsync();
        Assert.Equal(path, new Uri(page.Url).AbsolutePath);
        await Expect(page.Locator($"#page[data-page={name}]")).ToBeVisibleAsync();
        await Expect(page.Locator("nav a.active")).ToHaveAttributeAsync("data-page", name);
        await Expect(page).ToHaveTitleAsync(new Regex($"^{name}", RegexOptions.IgnoreCase));
    }

    /// <summary>The cells' texts of each of <paramref name="rows"/>, without the "nothing yet" row.</summary>
    private static async Task<List<string[]>> RowsAsync(ILocator rows) =>
    [
        .. await rows.EvaluateAllAsync<string[][]>(
            """
            (rows) => rows
              .filter((row) => !row.querySelector("td.empty"))
              .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))
            """),
    ];

    private static long ParseCount(string text) => long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    private static float Milliseconds(TimeSpan span) => (float)span.TotalMilliseconds;

    private async Task<HttpStatusCode> MeWithCookieAsync(int silo, string token)
    {
        // Cookies handled by hand: the header below is the only one sent.
        using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = Cluster[silo].Address };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/api/me");
        request.Headers.Add("Cookie", $"{SessionCookie}={token}");
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private Task<BrowserPage> OpenAsync(int silo) => browser.NewPageAsync(Cluster[silo].Address.ToString().TrimEnd('/'));

    private HttpClient Api(int silo) => _clients[silo];
}
