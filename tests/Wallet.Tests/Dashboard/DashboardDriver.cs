using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Wallet.Tests.Api;
using Wallet.Tests.Cluster;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Dashboard;

/// <summary>Two silos in this process over one database, shared by <see cref="DashboardBrowserTests"/>.</summary>
public sealed class DashboardBrowserCluster() : ClusterFixture("dashboardbrowser", 2);

/// <summary>
/// What the dashboard tests do in a browser and through the API: sign in, read a figure, wait for
/// a figure to change, and make wallets whose activation a given silo holds.
/// </summary>
internal static partial class DashboardDriver
{
    public const string LoginPath = "/dashboard/login";

    /// <summary>Orleans' dashboard, a single-page application of its own (its views are <c>#/silos</c> and the like).</summary>
    public const string OrleansDashboardPath = "/dashboard/";

    /// <summary>The y the cards chart draws a zero at: top margin 8 plus the 116 px plot (140 high, 16 below).</summary>
    public const double ChartZeroY = 124.0;

    // Loaded pages answer within a second or two, but the test classes run in parallel on two cores
    // (three-silo test clusters among them), and a sign-in's redirect once took over 10 s on a clean
    // clone. A wait only lasts this long when something is wrong.
    public static readonly TimeSpan FigureTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Submits <paramref name="key"/> on the login page the browser shows now, opening its API key
    /// form first when it is closed. The caller waits for what should follow (an error, another page)
    /// with an auto-waiting assertion.
    /// </summary>
    public static async Task SubmitKeyAsync(IPage page, string key)
    {
        if (!await page.Locator("#api_key").IsVisibleAsync())
        {
            await page.Locator("details.signin summary").ClickAsync();
        }

        await page.Locator("#api_key").FillAsync(key);
        await page.Locator("#sign-in-key").ClickAsync();
    }

    /// <summary>
    /// Waits until the browser shows <paramref name="path"/> (no query): its document has arrived. Not
    /// for the load event: with other test classes running beside it, the wait for it after a
    /// sign-in's redirect ran out (30 s) with the network idle, in 2 of 7 full test runs and in a
    /// partial one. The callers wait for what the page must show, which a page that did not load never shows.
    /// </summary>
    public static Task WaitForPathAsync(IPage page, string path) =>
        page.WaitForURLAsync(
            url => new Uri(url).AbsolutePath == path && new Uri(url).Query.Length == 0,
            new() { Timeout = (float)FigureTimeout.TotalMilliseconds, WaitUntil = WaitUntilState.Commit });

    /// <summary>
    /// Opens <paramref name="path"/>, signs in with the operator key on the login page it redirects to,
    /// and waits until the browser is back there: on the ledger's pages, until they drew their first
    /// figures; on Orleans' dashboard (<see cref="OrleansDashboardPath"/>), which has no such sign, the caller waits for what it needs.
    /// </summary>
    public static async Task SignInAsync(IPage page, string path = "/dashboard/ledger")
    {
        await page.GotoAsync(path);
        Assert.Equal(LoginPath, new Uri(page.Url).AbsolutePath);
        await SubmitKeyAsync(page, WalletApiFactory.OperatorKey);
        await WaitForPathAsync(page, path);
        if (path != OrleansDashboardPath)
        {
            await WaitForLiveAsync(page);
        }
    }

    /// <summary>Waits until a ledger page has drawn its figures at least once (the header says "live").</summary>
    public static Task WaitForLiveAsync(IPage page) =>
        Assertions.Expect(page.Locator("#live.ok")).ToBeVisibleAsync(new() { Timeout = (float)FigureTimeout.TotalMilliseconds });

    /// <summary>The number a tile shows ("1,234.5" as 1234.5), or null while it shows "–".</summary>
    public static async Task<double?> FigureAsync(IPage page, string name)
    {
        var text = (await page.Locator($"[data-figure={name}]").TextContentAsync())?.Trim() ?? "";
        return double.TryParse(text.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
    }

    /// <summary>
    /// Asserts that nothing on the page sticks out to the right of the page's main column (a table
    /// too wide for it, say), which would cut it off or scroll the whole page sideways.
    /// </summary>
    public static async Task AssertFitsTheWindowAsync(IPage page)
    {
        var overflowing = await page.EvaluateAsync<string[]>(
            """
            () => {
              const main = document.querySelector("main");
              const right = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
              const wide = Array.from(document.querySelectorAll("main table, main .chart, main .tile, main .panel"))
                .filter((node) => node.getBoundingClientRect().right > right + 0.5)
                .map((node) => `${node.tagName.toLowerCase()}${node.dataset.table ? `[data-table=${node.dataset.table}]` : ""} ends at ${Math.round(node.getBoundingClientRect().right)} px, main at ${Math.round(right)} px`);
              if (document.documentElement.scrollWidth > window.innerWidth) wide.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
              return wide;
            }
            """);
        Assert.True(overflowing.Length == 0, $"{new Uri(page.Url).AbsolutePath}: {string.Join("; ", overflowing)}");
    }

    /// <summary>The points of a chart path's <c>d</c> ("M48.0,124.0L49.2,80.5…"), in order.</summary>
    public static List<(double X, double Y)> Points(string d) =>
        [.. PointPattern().Matches(d).Select(m => (
            double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; then fails saying what it waited for and what it saw last.</summary>
    public static async Task EventuallyAsync(Func<Task<(bool Done, string Seen)>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (done, seen) = await condition();
            if (done)
            {
                return;
            }

            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Waited {timeout.TotalSeconds:0.#} s for {what}; last saw: {seen}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>
    /// A new wallet whose activation silo <paramref name="index"/> holds. Where a new grain activates is
    /// Orleans' choice (resource-optimized placement: the caller's own silo unless another one's load
    /// reports look lighter), so <paramref name="client"/> should be silo <paramref name="index"/>'s own
    /// API, and a wallet that landed elsewhere is followed by another after a pause, until the reports change.
    /// </summary>
    public static async Task<string> WalletOwnedByAsync(this InProcessCluster cluster, HttpClient client, int index)
    {
        // Long enough for many load reports (about one a second): it runs out only if placement ignores a silo.
        var timeout = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            var wallet = await client.CreateWalletAsync();
            if (await cluster.HostOfAsync(wallet) == index)
            {
                return wallet;
            }

            if (clock.Elapsed > timeout)
            {
                throw new InvalidOperationException($"no wallet of {attempt} made in {timeout.TotalSeconds:0} s landed on silo {index}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>A key of <paramref name="role"/> for <paramref name="tenant"/> (by default a tenant of its own), issued through the API with the operator key.</summary>
    public static async Task<string> NewApiKeyAsync(HttpClient operatorClient, string role, string? tenant = null)
    {
        tenant ??= $"dashboard-{Guid.NewGuid():N}";
        var issued = await (await operatorClient.PostJsonAsync("/v1/api-keys", new { tenant_id = tenant, role })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(role, issued.Str("role"));
        return issued.Str("key");
    }

    [GeneratedRegex(@"[ML](-?[\d.]+),(-?[\d.]+)", RegexOptions.CultureInvariant)]
    private static partial Regex PointPattern();
}
