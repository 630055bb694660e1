using System.Diagnostics;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Ledger;
using Wallet.Grains.Wallets;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Cluster;

/// <summary>
/// Three Orleans silos over one database (<see cref="WalletTestCluster"/>): membership in the
/// ledger's PostgreSQL, failover of a killed silo's wallets to the survivors, and a restarted silo
/// rejoining. Each test deploys a cluster of its own over a database of its own.
/// </summary>
public sealed class ClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Tenant = "default";
    private const int SiloCount = 3;

    // Orleans' SiloStatus as the membership table stores it.
    private const int Active = 3;
    private const int Dead = 6;

    // The issue's bound: a dead silo's grains serve again within 10 s.
    private static readonly TimeSpan FailoverMax = TimeSpan.FromSeconds(10);

    private TestCluster _cluster = null!;
    private string _connectionString = "";

    private IClusterClient Client => _cluster.Client;

    public async Task InitializeAsync() => (_cluster, _connectionString) = await WalletTestCluster.StartAsync("cluster", SiloCount);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Join_ThreeSilos_AllActiveInTheTableAndInEverySilosView()
    {
        var rows = await MembershipRowsAsync();

        Assert.Equal(SiloCount, rows.Count(r => r.Status == Active));
        Assert.Equal(SiloCount, rows.Where(r => r.Status == Active).Select(r => r.Port).Distinct().Count());
        var hosts = await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(
            _cluster.Silos.Select(s => s.SiloAddress.ToString()).Order(),
            hosts.Keys.Select(k => k.ToString()).Order());
    }

    /// <summary>The references <see cref="LedgerGrains"/> makes without reflection are those Orleans resolves, and they dispatch.</summary>
    [Fact]
    public async Task LedgerGrains_MakeTheReferencesOrleansResolves()
    {
        var (wallet, card) = ((GrainReference)Client.Wallet("wal_x"), (GrainReference)Client.Card("card_x"));
        var (resolvedWallet, resolvedCard) = ((GrainReference)Client.GetGrain<IWalletGrain>("wal_x"), (GrainReference)Client.GetGrain<ICardGrain>("card_x"));

        Assert.Equal((resolvedWallet.GrainId, resolvedWallet.InterfaceType), (wallet.GrainId, wallet.InterfaceType));
        Assert.Equal((resolvedCard.GrainId, resolvedCard.InterfaceType), (card.GrainId, card.InterfaceType));
        Assert.Equal(LedgerErrors.WalletNotFound, (await Client.Wallet("wal_missing").Get(Tenant)).Failure?.Code);
        Assert.Equal(LedgerErrors.CardNotFound, (await Client.Card("card_missing").Get(Tenant)).Failure?.Code);
    }

    [Fact]
    public async Task Transfer_BetweenWalletsOnDifferentSilos_MovesTheMoneyOnceAndVerifies()
    {
        var wallets = new List<string>();
        var management = Client.GetGrain<IManagementGrain>(0);
        var hosts = new HashSet<SiloAddress>();
        // Orleans places new activations where it likes: make wallets until two silos hold one each.
        for (var i = 0; i < 30 && hosts.Count < 2; i++)
        {
            var wallet = await CreateFundedWalletAsync("40.00");
            if (await management.GetActivationAddress(Client.GetGrain<IWalletGrain>(wallet)) is { } host && hosts.Add(host))
            {
                wallets.Add(wallet);
            }
        }

        Assert.Equal(2, wallets.Count);
        var result = await Client.GetGrain<IWalletGrain>(wallets[0]).Transfer(Transfer(wallets[0], wallets[1], "15.00"));

        Assert.Null(result.Failure);
        Assert.Equal("25.00", (await BalanceAsync(wallets[0])).Posted);
        Assert.Equal("55.00", (await BalanceAsync(wallets[1])).Posted);
        Assert.True((await VerifyAsync()).Ok);
    }

    [Fact]
    public async Task Kill_TheSiloHostingAWallet_NextCallSucceedsOnASurvivorWithTheBalanceIntact()
    {
        var wallet = await CreateFundedWalletAsync("100.00");
        var spend = await Client.GetGrain<IWalletGrain>(wallet).Transfer(Transfer(wallet, "@" + SystemAccounts.Revenue, "30.00"));
        Assert.Null(spend.Failure);
        var host = await Client.GetGrain<IManagementGrain>(0).GetActivationAddress(Client.GetGrain<IWalletGrain>(wallet));
        Assert.NotNull(host);
        var victim = _cluster.Silos.Single(s => s.SiloAddress.Equals(host));

        var clock = Stopwatch.StartNew();
        await _cluster.KillSiloAsync(victim);
        var (balance, attempts) = await FirstAnswerAsync(() => BalanceAsync(wallet));
        output.WriteLine($"killed {host}; served again after {clock.Elapsed.TotalSeconds:0.0} s and {attempts} attempts");

        Assert.Equal("70.00", balance.Posted);
        Assert.Equal("70.00", balance.Available);
        Assert.True(clock.Elapsed < FailoverMax, $"the wallet served again after {clock.Elapsed.TotalSeconds:0.0} s");
        var newHost = await Client.GetGrain<IManagementGrain>(0).GetActivationAddress(Client.GetGrain<IWalletGrain>(wallet));
        Assert.NotEqual(host, newHost);
        // Money still moves from it, once.
        Assert.Null((await Client.GetGrain<IWalletGrain>(wallet).Transfer(Transfer(wallet, "@" + SystemAccounts.Revenue, "20.00"))).Failure);
        Assert.Equal("50.00", (await BalanceAsync(wallet)).Posted);
        Assert.True((await VerifyAsync()).Ok);
    }

    [Fact]
    public async Task Restart_AKilledSilo_RejoinsAsANewGenerationAndTheOldOneIsDead()
    {
        var victim = _cluster.SecondarySilos[0];
        await _cluster.KillSiloAsync(victim);
        await _cluster.WaitForLivenessToStabilizeAsync(didKill: true);

        var restarted = await _cluster.RestartSiloAsync(victim);
        await WaitForActiveRowsAsync(SiloCount);

        var rows = await MembershipRowsAsync();
        Assert.Contains(rows, r => r.Port == victim.SiloAddress.Endpoint.Port && r.Generation == victim.SiloAddress.Generation && r.Status == Dead);
        Assert.Contains(rows, r => r.Port == restarted!.SiloAddress.Endpoint.Port && r.Generation == restarted.SiloAddress.Generation && r.Status == Active);
        var hosts = await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Contains(restarted!.SiloAddress, hosts.Keys);
        Assert.Equal(SiloCount, hosts.Count);
        // And it serves: a wallet made now works wherever it lands.
        var wallet = await CreateFundedWalletAsync("12.34");
        Assert.Equal("12.34", (await BalanceAsync(wallet)).Posted);
    }

    private async Task<string> CreateFundedWalletAsync(string amount)
    {
        var id = "wal_" + Guid.CreateVersion7().ToString("N");
        var created = await Client.GetGrain<IWalletGrain>(id).Create(new CreateWallet(Tenant, "USD", null, null, null, null));
        Assert.Null(created.Failure);
        var deposit = await Client.GetGrain<IWalletGrain>(SystemAccounts.WalletId(Tenant, SystemAccounts.Treasury, "USD"))
            .Transfer(Transfer("@" + SystemAccounts.Treasury, id, amount));
        Assert.Null(deposit.Failure);
        return id;
    }

    private static TransferCommand Transfer(string source, string destination, string amount) =>
        new(Tenant, TransferIds.New(), source, destination, amount, "USD", null, null, null, null, LedgerTime.Truncate(DateTimeOffset.UtcNow));

    private async Task<BalanceView> BalanceAsync(string wallet)
    {
        var result = await Client.GetGrain<IWalletGrain>(wallet).Get(Tenant);
        Assert.Null(result.Failure);
        return result.Wallet!.Balance;
    }

    /// <summary>
    /// Calls until one answers: while the cluster has not yet declared the killed silo dead, a call
    /// may fail with a retryable error (the silo is unavailable, or the call timed out).
    /// </summary>
    private static async Task<(T Answer, int Attempts)> FirstAnswerAsync<T>(Func<Task<T>> call)
    {
        var deadline = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await call(), attempt);
            }
            catch (Exception exception) when (exception is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException
                                              && deadline.Elapsed < 2 * FailoverMax)
            {
                await Task.Delay(100);
            }
        }
    }

    private async Task<VerifyReport> VerifyAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        return await new LedgerVerifier(dataSource, TimeProvider.System).VerifyAsync(CancellationToken.None);
    }

    private async Task WaitForActiveRowsAsync(int count)
    {
        var deadline = Stopwatch.StartNew();
        while ((await MembershipRowsAsync()).Count(r => r.Status == Active) != count)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"the membership table did not list {count} active silos in 30 s");
            await Task.Delay(100);
        }
    }

    private async Task<List<(int Port, int Generation, int Status)>> MembershipRowsAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var command = dataSource.CreateCommand("SELECT port, generation, status FROM orleans_membership");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(int, int, int)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2)));
        }

        return rows;
    }
}
