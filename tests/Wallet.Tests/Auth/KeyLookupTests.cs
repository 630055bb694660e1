using System.Net;
using Npgsql;
using Wallet.Api.Infrastructure;
using Wallet.Grains.Storage;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Auth;

/// <summary>
/// A process's cache of API keys looks a key up once at a time, on the real store: the requests
/// that miss it meanwhile wait for that look-up, unless a revocation was heard since it began or the
/// request that made it went away. Each look-up is held at a gate so that the others arrive during it.
/// </summary>
public sealed class KeyLookupTests(ApiFixture api) : IClassFixture<ApiFixture>, IDisposable
{
    private const int Requests = 32;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(api.Factory.ConnectionString);

    public void Dispose() => _dataSource.Dispose();

    [Fact]
    public async Task RequestsMissingAKeyAtOnce_LookItUpOnce()
    {
        var key = await NewKeyAsync("stampede");
        var cache = ApiKeyAuthenticationHandler.NewCache();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lookups = 0;

        var found = Enumerable.Range(0, Requests).Select(_ => key.FindIn(cache, async () =>
        {
            Interlocked.Increment(ref lookups);
            await gate.Task;
            return await key.Find();
        })).ToList();
        gate.SetResult();

        Assert.All(await Task.WhenAll(found), identity => Assert.Equal("client", identity?.Role));
        Assert.Equal(1, lookups);
    }

    [Fact]
    public async Task ARequestAfterARevocationNotice_DoesNotTakeWhatALookUpReadBeforeIt()
    {
        var key = await NewKeyAsync("revoked during a look-up");
        var cache = ApiKeyAuthenticationHandler.NewCache();
        var read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The first request reads the key while it is valid, and is held before it returns.
        var first = key.FindIn(cache, async () =>
        {
            var identity = await key.Find();
            read.SetResult();
            await gate.Task;
            return identity;
        });
        await read.Task;
        Assert.NotNull(await key.Store.RevokeAsync(key.Id, "test", DateTimeOffset.UtcNow, CancellationToken.None));
        cache.Forget(CredentialRevocations.ApiKey(key.Id));

        var after = key.FindIn(cache);
        gate.SetResult();

        Assert.NotNull(await first);
        Assert.Null(await after);
        Assert.Null(await key.FindIn(cache));
    }

    [Fact]
    public async Task WhenTheRequestLookingUpGoesAway_TheOthersStillFindTheKey()
    {
        var key = await NewKeyAsync("abandoned look-up");
        var cache = ApiKeyAuthenticationHandler.NewCache();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gone = new CancellationTokenSource();

        var abandoned = key.FindIn(cache, async () =>
        {
            await gate.Task;
            return await key.Store.FindAsync(key.Key, gone.Token);
        });
        var others = Enumerable.Range(0, Requests).Select(_ => key.FindIn(cache)).ToList();
        await gone.CancelAsync();
        gate.SetResult();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.All(await Task.WhenAll(others), identity => Assert.Equal("client", identity?.Role));
    }

    [Fact]
    public async Task AFailedLookUp_FailsTheRequestsWaitingForIt_AndIsNotKept()
    {
        var key = await NewKeyAsync("failed look-up");
        var cache = ApiKeyAuthenticationHandler.NewCache();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var failing = key.FindIn(cache, async () =>
        {
            await gate.Task;
            throw new NpgsqlException("the database is unreachable");
        });
        var waiting = key.FindIn(cache);
        gate.SetResult();

        await Assert.ThrowsAsync<NpgsqlException>(() => failing);
        await Assert.ThrowsAsync<NpgsqlException>(() => waiting);
        Assert.Equal("client", (await key.FindIn(cache))?.Role);
    }

    /// <summary>A new client key of a new tenant, never used, with the store on the test's database.</summary>
    private async Task<NewKey> NewKeyAsync(string name)
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("lookups");
        var made = await (await tenant.PostJsonAsync("/v1/api-keys", new { tenant_id = tenantId, name })).ExpectAsync(HttpStatusCode.Created);
        return new NewKey(made.Str("key"), new ApiKeyStore(_dataSource));
    }

    private sealed record NewKey(string Key, ApiKeyStore Store)
    {
        public string Hash => ApiKeyStore.Hash(Key);

        public string Id => ApiKeyAuthenticationHandler.KeyId(Hash);

        /// <summary>The store's look-up, as a request makes it.</summary>
        public Task<ApiKeyIdentity?> Find() => Store.FindAsync(Key, CancellationToken.None);

        /// <summary>The key through <paramref name="cache"/>, looked up by <paramref name="find"/> (the store's by default) on a miss.</summary>
        public Task<ApiKeyIdentity?> FindIn(IdentityCache<ApiKeyIdentity> cache, Func<Task<ApiKeyIdentity?>>? find = null) =>
            cache.FindAsync(Hash, TimeProvider.System, find ?? Find);
    }
}
