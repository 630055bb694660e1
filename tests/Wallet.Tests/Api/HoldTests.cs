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
public sealed partial class HoldTests(ApiFixture api) : IClassFixture<ApiFixture>
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
