using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The API as a client sees it: JSON in, JSON out, read as <see cref="JsonElement"/> by the names on
/// the wire (snake_case), never through the product's own records, so a renamed field fails a test.
/// </summary>
internal static class ApiCalls
{
    public const string ProblemContentType = "application/problem+json";

    /// <summary>POSTs a body (an object serialized as is, or a string taken as raw JSON) with an optional Idempotency-Key.</summary>
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body, string? idempotencyKey = null)
    {
        var json = body as string ?? JsonSerializer.Serialize(body);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return SendAsync(client, request);
    }

    /// <summary>
    /// POSTs as a client would under contention: a 503 (a transaction aborted too often, or in doubt)
    /// is sent again with the same Idempotency-Key until the ledger answers for good.
    /// </summary>
    public static async Task<HttpResponseMessage> PostUntilDecidedAsync(this HttpClient client, string path, object body)
    {
        var key = NewKey();
        for (var attempt = 1; ; attempt++)
        {
            var response = await client.PostJsonAsync(path, body, key);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 20)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(200);
        }
    }

    /// <summary>A POST with no body, as the freeze, unfreeze and close routes take.</summary>
    public static Task<HttpResponseMessage> PostEmptyAsync(this HttpClient client, string path) =>
        SendAsync(client, new HttpRequestMessage(HttpMethod.Post, path));

    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts the status and returns the JSON body; the failure message shows the body.</summary>
    public static async Task<JsonElement> ExpectAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status,
            $"expected {(int)status} from {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem: the status, the content type and the stable <c>code</c>.</summary>
    public static async Task<JsonElement> ExpectProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var problem = await response.ExpectAsync(status);
        Assert.Equal(ProblemContentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, problem.Str("code"));
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.Str("detail")), "a problem says what went wrong in its detail");
        return problem;
    }

    public static async Task<string> CreateWalletAsync(this HttpClient client, string currency = "USD", string? ownerId = null, string? overdraftLimit = null)
    {
        var body = new Dictionary<string, object?> { ["currency"] = currency };
        if (ownerId is not null)
        {
            body["owner_id"] = ownerId;
        }

        if (overdraftLimit is not null)
        {
            body["overdraft_limit"] = overdraftLimit;
        }

        var wallet = await (await client.PostJsonAsync("/v1/wallets", body)).ExpectAsync(HttpStatusCode.Created);
        return wallet.Str("id");
    }

    public static async Task<JsonElement> GetWalletAsync(this HttpClient client, string walletId) =>
        await (await client.GetAsync($"/v1/wallets/{walletId}")).ExpectAsync(HttpStatusCode.OK);

    /// <summary>The wallet's posted balance as the API shows it ("100.00").</summary>
    public static async Task<string> PostedAsync(this HttpClient client, string walletId) =>
        (await client.GetWalletAsync(walletId)).GetProperty("balance").Str("posted");

    /// <summary>A shorthand (deposit, withdraw, spend, bonus) that must succeed; returns the transfer.</summary>
    public static async Task<JsonElement> MoveAsync(this HttpClient client, string walletId, string shorthand, string amount) =>
        await (await client.PostJsonAsync($"/v1/wallets/{walletId}/{shorthand}", new { amount })).ExpectAsync(HttpStatusCode.Created);

    public static Task<JsonElement> DepositAsync(this HttpClient client, string walletId, string amount) => client.MoveAsync(walletId, "deposit", amount);

    public static Task<HttpResponseMessage> TransferAsync(this HttpClient client, string source, string destination, string amount, string? currency = null) =>
        client.PostJsonAsync("/v1/transfers", currency is null ? new { source, destination, amount } : new { source, destination, amount, currency });

    /// <summary>Every history item of a wallet, newest first, following next_cursor to the end.</summary>
    public static async Task<List<JsonElement>> HistoryAsync(this HttpClient client, string walletId, int limit = 200)
    {
        var items = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var path = $"/v1/wallets/{walletId}/history?limit={limit.ToString(CultureInfo.InvariantCulture)}" + (cursor is null ? "" : $"&cursor={cursor}");
            var page = await (await client.GetAsync(path)).ExpectAsync(HttpStatusCode.OK);
            items.AddRange(page.GetProperty("data").EnumerateArray());
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        return items;
    }

    public static string Str(this JsonElement element, string name) =>
        element.GetProperty(name).GetString() ?? throw new InvalidOperationException($"{name} is null in {element}");

    public static string? Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    public static string NewKey() => "key-" + Guid.NewGuid().ToString("N");

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using (request)
        {
            return await client.SendAsync(request);
        }
    }
}
