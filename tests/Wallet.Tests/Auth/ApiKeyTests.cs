using System.Net;
using System.Net.Http.Headers;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>API keys with a name, an expiry, their last use and revocation; listed without the key, audited by id.</summary>
public sealed class ApiKeyTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Keys_Named_Listed_Revoked_AndExpired_AreRefusedOnceDone()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("keys");
        var made = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name = "payouts service", expires_in_days = 90 }))
            .ExpectAsync(HttpStatusCode.Created);
        var spare = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name = "spare" })).ExpectAsync(HttpStatusCode.Created);
        var stale = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name = "stale" })).ExpectAsync(HttpStatusCode.Created);
        using var service = WithKey(made.Str("key"));
        (await service.GetAsync("/v1/wallets")).EnsureSuccessStatusCode();

        var listed = (await (await tenant.GetAsync("/v1/api-keys")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        var payouts = listed.Single(k => k.Str("id") == made.Str("id"));
        Assert.Equal(("payouts service", "client"), (payouts.Str("name"), payouts.Str("role")));
        Assert.StartsWith("ak_", made.Str("id"), StringComparison.Ordinal);
        Assert.InRange(payouts.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromDays(89), TimeSpan.FromDays(90));
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, payouts.GetProperty("last_used_at").ValueKind);
        Assert.False(payouts.TryGetProperty("key", out _));

        // A key never used (so no silo holds it in its cache) is refused at once when revoked; one past its expiry too.
        var revoked = await (await tenant.DeleteAsync($"/v1/api-keys/{spare.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, revoked.GetProperty("revoked_at").ValueKind);
        using var spareClient = WithKey(spare.Str("key"));
        await (await spareClient.GetAsync("/v1/wallets")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        await using (var connection = new NpgsqlConnection(api.Factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = @id", connection);
            command.Parameters.AddWithValue("id", stale.Str("id"));
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        using var staleClient = WithKey(stale.Str("key"));
        await (await staleClient.GetAsync("/v1/wallets")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        await (await tenant.DeleteAsync("/v1/api-keys/ak_0000000000000000")).ExpectProblemAsync(HttpStatusCode.NotFound, "api_key_not_found");

        var audit = await (await tenant.GetAsync("/v1/audit")).ExpectAsync(HttpStatusCode.OK);
        // After the tenant's own operator key, made first.
        var rows = audit.GetProperty("data").EnumerateArray().Reverse().Skip(1).Select(r => (r.Str("action"), r.Str("target"))).ToList();
        Assert.Equal([("api_key.created", made.Str("id")), ("api_key.created", spare.Str("id")), ("api_key.created", stale.Str("id")), ("api_key.revoked", spare.Str("id"))], rows);
        foreach (var key in (string[])[made.Str("key"), spare.Str("key"), stale.Str("key")])
        {
            Assert.DoesNotContain(key, audit.GetRawText(), StringComparison.Ordinal);
        }

        Assert.StartsWith("api_key:ak_", audit.GetProperty("data")[0].Str("actor"), StringComparison.Ordinal);
    }

    private HttpClient WithKey(string key)
    {
        var client = api.Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
