using System.Net;
using System.Text.Json;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>Idempotency-Key: one effect per key and tenant, the first answer replayed byte for byte.</summary>
public sealed class IdempotencyTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string ReplayedHeader = "Idempotent-Replayed";

    private HttpClient Client => api.Client;

    [Fact]
    public async Task Transfer_SameKeyTenTimesConcurrently_OneEffectAndIdenticalAnswers()
    {
        var alice = await Client.CreateWalletAsync();
        var bob = await Client.CreateWalletAsync();
        await Client.DepositAsync(alice, "100.00");
        var key = ApiCalls.NewKey();
        var body = JsonSerializer.Serialize(new { source = alice, destination = bob, amount = "25.00", description = "rent" });

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.PostJsonAsync("/v1/transfers", body, key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct(StringComparer.Ordinal));
        var transfer = ApiCalls.Parse(bodies[0]);
        Assert.Equal("25.00", transfer.Str("amount"));

        Assert.Equal("75.00", await Client.PostedAsync(alice));
        Assert.Equal("25.00", await Client.PostedAsync(bob));
        Assert.Single(await Client.HistoryAsync(alice), item => item.Str("direction") == "debit");
        Assert.Single(await Client.HistoryAsync(bob));
        Assert.Equal(1, await api.Database.EntriesFromAsync(alice));

        using var retry = await Client.PostJsonAsync("/v1/transfers", body, key);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Header(ReplayedHeader));
        Assert.Equal(bodies[0], await retry.Content.ReadAsStringAsync());

        var otherBody = JsonSerializer.Serialize(new { source = alice, destination = bob, amount = "30.00", description = "rent" });
        await (await Client.PostJsonAsync("/v1/transfers", otherBody, key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        Assert.Equal("75.00", await Client.PostedAsync(alice));
        Assert.Equal("25.00", await Client.PostedAsync(bob));
        Assert.Equal(1, await api.Database.EntriesFromAsync(alice));
    }

    [Fact]
    public async Task Deposit_SameKeySequentially_ReplaysWithoutSecondEffect()
    {
        var wallet = await Client.CreateWalletAsync();
        var key = ApiCalls.NewKey();

        using var first = await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" }, key);
        using var second = await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" }, key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Null(first.Header(ReplayedHeader));
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal("true", second.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal("10.00", await Client.PostedAsync(wallet));
        Assert.Equal(1, await api.Database.PostingCountAsync(wallet));
    }

    [Fact]
    public async Task Deposit_SameKeyOnAnotherWallet_IsReusedAndHasNoEffect()
    {
        var first = await Client.CreateWalletAsync();
        var second = await Client.CreateWalletAsync();
        var key = ApiCalls.NewKey();
        await (await Client.PostJsonAsync($"/v1/wallets/{first}/deposit", new { amount = "10.00" }, key)).ExpectAsync(HttpStatusCode.Created);

        // Same body, another path: another request.
        await (await Client.PostJsonAsync($"/v1/wallets/{second}/deposit", new { amount = "10.00" }, key))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");

        Assert.Equal("10.00", await Client.PostedAsync(first));
        Assert.Equal("0.00", await Client.PostedAsync(second));
        Assert.Equal(0, await api.Database.PostingCountAsync(second));
    }

    /// <summary>
    /// One key sent at the same moment to deposits on eight wallets: each wallet's grain looks the key
    /// up before its transaction, so several may find it free, and the ledger's write refuses all but
    /// the first to store it. Exactly one deposit moves money; the others are told the key is another
    /// request's, possibly after a retry (503).
    /// </summary>
    [Fact]
    public async Task Deposit_SameKeyOnEightWalletsConcurrently_MovesMoneyOnce()
    {
        var wallets = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Client.CreateWalletAsync()));
        var key = ApiCalls.NewKey();

        var statuses = await Task.WhenAll(wallets.Select(async wallet =>
        {
            for (var attempt = 1; ; attempt++)
            {
                using var response = await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "10.00" }, key);
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 10)
                {
                    return response.StatusCode;
                }
            }
        }));

        Assert.Single(statuses, s => s == HttpStatusCode.Created);
        Assert.All(statuses.Where(s => s != HttpStatusCode.Created), s => Assert.Equal(HttpStatusCode.Conflict, s));
        var posted = await Task.WhenAll(wallets.Select(w => Client.PostedAsync(w)));
        Assert.Single(posted, p => p == "10.00");
        Assert.Equal(7, posted.Count(p => p == "0.00"));
    }

    [Fact]
    public async Task CreateWallet_SameKeyConcurrentlyAndAgain_CreatesOneWallet()
    {
        var owner = "idem-owner-" + Guid.NewGuid().ToString("N");
        var key = ApiCalls.NewKey();
        var body = JsonSerializer.Serialize(new { currency = "USD", owner_id = owner });

        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Client.PostJsonAsync("/v1/wallets", body, key)));
        using var later = await Client.PostJsonAsync("/v1/wallets", body, key);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct(StringComparer.Ordinal));
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
        Assert.Equal("true", later.Header(ReplayedHeader));
        Assert.Equal(bodies[0], await later.Content.ReadAsStringAsync());

        Assert.Equal(1, await api.Database.WalletCountAsync("default", owner));

        await (await Client.PostJsonAsync("/v1/wallets", new { currency = "EUR", owner_id = owner }, key))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        Assert.Equal(1, await api.Database.WalletCountAsync("default", owner));
    }

    [Fact]
    public async Task CreateWallet_SameKeyInAnotherTenant_IsIndependent()
    {
        using var other = await api.Factory.CreateTenantClientAsync("idem-other");
        var owner = "idem-tenants-" + Guid.NewGuid().ToString("N");
        var key = ApiCalls.NewKey();
        var body = JsonSerializer.Serialize(new { currency = "USD", owner_id = owner });

        using var mine = await Client.PostJsonAsync("/v1/wallets", body, key);
        using var theirs = await other.PostJsonAsync("/v1/wallets", body, key);

        var myWallet = await mine.ExpectAsync(HttpStatusCode.Created);
        var theirWallet = await theirs.ExpectAsync(HttpStatusCode.Created);
        Assert.Null(theirs.Header(ReplayedHeader));
        Assert.NotEqual(myWallet.Str("id"), theirWallet.Str("id"));
        Assert.Equal(1, await api.Database.WalletCountAsync("default", owner));
        Assert.Equal(1, await api.Database.WalletCountAsync("idem-other", owner));

        // A deposit under the same key in each tenant: two effects, one per tenant.
        var depositKey = ApiCalls.NewKey();
        await (await Client.PostJsonAsync($"/v1/wallets/{myWallet.Str("id")}/deposit", new { amount = "3.00" }, depositKey)).ExpectAsync(HttpStatusCode.Created);
        await (await other.PostJsonAsync($"/v1/wallets/{theirWallet.Str("id")}/deposit", new { amount = "4.00" }, depositKey)).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("3.00", await Client.PostedAsync(myWallet.Str("id")));
        Assert.Equal("4.00", await other.PostedAsync(theirWallet.Str("id")));
    }

    [Fact]
    public async Task Freeze_SameKeyAfterACredit_ReplaysTheFirstAnswer()
    {
        var wallet = await Client.CreateWalletAsync();
        var key = ApiCalls.NewKey();

        using var first = await Client.PostJsonAsync($"/v1/wallets/{wallet}/freeze", "{}", key);
        var frozen = await first.ExpectAsync(HttpStatusCode.OK);
        await Client.DepositAsync(wallet, "5.00"); // a credit lands on a frozen wallet
        using var retry = await Client.PostJsonAsync($"/v1/wallets/{wallet}/freeze", "{}", key);

        Assert.Equal("frozen", frozen.Str("status"));
        Assert.Equal("0.00", frozen.GetProperty("balance").Str("posted"));
        var replayed = await retry.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("0.00", replayed.GetProperty("balance").Str("posted"));
        Assert.Equal("true", retry.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());

        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/unfreeze", "{}", key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        Assert.Equal("frozen", (await Client.GetWalletAsync(wallet)).Str("status"));
    }

    [Fact]
    public async Task Transfer_KeyLongerThan255Characters_IsRefused()
    {
        var wallet = await Client.CreateWalletAsync();

        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "1.00" }, new string('k', 256)))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal(0, await api.Database.PostingCountAsync(wallet));
    }
}
