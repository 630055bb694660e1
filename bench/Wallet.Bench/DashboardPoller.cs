using System.Net;
using System.Text.Json;
using Wallet.Dashboard;
using Wallet.Dashboard.Access;

namespace Wallet.Bench;

/// <summary>
/// An open dashboard, as a browser keeps one: it signs in once through the login form with the
/// operator key and keeps the session cookie, then every second fetches, all at once, the JSON that
/// Orleans' dashboard and the ledger's pages poll (counters, cluster figures, top methods; money,
/// cards, ledger, receipts), each ledger page asking only for what it has not seen yet as the pages do. One
/// open page polls a few of these, so this costs more than any single browser tab: an upper bound. Each <see cref="Start"/> is a freshly opened page.
/// </summary>
public sealed class DashboardPoller : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly HttpClient _http;
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private long _cardsSince;
    private long _ledgerAfter;
    private long _rounds;
    private long _fetches;
    private long _errors;
    private string? _firstError;

    private DashboardPoller(HttpClient http) => _http = http;

    /// <summary>Rounds in which every fetch answered 200 with JSON.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    public long Fetches => Interlocked.Read(ref _fetches);

    /// <summary>Fetches that failed: any status but 200 (a lost session answers 401), no answer, or not JSON.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public string? FirstError => Volatile.Read(ref _firstError);

    /// <summary>
    /// Signs in as the login page does and checks that the cookie alone is what lets the poller in,
    /// so that a poller refused at every fetch cannot pass for one that measured something.
    /// </summary>
    public static async Task<DashboardPoller> SignInAsync(Uri baseAddress, string operatorKey)
    {
        var cookies = new CookieContainer();
        var http = new HttpClient(new SocketsHttpHandler
        {
            CookieContainer = cookies,
            UseCookies = true,
            // The sign-in answers with a redirect to the dashboard and the cookie; only the cookie is wanted.
            AllowAutoRedirect = false,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(10),
        };
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, DashboardEndpoints.LoginPath)
            {
                Content = new FormUrlEncodedContent([new("api_key", operatorKey), new("return_url", "/dashboard")]),
            };
            // A browser sends the page's origin with a form's POST; the sign-in refuses any other.
            request.Headers.Add("Origin", baseAddress.GetLeftPart(UriPartial.Authority));
            using (var response = await http.SendAsync(request))
            {
                if (response.StatusCode != HttpStatusCode.Redirect
                    || cookies.GetCookies(new Uri(baseAddress, DashboardEndpoints.ApiPrefix + "/"))[DashboardSessionHandler.CookieName] is null)
                {
                    throw new InvalidOperationException(
                        $"dashboard sign-in answered {(int)response.StatusCode} without a {DashboardSessionHandler.CookieName} cookie");
                }
            }

            using var me = await http.GetAsync(new Uri(DashboardEndpoints.ApiPrefix + "/me", UriKind.Relative));
            if (me.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"the dashboard session does not let the poller in: /me answered {(int)me.StatusCode}");
            }

            // Let in without signing in (a development setting) would not measure the session's cost.
            using var body = JsonDocument.Parse(await me.Content.ReadAsStringAsync());
            if (body.RootElement.GetProperty("without_sign_in").GetBoolean())
            {
                throw new InvalidOperationException("the dashboard lets this machine in without signing in; the poller must use its session");
            }

            return new DashboardPoller(http);
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    /// <summary>Opens the dashboard: the first round at once, then one every <see cref="Period"/>.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("the dashboard poller is already running");
        }

        (_cardsSince, _ledgerAfter) = (0, 0);
        _stop = new CancellationTokenSource();
        var stop = _stop.Token;
        _loop = Task.Run(() => PollAsync(stop));
    }

    /// <summary>Closes the dashboard, after the round in flight, if any, completes.</summary>
    public async Task StopAsync()
    {
        if (_loop is null || _stop is null)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        (_loop, _stop) = (null, null);
    }

    public void Dispose()
    {
        _stop?.Cancel();
        _http.Dispose();
    }

    private async Task PollAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(Period);
        try
        {
            do
            {
                await RoundAsync();
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Closed.
        }
    }

    // What Orleans' dashboard (its counters, cluster and top-method figures) and the ledger's own
    // pages (money, cards, ledger, receipts) each fetch per second.
    private async Task RoundAsync()
    {
        var answers = await Task.WhenAll(
            FetchAsync("/dashboard/DashboardCounters"),
            FetchAsync("/dashboard/ClusterStats"),
            FetchAsync("/dashboard/TopGrainMethods"),
            FetchAsync($"{DashboardEndpoints.ApiPrefix}/money"),
            FetchAsync($"{DashboardEndpoints.ApiPrefix}/cards?since={_cardsSince}"),
            FetchAsync($"{DashboardEndpoints.ApiPrefix}/ledger?after={_ledgerAfter}"),
            FetchAsync($"{DashboardEndpoints.ApiPrefix}/receipts"));
        try
        {
            if (answers.Any(a => a is null))
            {
                return;
            }

            _cardsSince = LastSecond(answers[4]!, _cardsSince);
            if (answers[5]!.RootElement.GetProperty("entries") is { ValueKind: JsonValueKind.Array } entries && entries.GetArrayLength() > 0)
            {
                _ledgerAfter = entries[0].GetProperty("seq").GetInt64();
            }

            Interlocked.Increment(ref _rounds);
        }
        finally
        {
            foreach (var answer in answers)
            {
                answer?.Dispose();
            }
        }
    }

    // The newest second of a page's series, as the page's own series remembers it.
    private static long LastSecond(JsonDocument answer, long since) =>
        answer.RootElement.GetProperty("series") is { ValueKind: JsonValueKind.Array } series && series.GetArrayLength() > 0
            ? series[series.GetArrayLength() - 1].GetProperty("t").GetInt64()
            : since;

    private async Task<JsonDocument?> FetchAsync(string path)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Fail($"{path} answered {(int)response.StatusCode}");
                return null;
            }

            await using var body = await response.Content.ReadAsStreamAsync();
            var document = await JsonDocument.ParseAsync(body);
            Interlocked.Increment(ref _fetches);
            return document;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
        {
            Fail($"{path}: {exception.GetType().Name}: {exception.Message}");
            return null;
        }
    }

    private void Fail(string error)
    {
        if (Interlocked.Increment(ref _errors) == 1)
        {
            Volatile.Write(ref _firstError, error);
            Console.Error.WriteLine($"  dashboard poller: {error}");
        }
    }
}
