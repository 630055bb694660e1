using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Cluster;
using Wallet.Tests.Infrastructure;
using Xunit;
using static Microsoft.Playwright.Assertions;
using BrowserCookie = Microsoft.Playwright.Cookie;

namespace Wallet.Tests.Dashboard;

/// <summary>
/// The operator dashboard in Chromium, served by a cluster of two silos on real Kestrel: sign-in
/// and sign-out, the silos page, the overview updating live while money moves, and every page
/// reached through the navigation. Each test makes its own wallets and cards; figures that are
/// cluster-wide (rates, counts) are asserted to change or to reach at least what the test did.
/// Every test ends with the page having logged no error, thrown nothing and reached no other host.
/// </summary>
public sealed class DashboardBrowserTests(DashboardBrowserCluster fixture, Browser browser)
    : IClassFixture<DashboardBrowserCluster>, IClassFixture<Browser>, IAsyncLifetime
{
    private const string SessionCookie = "wallet_dashboard";

    private readonly SiloClients _clients = new(fixture.Cluster);

    private InProcessCluster Cluster => fixture.Cluster;

    public Task InitializeAsync() => Cluster.EnsureAllRunningAsync();

    public Task DisposeAsync()
    {
        _clients.Dispose();
        return Task.CompletedTask;
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

        await DashboardDriver.SubmitKeyAsync(page, "not-a-key-of-this-cluster");
        await Expect(page.Locator("#error")).ToHaveTextAsync("That API key is not valid.");
        await Expect(page.Locator("#error")).ToBeVisibleAsync();
        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        await Expect(page.Locator("#api_key")).ToBeVisibleAsync();
        await browserPage.ScreenshotAsync("dashboard-login-error");

        await DashboardDriver.SubmitKeyAsync(page, clientKey);
        await Expect(page.Locator("#error")).ToHaveTextAsync("That API key is a client key; the dashboard needs an operator key.");
        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);

        // The failed attempts kept the page asked for, so the operator lands there, not on the overview.
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
        Assert.Empty(browserPage.PageErrors);
        Assert.Empty(browserPage.ExternalRequests);

        // A page of its own for the rest: a session opened there shows no problem at all.
        await using var signedIn = await OpenAsync(0);
        await DashboardDriver.SignInAsync(signedIn.Page, "/dashboard/cards");
        await Expect(signedIn.Page.Locator("nav a.active")).ToHaveTextAsync("Cards");
        signedIn.AssertNoProblems();
    }

    [Fact]
    public async Task SignOut_AfterSigningIn_ReturnsToLoginAndTheOldCookieNoLongerWorks()
    {
        await using var browserPage = await OpenAsync(1);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page, "/dashboard/silos");
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);
        Assert.Equal(HttpStatusCode.OK, await MeWithCookieAsync(1, cookie.Value));

        await page.Locator("#sign-out").ClickAsync();

        await DashboardDriver.WaitForPathAsync(page, DashboardDriver.LoginPath);
        await Expect(page.Locator("#api_key")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == SessionCookie);
        Assert.Equal(HttpStatusCode.Unauthorized, await MeWithCookieAsync(1, cookie.Value));

        // The browser sends the old cookie again (as a copy kept elsewhere would): the page asks to sign in.
        await page.Context.AddCookiesAsync([new BrowserCookie { Name = cookie.Name, Value = cookie.Value, Domain = cookie.Domain, Path = cookie.Path }]);
        await page.GotoAsync("/dashboard");
        Assert.Equal(DashboardDriver.LoginPath, new Uri(page.Url).AbsolutePath);
        await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task Silos_TwoSiloCluster_ShowsExactlyBothActiveWithTheirAddresses()
    {
        var expected = Enumerable.Range(0, 2).Select(i => Cluster[i].Membership.Self.ToString()).Order(StringComparer.Ordinal).ToList();
        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;

        await DashboardDriver.SignInAsync(page, "/dashboard/silos");

        List<string[]> rows = [];
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                rows = await RowsAsync(page, "silos");
                // Memory comes from each silo's own report: shown for both, both answered.
                var done = rows.Select(r => r[0]).SequenceEqual(expected) && rows.All(r => r[1] == "active" && r[5] != "–");
                return (done, string.Join(" | ", rows.Select(r => string.Join(", ", r))));
            },
            DashboardDriver.FigureTimeout,
            $"the silos table to show {string.Join(" and ", expected)}, both active and answering");
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Matches(@"^[\d,]+\.\d MiB$", r[5]));
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-silos");

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task Overview_TransfersThroughBothSilos_RatesChartAndMoneyUpdateWithoutReloading()
    {
        // A currency no other test uses, so the money row is this test's alone.
        const string Currency = "EUR";
        var created = new List<string>();
        var first = await Cluster.WalletOwnedByAsync(Api(0), 0, Currency, created);
        var second = await Cluster.WalletOwnedByAsync(Api(0), 1, Currency, created);
        await Api(0).DepositAsync(first, "1000.00");
        await Api(1).DepositAsync(second, "1000.00");
        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page);
        var chartPath = page.Locator("svg[data-chart=calls] path[data-series=calls]");

        // Start from a quiet cluster (the rate is over the last five seconds), so that what the page
        // shows next can only come from the transfers below.
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var (calls, entries) = (await DashboardDriver.FigureAsync(page, "calls_per_second"), await DashboardDriver.FigureAsync(page, "entries_per_second"));
                return (calls == 0 && entries == 0, $"calls/s {calls}, entries/s {entries}");
            },
            DashboardDriver.FigureTimeout, "the overview to show a quiet cluster");
        var before = await chartPath.GetAttributeAsync("d") ?? "";
        var pointsBefore = DashboardDriver.Points(before).Count;
        await page.EvaluateAsync("() => { window.__marker = 1; }");
        var url = page.Url;

        var transfers = TransferBackAndForthAsync(first, second, count: 40, over: TimeSpan.FromSeconds(3));

        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var calls = await DashboardDriver.FigureAsync(page, "calls_per_second");
                var entries = await DashboardDriver.FigureAsync(page, "entries_per_second");
                var d = await chartPath.GetAttributeAsync("d") ?? "";
                // Points after the ones drawn before are the seconds of the transfers; one above the zero line plots them.
                var drawn = d != before && DashboardDriver.Points(d).Skip(pointsBefore).Any(p => p.Y < DashboardDriver.ChartZeroY);
                return (calls > 0 && entries > 0 && drawn, $"calls/s {calls}, entries/s {entries}, d changed {d != before}: {d[Math.Max(0, d.Length - 120)..]}");
            },
            DashboardDriver.FigureTimeout, "the calls/s and entries/s tiles to turn non-zero and the calls chart to plot the transfers");
        var made = await transfers;

        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__marker"));
        Assert.Equal(url, page.Url);
        Assert.Equal(40, made.Count);
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var row = (await RowsAsync(page, "money")).FirstOrDefault(r => r[0] == Currency);
                // Transfers between the two wallets move money, never make it: all of it stays with users.
                var done = row is not null && row[1] == "2000.00" && row[2] == "2000.00" && row[3] == "0.00" && row[4] == "0.00"
                    && row[5] == created.Count.ToString(CultureInfo.InvariantCulture);
                return (done, row is null ? "no EUR row" : string.Join(", ", row));
            },
            DashboardDriver.FigureTimeout, "the money table to show the EUR deposits");
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-overview");

        browserPage.AssertNoProblems();
    }

    [Fact]
    public async Task Pages_OpenedThroughTheNav_EachShowsItsTablesAndTheLedgerVerifies()
    {
        var operatorClient = Api(1);
        var (_, card) = await operatorClient.FundedCardAsync("10000.00");
        await operatorClient.ApproveAsync(card, "25.00");
        await operatorClient.ApproveAsync(card, "40.00");
        // Over the default fraud maximum of 5000.00: blocked, whatever the balance.
        var blocked = await (await operatorClient.AuthorizeAsync(card, "6000.00")).ExpectDeclinedAsync(operatorClient, HttpStatusCode.Forbidden, "fraud_blocked");
        Assert.Contains(CardCalls.Reasons(blocked.GetProperty("fraud")), r => r.Contains("maximum 5000.00", StringComparison.Ordinal));
        var source = await Cluster.WalletOwnedByAsync(Api(0), 0);
        var destination = await Cluster.WalletOwnedByAsync(Api(0), 1);
        await Api(0).DepositAsync(source, "300.00");
        var transfer = (await (await Api(1).TransferAsync(source, destination, "120.00")).ExpectAsync(HttpStatusCode.Created)).Str("id");

        await using var browserPage = await OpenAsync(0);
        var page = browserPage.Page;
        await DashboardDriver.SignInAsync(page);
        await page.EvaluateAsync("() => { window.__marker = 1; }");

        await OpenThroughNavAsync(page, "silos", "/dashboard/silos");
        await Expect(page.Locator("table[data-table=silos] tbody tr")).ToHaveCountAsync(2);

        await OpenThroughNavAsync(page, "grains", "/dashboard/grains");
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var rows = await RowsAsync(page, "methods");
                var transfers = rows.FirstOrDefault(r => r[0] == "IWalletGrain" && r[1] == "Transfer");
                return (transfers is not null && ParseCount(transfers[2]) >= 1, string.Join(" | ", rows.Select(r => $"{r[0]}.{r[1]} {r[2]}")));
            },
            DashboardDriver.FigureTimeout, "the methods table to list IWalletGrain.Transfer with its calls");
        await Expect(page.Locator("table[data-table=activations] tbody tr", new() { HasText = "IWalletGrain" })).ToHaveCountAsync(1);
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-grains");

        await OpenThroughNavAsync(page, "ledger", "/dashboard/ledger");
        var tailRow = page.Locator("table[data-table=tail] tbody tr", new() { HasText = transfer });
        await Expect(tailRow).ToHaveCountAsync(1, new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(tailRow).ToContainTextAsync("120.00 USD");
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

        await OpenThroughNavAsync(page, "cards", "/dashboard/cards");
        await DashboardDriver.EventuallyAsync(
            async () =>
            {
                var (approved, declined) = (await DashboardDriver.FigureAsync(page, "approved"), await DashboardDriver.FigureAsync(page, "declined"));
                var reasons = await RowsAsync(page, "decline-reasons");
                var flags = await RowsAsync(page, "fraud-flags");
                var done = approved >= 2 && declined >= 1
                    && reasons.Any(r => r[0] == "fraud_blocked" && ParseCount(r[1]) >= 1)
                    && flags.Any(r => r[0] == "max_amount" && ParseCount(r[1]) >= 1);
                return (done, $"approved {approved}, declined {declined}, reasons [{string.Join("; ", reasons.Select(r => string.Join(" ", r)))}], flags [{string.Join("; ", flags.Select(r => string.Join(" ", r)))}]");
            },
            DashboardDriver.FigureTimeout, "the cards page to count the approvals, the fraud_blocked decline and its max_amount flag");
        await Expect(page.Locator("[data-figure=approval_rate]")).ToHaveTextAsync(new Regex(@"^\d+(\.\d+)? %$"));
        await DashboardDriver.AssertFitsTheWindowAsync(page);
        await browserPage.ScreenshotAsync("dashboard-cards");

        await OpenThroughNavAsync(page, "overview", "/dashboard");
        await Expect(page.Locator("[data-figure=silos_up]")).ToHaveTextAsync("2 / 2", new() { Timeout = Milliseconds(DashboardDriver.FigureTimeout) });
        await Expect(page.Locator("table[data-table=money] tbody tr", new() { HasText = "USD" })).ToHaveCountAsync(1);
        await Expect(page.Locator("svg[data-chart]")).ToHaveCountAsync(5);

        // Five pages, one document: the nav never reloaded it.
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__marker"));
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

    /// <summary>The cells' texts of each row of <c>table[data-table=<paramref name="table"/>]</c>, without the "nothing yet" row.</summary>
    private static async Task<List<string[]>> RowsAsync(IPage page, string table) =>
    [
        .. await page.EvaluateAsync<string[][]>(
            """
            (name) => Array.from(document.querySelectorAll(`table[data-table="${name}"] tbody tr`))
              .filter((row) => !row.querySelector("td.empty"))
              .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))
            """,
            table),
    ];

    private static long ParseCount(string text) => long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    private static float Milliseconds(TimeSpan span) => (float)span.TotalMilliseconds;

    /// <summary>
    /// <paramref name="count"/> transfers of 1.00, spread evenly over <paramref name="over"/>, in turn
    /// through each silo and in turn in each direction, so both silos' wallets and both silos' samples move.
    /// </summary>
    private async Task<List<string>> TransferBackAndForthAsync(string first, string second, int count, TimeSpan over)
    {
        var made = new List<string>(count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var (source, destination) = i % 2 == 0 ? (first, second) : (second, first);
            var response = await Api(i % 2).TransferAsync(source, destination, "1.00");
            made.Add((await response.ExpectAsync(HttpStatusCode.Created)).Str("id"));
            var due = over * (i + 1) / count;
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed);
            }
        }

        return made;
    }

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
