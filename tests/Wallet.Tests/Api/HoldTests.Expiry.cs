using System.Net;
using System.Text.Json;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

// Expiry, while the silo runs and across a restart.
public sealed partial class HoldTests
{
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
}
