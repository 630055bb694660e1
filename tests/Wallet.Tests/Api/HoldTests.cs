using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// Holds over HTTP: placed, captured (in parts, repeatedly, finally), voided and expired, each step
/// checked against the wallet's posted, pending and available balances. Every refusal leaves the
/// balances and the hold as they were; racing captures never take more than is held; expiry happens
/// while the silo runs and, for a hold whose time ran out while no silo ran, at the next start.
/// </summary>
public sealed class HoldTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string ReplayedHeader = "Idempotent-Replayed";
    private const string UnknownWallet = "wal_doesnotexist0000";
    private const string RetryPeriodSetting = "Holds:ExpiryRetryPeriod";
    private const string FastRetry = "00:00:02";
    private const int LongestExpirySeconds = 2_678_400; // 31 days

    // How long after its expires_at a hold may stay open: its wallet's reminder is due at that moment.
    private static readonly TimeSpan ExpiryDeadline = TimeSpan.FromSeconds(5);

    // After a restart the silo reads the reminder table within a retry period, and the missed tick
    // fires at the reminder's next period: within two periods of 2 s, and some slack for a busy machine.
    private static readonly TimeSpan RestartExpiryDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private HttpClient Client => api.Client;

    public static TheoryData<string> BadExpiries => ["0", "-1", "2678401", "1.5", "\"60\"", "true", "{}"];

    [Fact]
    public async Task PlaceHold_OnFundedWallet_ReturnsOpenHoldAndMovesAvailableToPending()
    {
        var wallet = await FundedWalletAsync(Client, "150.00");
        var reference = "order-" + Guid.NewGuid().ToString("N");

        using var response = await Client.PostJsonAsync("/v1/holds", new { wallet_id = wallet, amount = "100.00", reference, metadata = new { order = 42 } });

        var hold = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.StartsWith("hold_", hold.Str("id"), StringComparison.Ordinal);
        Assert.Equal($"/v1/holds/{hold.Str("id")}", response.Headers.Location?.OriginalString);
        Assert.Equal((wallet, "@settlement", "USD"), (hold.Str("wallet_id"), hold.Str("destination"), hold.Str("currency")));
        AssertHold(hold, "open", "100.00", "0.00", "100.00");
        Assert.Equal(reference, hold.Str("reference"));
        Assert.Equal(42, hold.GetProperty("metadata").GetProperty("order").GetInt32());
        Assert.Equal(JsonValueKind.Null, hold.GetProperty("closed_at").ValueKind);
        var createdAt = hold.GetProperty("created_at").GetDateTimeOffset();
        Assert.True(createdAt > DateTimeOffset.UtcNow.AddMinutes(-5), $"created_at {createdAt:O}");
        Assert.Equal(TimeSpan.FromDays(7), hold.GetProperty("expires_at").GetDateTimeOffset() - createdAt);
        Assert.Equal(hold.ToString(), (await GetHoldAsync(Client, hold.Str("id"))).ToString());
        await AssertBalancesAsync(Client, wallet, "150.00", "100.00", "50.00");
        Assert.Equal(1, await api.Database.PostingCountAsync(wallet)); // the deposit: a hold posts nothing
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureHold_ThirtyThenTwentyThenFinalTen_PostsEachCaptureAndReleasesTheRest()
    {
        var tenantId = NewTenant();
        using var tenant = await api.Factory.CreateTenantClientAsync(tenantId);
        var wallet = await FundedWalletAsync(tenant, "150.00");
        var holdId = (await PlaceHoldAsync(tenant, wallet, "100.00")).Str("id");

        var first = await (await CaptureAsync(tenant, holdId, new { amount = "30.00" })).ExpectAsync(HttpStatusCode.OK);
        AssertHold(first.GetProperty("hold"), "open", "100.00", "30.00", "70.00");
        await AssertBalancesAsync(tenant, wallet, "120.00", "70.00", "50.00");

        var second = await (await CaptureAsync(tenant, holdId, new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);
        AssertHold(second.GetProperty("hold"), "open", "100.00", "50.00", "50.00");
        await AssertBalancesAsync(tenant, wallet, "100.00", "50.00", "50.00");

        var last = await (await CaptureAsync(tenant, holdId, new { amount = "10.00", final = true })).ExpectAsync(HttpStatusCode.OK);
        AssertHold(last.GetProperty("hold"), "captured", "100.00", "60.00", "0.00");
        Assert.Equal(JsonValueKind.String, last.GetProperty("hold").GetProperty("closed_at").ValueKind);
        await AssertBalancesAsync(tenant, wallet, "90.00", "0.00", "90.00");
        Assert.Equal(last.GetProperty("hold").ToString(), (await GetHoldAsync(tenant, holdId)).ToString());

        var transfers = new[] { first, second, last }.Select(c => c.GetProperty("transfer")).ToList();
        Assert.Equal(["30.00", "20.00", "10.00"], transfers.Select(t => t.Str("amount")));
        Assert.Equal(3, transfers.Select(t => t.Str("id")).Distinct(StringComparer.Ordinal).Count());
        foreach (var transfer in transfers)
        {
            Assert.Equal((wallet, "@settlement", "USD", "posted"), (transfer.Str("source"), transfer.Str("destination"), transfer.Str("currency"), transfer.Str("status")));
            var read = await (await tenant.GetAsync($"/v1/transfers/{transfer.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(transfer.ToString(), read.ToString());
        }

        var debits = (await tenant.HistoryAsync(wallet)).Where(h => h.Str("direction") == "debit").ToList();
        Assert.Equal(transfers.Select(t => t.Str("id")).Reverse(), debits.Select(d => d.Str("transfer_id")));
        Assert.All(debits, d => Assert.Equal("@settlement", d.Str("counterparty")));
        Assert.Equal(["10.00", "20.00", "30.00"], debits.Select(d => d.Str("amount").TrimStart('-')));
        Assert.Equal(6_000, await api.Database.BalanceAsync($"sys:{tenantId}:settlement:USD"));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureHold_WithoutAmount_CapturesAllThatIsHeld()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var partly = (await PlaceHoldAsync(Client, wallet, "40.00")).Str("id");
        var whole = (await PlaceHoldAsync(Client, wallet, "35.00")).Str("id");
        await (await CaptureAsync(Client, partly, new { amount = "15.00" })).ExpectAsync(HttpStatusCode.OK);

        var rest = await (await CaptureAsync(Client, partly, new { })).ExpectAsync(HttpStatusCode.OK);
        var all = await (await Client.PostEmptyAsync($"/v1/holds/{whole}/capture")).ExpectAsync(HttpStatusCode.OK);

        AssertHold(rest.GetProperty("hold"), "captured", "40.00", "40.00", "0.00");
        Assert.Equal("25.00", rest.GetProperty("transfer").Str("amount"));
        AssertHold(all.GetProperty("hold"), "captured", "35.00", "35.00", "0.00");
        Assert.Equal("35.00", all.GetProperty("transfer").Str("amount"));
        await AssertBalancesAsync(Client, wallet, "25.00", "0.00", "25.00");
        Assert.Equal(3, await api.Database.EntriesFromAsync(wallet));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureHold_ReachingTheFullAmount_ClosesTheHoldAndCreditsTheDestinationWallet()
    {
        var payer = await FundedWalletAsync(Client, "100.00");
        var merchant = await Client.CreateWalletAsync();
        var hold = await (await Client.PostJsonAsync("/v1/holds", new { wallet_id = payer, amount = "50.00", destination = merchant })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(merchant, hold.Str("destination"));

        var first = await (await CaptureAsync(Client, hold.Str("id"), new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);
        var second = await (await CaptureAsync(Client, hold.Str("id"), new { amount = "30.00" })).ExpectAsync(HttpStatusCode.OK);

        AssertHold(first.GetProperty("hold"), "open", "50.00", "20.00", "30.00");
        AssertHold(second.GetProperty("hold"), "captured", "50.00", "50.00", "0.00");
        Assert.Equal((payer, merchant), (second.GetProperty("transfer").Str("source"), second.GetProperty("transfer").Str("destination")));
        await AssertBalancesAsync(Client, payer, "50.00", "0.00", "50.00");
        await AssertBalancesAsync(Client, merchant, "50.00", "0.00", "50.00");
        Assert.Equal(2, (await Client.HistoryAsync(merchant)).Count(h => h.Str("direction") == "credit" && h.Str("counterparty") == payer));

        await (await CaptureAsync(Client, hold.Str("id"), new { amount = "0.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await AssertBalancesAsync(Client, payer, "50.00", "0.00", "50.00");
        await AssertBalancesAsync(Client, merchant, "50.00", "0.00", "50.00");
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task VoidHold_OpenHold_ReleasesPendingAndLaterCapturesAreHoldClosed()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "80.00")).Str("id");
        await AssertBalancesAsync(Client, wallet, "100.00", "80.00", "20.00");

        var voided = await (await Client.PostEmptyAsync($"/v1/holds/{holdId}/void")).ExpectAsync(HttpStatusCode.OK);

        AssertHold(voided, "voided", "80.00", "0.00", "0.00");
        Assert.Equal(JsonValueKind.String, voided.GetProperty("closed_at").ValueKind);
        await AssertBalancesAsync(Client, wallet, "100.00", "0.00", "100.00");
        await (await CaptureAsync(Client, holdId, new { amount = "10.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await (await CaptureAsync(Client, holdId, new { })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await (await VoidAsync(Client, holdId)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await AssertBalancesAsync(Client, wallet, "100.00", "0.00", "100.00");
        Assert.Equal(voided.ToString(), (await GetHoldAsync(Client, holdId)).ToString());
        Assert.Equal(0, await api.Database.EntriesFromAsync(wallet));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task VoidHold_AfterPartialCapture_KeepsTheCaptureAndReleasesTheRest()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "60.00")).Str("id");
        await (await CaptureAsync(Client, holdId, new { amount = "25.00" })).ExpectAsync(HttpStatusCode.OK);

        var voided = await (await VoidAsync(Client, holdId)).ExpectAsync(HttpStatusCode.OK);

        AssertHold(voided, "voided", "60.00", "25.00", "0.00");
        await AssertBalancesAsync(Client, wallet, "75.00", "0.00", "75.00");
        Assert.Equal(1, await api.Database.EntriesFromAsync(wallet));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task CaptureAndVoid_CapturedHold_Return422HoldClosedWithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "10.00")).Str("id");
        var captured = await (await CaptureAsync(Client, holdId, new { })).ExpectAsync(HttpStatusCode.OK);

        await (await CaptureAsync(Client, holdId, new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await (await VoidAsync(Client, holdId)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");

        Assert.Equal(captured.GetProperty("hold").ToString(), (await GetHoldAsync(Client, holdId)).ToString());
        await AssertBalancesAsync(Client, wallet, "90.00", "0.00", "90.00");
        Assert.Equal(1, await api.Database.EntriesFromAsync(wallet));
    }

    [Fact]
    public async Task CaptureHold_AmountBeyondWhatIsHeld_Returns422AmountExceedsHoldWithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "50.00")).Str("id");

        await (await CaptureAsync(Client, holdId, new { amount = "50.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "amount_exceeds_hold");
        await AssertBalancesAsync(Client, wallet, "100.00", "50.00", "50.00");
        await (await CaptureAsync(Client, holdId, new { amount = "30.00" })).ExpectAsync(HttpStatusCode.OK);
        await (await CaptureAsync(Client, holdId, new { amount = "20.01" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "amount_exceeds_hold");
        await (await CaptureAsync(Client, holdId, new { amount = "20.01", final = true })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "amount_exceeds_hold");

        AssertHold(await GetHoldAsync(Client, holdId), "open", "50.00", "30.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "70.00", "20.00", "50.00");
        Assert.Equal(1, await api.Database.EntriesFromAsync(wallet));
        await (await CaptureAsync(Client, holdId, new { amount = "20.00" })).ExpectAsync(HttpStatusCode.OK);
        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task PlaceHold_BeyondAvailable_Returns402InsufficientFundsWithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var overdrawn = await Client.CreateWalletAsync(overdraftLimit: "20.00");
        await Client.DepositAsync(overdrawn, "10.00");

        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "100.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await AssertBalancesAsync(Client, wallet, "100.00", "0.00", "100.00");
        await PlaceHoldAsync(Client, wallet, "60.00");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "40.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await (await PlaceAsync(Client, new { wallet_id = overdrawn, amount = "30.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await PlaceHoldAsync(Client, overdrawn, "30.00"); // the overdraft counts as available

        await AssertBalancesAsync(Client, wallet, "100.00", "60.00", "40.00");
        await AssertBalancesAsync(Client, overdrawn, "10.00", "30.00", "0.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
        Assert.Equal(1, await api.Database.HoldCountAsync(overdrawn, "open"));
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task PlaceHold_FrozenWallet_Returns422WalletFrozenUntilUnfrozen()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/freeze")).ExpectAsync(HttpStatusCode.OK);

        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");

        await AssertBalancesAsync(Client, wallet, "100.00", "0.00", "100.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
        await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/unfreeze")).ExpectAsync(HttpStatusCode.OK);
        await PlaceHoldAsync(Client, wallet, "10.00");
        await AssertBalancesAsync(Client, wallet, "100.00", "10.00", "90.00");
    }

    [Theory]
    [MemberData(nameof(BadRequestTests.BadAmounts), MemberType = typeof(BadRequestTests))]
    public async Task PlaceHold_BadAmount_Returns400WithoutEffect(string amountJson, string code)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        await (await PlaceAsync(Client, $$"""{"wallet_id": "{{wallet}}", "amount": {{amountJson}}}""")).ExpectProblemAsync(HttpStatusCode.BadRequest, code);

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Theory]
    [MemberData(nameof(BadRequestTests.BadAmounts), MemberType = typeof(BadRequestTests))]
    public async Task CaptureHold_BadAmount_Returns400WithoutEffect(string amountJson, string code)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await CaptureAsync(Client, holdId, $$"""{"amount": {{amountJson}}}""")).ExpectProblemAsync(HttpStatusCode.BadRequest, code);

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(0, await api.Database.EntriesFromAsync(wallet));
    }

    [Fact]
    public async Task PlaceHold_UnknownOrAnotherTenantsWallet_Returns404WalletNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var theirs = await FundedWalletAsync(other, "40.00");

        await (await PlaceAsync(Client, new { wallet_id = UnknownWallet, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = theirs, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");

        await AssertBalancesAsync(other, theirs, "40.00", "0.00", "40.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(theirs, "open"));
    }

    [Theory]
    [MemberData(nameof(BadExpiries))]
    public async Task PlaceHold_ExpiryNotAWholeNumberOfSecondsInRange_Returns400ValidationFailed(string secondsJson)
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        await (await PlaceAsync(Client, $$"""{"wallet_id": "{{wallet}}", "amount": "10.00", "expires_in_seconds": {{secondsJson}}}"""))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task PlaceHold_LongestExpiry_IsAccepted()
    {
        var wallet = await FundedWalletAsync(Client, "50.00");

        var hold = await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", expires_in_seconds = LongestExpirySeconds })).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(TimeSpan.FromSeconds(LongestExpirySeconds), hold.GetProperty("expires_at").GetDateTimeOffset() - hold.GetProperty("created_at").GetDateTimeOffset());
        await AssertBalancesAsync(Client, wallet, "50.00", "10.00", "40.00");
    }

    [Fact]
    public async Task PlaceHold_BadDestination_IsRefusedWithoutEffect()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var theirs = await other.CreateWalletAsync();
        var wallet = await FundedWalletAsync(Client, "50.00");
        var euros = await Client.CreateWalletAsync("EUR");

        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = euros }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "currency_mismatch");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = wallet }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "same_wallet");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = UnknownWallet }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = theirs }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "10.00", destination = "@nowhere" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        await AssertBalancesAsync(Client, wallet, "50.00", "0.00", "50.00");
        await AssertBalancesAsync(Client, euros, "0.00", "0.00", "0.00");
        Assert.Equal(0, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task HoldRoutes_MalformedOrMistypedBody_Return400WithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await PlaceAsync(Client, "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        await (await PlaceAsync(Client, new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = wallet })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = 7, amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await PlaceAsync(Client, new { wallet_id = wallet, amount = "1.00", metadata = "text" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await CaptureAsync(Client, holdId, "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        await (await CaptureAsync(Client, holdId, new { amount = "1.00", final = "yes" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.PostJsonAsync($"/v1/holds/{holdId}/void", "{")).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(1, await api.Database.HoldCountAsync(wallet, "open"));
    }

    [Fact]
    public async Task HoldRoutes_UnknownOrAnotherTenantsHold_Return404HoldNotFound()
    {
        using var other = await api.Factory.CreateTenantClientAsync(NewTenant());
        var wallet = await FundedWalletAsync(Client, "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "20.00")).Str("id");

        await (await other.GetAsync($"/v1/holds/{holdId}")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await CaptureAsync(other, holdId, new { amount = "5.00" })).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await VoidAsync(other, holdId)).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await Client.GetAsync("/v1/holds/hold_doesnotexist")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await CaptureAsync(Client, "hold_doesnotexist", new { })).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");
        await (await VoidAsync(Client, "hold_doesnotexist")).ExpectProblemAsync(HttpStatusCode.NotFound, "hold_not_found");

        AssertHold(await GetHoldAsync(Client, holdId), "open", "20.00", "0.00", "20.00");
        await AssertBalancesAsync(Client, wallet, "50.00", "20.00", "30.00");
        Assert.Equal(0, await api.Database.EntriesFromAsync(wallet));
    }

    [Fact]
    public async Task Debits_BeyondAvailableWhileHoldIsOpen_Return402WithoutEffect()
    {
        var wallet = await FundedWalletAsync(Client, "100.00");
        var other = await Client.CreateWalletAsync();
        var holdId = (await PlaceHoldAsync(Client, wallet, "70.00")).Str("id");

        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "30.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", new { amount = "30.01" })).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await (await Client.TransferAsync(wallet, other, "30.01")).ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        await AssertBalancesAsync(Client, wallet, "100.00", "70.00", "30.00");
        await AssertBalancesAsync(Client, other, "0.00", "0.00", "0.00");

        await Client.MoveAsync(wallet, "spend", "30.00");
        await AssertBalancesAsync(Client, wallet, "70.00", "70.00", "0.00");
        await (await VoidAsync(Client, holdId)).ExpectAsync(HttpStatusCode.OK);
        await AssertBalancesAsync(Client, wallet, "70.00", "0.00", "70.00");
        await AssertVerifiedAsync(Client);
    }

    [Fact]
    public async Task Close_WhileHoldIsOpen_Returns422InvalidStatusChangeUntilVoided()
    {
        // Posted is zero (the hold lives on the overdraft): only the pending amount stands in the way.
        var wallet = await Client.CreateWalletAsync(overdraftLimit: "50.00");
        var holdId = (await PlaceHoldAsync(Client, wallet, "30.00")).Str("id");
        await AssertBalancesAsync(Client, wallet, "0.00", "30.00", "20.00");

        await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/close")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "invalid_status_change");

        Assert.Equal("active", (await Client.GetWalletAsync(wallet)).Str("status"));
        await AssertBalancesAsync(Client, wallet, "0.00", "30.00", "20.00");
        await (await VoidAsync(Client, holdId)).ExpectAsync(HttpStatusCode.OK);
        var closed = await (await Client.PostEmptyAsync($"/v1/wallets/{wallet}/close")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("closed", closed.Str("status"));
        await AssertVerifiedAsync(Client);
    }

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

    [Fact]
    public async Task Expiry_WhileTheSiloRuns_ReleasesWhatIsHeldWithinSeconds()
    {
        await using var factory = await WalletApiFactory.CreateAsync("holds_expiry");
        using var client = factory.CreateOperatorClient();
        var wallet = await FundedWalletAsync(client, "100.00");
        var untouched = await (await PlaceAsync(client, new { wallet_id = wallet, amount = "40.00", expires_in_seconds = 1 })).ExpectAsync(HttpStatusCode.Created);
        var partly = await (await PlaceAsync(client, new { wallet_id = wallet, amount = "30.00", expires_in_seconds = 3 })).ExpectAsync(HttpStatusCode.Created);
        var lasting = await (await PlaceAsync(client, new { wallet_id = wallet, amount = "25.00", expires_in_seconds = 3600 })).ExpectAsync(HttpStatusCode.Created);
        await (await CaptureAsync(client, partly.Str("id"), new { amount = "10.00" })).ExpectAsync(HttpStatusCode.OK);
        var expiresAt = untouched.GetProperty("expires_at").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromSeconds(1), expiresAt - untouched.GetProperty("created_at").GetDateTimeOffset());
        // A busy machine may take longer than the first hold's second to get here: read before its
        // expiry, the balances hold all three; read after it, they may have released the holds due.
        var read = await BalancesAsync(client, wallet);
        if (DateTimeOffset.UtcNow < expiresAt)
        {
            Assert.Equal(("90.00", "85.00", "5.00"), read);
        }
        else
        {
            Assert.Contains(read, new[] { ("90.00", "85.00", "5.00"), ("90.00", "45.00", "45.00"), ("90.00", "25.00", "65.00") });
        }

        var expired = await WaitForStatusAsync(client, untouched.Str("id"), "expired", expiresAt + ExpiryDeadline);
        var expiredAfterCapture = await WaitForStatusAsync(client, partly.Str("id"), "expired", partly.GetProperty("expires_at").GetDateTimeOffset() + ExpiryDeadline);

        AssertHold(expired, "expired", "40.00", "0.00", "0.00");
        Assert.True(expired.GetProperty("closed_at").GetDateTimeOffset() >= expiresAt, $"closed before its expiry: {expired}");
        AssertHold(expiredAfterCapture, "expired", "30.00", "10.00", "0.00");
        AssertHold(await GetHoldAsync(client, lasting.Str("id")), "open", "25.00", "0.00", "25.00");
        await AssertBalancesAsync(client, wallet, "90.00", "25.00", "65.00");
        await (await CaptureAsync(client, untouched.Str("id"), new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        await AssertBalancesAsync(client, wallet, "90.00", "25.00", "65.00");
        await AssertVerifiedAsync(client);
    }

    /// <summary>
    /// The hold's time runs out while no silo runs. Its wallet's reminder, kept in PostgreSQL, fires
    /// once the next silo runs, and the hold is released then.
    /// </summary>
    [Fact]
    public async Task Expiry_WhileTheSiloIsDown_ReleasesTheHoldAfterRestart()
    {
        var before = await WalletApiFactory.CreateAsync("holds_restart", new() { [RetryPeriodSetting] = FastRetry });
        var database = new LedgerDatabase(before.ConnectionString);
        string wallet;
        JsonElement hold;
        try
        {
            using var client = before.CreateOperatorClient();
            wallet = await FundedWalletAsync(client, "100.00");
            hold = await (await PlaceAsync(client, new { wallet_id = wallet, amount = "60.00", expires_in_seconds = 1 })).ExpectAsync(HttpStatusCode.Created);
            await AssertBalancesAsync(client, wallet, "100.00", "60.00", "40.00");
        }
        finally
        {
            await before.DisposeAsync();
        }

        var expiresAt = hold.GetProperty("expires_at").GetDateTimeOffset();
        var untilExpired = expiresAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200);
        if (untilExpired > TimeSpan.Zero)
        {
            await Task.Delay(untilExpired);
        }

        Assert.Equal(1, await database.HoldCountAsync(wallet, "open")); // no silo ran to release it

        await using var after = WalletApiFactory.Start(before.ConnectionString, new() { [RetryPeriodSetting] = FastRetry });
        using var restarted = after.CreateOperatorClient();
        var expired = await WaitForStatusAsync(restarted, hold.Str("id"), "expired", DateTimeOffset.UtcNow + RestartExpiryDeadline);

        AssertHold(expired, "expired", "60.00", "0.00", "0.00");
        await AssertBalancesAsync(restarted, wallet, "100.00", "0.00", "100.00");
        Assert.Equal(0, await database.HoldCountAsync(wallet, "open"));
        Assert.Equal(1, await database.HoldCountAsync(wallet, "expired"));
        await AssertVerifiedAsync(restarted);
    }

    [Fact]
    public async Task CaptureHold_PastExpiry_Returns422HoldClosedWithoutEffect()
    {
        await using var factory = await WalletApiFactory.CreateAsync("holds_past_expiry");
        using var client = factory.CreateOperatorClient();
        var wallet = await FundedWalletAsync(client, "100.00");
        var hold = await (await PlaceAsync(client, new { wallet_id = wallet, amount = "50.00", expires_in_seconds = 1 })).ExpectAsync(HttpStatusCode.Created);
        await Task.Delay(hold.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(300));

        var refused = await CaptureAsync(client, hold.Str("id"), new { amount = "10.00" });

        // Past its time the hold captures nothing, whether its expiry reminder has released it yet or not.
        await refused.ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "hold_closed");
        var after = await GetHoldAsync(client, hold.Str("id"));
        Assert.Equal("0.00", after.Str("captured"));
        Assert.Contains(after.Str("status"), new[] { "open", "expired" });
        Assert.Equal("100.00", await client.PostedAsync(wallet));
        await AssertVerifiedAsync(client);
    }

    private static string NewTenant() => "holds-" + Guid.NewGuid().ToString("N");

    private static async Task<string> FundedWalletAsync(HttpClient client, string amount)
    {
        var wallet = await client.CreateWalletAsync();
        await client.DepositAsync(wallet, amount);
        return wallet;
    }

    private static Task<HttpResponseMessage> PlaceAsync(HttpClient client, object body, string? idempotencyKey = null) =>
        client.PostJsonAsync("/v1/holds", body, idempotencyKey);

    private static async Task<JsonElement> PlaceHoldAsync(HttpClient client, string walletId, string amount) =>
        await (await PlaceAsync(client, new { wallet_id = walletId, amount })).ExpectAsync(HttpStatusCode.Created);

    private static Task<HttpResponseMessage> CaptureAsync(HttpClient client, string holdId, object body, string? idempotencyKey = null) =>
        client.PostJsonAsync($"/v1/holds/{holdId}/capture", body, idempotencyKey);

    private static Task<HttpResponseMessage> VoidAsync(HttpClient client, string holdId, string? idempotencyKey = null) =>
        client.PostJsonAsync($"/v1/holds/{holdId}/void", "{}", idempotencyKey);

    private static async Task<JsonElement> GetHoldAsync(HttpClient client, string holdId) =>
        await (await client.GetAsync($"/v1/holds/{holdId}")).ExpectAsync(HttpStatusCode.OK);

    /// <summary>Reads the hold until it has <paramref name="status"/> or the deadline passes; returns it as last read.</summary>
    private static async Task<JsonElement> WaitForStatusAsync(HttpClient client, string holdId, string status, DateTimeOffset deadline)
    {
        while (true)
        {
            var hold = await GetHoldAsync(client, holdId);
            if (hold.Str("status") == status || DateTimeOffset.UtcNow > deadline)
            {
                return hold;
            }

            await Task.Delay(PollInterval);
        }
    }

    private static void AssertHold(JsonElement hold, string status, string amount, string captured, string held) =>
        Assert.Equal((status, amount, captured, held), (hold.Str("status"), hold.Str("amount"), hold.Str("captured"), hold.Str("held")));

    /// <summary>The wallet's balances as GET shows them.</summary>
    private static async Task AssertBalancesAsync(HttpClient client, string walletId, string posted, string pending, string available) =>
        Assert.Equal((posted, pending, available), await BalancesAsync(client, walletId));

    /// <summary>The wallet's posted, pending and available balances as GET shows them.</summary>
    private static async Task<(string Posted, string Pending, string Available)> BalancesAsync(HttpClient client, string walletId)
    {
        var balance = (await client.GetWalletAsync(walletId)).GetProperty("balance");
        return (balance.Str("posted"), balance.Str("pending"), balance.Str("available"));
    }

    /// <summary>The whole ledger verifies: balances, entries, and every wallet's pending against its open holds.</summary>
    private static async Task AssertVerifiedAsync(HttpClient operatorClient)
    {
        var report = await (await operatorClient.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(report.GetProperty("ok").GetBoolean(), $"verify: {report}");
        Assert.Equal(0, report.GetProperty("problems").GetArrayLength());
    }
}
