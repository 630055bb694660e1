using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Wallet.GeneratedClient;
using Wallet.GeneratedClient.Models;
using Wallet.Tests.Crash;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The README's quick start, run with the C# client Kiota generates from docs/openapi.json
/// (tests/Wallet.GeneratedClient) against a silo process: typed requests and answers; and refusals,
/// in process, as the typed problem of their status with their code. A document that misdescribes a route breaks this test
/// (a member that does not parse, a status without its problem) or the client's build.
/// </summary>
public sealed class GeneratedClientTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task QuickStart_RunWithTheGeneratedClient_AgainstASiloProcess_GivesTypedAnswers()
    {
        // The silo as `dotnet run --project src/Silo` runs it, over TCP; answers still pass the conformance check.
        const string OperatorKey = "generated-client-operator-key";
        using var silo = SiloProcess.Start("silo", await PostgresServer.CreateDatabaseAsync("generated_client"), OperatorKey);
        await silo.WaitUntilReadyAsync();
        using var http = new HttpClient(new OpenApiConformance.Handler { InnerHandler = new SocketsHttpHandler() }) { BaseAddress = silo.Address };
        var client = Connect(http, OperatorKey);

        // A wallet, and 100.00 issued into it from the treasury.
        var alice = await client.V1.Wallets.PostAsync(new CreateWalletRequest
        {
            Currency = "USD",
            OwnerId = "alice",
            Metadata = new CreateWalletRequest_metadata { AdditionalData = { ["team"] = "payments" } },
        });
        var deposit = await client.V1.Wallets[alice!.Id].Deposit.PostAsync(new AmountRequest { Amount = "100.00" });

        // A spend with an Idempotency-Key, sent twice: one spend.
        var orderKey = $"order-{Guid.NewGuid():N}";
        var spend = await client.V1.Wallets[alice.Id].Spend.PostAsync(new AmountRequest { Amount = "30.50", Reference = "order-42" }, c => c.Headers.Add("Idempotency-Key", orderKey));
        var retried = await client.V1.Wallets[alice.Id].Spend.PostAsync(new AmountRequest { Amount = "30.50", Reference = "order-42" }, c => c.Headers.Add("Idempotency-Key", orderKey));

        // A transfer between wallets.
        var bob = await client.V1.Wallets.PostAsync(new CreateWalletRequest { Currency = "USD" });
        var transfer = await client.V1.Transfers.PostAsync(new TransferRequest { Source = alice.Id, Destination = bob!.Id, Amount = "20" });

        Assert.Equal(("USD", "alice", "active", "payments"), (alice.Currency, alice.OwnerId, alice.Status, alice.Metadata!.AdditionalData["team"]?.ToString()));
        Assert.Null(bob.OwnerId);
        Assert.Null(bob.Metadata);
        Assert.Equal(("@treasury", alice.Id, "100.00", "USD"), (deposit!.Source, deposit.Destination, deposit.Amount, deposit.Currency));
        Assert.Equal(("@revenue", "30.50", "order-42"), (spend!.Destination, spend.Amount, spend.Reference));
        Assert.Equal(spend.Id, retried!.Id);
        Assert.Equal((alice.Id, bob.Id, "20.00", "posted"), (transfer!.Source, transfer.Destination, transfer.Amount, transfer.Status));
        Assert.Equal(("49.50", "0.00", "49.50"), Balance(await client.V1.Wallets[alice.Id].GetAsync()));

        // Hold 40.00, capture 20.00 of it, then 10.00 as the last capture (the other 10.00 comes back).
        var hold = await client.V1.Holds.PostAsync(new CreateHoldRequest { WalletId = alice.Id, Amount = "40.00", ExpiresInSeconds = 3600 });
        var firstCapture = await client.V1.Holds[hold!.Id].Capture.PostAsync(new CaptureHoldRequest { Amount = "20.00" });
        var lastCapture = await client.V1.Holds[hold.Id].Capture.PostAsync(new CaptureHoldRequest { Amount = "10.00", Final = true });

        Assert.Equal(("40.00", "open"), (hold.Amount, hold.Status));
        Assert.Equal(("20.00", "20.00", "open"), (firstCapture!.Transfer!.Amount, firstCapture.Hold!.Captured, firstCapture.Hold.Status));
        Assert.Equal(("30.00", "captured"), (lastCapture!.Hold!.Captured, lastCapture.Hold.Status));
        Assert.Equal(("19.50", "0.00", "19.50"), Balance(await client.V1.Wallets[alice.Id].GetAsync()));

        // A card with a daily limit, an authorization on it, and its capture.
        var card = await client.V1.Cards.PostAsync(new CreateCardRequest
        {
            WalletId = alice.Id,
            CardholderName = "Alice",
            CardNumber = "4242424242424242",
            SpendingControls = new SpendingControlsRequest { Daily = "50.00" },
        });
        var authorization = await client.V1.Cards[card!.Id].Authorizations.PostAsync(new AuthorizeRequest
        {
            Amount = "12.50",
            MerchantName = "Corner Cafe",
            MerchantCategory = "5814",
            MerchantCountry = "US",
        });
        var captured = await client.V1.Authorizations[authorization!.Id].Capture.PostAsync(new CaptureAuthorizationRequest());
        var decisions = await client.V1.CardTransactions.GetAsync(c => c.QueryParameters.CardId = card.Id);

        Assert.Equal(("4242", "active", "50.00"), (card.Last4, card.Status, card.SpendingControls!.Daily));
        Assert.Equal((true, "CORNER CAFE", "Corner Cafe", "5814"), (authorization.Approved, authorization.MerchantName, authorization.MerchantNameOriginal, authorization.MerchantCategory));
        Assert.Null(authorization.Decline);
        Assert.Equal(("captured", "12.50"), (captured!.Status, captured.Captured));
        Assert.Equal([authorization.Id], decisions!.Data!.Select(d => d.Id));
        Assert.Equal(("7.00", "0.00", "7.00"), Balance(await client.V1.Wallets[alice.Id].GetAsync()));

        // History, newest first with the running balance; the events of every entry, in commit order.
        var history = await client.V1.Wallets[alice.Id].History.GetAsync(c => c.QueryParameters.Limit = 100);
        var events = await client.V1.Events.GetAsync(c =>
        {
            c.QueryParameters.After = 0;
            c.QueryParameters.Limit = 200;
        });

        Assert.Equal(
            [("debit", "-12.50", "7.00"), ("debit", "-10.00", "19.50"), ("debit", "-20.00", "29.50"), ("debit", "-20.00", "49.50"), ("debit", "-30.50", "69.50"), ("credit", "100.00", "100.00")],
            history!.Data!.Select(h => (h.Direction, h.Amount, h.BalanceAfter)));
        Assert.Null(history.NextCursor);
        var ours = events!.Data!.Where(e => e.Transfer!.Source == alice.Id || e.Transfer.Destination == alice.Id).ToList();
        Assert.Equal(history.Data!.Select(h => h.TransferId).Reverse(), ours.Select(e => e.Transfer!.Id));
        Assert.True(ours.Zip(ours.Skip(1)).All(pair => pair.First.Seq < pair.Second.Seq));
    }

    [Fact]
    public async Task Refusals_ComeAsTheTypedProblemOfTheirStatus()
    {
        using var http = api.Factory.CreateClient();
        var client = Connect(http, WalletApiFactory.OperatorKey);
        var wallet = await client.V1.Wallets.PostAsync(new CreateWalletRequest { Currency = "USD" });
        await client.V1.Wallets[wallet!.Id].Deposit.PostAsync(new AmountRequest { Amount = "10.00" });
        var key = $"spend-{Guid.NewGuid():N}";
        await client.V1.Wallets[wallet.Id].Spend.PostAsync(new AmountRequest { Amount = "1.00" }, c => c.Headers.Add("Idempotency-Key", key));

        var overspent = await Assert.ThrowsAsync<Problem402>(() => client.V1.Wallets[wallet.Id].Spend.PostAsync(new AmountRequest { Amount = "30.50" }));
        var badAmount = await Assert.ThrowsAsync<Problem400>(() => client.V1.Wallets[wallet.Id].Deposit.PostAsync(new AmountRequest { Amount = "1.234" }));
        var missing = await Assert.ThrowsAsync<Problem404>(() => client.V1.Transfers.PostAsync(new TransferRequest { Source = wallet.Id, Destination = "wal_missing", Amount = "1.00" }));
        var reused = await Assert.ThrowsAsync<Problem409>(() => client.V1.Wallets[wallet.Id].Spend.PostAsync(new AmountRequest { Amount = "2.00" }, c => c.Headers.Add("Idempotency-Key", key)));
        var anonymous = await Assert.ThrowsAsync<Problem401>(() => Connect(http, "not-a-key").V1.Wallets[wallet.Id].GetAsync());

        Assert.Equal((Problem402_code.Insufficient_funds, 402, 402), (overspent.Code, overspent.Status, overspent.ResponseStatusCode));
        Assert.Equal("https://wallet.dev/problems/insufficient-funds", overspent.Type);
        Assert.Equal(overspent.Detail, overspent.Message);
        Assert.Contains("30.50", overspent.Message, StringComparison.Ordinal);
        Assert.Equal(Problem400_code.Invalid_amount, badAmount.Code);
        Assert.Equal(Problem404_code.Wallet_not_found, missing.Code);
        Assert.Equal(Problem409_code.Idempotency_key_reused, reused.Code);
        Assert.Equal(Problem401_code.Unauthorized, anonymous.Code);
        Assert.Equal(("9.00", "0.00", "9.00"), Balance(await client.V1.Wallets[wallet.Id].GetAsync()));
    }

    /// <summary>The generated client over <paramref name="http"/> (the test silo), authenticated as a client would be.</summary>
    private static WalletApiClient Connect(HttpClient http, string apiKey) =>
        new(new HttpClientRequestAdapter(new BaseBearerTokenAuthenticationProvider(new StaticKey(apiKey)), httpClient: http));

    private static (string?, string?, string?) Balance(WalletView? wallet) => (wallet!.Balance!.Posted, wallet.Balance.Pending, wallet.Balance.Available);

    private sealed class StaticKey(string key) : IAccessTokenProvider
    {
        public AllowedHostsValidator AllowedHostsValidator { get; } = new();

        public Task<string> GetAuthorizationTokenAsync(Uri uri, Dictionary<string, object>? additionalAuthenticationContext = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(key);
    }
}
