using System.Net;
using System.Net.Http.Headers;
using Npgsql;
using Wallet.Grains.Storage;
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
        await ExpiresInAsync(stale.Str("id"), TimeSpan.FromSeconds(-1));

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

    [Fact]
    public async Task AKeyInUse_RevokedHere_IsRefusedAtOnce_AndRevokedByAnotherProcess_WithinMoments()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("revocation");
        var here = await KeyInUseAsync(tenant, tenantId, "here");
        using var hereClient = here.Client;
        var elsewhere = await KeyInUseAsync(tenant, tenantId, "elsewhere");
        using var elsewhereClient = elsewhere.Client;

        await (await tenant.DeleteAsync($"/v1/api-keys/{here.Id}")).ExpectAsync(HttpStatusCode.OK);
        await (await hereClient.GetAsync("/v1/wallets")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");

        // Revoked as another silo or API process would: only the database's notice reaches this one.
        await RevokeElsewhereAsync(elsewhere.Id);
        Assert.True(await RefusedWithinAsync(elsewhereClient, TimeSpan.FromSeconds(5)), "a key revoked by another process was still accepted 5 s later");
    }

    [Fact]
    public async Task ARevocationMissedWhileNotListening_StillEndsTheCachedKey()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("revocation");
        var made = await KeyInUseAsync(tenant, tenantId, "cached");
        using var client = made.Client;

        // The listener's connection dies; the key is revoked before it listens again, so its notice is lost.
        await using (var connection = new NpgsqlConnection(api.Factory.ConnectionString))
        {
            await connection.OpenAsync();
            // The listeners are found first (a materialized CTE), so that no other session is ended.
            await using var terminate = new NpgsqlCommand("""
                WITH listeners AS MATERIALIZED (
                    SELECT pid FROM pg_stat_activity WHERE application_name = @name AND datname = current_database())
                SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM listeners
                """, connection);
            terminate.Parameters.AddWithValue("name", Wallet.Api.Infrastructure.RevokedCredentialsListener.ApplicationName);
            Assert.True((long)(await terminate.ExecuteScalarAsync())! >= 1, "no session listens for revoked credentials");
        }

        await RevokeElsewhereAsync(made.Id);

        // Listening again, it forgets every cached credential: the key is looked up, and refused.
        Assert.True(await RefusedWithinAsync(client, TimeSpan.FromSeconds(10)), "a key revoked while the listener was reconnecting was still accepted 10 s later");
    }

    [Fact]
    public async Task AKeyInUse_IsRefusedOnceItExpires_ThoughItsCacheTimeHasNotRunOut()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("revocation");
        var made = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name = "short-lived" })).ExpectAsync(HttpStatusCode.Created);
        await ExpiresInAsync(made.Str("id"), TimeSpan.FromSeconds(2));

        using var client = WithKey(made.Str("key"));
        (await client.GetAsync("/v1/wallets")).EnsureSuccessStatusCode();

        Assert.True(await RefusedWithinAsync(client, TimeSpan.FromSeconds(5)), "a key was still accepted 3 s after it expired");
    }

    /// <summary>
    /// A new key of the tenant, and a client with it whose first request succeeded: the key is in use,
    /// so this process holds it in its cache (for 30 s unless told otherwise).
    /// </summary>
    private async Task<(string Id, HttpClient Client)> KeyInUseAsync(HttpClient tenant, string tenantId, string name)
    {
        var made = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name })).ExpectAsync(HttpStatusCode.Created);
        var client = WithKey(made.Str("key"));
        (await client.GetAsync("/v1/wallets")).EnsureSuccessStatusCode();
        return (made.Str("id"), client);
    }

    /// <summary>Sets the key's expiry to the database's now plus <paramref name="fromNow"/> (in the past when negative).</summary>
    private async Task ExpiresInAsync(string keyId, TimeSpan fromNow)
    {
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE api_keys SET expires_at = now() + @from_now WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", keyId);
        command.Parameters.AddWithValue("from_now", fromNow);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private async Task RevokeElsewhereAsync(string keyId)
    {
        await using var dataSource = NpgsqlDataSource.Create(api.Factory.ConnectionString);
        Assert.NotNull(await new ApiKeyStore(dataSource).RevokeAsync(keyId, "test", DateTimeOffset.UtcNow, CancellationToken.None));
    }

    private static async Task<bool> RefusedWithinAsync(HttpClient client, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            using var response = await client.GetAsync("/v1/wallets");
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                return true;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(50);
        }

        return false;
    }

    private HttpClient WithKey(string key)
    {
        var client = api.Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
