using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// The silo with its HTTP API, in process, over a fresh database of the test PostgreSQL. Each test
/// class gets its own database through <see cref="CreateAsync"/>, so no test sees another's rows.
/// </summary>
public sealed class WalletApiFactory : WebApplicationFactory<Program>
{
    public const string OperatorKey = "test-operator-key";
    public const string CardNumberHashKey = "test-card-number-hash-key-of-32-chars";

    public const string SigningKey = "test-access-token-signing-key-of-32-chars";

    public const string MfaKey = "test-second-factor-sealing-key-of-32-chars";

    private readonly string _connectionString;
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    private WalletApiFactory(string connectionString, Dictionary<string, string?> settings, Action<IServiceCollection>? services)
    {
        _connectionString = connectionString;
        _settings = settings;
        _services = services;
    }

    public string ConnectionString => _connectionString;

    /// <summary>The silo over a fresh database; <paramref name="services"/> adds to its services (a test's own observers).</summary>
    public static async Task<WalletApiFactory> CreateAsync(string name, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null) =>
        Start(await PostgresServer.CreateDatabaseAsync(name), settings, services);

    /// <summary>
    /// The silo over a database that exists already, such as the one of a factory disposed before:
    /// a restart, with the rows the earlier silo left.
    /// </summary>
    public static WalletApiFactory Start(string connectionString, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var factory = new WalletApiFactory(connectionString, settings ?? [], services);
        try
        {
            _ = factory.Server; // start now: migrations run and the bootstrap key exists before the first call
        }
        catch
        {
            factory.Dispose();
            throw;
        }

        return factory;
    }

    /// <summary>
    /// A client as <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/> makes one (it follows
    /// redirects and keeps cookies), whose every answer is checked against the OpenAPI document
    /// (<see cref="OpenApiConformance"/>).
    /// </summary>
    public new HttpClient CreateClient() =>
        CreateDefaultClient(new Uri("http://localhost"), new RedirectHandler(), new CookieContainerHandler(), new OpenApiConformance.Handler());

    /// <summary>A client authenticated with the bootstrap operator key of the default tenant.</summary>
    public HttpClient CreateOperatorClient() => WithKey(CreateClient(), OperatorKey);

    /// <summary>A client of another tenant, with a client-role key issued by the operator.</summary>
    public async Task<HttpClient> CreateTenantClientAsync(string tenantId, string role = "client")
    {
        using var operatorClient = CreateOperatorClient();
        var response = await operatorClient.PostAsJsonAsync("/v1/api-keys", new { tenant_id = tenantId, role });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        return WithKey(CreateClient(), body!["key"]);
    }

    /// <summary>
    /// A tenant of its own (<paramref name="prefix"/> and a random part) with an operator key: what a
    /// test declares or sets there, no other test sees.
    /// </summary>
    public async Task<(string TenantId, HttpClient Client)> CreateOperatorTenantAsync(string prefix)
    {
        var tenantId = $"{prefix}-{Guid.NewGuid():N}";
        return (tenantId, await CreateTenantClientAsync(tenantId, role: UserRoles.Operator));
    }

    public T GetService<T>() where T : notnull => Services.GetRequiredService<T>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Wallet", _connectionString);
        builder.UseSetting("Bootstrap:ApiKey", OperatorKey);
        builder.UseSetting("Cards:NumberHashKey", CardNumberHashKey);
        builder.UseSetting("Auth:SigningKey", SigningKey);
        builder.UseSetting("Auth:MfaKey", MfaKey);
        // Every test signs in from the one address: its per-address limit is lifted (RateLimitTests sets its own).
        builder.UseSetting("RateLimits:SignInPerAddressPerMinute", "100000");
        // Test classes run side by side, each with its own silo: each gets ports of its own.
        builder.UseSetting("Cluster:SiloPort", FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Cluster:GatewayPort", FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }

    private static HttpClient WithKey(HttpClient client, string key)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}

/// <summary>JSON helpers for tests, with the API's own snake_case options.</summary>
public static class ApiJson
{
    public static Task<T?> ReadAsync<T>(this HttpContent content) => content.ReadFromJsonAsync<T>(WalletJson.Options);
}
