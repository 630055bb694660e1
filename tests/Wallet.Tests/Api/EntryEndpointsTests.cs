using System.Net;
using System.Text.Json;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// POST and GET /v1/entries: several debits and credits that sum to zero post together or not at
/// all, whichever leg refuses; every posting reads back as it was sent.
/// </summary>
public sealed partial class EntryEndpointsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    [Fact]
    public async Task Entry_SplitPayment_PostsEveryLegAndReadsBack()
    {
        var customer = await Client.CreateWalletAsync();
        var merchant = await Client.CreateWalletAsync();
        var courier = await Client.CreateWalletAsync();
        await Client.DepositAsync(customer, "100.00");
        var fees = await SystemBalanceAsync("default", "fees");

        using var response = await Client.PostJsonAsync("/v1/entries", new
        {
            currency = "USD",
            debits = new[] { new { account = customer, amount = "40.00" } },
            credits = new object[]
            {
                new { account = merchant, amount = "35.50" },
                new { account = courier, amount = 3.5 },
                new { account = "@fees", amount = "1.00" },
            },
            reference = "order-" + Guid.NewGuid().ToString("N"),
            description = "order with delivery",
            metadata = new { order = 42 },
        });
        var created = await response.ExpectAsync(HttpStatusCode.Created);
        var read = await (await Client.GetAsync($"/v1/entries/{created.Str("id")}")).ExpectAsync(HttpStatusCode.OK);

        Assert.StartsWith("en_", created.Str("id"), StringComparison.Ordinal);
        Assert.Equal($"/v1/entries/{created.Str("id")}", response.Headers.Location?.OriginalString);
        Assert.Equal(("entry", "posted", "USD"), (created.Str("kind"), created.Str("status"), created.Str("currency")));
        Assert.Equal([$"{customer}=40.00"], Legs(created, "debits"));
        Assert.Equal(new[] { $"@fees=1.00", $"{merchant}=35.50", $"{courier}=3.50" }.Order(StringComparer.Ordinal), Legs(created, "credits"));
        Assert.Equal(created.ToString(), read.ToString());
        Assert.Equal(("60.00", "35.50", "3.50"), (await Client.PostedAsync(customer), await Client.PostedAsync(merchant), await Client.PostedAsync(courier)));
        Assert.Equal(fees + 100, await SystemBalanceAsync("default", "fees"));
        Assert.Empty(await api.Database.DoubleEntryFaultsAsync([customer, merchant, courier]));
        var history = await Client.HistoryAsync(courier);
        Assert.Equal((created.Str("id"), "credit", "3.50"), (history[0].Str("transfer_id"), history[0].Str("direction"), history[0].Str("amount")));
    }

    [Fact]
    public async Task Entry_OneDebitLacksFunds_Returns402AndPostsNothing()
    {
        var rich = await Client.CreateWalletAsync();
        var poor = await Client.CreateWalletAsync();
        var payee = await Client.CreateWalletAsync();
        await Client.DepositAsync(rich, "100.00");
        await Client.DepositAsync(poor, "5.00");

        var problem = await (await Client.PostJsonAsync("/v1/entries", new
        {
            currency = "USD",
            debits = new[] { new { account = rich, amount = "10.00" }, new { account = poor, amount = "10.00" } },
            credits = new[] { new { account = payee, amount = "20.00" } },
        })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");

        Assert.Contains(poor, problem.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(("100.00", "5.00", "0.00"), (await Client.PostedAsync(rich), await Client.PostedAsync(poor), await Client.PostedAsync(payee)));
        Assert.Equal(0, await api.Database.PostingCountAsync(payee));
        Assert.Equal(1, await api.Database.PostingCountAsync(rich));
    }

    [Fact]
    public async Task Entry_FrozenOrForeignCurrencyLeg_RefusedWithItsCodeAndPostsNothing()
    {
        var payer = await Client.CreateWalletAsync();
        var frozen = await Client.CreateWalletAsync();
        var euros = await Client.CreateWalletAsync("EUR");
        await Client.DepositAsync(payer, "50.00");
        await Client.DepositAsync(frozen, "50.00");
        await Client.DepositAsync(euros, "50.00");
        await (await Client.PostEmptyAsync($"/v1/wallets/{frozen}/freeze")).ExpectAsync(HttpStatusCode.OK);

        await (await Client.PostJsonAsync("/v1/entries", Simple(frozen, payer, "5.00"))).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
        await (await Client.PostJsonAsync("/v1/entries", Simple(payer, euros, "5.00"))).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
        // The wallet that runs the entry (its first) holds another currency than the entry's.
        await (await Client.PostJsonAsync("/v1/entries", Simple(euros, payer, "5.00"))).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");

        Assert.Equal(("50.00", "50.00", "50.00"), (await Client.PostedAsync(payer), await Client.PostedAsync(frozen), await Client.PostedAsync(euros)));
        Assert.Equal(1, await api.Database.PostingCountAsync(euros));
    }

    [Fact]
    public async Task Entry_BadRequests_AreRefusedWithClearProblems()
    {
        var a = await Client.CreateWalletAsync();
        var b = await Client.CreateWalletAsync();
        await Client.DepositAsync(a, "50.00");
        using var other = await api.Factory.CreateTenantClientAsync("entries-other");
        var theirs = await other.CreateWalletAsync();

        async Task<string> Refused(object body, HttpStatusCode status, string code) =>
            (await (await Client.PostJsonAsync("/v1/entries", body)).ExpectProblemAsync(status, code)).Str("detail");

        Assert.Contains("credits", await Refused(new { currency = "USD", debits = new[] { new { account = a, amount = "1.00" } } },
            HttpStatusCode.BadRequest, "validation_failed"), StringComparison.Ordinal);
        Assert.Contains("debits[0].amount", await Refused(new { currency = "USD", debits = new[] { new { account = a } }, credits = new[] { new { account = b, amount = "1.00" } } },
            HttpStatusCode.BadRequest, "validation_failed"), StringComparison.Ordinal);
        Assert.Contains("debits[0].amount", await Refused(Simple(a, b, "1.001"), HttpStatusCode.BadRequest, "invalid_amount"), StringComparison.Ordinal);
        Assert.Contains("2.00", await Refused(new
        {
            currency = "USD",
            debits = new[] { new { account = a, amount = "2.00" } },
            credits = new[] { new { account = b, amount = "1.99" } },
        }, HttpStatusCode.BadRequest, "entry_unbalanced"), StringComparison.Ordinal);
        Assert.Contains("more than once", await Refused(new
        {
            currency = "USD",
            debits = new[] { new { account = a, amount = "2.00" } },
            credits = new[] { new { account = b, amount = "1.00" }, new { account = b, amount = "1.00" } },
        }, HttpStatusCode.BadRequest, "validation_failed"), StringComparison.Ordinal);
        Assert.Contains("/v1/transfers", await Refused(Simple("@treasury", "@fees", "1.00"), HttpStatusCode.BadRequest, "validation_failed"), StringComparison.Ordinal);
        Assert.Contains("@bank", await Refused(Simple(a, "@bank", "1.00"), HttpStatusCode.BadRequest, "validation_failed"), StringComparison.Ordinal);
        await Refused(Simple(a, b, "1.00", currency: "XYZ"), HttpStatusCode.BadRequest, "unknown_currency");
        await Refused(Simple(a, "wal_missing", "1.00"), HttpStatusCode.NotFound, "wallet_not_found");
        await Refused(Simple(a, theirs, "1.00"), HttpStatusCode.NotFound, "wallet_not_found");
        await Refused(Simple(theirs, a, "1.00"), HttpStatusCode.NotFound, "wallet_not_found");
        var many = Enumerable.Range(0, 20).Select(_ => new { account = b, amount = "0.01" }).ToArray();
        await Refused(new { currency = "USD", debits = new[] { new { account = a, amount = "0.21" } }, credits = many }, HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal(("50.00", "0.00"), (await Client.PostedAsync(a), await Client.PostedAsync(b)));
        Assert.Equal(0, await api.Database.PostingCountAsync(theirs));
    }

    [Fact]
    public async Task Entry_RepeatedWithItsIdempotencyKey_ReplaysTheAnswerAndPostsOnce()
    {
        var a = await Client.CreateWalletAsync();
        var b = await Client.CreateWalletAsync();
        await Client.DepositAsync(a, "50.00");
        var key = ApiCalls.NewKey();

        var first = await (await Client.PostJsonAsync("/v1/entries", Simple(a, b, "7.00"), key)).ExpectAsync(HttpStatusCode.Created);
        using var again = await Client.PostJsonAsync("/v1/entries", Simple(a, b, "7.00"), key);
        var replayed = await again.ExpectAsync(HttpStatusCode.Created);
        await (await Client.PostJsonAsync("/v1/entries", Simple(a, b, "8.00"), key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");

        Assert.Equal("true", again.Header("Idempotent-Replayed"));
        Assert.Equal(first.ToString(), replayed.ToString());
        Assert.Equal(("43.00", "7.00"), (await Client.PostedAsync(a), await Client.PostedAsync(b)));
    }

    [Fact]
    public async Task Entry_SameKeyTenTimesConcurrently_PostsOnceAndOnlyTheFirstAnswerIsNotAReplay()
    {
        var a = await Client.CreateWalletAsync();
        var b = await Client.CreateWalletAsync();
        var c = await Client.CreateWalletAsync();
        await Client.DepositAsync(a, "50.00");
        var key = ApiCalls.NewKey();
        var body = new
        {
            currency = "USD",
            debits = new[] { new { account = a, amount = "9.00" } },
            credits = new[] { new { account = b, amount = "6.00" }, new { account = c, amount = "3.00" } },
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.PostJsonAsync("/v1/entries", body, key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Single((await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()))).Distinct(StringComparer.Ordinal));
        Assert.Single(responses, r => r.Header("Idempotent-Replayed") != "true");
        Assert.Equal(("41.00", "6.00", "3.00"), (await Client.PostedAsync(a), await Client.PostedAsync(b), await Client.PostedAsync(c)));
    }

    [Fact]
    public async Task Entry_TenConcurrentEntriesOfAFifth_ExactlyFiveSucceed()
    {
        var payer = await Client.CreateWalletAsync();
        var payee = await Client.CreateWalletAsync();
        var courier = await Client.CreateWalletAsync();
        await Client.DepositAsync(payer, "100.00");
        var body = new
        {
            currency = "USD",
            debits = new[] { new { account = payer, amount = "20.00" } },
            credits = new[] { new { account = payee, amount = "15.00" }, new { account = courier, amount = "5.00" } },
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.PostJsonAsync("/v1/entries", body)));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        }

        Assert.Equal(("0.00", "75.00", "25.00"), (await Client.PostedAsync(payer), await Client.PostedAsync(payee), await Client.PostedAsync(courier)));
        Assert.Empty(await api.Database.DoubleEntryFaultsAsync([payer, payee, courier]));
    }

    [Fact]
    public async Task Entry_DebitingASystemAccountThatMayNotGoNegative_GivesOnlyWhatItHas()
    {
        using var tenant = await api.Factory.CreateTenantClientAsync("entries-refunds");
        var customer = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(customer, "10.00");
        await tenant.MoveAsync(customer, "spend", "4.00");

        var refund = Simple("@revenue", customer, "3.00");
        await (await tenant.PostJsonAsync("/v1/entries", refund)).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync("/v1/entries", refund)).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");

        Assert.Equal("9.00", await tenant.PostedAsync(customer));
        Assert.Equal(100, await SystemBalanceAsync("entries-refunds", "revenue"));
    }

    [Fact]
    public async Task GetEntry_OfATransferOrAnotherTenants_ShowsItsLegsWithinItsTenantOnly()
    {
        var a = await Client.CreateWalletAsync();
        var deposit = await Client.DepositAsync(a, "12.00");
        using var other = await api.Factory.CreateTenantClientAsync("entries-reader");

        var read = await (await Client.GetAsync($"/v1/entries/{deposit.Str("id")}")).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal("transfer", read.Str("kind"));
        Assert.Equal(["@treasury=12.00"], Legs(read, "debits"));
        Assert.Equal([$"{a}=12.00"], Legs(read, "credits"));
        await (await other.GetAsync($"/v1/entries/{deposit.Str("id")}")).ExpectProblemAsync(HttpStatusCode.NotFound, "entry_not_found");
        await (await Client.GetAsync("/v1/entries/en_missing")).ExpectProblemAsync(HttpStatusCode.NotFound, "entry_not_found");
    }

    [Fact]
    public async Task Events_AMultiLegEntry_IsAnEntryPostedEvent()
    {
        using var tenant = await api.Factory.CreateTenantClientAsync("entries-events");
        var a = await tenant.CreateWalletAsync();
        var b = await tenant.CreateWalletAsync();
        await tenant.DepositAsync(a, "5.00");
        var entry = await (await tenant.PostJsonAsync("/v1/entries", Simple(a, b, "2.00"))).ExpectAsync(HttpStatusCode.Created);

        var events = (await (await tenant.GetAsync("/v1/events")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();

        Assert.Equal(["transfer.posted", "entry.posted"], events.Select(e => e.Str("type")));
        Assert.Equal(entry.Str("id"), events[1].GetProperty("transfer").Str("id"));
    }

    internal static object Simple(string debit, string credit, string amount, string currency = "USD") => new
    {
        currency,
        debits = new[] { new { account = debit, amount } },
        credits = new[] { new { account = credit, amount } },
    };

    internal static string[] Legs(JsonElement entry, string side) =>
        [.. entry.GetProperty(side).EnumerateArray().Select(leg => $"{leg.Str("account")}={leg.Str("amount")}")];

    private Task<long> SystemBalanceAsync(string tenant, string name) => api.Database.BalanceAsync($"sys:{tenant}:{name}:USD");
}
