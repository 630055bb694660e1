using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// One API server over one fresh database, shared by the tests of a class (xunit runs a class's
/// tests one after another, so they never race each other on it). Each test still makes its own
/// wallets and asserts on them only.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    private WalletApiFactory? _factory;
    private HttpClient? _client;

    public WalletApiFactory Factory => _factory ?? throw new InvalidOperationException("The fixture is not initialized.");

    /// <summary>The default tenant, with the operator key.</summary>
    public HttpClient Client => _client ?? throw new InvalidOperationException("The fixture is not initialized.");

    public LedgerDatabase Database => new(Factory.ConnectionString);

    public async Task InitializeAsync()
    {
        _factory = await WalletApiFactory.CreateAsync("api");
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
}
