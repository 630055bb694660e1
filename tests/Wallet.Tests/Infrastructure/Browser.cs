using Microsoft.Playwright;
using Xunit;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// One headless Chromium for the tests of a class or collection (use it as an xunit class or collection
/// fixture): starting the browser costs about a second, a fresh context per page costs little, and a
/// context shares no cookies or storage with another, so tests stay independent.
/// </summary>
/// <remarks>
/// The browser is Debian's <c>/usr/bin/chromium</c>, driven by the Playwright driver that the
/// Microsoft.Playwright package copies into the build output (<c>.playwright/</c>); Playwright's own browser
/// downloads are never used, because the machines reach no download site. Its Chromium major version matches
/// Debian's, so the DevTools protocol agrees. A missing Chromium fails the fixture with a message rather than
/// skipping the tests, so a run without the browser cannot pass unnoticed.
/// </remarks>
public sealed class Browser : IAsyncLifetime
{
    /// <summary>Where Debian's package puts the browser (a launcher script for <c>/usr/lib/chromium/chromium</c>).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>
    /// Tests run as root, and Chromium refuses to start as root with its sandbox on. Playwright already
    /// passes <c>--no-sandbox</c> (and <c>--disable-dev-shm-usage</c>) unless its sandbox option is set;
    /// saying it here keeps the browser starting should that default change.
    /// </summary>
    private static readonly string[] LaunchArguments = ["--no-sandbox"];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    private IBrowser Instance => _browser ?? throw new InvalidOperationException("The browser fixture is not initialized.");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests need Chromium at {ChromiumPath}, and it is not installed. " +
                "./test.sh installs it (apt-get install chromium); or install it by hand with `apt-get install chromium`.");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            ChromiumSandbox = false,
            Args = LaunchArguments,
        });
    }

    /// <summary>
    /// A page in a context of its own, with <paramref name="baseUrl"/> as the base of relative addresses
    /// (<c>Page.GotoAsync("/")</c>). Console errors, uncaught page errors, answers of 400 and above and every
    /// request to a host other than the loopback one are recorded on the returned <see cref="BrowserPage"/>;
    /// such requests are also aborted, so a test can neither reach nor depend on the outside world. Dispose it to close the context.
    /// </summary>
    public async Task<BrowserPage> NewPageAsync(string baseUrl)
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl,
            Locale = "en-US",
            TimezoneId = "UTC",
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        try
        {
            var page = new BrowserPage(context);
            await page.StartAsync();
            return page;
        }
        catch
        {
            await context.CloseAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
            _browser = null;
        }

        _playwright?.Dispose();
        _playwright = null;
    }
}

/// <summary>
/// A page of <see cref="Browser"/> and what it saw go wrong. The lists are copies taken when read, since
/// Playwright raises its events on other threads while the test goes on.
/// </summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly HashSet<IPage> _watched = [];
    private readonly List<string> _consoleErrors = [];
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _externalRequests = [];
    private readonly List<string> _failedResponses = [];
    private readonly Lock _gate = new();
    private IPage? _page;

    internal BrowserPage(IBrowserContext context)
    {
        _context = context;
    }

    /// <summary>The page itself, for navigation, locators and assertions.</summary>
    public IPage Page => _page ?? throw new InvalidOperationException("The page is not open yet.");

    /// <summary>Texts of <c>console.error</c> messages, including the browser's own (a failed or aborted load).</summary>
    public IReadOnlyList<string> ConsoleErrors => Snapshot(_consoleErrors);

    /// <summary>Uncaught exceptions and unhandled promise rejections of the page's scripts.</summary>
    public IReadOnlyList<string> PageErrors => Snapshot(_pageErrors);

    /// <summary>Addresses of requests to anything but 127.0.0.1, localhost or [::1]; each was aborted.</summary>
    public IReadOnlyList<string> ExternalRequests => Snapshot(_externalRequests);

    /// <summary>Requests the server answered with 400 or above, as "401 POST http://…", documents and scripts' calls alike.</summary>
    public IReadOnlyList<string> FailedResponses => Snapshot(_failedResponses);

    /// <summary>
    /// Fails the test when the page logged an error, threw, was answered with an error or tried to reach
    /// another host, listing all of them at once so that one run shows every problem.
    /// </summary>
    public void AssertNoProblems()
    {
        var problems = ConsoleErrors.Select(e => $"console error: {e}")
            .Concat(PageErrors.Select(e => $"page error: {e}"))
            .Concat(FailedResponses.Select(r => $"answered with an error: {r}"))
            .Concat(ExternalRequests.Select(u => $"request to another host: {u}"))
            .ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>
    /// Saves a full-page PNG as <c>artifacts/screenshots/{name}.png</c> at the repository root, where a
    /// person (or CI's kept artifacts) can look at what the page showed; returns its path.
    /// </summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(ScreenshotDirectory(), $"{name}.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true, Type = ScreenshotType.Png });
        return path;
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();

    internal async Task StartAsync()
    {
        // Routed before the first page exists, so that not even its first request slips past.
        await _context.RouteAsync("**/*", async route =>
        {
            var url = route.Request.Url;
            if (IsLoopback(url))
            {
                await route.ContinueAsync();
                return;
            }

            Record(_externalRequests, url);
            await route.AbortAsync();
        });

        // Popups and window.open pages are watched as well as the first page.
        _context.Page += (_, page) => Watch(page);
        var first = await _context.NewPageAsync();
        Watch(first);
        _page = first;
    }

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.IsLoopback || uri.Scheme is "data" or "blob" or "about");

    private void Watch(IPage page)
    {
        lock (_gate)
        {
            if (!_watched.Add(page))
            {
                return;
            }
        }

        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Record(_consoleErrors, $"{message.Text} ({message.Location})");
            }
        };
        page.PageError += (_, error) => Record(_pageErrors, error);
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                Record(_failedResponses, $"{response.Status} {response.Request.Method} {response.Url}");
            }
        };
    }

    private void Record(List<string> list, string entry)
    {
        lock (_gate)
        {
            list.Add(entry);
        }
    }

    private List<string> Snapshot(List<string> list)
    {
        lock (_gate)
        {
            return [.. list];
        }
    }

    private static string ScreenshotDirectory() => RepositoryPaths.Artifacts("screenshots");
}
