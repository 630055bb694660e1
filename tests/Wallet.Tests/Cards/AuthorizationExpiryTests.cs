using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// Approved authorizations that are never captured expire with their hold: the funds return to the
/// wallet, the authorization reads "expired" and is closed, and, having captured nothing, it no
/// longer counts against the card's limits. A silo of its own with a one-second authorization life.
/// </summary>
public sealed class AuthorizationExpiryTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> ShortLife = new()
    {
        ["Cards:AuthorizationExpiry"] = "00:00:01",
    };

    // How long after its expiry an authorization may stay approved: its wallet's reminder is due at that moment.
    private static readonly TimeSpan ExpiryDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private WalletApiFactory? _factory;
    private HttpClient? _client;

    private HttpClient Client => _client ?? throw new InvalidOperationException("The test is not initialized.");

    public async Task InitializeAsync()
    {
        _factory = await WalletApiFactory.CreateAsync("card_expiry", ShortLife);
        _client = _factory.CreateOperatorClient();
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    [Fact]
    public async Task Authorization_NeverCaptured_ExpiresAndReleasesTheFunds()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var id = (await Client.ApproveAsync(cardId, "60.00")).Str("id");
        await Client.AssertBalancesAsync(wallet, "100.00", "60.00", "40.00");

        var expired = await WaitForStatusAsync(id, "expired");

        Assert.Equal(("expired", "60.00", "0.00"), (expired.Str("status"), expired.Str("amount"), expired.Str("captured")));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        Assert.Equal([id], await Client.DecisionIdsAsync(cardId, "expired"));
        Assert.Empty(await Client.DecisionIdsAsync(cardId, "approved"));
        await (await Client.ActAsync(id, "capture", new { })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "authorization_closed");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorization_Expired_NoLongerCountsAgainstTheDailyLimit()
    {
        var (_, cardId) = await Client.FundedCardAsync("500.00", new { daily = "100.00" });
        var id = (await Client.ApproveAsync(cardId, "100.00")).Str("id");
        Assert.Equal("expired", (await WaitForStatusAsync(id, "expired")).Str("status"));

        var again = await Client.ApproveAsync(cardId, "100.00");

        Assert.Equal("100.00", again.Str("amount"));
        await Client.AssertVerifiedAsync();
    }

    /// <summary>Reads the authorization until it has <paramref name="status"/> or the deadline passes; returns it as last read.</summary>
    private async Task<JsonElement> WaitForStatusAsync(string authorizationId, string status)
    {
        var deadline = DateTimeOffset.UtcNow + ExpiryDeadline;
        while (true)
        {
            var authorization = await Client.GetAuthorizationAsync(authorizationId);
            if (authorization.Str("status") == status || DateTimeOffset.UtcNow > deadline)
            {
                return authorization;
            }

            await Task.Delay(PollInterval);
        }
    }
}
