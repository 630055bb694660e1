using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>The events feed, the verify report, and the service routes (OpenAPI, docs, health).</summary>
public sealed class LedgerEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    [Fact]
    public async Task Events_AfterASequence_ReturnEntriesInCommitOrderPageByPage()
    {
        var wallet = await Client.CreateWalletAsync();
        var transfers = new List<string>
        {
            (await Client.DepositAsync(wallet, "10.00")).Str("id"),
            (await Client.MoveAsync(wallet, "spend", "1.00")).Str("id"),
            (await Client.DepositAsync(wallet, "2.00")).Str("id"),
            (await Client.MoveAsync(wallet, "withdraw", "3.00")).Str("id"),
            (await Client.DepositAsync(wallet, "4.00")).Str("id"),
        };
        var firstSeq = (await Client.HistoryAsync(wallet)).Min(h => h.GetProperty("seq").GetInt64());

        var events = new List<JsonElement>();
        var after = (firstSeq - 1).ToString(CultureInfo.InvariantCulture);
        var pages = 0;
        while (after is not null && pages++ < 100)
        {
            var page = await (await Client.GetAsync($"/v1/events?after={after}&limit=2")).ExpectAsync(HttpStatusCode.OK);
            var data = page.GetProperty("data").EnumerateArray().ToList();
            events.AddRange(data);
            after = page.GetProperty("next_cursor").GetString();
            Assert.True(after is null || after == data[^1].GetProperty("seq").GetInt64().ToString(CultureInfo.InvariantCulture),
                "next_cursor is the last sequence number of the page");
        }

        var seqs = events.Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(firstSeq, seqs[0]);
        Assert.All(seqs.Zip(seqs.Skip(1)), pair => Assert.True(pair.First < pair.Second, $"seq {pair.Second} follows {pair.First}"));
        var ours = events.Select(e => e.GetProperty("transfer").Str("id")).Where(transfers.Contains).ToList();
        Assert.Equal(transfers, ours);
        var first = events[0];
        Assert.Equal("transfer.posted", first.Str("type"));
        Assert.Equal(("@treasury", wallet, "10.00", "USD"), (
            first.GetProperty("transfer").Str("source"), first.GetProperty("transfer").Str("destination"),
            first.GetProperty("transfer").Str("amount"), first.GetProperty("transfer").Str("currency")));

        // The cursor parameter walks the same feed.
        var byCursor = await (await Client.GetAsync($"/v1/events?cursor={firstSeq - 1}&limit=2")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(seqs.Take(2), byCursor.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task Events_AnotherTenantsEntries_AreNotShown()
    {
        using var other = await api.Factory.CreateTenantClientAsync("events-other");
        var theirWallet = await other.CreateWalletAsync();
        var theirs = (await other.DepositAsync(theirWallet, "9.00")).Str("id");
        var mine = (await Client.DepositAsync(await Client.CreateWalletAsync(), "9.00")).Str("id");

        var myFeed = await ReadFeedAsync(Client);
        var theirFeed = await ReadFeedAsync(other);

        Assert.Contains(mine, myFeed);
        Assert.DoesNotContain(theirs, myFeed);
        Assert.Contains(theirs, theirFeed);
        Assert.DoesNotContain(mine, theirFeed);
    }

    [Theory]
    [InlineData("after=-1")]
    [InlineData("limit=0")]
    [InlineData("limit=201")]
    public async Task Events_BadQuery_Returns400(string query)
    {
        await (await Client.GetAsync($"/v1/events?{query}")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Verify_AfterMovements_ReportsOk()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "10.00");
        await Client.MoveAsync(wallet, "spend", "2.50");

        var report = await (await Client.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);

        Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
        Assert.Equal(0, report.GetProperty("problems").GetArrayLength());
        Assert.True(report.GetProperty("wallets_checked").GetInt64() >= 1);
        Assert.True(report.GetProperty("entries_checked").GetInt64() >= 2);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheCoreRoutes()
    {
        using var anonymous = api.Factory.CreateClient();

        using var response = await anonymous.GetAsync("/openapi/v1.json");

        var document = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var paths = document.GetProperty("paths");
        foreach (var path in (string[])["/v1/wallets", "/v1/wallets/{id}", "/v1/transfers", "/v1/transfers/{id}", "/v1/events"])
        {
            Assert.True(paths.TryGetProperty(path, out _), $"the OpenAPI document lacks {path}");
        }
    }

    [Fact]
    public async Task OpenApi_Document_DeclaresTheBearerSchemeAndRequiresItOfTheApiRoutesItLists()
    {
        using var anonymous = api.Factory.CreateClient();

        var document = await (await anonymous.GetAsync("/openapi/v1.json")).ExpectAsync(HttpStatusCode.OK);

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal(("http", "bearer"), (scheme.Str("type"), scheme.Str("scheme")));
        var requirement = Assert.Single(document.GetProperty("security").EnumerateArray());
        Assert.Equal(["bearer"], requirement.EnumerateObject().Select(p => p.Name));
        // The routes it covers are the API's: the dashboard's sign in another way and are not listed.
        Assert.All(document.GetProperty("paths").EnumerateObject(), path => Assert.StartsWith("/v1/", path.Name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Docs_IndexPage_ReturnsHtml()
    {
        using var anonymous = api.Factory.CreateClient();

        using var response = await anonymous.GetAsync("/docs/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_Probe_Returns200WithoutAKey(string path)
    {
        using var anonymous = api.Factory.CreateClient();

        using var response = await anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UnknownRoute_Returns404Problem()
    {
        using var response = await Client.GetAsync("/v1/nothing-here");

        var problem = await response.ExpectAsync(HttpStatusCode.NotFound);
        Assert.Equal(ApiCalls.ProblemContentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("not_found", problem.Str("code"));
    }

    private static async Task<List<string>> ReadFeedAsync(HttpClient client)
    {
        var ids = new List<string>();
        string? after = "0";
        for (var pages = 0; after is not null && pages < 100; pages++)
        {
            var page = await (await client.GetAsync($"/v1/events?after={after}&limit=200")).ExpectAsync(HttpStatusCode.OK);
            ids.AddRange(page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("transfer").Str("id")));
            after = page.GetProperty("next_cursor").GetString();
        }

        return ids;
    }
}
