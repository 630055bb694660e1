using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Api.Auth;
using Wallet.Grains.Auth;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>
/// Roles and permissions: the README's permission table names every route the silo serves (and no
/// other), and every route answers every role as the table says, for people and for API keys alike.
/// </summary>
public sealed partial class PermissionTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string Password = "correct horse battery staple";

    [Fact]
    public async Task EveryRoute_WithEveryRole_IsRefusedExactlyWhereThePermissionTableSays()
    {
        var table = ReadPermissionTable();
        var served = ServedRoutes();
        Assert.Equal(served.Keys.Order(StringComparer.Ordinal), table.Keys.Order(StringComparer.Ordinal));

        var tenantId = $"perm-{Guid.NewGuid():N}";
        var tokens = api.Factory.GetService<AccessTokens>();
        var callers = new List<(string Role, string Kind, HttpClient Client)>();
        foreach (var role in UserRoles.All)
        {
            // A person (signed in with a second factor, as an operator must be) and a service's key, each with this one role.
            var person = new UserView($"usr_{Guid.NewGuid():N}", tenantId, $"{role}@perm.example", [role], UserView.Active, DateTimeOffset.UtcNow);
            callers.Add((role, "person", Plain(tokens.Issue(person, multiFactor: true))));
            callers.Add((role, "api key", Plain(await CreateKeyAsync(tenantId, role))));
        }

        var wrong = new List<string>();
        foreach (var (route, allowed) in table)
        {
            foreach (var (role, kind, client) in callers)
            {
                using var response = await client.SendAsync(RequestFor(route, served[route]));
                var code = await CodeAsync(response);
                var refused = response.StatusCode is HttpStatusCode.Forbidden && code == "forbidden";
                if (response.StatusCode is HttpStatusCode.Unauthorized || refused == allowed.Contains(role))
                {
                    wrong.Add($"{route} as {role} ({kind}): {(int)response.StatusCode} {code}, the table says {(allowed.Contains(role) ? "allowed" : "refused")}");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        // The walk saw both answers, so neither check above held by default.
        Assert.Contains(table.Values, roles => roles.Count == UserRoles.All.Count);
        Assert.Contains(table.Values, roles => roles.Count == 1);
        foreach (var (_, _, client) in callers)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task ASupportPerson_ReadsAndFreezes_ButCannotMoveMoney()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("perm-support");
        var wallet = await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "USD" })).ExpectAsync(HttpStatusCode.Created);
        var walletId = wallet.Str("id");
        var email = $"support.{Guid.NewGuid():N}@example.com";
        var invited = await (await tenant.PostJsonAsync("/v1/users", new { email, roles = new[] { "support" } })).ExpectAsync(HttpStatusCode.Created);
        await (await api.Client.PostJsonAsync("/v1/auth/invitations/accept", new { invitation_token = invited.Str("invitation_token"), password = Password }))
            .ExpectAsync(HttpStatusCode.OK);
        var signedIn = await (await api.Client.PostJsonAsync("/v1/auth/login", new { email, password = Password })).ExpectAsync(HttpStatusCode.OK);
        using var support = api.Factory.CreateClient();
        support.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", signedIn.Str("access_token"));

        var refused = await (await support.PostJsonAsync($"/v1/wallets/{walletId}/deposit", new { amount = "10.00" }, Guid.NewGuid().ToString()))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("transact", refused.Str("detail"), StringComparison.Ordinal);
        await (await support.PostJsonAsync("/v1/transfers", new { source = "@treasury", destination = walletId, amount = "10.00" }, Guid.NewGuid().ToString()))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await support.PostJsonAsync("/v1/wallets", new { currency = "USD" })).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal("0.00", (await (await support.GetAsync($"/v1/wallets/{walletId}")).ExpectAsync(HttpStatusCode.OK)).GetProperty("balance").Str("posted"));
        var frozen = await (await support.PostJsonAsync($"/v1/wallets/{walletId}/freeze", new { }, Guid.NewGuid().ToString())).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("frozen", frozen.Str("status"));
        await (await support.GetAsync("/v1/audit")).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(tenantId, (await (await support.GetAsync("/v1/auth/me")).ExpectAsync(HttpStatusCode.OK)).Str("tenant_id"));
    }

    [Fact]
    public async Task AClientKeyOfOneTenant_DoesNotSeeAnotherTenantsWallet()
    {
        using var first = await api.Factory.CreateTenantClientAsync($"perm-a-{Guid.NewGuid():N}");
        using var second = await api.Factory.CreateTenantClientAsync($"perm-b-{Guid.NewGuid():N}");
        var walletId = (await (await first.PostJsonAsync("/v1/wallets", new { currency = "USD" })).ExpectAsync(HttpStatusCode.Created)).Str("id");

        await (await first.GetAsync($"/v1/wallets/{walletId}")).ExpectAsync(HttpStatusCode.OK);
        await (await second.GetAsync($"/v1/wallets/{walletId}")).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await second.PostJsonAsync($"/v1/wallets/{walletId}/freeze", new { }, Guid.NewGuid().ToString()))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
    }

    /// <summary>Each route the table lists (<c>METHOD /path</c>) with the roles it ticks.</summary>
    private static Dictionary<string, HashSet<string>> ReadPermissionTable()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryPaths.Root(), "README.md"));
        var header = Array.FindIndex(lines, l => l.StartsWith("| permission | routes |", StringComparison.Ordinal));
        Assert.True(header >= 0, "the README has no permission table");
        var roles = lines[header].Split('|', StringSplitOptions.TrimEntries)[3..^1];
        Assert.Equal(UserRoles.All, roles);
        var table = new Dictionary<string, HashSet<string>>();
        foreach (var line in lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|')))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries)[1..^1];
            var allowed = roles.Where((_, i) => cells[2 + i] == "✓").ToHashSet();
            foreach (Match route in RouteInTable().Matches(cells[1]))
            {
                Assert.True(table.TryAdd(route.Groups[1].Value, allowed), $"{route.Groups[1].Value} is in the permission table twice");
            }
        }

        return table;
    }

    /// <summary>
    /// Every route that takes a credential (all but <c>/v1/auth</c>, the dashboard, health and
    /// documents), as <c>METHOD /path</c>, with the type of body it takes.
    /// </summary>
    private Dictionary<string, string> ServedRoutes() =>
        api.Factory.GetService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (
                Path: "/" + e.RoutePattern.RawText!.Trim('/'),
                Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"],
                Body: e.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes.FirstOrDefault() ?? "application/json"))
            .Where(e => (e.Path.StartsWith("/v1/", StringComparison.Ordinal) && !e.Path.StartsWith("/v1/auth/", StringComparison.Ordinal)) || e.Path == "/metrics")
            .SelectMany(e => e.Methods.Select(m => (Route: $"{m} {e.Path}", e.Body)))
            .ToDictionary(e => e.Route, e => e.Body);

    /// <summary>The route called with its ids unknown and an empty body of its type: an allowed caller gets a 400 or a 404, never a 403.</summary>
    private static HttpRequestMessage RequestFor(string route, string body)
    {
        var (method, path) = (route[..route.IndexOf(' ')], route[(route.IndexOf(' ') + 1)..]);
        var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{account}", "treasury").Replace("{id}", "missing"));
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = body == "multipart/form-data" ? new MultipartFormDataContent() : new StringContent("{}", Encoding.UTF8, body);
        }

        return request;
    }

    private static async Task<string?> CodeAsync(HttpResponseMessage response)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return null;
        }

        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return problem.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
    }

    private async Task<string> CreateKeyAsync(string tenantId, string role) =>
        (await (await api.Client.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, role })).ExpectAsync(HttpStatusCode.Created)).Str("key");

    /// <summary>A client that does not check answers against the OpenAPI document: the walk sends bodies no route documents.</summary>
    private HttpClient Plain(string bearer)
    {
        var client = api.Factory.Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    [GeneratedRegex(@"`([A-Z]+ /[^`]+)`")]
    private static partial Regex RouteInTable();
}
