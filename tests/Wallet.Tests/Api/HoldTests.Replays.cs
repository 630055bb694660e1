using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

// Idempotency-Key replays and racing requests on one hold or wallet.
public sealed partial class HoldTests
{
    [Fact]
    public async Task PlaceHold_SameKeyAgain_ReplaysTheFirstAnswerWithoutASecondHold()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var key = ApiCalls.NewKey();
        var body = JsonSerializer.Serialize(new { wallet_id = wallet, amount = "30.00", reference = "cart-1" });

        using var first = await PlaceAsync(Client, body, key);
        using var second = await PlaceAsync(Client, body, key);

        var hold = await first.ExpectAsync(HttpStatusCode.Created);
        Assert.Null(first.Header(ReplayedHeader));
        await second.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("true", second.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        await AssertBalancesAsync(Client, wallet, "100.00", "30.00", "70.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));

        var otherBody = JsonSerializer.Serialize(new { wallet_id = wallet, amount = "31.00", reference = "cart-1" });
        await (await PlaceAsync(Client, otherBody, key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        await AssertBalancesAsync(Client, wallet, "100.00", "30.00", "70.00");

        // Once the hold is voided, the key still answers with the hold as it was placed, and places nothing.
        await (await VoidAsync(Client, hold.Str("id"))).ExpectAsync(HttpStatusCode.OK);
        using var later = await PlaceAsync(Client, body, key);
        await later.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("true", later.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await later.Content.ReadAsStringAsync());
        await AssertBalancesAsync(Client, wallet, "100.00", "0.00", "100.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "voided"));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task PlaceHold_SameKeyFiveTimesConcurrently_PlacesOneHold()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var key = ApiCalls.NewKey();
        var body = JsonSerializer.Serialize(new { wallet_id = wallet, amount = "60.00" });

        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => PlaceAsync(Client, body, key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct(StringComparer.Ordinal));
        await AssertBalancesAsync(Client, wallet, "100.00", "60.00", "40.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureHold_SameKeyAgain_ReplaysWithoutASecondCapture()
    {
        var wallet = await FundedWalletAsync(Client, "200.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "100.00")).Str("id");
        var otherHoldId = (await PlaceHoldAsync(Client, wallet, "50.00")).Str("id");
        var key = ApiCalls.NewKey();

        using var first = await CaptureAsync(Client, holdId, new { amount = "30.00" }, key);
        using var second = await CaptureAsync(Client, holdId, new { amount = "30.00" }, key);

        var capture = await first.ExpectAsync(HttpStatusCode.OK);
        await second.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("true", second.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        AssertHold(await GetHoldAsync(Client, holdId), "open", "100.00", "30.00", "70.00");
        await AssertBalancesAsync(Client, wallet, "170.00", "120.00", "50.00");
        Assert.Equal(1, await api.Database.EntriesFromAsync(wallet));

        await (await CaptureAsync(Client, holdId, new { amount = "40.00" }, key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        await (await CaptureAsync(Client, otherHoldId, new { amount = "30.00" }, key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        AssertHold(await GetHoldAsync(Client, holdId), "open", "100.00", "30.00", "70.00");
        AssertHold(await GetHoldAsync(Client, otherHoldId), "open", "50.00", "0.00", "50.00");
        await AssertBalancesAsync(Client, wallet, "170.00", "120.00", "50.00");

        // A final capture replayed after it closed the hold: the same answer, still one effect.
        var finalKey = ApiCalls.NewKey();
        using var closing = await CaptureAsync(Client, holdId, new { }, finalKey);
        using var replayed = await CaptureAsync(Client, holdId, new { }, finalKey);
        await closing.ExpectAsync(HttpStatusCode.OK);
        await replayed.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("true", replayed.Header(ReplayedHeader));
        Assert.Equal(await closing.Content.ReadAsStringAsync(), await replayed.Content.ReadAsStringAsync());
        AssertHold(await GetHoldAsync(Client, holdId), "captured", "100.00", "100.00", "0.00");
        await AssertBalancesAsync(Client, wallet, "100.00", "50.00", "50.00");
        Assert.Equal(2, await api.Database.EntriesFromAsync(wallet));
        Assert.NotEqual(capture.GetProperty("transfer").Str("id"), ApiCalls.Parse(await closing.Content.ReadAsStringAsync()).GetProperty("transfer").Str("id"));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task VoidHold_SameKeyAgain_ReplaysAndTheKeyOnAnotherHoldIsReused()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "40.00")).Str("id");
        var otherHoldId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");
        var key = ApiCalls.NewKey();

        using var first = await VoidAsync(Client, holdId, key);
        using var second = await VoidAsync(Client, holdId, key);

        AssertHold(await first.ExpectAsync(HttpStatusCode.OK), "voided", "40.00", "0.00", "0.00");
        await second.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("true", second.Header(ReplayedHeader));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        await (await VoidAsync(Client, otherHoldId, key)).ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");

        AssertHold(await GetHoldAsync(Client, otherHoldId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "100.00", "20.00", "80.00");
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureHold_TwentyConcurrentCapturesOfATenth_ExactlyTenSucceed()
    {
        var wallet = await FundedWalletAsync(Client, "250.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "100.00")).Str("id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => CaptureAsync(Client, holdId, new { amount = "10.00" })));

        var captures = new List<JsonElement>();
        foreach (var response in responses)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                captures.Add(await response.ExpectAsync(HttpStatusCode.OK));
                continue;
            }

            var problem = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
            Assert.Contains(problem.Str("code"), (string[])["amount_exceeds_hold", "hold_closed"]);
        }

        Assert.Equal(10, captures.Count);
        // Each answer tells the truth: the captures went 10, 20, ... 100, one each.
        var capturedSoFar = captures.Select(c => c.GetProperty("hold").Str("captured")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (i * 10m).ToString("0.00", CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal), capturedSoFar);
        Assert.Equal(10, captures.Select(c => c.GetProperty("transfer").Str("id")).Distinct(StringComparer.Ordinal).Count());
        AssertHold(await GetHoldAsync(Client, holdId), "captured", "100.00", "100.00", "0.00");
        await AssertBalancesAsync(Client, wallet, "150.00", "0.00", "150.00");
        Assert.Equal(10, await api.Database.EntriesFromAsync(wallet));
        Assert.Empty(await api.Database.DoubleEntryFaultsAsync([wallet]));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task PlaceHold_TenConcurrentHoldsOfWholeBalance_ExactlyOneSucceeds()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PlaceAsync(Client, new { wallet_id = wallet, amount = "100.00" })));

        var placed = Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        }

        await AssertBalancesAsync(Client, wallet, "100.00", "100.00", "0.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
        AssertHold(await GetHoldAsync(Client, (await placed.ExpectAsync(HttpStatusCode.Created)).Str("id")), "open", "100.00", "0.00", "100.00");
        await AssertVerifiedAsync(Client);
    }
}
