using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// Cards and their authorizations over HTTP, read by their wire names like <see cref="ApiCalls"/>.
/// Every decline is checked twice: as the problem the client got and as the decision the ledger
/// recorded under the problem's <c>authorization_id</c>.
/// </summary>
internal static class CardCalls
{
    public const string Grocery = "5411";
    public const string Restaurant = "5812";
    public const string Gambling = "7995";
    public const string Merchant = "CORNER GROCERY";
    public const string UnknownWallet = "wal_doesnotexist0000";
    public const string UnknownCard = "card_doesnotexist0000";
    public const string UnknownAuthorization = "auth_doesnotexist0000";
    public const string ReplayedHeader = "Idempotent-Replayed";

    private const int CardNumberLength = 16;

    /// <summary>A random card number of <paramref name="length"/> digits that passes the Luhn check, so each test issues its own.</summary>
    public static string NewCardNumber(int length = CardNumberLength)
    {
        var payload = "4" + string.Concat(Enumerable.Range(0, length - 2).Select(_ => Random.Shared.Next(10).ToString(CultureInfo.InvariantCulture)));
        return WithCheckDigit(payload);
    }

    /// <summary><paramref name="payload"/> followed by the digit that makes the whole pass the Luhn check.</summary>
    public static string WithCheckDigit(string payload)
    {
        var sum = 0;
        for (var i = 0; i < payload.Length; i++)
        {
            // Counted from the right of the finished number, where the check digit is position 0.
            var digit = payload[payload.Length - 1 - i] - '0';
            if (i % 2 == 0)
            {
                digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
            }

            sum += digit;
        }

        return payload + ((10 - sum % 10) % 10).ToString(CultureInfo.InvariantCulture);
    }

    public static string NewTenant(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static async Task<string> FundedWalletAsync(this HttpClient client, string amount)
    {
        var wallet = await client.CreateWalletAsync();
        await client.DepositAsync(wallet, amount);
        return wallet;
    }

    public static Task<HttpResponseMessage> IssueAsync(
        this HttpClient client, string walletId, string cardNumber, object? spendingControls = null, string? idempotencyKey = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["wallet_id"] = walletId,
            ["cardholder_name"] = "Ada Lovelace",
            ["card_number"] = cardNumber,
        };
        if (spendingControls is not null)
        {
            body["spending_controls"] = spendingControls;
        }

        return client.PostJsonAsync("/v1/cards", body, idempotencyKey);
    }

    /// <summary>Issues a card with a fresh number on <paramref name="walletId"/>; returns the card.</summary>
    public static async Task<JsonElement> CreateCardAsync(this HttpClient client, string walletId, object? spendingControls = null) =>
        await (await client.IssueAsync(walletId, NewCardNumber(), spendingControls)).ExpectAsync(HttpStatusCode.Created);

    /// <summary>A funded wallet and a card on it; returns both ids.</summary>
    public static async Task<(string Wallet, string Card)> FundedCardAsync(this HttpClient client, string amount, object? spendingControls = null)
    {
        var wallet = await client.FundedWalletAsync(amount);
        return (wallet, (await client.CreateCardAsync(wallet, spendingControls)).Str("id"));
    }

    /// <summary>PATCHes a body serialized as is.</summary>
    public static async Task<HttpResponseMessage> PatchJsonAsync(this HttpClient client, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, path)
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        return await client.SendAsync(request);
    }

    public static async Task<JsonElement> GetCardAsync(this HttpClient client, string cardId) =>
        await (await client.GetAsync($"/v1/cards/{cardId}")).ExpectAsync(HttpStatusCode.OK);

    public static async Task<JsonElement> ChangeCardStatusAsync(this HttpClient client, string cardId, string change) =>
        await (await client.PostEmptyAsync($"/v1/cards/{cardId}/{change}")).ExpectAsync(HttpStatusCode.OK);

    public static Task<HttpResponseMessage> AuthorizeAsync(
        this HttpClient client, string cardId, string amount, string merchant = Merchant, string category = Grocery, string? country = null,
        string? idempotencyKey = null)
    {
        var body = new Dictionary<string, object?> { ["amount"] = amount, ["merchant_name"] = merchant, ["merchant_category"] = category };
        if (country is not null)
        {
            body["merchant_country"] = country;
        }

        return client.PostJsonAsync($"/v1/cards/{cardId}/authorizations", body, idempotencyKey);
    }

    /// <summary>An authorization that must be approved; returns it.</summary>
    public static async Task<JsonElement> ApproveAsync(this HttpClient client, string cardId, string amount, string category = Grocery)
    {
        var authorization = await (await client.AuthorizeAsync(cardId, amount, category: category)).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(("approved", true), (authorization.Str("status"), authorization.GetProperty("approved").GetBoolean()));
        return authorization;
    }

    public static async Task<JsonElement> GetAuthorizationAsync(this HttpClient client, string authorizationId) =>
        await (await client.GetAsync($"/v1/authorizations/{authorizationId}")).ExpectAsync(HttpStatusCode.OK);

    /// <summary>POSTs a capture, reverse or increment of an authorization.</summary>
    public static Task<HttpResponseMessage> ActAsync(this HttpClient client, string authorizationId, string action, object body) =>
        client.PostJsonAsync($"/v1/authorizations/{authorizationId}/{action}", body);

    /// <summary>
    /// Asserts a declined authorization: the status, the problem code, its <c>authorization_id</c> and
    /// <c>fraud</c> members, and that the decision recorded under that id is declined with the same
    /// code, detail and fraud reasons, holding nothing. Returns the problem.
    /// </summary>
    public static async Task<JsonElement> ExpectDeclinedAsync(this HttpResponseMessage response, HttpClient client, HttpStatusCode status, string code)
    {
        var problem = await response.ExpectProblemAsync(status, code);
        var fraud = problem.GetProperty("fraud");
        var recorded = await client.GetAuthorizationAsync(problem.Str("authorization_id"));
        Assert.Equal(("declined", false), (recorded.Str("status"), recorded.GetProperty("approved").GetBoolean()));
        Assert.Equal((code, problem.Str("detail")), (recorded.GetProperty("decline").Str("code"), recorded.GetProperty("decline").Str("detail")));
        Assert.Equal(fraud.GetProperty("score").GetDecimal(), recorded.GetProperty("fraud").GetProperty("score").GetDecimal());
        Assert.Equal(Reasons(fraud), Reasons(recorded.GetProperty("fraud")));
        Assert.Equal(JsonValueKind.Null, recorded.GetProperty("hold_id").ValueKind);
        Assert.Equal("0.00", recorded.Str("captured"));
        return problem;
    }

    public static List<string> Reasons(JsonElement fraud) =>
        [.. fraud.GetProperty("reasons").EnumerateArray().Select(r => r.GetString() ?? "")];

    /// <summary>The wallet's balances as GET shows them.</summary>
    public static async Task AssertBalancesAsync(this HttpClient client, string walletId, string posted, string pending, string available)
    {
        var balance = (await client.GetWalletAsync(walletId)).GetProperty("balance");
        Assert.Equal((posted, pending, available), (balance.Str("posted"), balance.Str("pending"), balance.Str("available")));
    }

    /// <summary>The whole ledger verifies: balances, entries, and every wallet's pending against its open holds.</summary>
    public static async Task AssertVerifiedAsync(this HttpClient operatorClient)
    {
        var report = await (await operatorClient.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(report.GetProperty("ok").GetBoolean(), $"verify: {report}");
    }

    /// <summary>Every item of a <c>{data, next_cursor}</c> list, following the cursor to the end.</summary>
    public static async Task<List<JsonElement>> ListAllAsync(this HttpClient client, string path, int limit = 200)
    {
        var items = new List<JsonElement>();
        var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        string? cursor = null;
        do
        {
            var page = await (await client.GetAsync($"{path}{separator}limit={limit.ToString(CultureInfo.InvariantCulture)}"
                + (cursor is null ? "" : $"&cursor={cursor}"))).ExpectAsync(HttpStatusCode.OK);
            items.AddRange(page.GetProperty("data").EnumerateArray());
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        return items;
    }

    /// <summary>The ids of a card's recorded decisions, newest first, optionally of one status.</summary>
    public static async Task<List<string>> DecisionIdsAsync(this HttpClient client, string cardId, string? status = null) =>
        [.. (await client.ListAllAsync($"/v1/cards/{cardId}/authorizations" + (status is null ? "" : $"?status={status}"))).Select(a => a.Str("id"))];
}
