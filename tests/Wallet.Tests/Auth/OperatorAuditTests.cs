using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Wallet.Tests.Transactions;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>
/// The actions that change how money may move are in the tenant's audit trail, by whoever took
/// them, written in the transaction of the change: a refused change leaves no row, and a row that
/// cannot be written takes the change with it.
/// </summary>
public sealed class OperatorAuditTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Freezes_ByAPerson_AreTheirs_WithWhatChanged_AndRefusedOnesLeaveNothing()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("audit-freeze");
        var wallet = await tenant.CreateWalletAsync();
        var card = (await tenant.CreateCardAsync(wallet)).Str("id");
        using var anonymous = api.Factory.CreateClient();
        var (email, authenticator) = await People.WithSecondFactorAsync(tenant, anonymous, "support");
        using var support = await SignedInAsync(email, authenticator);
        var person = (await (await support.GetAsync("/v1/auth/me")).ExpectAsync(HttpStatusCode.OK)).Str("id");

        await (await support.PostJsonAsync($"/v1/wallets/{wallet}/freeze", new { })).ExpectAsync(HttpStatusCode.OK);
        await (await support.PostJsonAsync($"/v1/wallets/{wallet}/unfreeze", new { })).ExpectAsync(HttpStatusCode.OK);
        await (await support.PostJsonAsync($"/v1/cards/{card}/freeze", new { })).ExpectAsync(HttpStatusCode.OK);
        await (await tenant.PostJsonAsync($"/v1/cards/{card}/cancel", new { })).ExpectAsync(HttpStatusCode.OK);
        // Refused: a cancelled card stays cancelled; support may not close a wallet.
        await (await support.PostJsonAsync($"/v1/cards/{card}/unfreeze", new { })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "card_cancelled");
        await (await support.PostJsonAsync($"/v1/wallets/{wallet}/close", new { })).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var rows = await AuditAsync(tenant, "wallet.", "card.");
        Assert.Equal(
            [
                ("wallet.frozen", wallet, $"user:{person}", "active", "frozen"),
                ("wallet.unfrozen", wallet, $"user:{person}", "frozen", "active"),
                ("card.frozen", card, $"user:{person}", "active", "frozen"),
                ("card.cancelled", card, rows[3].Actor, "frozen", "cancelled"),
            ],
            rows);
        Assert.StartsWith("api_key:ak_", rows[3].Actor, StringComparison.Ordinal);
        Assert.True((await (await tenant.GetAsync("/v1/audit/verify")).ExpectAsync(HttpStatusCode.OK)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task FraudRules_Budgets_AndRoles_AreAudited_WithTheirNewValues()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("audit-settings");
        await (await tenant.PutAsJsonAsync("/v1/fraud-rules", new { max_amount = "800.00" })).ExpectAsync(HttpStatusCode.OK);
        await (await tenant.PutAsJsonAsync("/v1/system-accounts/treasury/budget", new { currency = "USD", amount = "1000.00" })).ExpectAsync(HttpStatusCode.OK);
        await (await tenant.PutAsJsonAsync("/v1/system-accounts/treasury/budget", new { currency = "USD", amount = (string?)null })).ExpectAsync(HttpStatusCode.OK);
        var invited = await (await tenant.PostJsonAsync("/v1/users", new { email = $"roles.{Guid.NewGuid():N}@example.com", roles = new[] { "support" } }))
            .ExpectAsync(HttpStatusCode.Created);
        var changed = await (await tenant.PatchAsJsonAsync($"/v1/users/{invited.Str("id")}", new { roles = new[] { "finance", "support", "finance" } }))
            .ExpectAsync(HttpStatusCode.OK);
        await (await tenant.PatchAsJsonAsync("/v1/users/usr_nobody", new { roles = new[] { "finance" } })).ExpectProblemAsync(HttpStatusCode.NotFound, "user_not_found");
        await (await tenant.PatchAsJsonAsync($"/v1/users/{invited.Str("id")}", new { roles = new[] { "owner" } })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal(["finance", "support"], changed.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        var rules = (await Rows(tenant, "fraud_rules.replaced")).Single();
        Assert.Equal(("800.00", 1), (rules.GetProperty("details").GetProperty("rules").Str("max_amount"), rules.GetProperty("details").GetProperty("version").GetInt32()));
        var budgets = await Rows(tenant, "budget.set");
        Assert.Equal(["@treasury", "@treasury"], budgets.Select(r => r.Str("target")));
        Assert.Equal([null, "1000.00"], budgets.Select(r => r.GetProperty("details").GetProperty("budget").GetString()));
        var roles = (await Rows(tenant, "user.roles_changed")).Single();
        Assert.Equal(invited.Str("id"), roles.Str("target"));
        Assert.Equal(["support"], roles.GetProperty("details").GetProperty("from").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(["finance", "support"], roles.GetProperty("details").GetProperty("to").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task FraudRules_WhoseAuditRowCannotBeWritten_AreNotReplaced()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("audit-atomic");
        await (await tenant.PutAsJsonAsync("/v1/fraud-rules", new { max_amount = "800.00" })).ExpectAsync(HttpStatusCode.OK);
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        // The tenant's audit trail refuses rows for a moment (a full disk, a lost lock would do the same).
        var trigger = $"refuse_{Guid.NewGuid():N}";
        await connection.ExecuteAsync($"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no audit row now'; END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.tenant_id = '{tenantId}') EXECUTE FUNCTION {trigger}();
            """);
        try
        {
            // A client that does not hold answers to the OpenAPI document: a 500 is in none of its routes.
            using var plain = api.Factory.Server.CreateClient();
            plain.DefaultRequestHeaders.Authorization = tenant.DefaultRequestHeaders.Authorization;
            using var refused = await plain.PutAsJsonAsync("/v1/fraud-rules", new { max_amount = "1.00" });
            Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
        }
        finally
        {
            await connection.ExecuteAsync($"DROP TRIGGER {trigger} ON audit_log; DROP FUNCTION {trigger}();");
        }

        // The store's cache may hold what it wrote last; the database has the rules of before.
        await using var read = new NpgsqlCommand("SELECT rules->>'max_amount', version FROM fraud_rules WHERE tenant_id = @tenant", connection);
        read.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await read.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("800.00", 1), (reader.GetString(0), reader.GetInt32(1)));
    }

    private async Task<HttpClient> SignedInAsync(string email, OtpNet.Totp authenticator)
    {
        using var anonymous = api.Factory.CreateClient();
        var challenge = await (await anonymous.PostJsonAsync("/v1/auth/login", new { email, password = People.Password })).ExpectAsync(HttpStatusCode.Accepted);
        var tokens = await (await anonymous.PostJsonAsync("/v1/auth/login/mfa", new { mfa_token = challenge.Str("mfa_token"), code = People.NextCode(authenticator) }))
            .ExpectAsync(HttpStatusCode.OK);
        var client = api.Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.Str("access_token"));
        return client;
    }

    /// <summary>The tenant's audit rows whose action starts with one of <paramref name="prefixes"/>, oldest first.</summary>
    private static async Task<List<(string Action, string Target, string Actor, string From, string To)>> AuditAsync(HttpClient tenant, params string[] prefixes) =>
        (await (await tenant.GetAsync("/v1/audit?limit=200")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray()
            .Where(r => prefixes.Any(p => r.Str("action").StartsWith(p, StringComparison.Ordinal)))
            .Select(r => (r.Str("action"), r.Str("target"), r.Str("actor"), r.GetProperty("details").Str("from"), r.GetProperty("details").Str("to")))
            .Reverse().ToList();

    /// <summary>The tenant's audit rows of <paramref name="action"/>, newest first.</summary>
    private static async Task<List<JsonElement>> Rows(HttpClient tenant, string action) =>
        (await (await tenant.GetAsync($"/v1/audit?action={action}")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
}
