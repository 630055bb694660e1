using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using Wallet.Runtime.Cluster;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Xunit;

namespace Wallet.Tests.Cluster;

/// <summary>Three silos in this process over one database, shared by <see cref="ClusterTests"/>.</summary>
public sealed class ThreeSiloCluster() : ClusterFixture("cluster", 3);

/// <summary>
/// A cluster of three silos: they join and agree, a call made through any silo runs in its owner's
/// activation, and the cluster keeps serving (with the money right) when a silo stops, crashes,
/// comes back or is declared dead by a peer. Every test starts with all three silos running and
/// agreeing, whatever the test before it left, and makes its own wallets.
/// </summary>
public sealed class ClusterTests(ThreeSiloCluster fixture) : IClassFixture<ThreeSiloCluster>, IAsyncLifetime
{
    private const string WalletGrain = nameof(IWalletGrain);

    // Detection is judged on the database's clock by a peer polling every heartbeat; the rest is
    // the poll here and a busy 2-core machine.
    private static readonly TimeSpan DetectionMargin = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StopNoticeTimeout = TimeSpan.FromSeconds(5);

    private readonly SiloClients _clients = new(fixture.Cluster);

    private InProcessCluster Cluster => fixture.Cluster;

    public Task InitializeAsync() => Cluster.EnsureAllRunningAsync();

    public Task DisposeAsync()
    {
        _clients.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Join_ThreeSilos_AgreeOnTheViewWithActiveRowsOfDistinctGenerations()
    {
        var selves = Enumerable.Range(0, 3).Select(i => Cluster[i].Membership.Self).ToList();

        var snapshot = await Cluster.MembershipTable.ReadAsync(CancellationToken.None);

        await Cluster.WaitUntilAsync(() => Enumerable.Range(0, 3).All(i => Cluster[i].Membership.View.Version >= snapshot.Version),
            StopNoticeTimeout, "every silo to read the table's version");
        Assert.All(Enumerable.Range(0, 3), i =>
            Assert.Equal(selves.OrderBy(s => s.Endpoint, StringComparer.Ordinal), Cluster[i].Membership.View.ActiveSilos));
        Assert.Equal(Cluster.ClusterEndpoints, selves.Select(s => s.Endpoint));
        Assert.Equal(3, selves.Select(s => s.Generation).Distinct().Count());
        var active = snapshot.Entries.Where(e => e.Status == SiloStatus.Active).Select(e => e.Silo).ToHashSet();
        Assert.Equal(selves.ToHashSet(), active);
        Assert.All(snapshot.Entries.Where(e => !active.Contains(e.Silo)), e => Assert.Equal(SiloStatus.Dead, e.Status));
        for (var i = 0; i < 3; i++)
        {
            using var ready = await Client(i).GetAsync("/health/ready");
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (ready.StatusCode, await ready.Content.ReadAsStringAsync()));
        }
    }

    [Fact]
    public async Task Call_ThroughEverySilo_RunsOnlyInTheOwnersActivation()
    {
        var wallets = await WalletsOwnedByEachAsync(perSilo: 3);
        foreach (var silo in Cluster.Running)
        {
            await silo.Statistics.CollectIdleActivationsAsync(TimeSpan.Zero);
        }

        var callsBefore = Enumerable.Range(0, 3).Select(i => CallsOf(i, "Get")).ToList();
        for (var i = 0; i < 3; i++)
        {
            foreach (var wallet in wallets)
            {
                Assert.Equal(wallet, (await Client(i).GetWalletAsync(wallet)).Str("id"));
                var read = await Cluster[i].Client.GetGrain<IWalletGrain>(wallet).Get(ApiKeyStore.DefaultTenant);
                Assert.Equal(wallet, read.Wallet?.Id);
            }
        }

        for (var i = 0; i < 3; i++)
        {
            var owned = wallets.Count(w => Cluster.OwnerOf(w) == i);
            Assert.True(owned >= 3, $"silo {i} owns {owned} of the wallets");
            // Each wallet was read six times, twice through each silo: all six land on its owner.
            Assert.Equal(owned * 6, CallsOf(i, "Get") - callsBefore[i]);
            Assert.Equal(owned, WalletActivations(i));
        }
    }

    [Fact]
    public async Task Transfer_ThroughSiloABetweenWalletsOwnedByBAndC_MovesTheMoneyOnceInTheSourcesOwner()
    {
        var a = Client(0);
        var walletOfB = await WalletOwnedByAsync(1);
        var walletOfC = await WalletOwnedByAsync(2);
        await a.DepositAsync(walletOfB, "100.00");
        await a.DepositAsync(walletOfC, "10.00");

        var before = Enumerable.Range(0, 3).Select(i => CallsOf(i, "Transfer")).ToList();
        await (await a.TransferAsync(walletOfB, walletOfC, "40.00")).ExpectAsync(HttpStatusCode.Created);
        var middle = Enumerable.Range(0, 3).Select(i => CallsOf(i, "Transfer")).ToList();
        await (await a.TransferAsync(walletOfC, walletOfB, "15.50")).ExpectAsync(HttpStatusCode.Created);
        var after = Enumerable.Range(0, 3).Select(i => CallsOf(i, "Transfer")).ToList();

        Assert.Equal([0, 1, 0], middle.Zip(before, (m, b) => m - b));
        Assert.Equal([0, 0, 1], after.Zip(middle, (x, m) => x - m));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("75.50", await Client(i).PostedAsync(walletOfB));
            Assert.Equal("34.50", await Client(i).PostedAsync(walletOfC));
        }

        await a.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Transfer_ToAWalletOwnedByAnotherSilo_TheNextReadOfTheDestinationSeesTheCredit()
    {
        var a = Client(0);
        var source = await WalletOwnedByAsync(1);
        var destination = await WalletOwnedByAsync(2);
        await a.DepositAsync(source, "100.00");

        // The reply leaves only once the destination's silo queued the credit notice, so reading
        // the destination right after the reply (through yet another silo) never sees it short.
        for (var i = 1; i <= 20; i++)
        {
            await (await a.TransferAsync(source, destination, "1.00")).ExpectAsync(HttpStatusCode.Created);
            Assert.Equal($"{i}.00", await Client(0).PostedAsync(destination));
        }

        await a.AssertVerifiedAsync();
    }

    [Fact]
    public async Task StopGracefully_OneSilo_ItsRowIsDeadThePeersDropItAndServeItsGrains()
    {
        var a = Client(0);
        var b = Client(1);
        var wallet = await WalletOwnedByAsync(2);
        await a.DepositAsync(wallet, "50.00");
        await a.MoveAsync(wallet, "spend", "10.00");
        var leaving = Cluster[2].Membership.Self;

        await Cluster.StopSiloAsync(2);

        Assert.Equal(SiloStatus.Dead, await Cluster.StatusOfAsync(leaving));
        Assert.False(Cluster[2].Membership.IsActive);
        await Cluster.WaitUntilAsync(
            () => Enumerable.Range(0, 2).All(i => !Cluster[i].Membership.View.Contains(leaving) && Cluster[i].Membership.View.ActiveSilos.Count == 2),
            StopNoticeTimeout, "the remaining silos to drop the stopped one from their view");
        var heir = Cluster.OwnerOf(wallet, [0, 1]);
        var heirCallsBefore = CallsOf(heir, "Transfer");
        await a.MoveAsync(wallet, "spend", "5.00");
        await b.MoveAsync(wallet, "withdraw", "5.00");
        Assert.Equal(2, CallsOf(heir, "Transfer") - heirCallsBefore);
        Assert.Equal("30.00", await a.PostedAsync(wallet));
        Assert.Equal("30.00", await b.PostedAsync(wallet));
        await a.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Crash_OneSilo_PeersDeclareItDeadWithinDeathTimeoutAndCallsKeepSucceeding()
    {
        var a = Client(0);
        var c = Client(2);
        var wallet = await WalletOwnedByAsync(1);
        var other = await WalletOwnedByAsync(0);
        await a.DepositAsync(wallet, "80.00");
        var crashed = Cluster[1].Membership.Self;
        var clock = Stopwatch.StartNew();

        await Cluster.CrashSiloAsync(1);

        Assert.Equal(SiloStatus.Active, await Cluster.StatusOfAsync(crashed));
        await RetriedCreateAsync(a, $"/v1/wallets/{wallet}/spend", new { amount = "10.00" });
        await RetriedCreateAsync(c, "/v1/transfers", new { source = wallet, destination = other, amount = "20.00" });
        await Cluster.WaitUntilAsync(
            async () => await Cluster.StatusOfAsync(crashed) == SiloStatus.Dead
                && !Cluster[0].Membership.View.Contains(crashed) && !Cluster[2].Membership.View.Contains(crashed),
            InProcessCluster.DeathTimeout + DetectionMargin, "the peers to declare the crashed silo dead");
        // Its last heartbeat came at most a heartbeat period (and a loop's work) before the crash.
        Assert.True(clock.Elapsed >= InProcessCluster.DeathTimeout - 2 * InProcessCluster.HeartbeatPeriod,
            $"declared dead {clock.ElapsedMilliseconds} ms after the crash, before its heartbeat was stale");
        await RetriedCreateAsync(c, $"/v1/wallets/{wallet}/spend", new { amount = "5.00" });
        Assert.Equal("45.00", await a.PostedAsync(wallet));
        Assert.Equal("20.00", await c.PostedAsync(other));
        await a.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Restart_CrashedSilo_JoinsWithAHigherGenerationOnItsEndpointAndTakesBackItsGrains()
    {
        var a = Client(0);
        var wallet = await WalletOwnedByAsync(2);
        await a.DepositAsync(wallet, "30.00");
        await a.MoveAsync(wallet, "spend", "5.00");
        var old = Cluster[2].Membership.Self;
        await Cluster.CrashSiloAsync(2);
        await RetriedCreateAsync(a, $"/v1/wallets/{wallet}/spend", new { amount = "5.00" });

        var restarted = await Cluster.StartSiloAsync(2);

        var self = restarted.Membership.Self;
        Assert.Equal(old.Endpoint, self.Endpoint);
        Assert.True(self.Generation > old.Generation, $"generation {self.Generation} after {old.Generation}");
        Assert.Equal(SiloStatus.Dead, await Cluster.StatusOfAsync(old));
        Assert.Equal(SiloStatus.Active, await Cluster.StatusOfAsync(self));
        await Cluster.WaitForViewAsync();
        Assert.Equal(0, CallsOf(2, "Transfer"));
        await a.MoveAsync(wallet, "spend", "5.00");
        Assert.Equal(1, CallsOf(2, "Transfer"));
        Assert.True(WalletActivations(2) >= 1, "the wallet is activated on the restarted silo");
        Assert.Equal("15.00", await Client(2).PostedAsync(wallet));
        await a.AssertVerifiedAsync();
    }

    [Fact]
    public async Task DeclaredDeadByAnotherWriter_RunningSilo_StopsItself()
    {
        var target = Cluster[2];
        var self = target.Membership.Self;
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = target.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        await Cluster.DeclareDeadAsync(self);

        try
        {
            await stopping.Task.WaitAsync(StopNoticeTimeout);
            await target.Stopped.WaitAsync(StopNoticeTimeout);
            // Exit code 3 tells a supervisor the silo was declared dead; in this process it is the test host's.
            Assert.Equal(3, Environment.ExitCode);
        }
        finally
        {
            Environment.ExitCode = 0;
        }

        Assert.False(target.Membership.IsActive);
        Assert.Equal(SiloStatus.Dead, await Cluster.StatusOfAsync(self));
        await Cluster.WaitUntilAsync(
            () => !Cluster[0].Membership.View.Contains(self) && !Cluster[1].Membership.View.Contains(self),
            StopNoticeTimeout, "the peers to drop the silo declared dead");
        var wallet = await Client(0).CreateWalletAsync();
        await Client(1).DepositAsync(wallet, "7.00");
        Assert.Equal("7.00", await Client(0).PostedAsync(wallet));
    }

    [Fact]
    public async Task Call_OwnerInTheViewRefusesConnections_IsServedByTheNextOwnerWithoutWaitingForItsDeath()
    {
        // A silo whose row is active and whose heartbeat goes on, but whose cluster endpoint refuses
        // every connection (nobody listens there): only suspicion can route around it.
        var ghost = new SiloAddress($"127.0.0.1:{InProcessCluster.FreePort().ToString(CultureInfo.InvariantCulture)}", 1);
        var a = Client(0);
        var b = Client(1);
        List<SiloAddress> withGhost = [.. Cluster.Running.Select(s => s.Membership.Self), ghost];
        var ghostsWallets = new List<string>();
        for (var attempt = 0; attempt < 60 && ghostsWallets.Count < 2; attempt++)
        {
            var wallet = await a.CreateWalletAsync();
            if (GrainPlacement.OwnerOf(new(typeof(IWalletGrain), wallet), withGhost) == ghost)
            {
                ghostsWallets.Add(wallet);
            }
        }

        Assert.Equal(2, ghostsWallets.Count);
        var snapshot = await Cluster.MembershipTable.ReadAsync(CancellationToken.None);
        Assert.True(await Cluster.MembershipTable.TryWriteAsync(
            snapshot.Version, [new MembershipEntry(ghost, SiloStatus.Active, "nowhere", snapshot.Now, snapshot.Now)], CancellationToken.None));
        using var heartbeats = new CancellationTokenSource();
        var heartbeating = HeartbeatAsync(ghost, heartbeats.Token);
        try
        {
            await Cluster.WaitUntilAsync(() => Enumerable.Range(0, 3).All(i => Cluster[i].Membership.View.Contains(ghost)),
                StopNoticeTimeout, "every silo to see the ghost as active");
            var heirs = ghostsWallets.Select(w => Cluster.OwnerOf(w)).ToList();
            var heirCallsBefore = Enumerable.Range(0, 3).Select(i => CallsOf(i, "Transfer")).ToList();

            foreach (var wallet in ghostsWallets)
            {
                await a.DepositAsync(wallet, "1.00");
                await a.MoveAsync(wallet, "spend", "0.10");
                await b.MoveAsync(wallet, "spend", "0.15");
            }

            Assert.All(Enumerable.Range(0, 3), i => Assert.Contains(ghost, Cluster[i].Membership.View.ActiveSilos));
            Assert.Equal(SiloStatus.Active, await Cluster.StatusOfAsync(ghost));
            Assert.All(Enumerable.Range(0, 3), i =>
                Assert.True(CallsOf(i, "Transfer") - heirCallsBefore[i] >= 2 * heirs.Count(h => h == i), $"silo {i} served its share of the ghost's spends"));
        }
        finally
        {
            await heartbeats.CancelAsync();
            await heartbeating;
        }

        await Cluster.WaitUntilAsync(
            async () => await Cluster.StatusOfAsync(ghost) == SiloStatus.Dead,
            InProcessCluster.DeathTimeout + DetectionMargin, "the peers to declare the ghost dead once its heartbeat stopped");
        Assert.All(await Task.WhenAll(ghostsWallets.Select(a.PostedAsync)), posted => Assert.Equal("0.75", posted));
        await a.AssertVerifiedAsync();
    }

    /// <summary>Creates wallets through silo 0 until each silo owns <paramref name="perSilo"/> of them.</summary>
    private async Task<List<string>> WalletsOwnedByEachAsync(int perSilo)
    {
        var wallets = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            while (wallets.Count(w => Cluster.OwnerOf(w) == i) < perSilo)
            {
                wallets.Add(await WalletOwnedByAsync(i));
            }
        }

        return wallets;
    }

    /// <summary>A new wallet (created through silo 0) that silo <paramref name="index"/> owns while all three run.</summary>
    private async Task<string> WalletOwnedByAsync(int index)
    {
        const int AttemptsMax = 60; // (2/3)^60: never, unless placement ignores a silo
        for (var attempt = 0; attempt < AttemptsMax; attempt++)
        {
            var wallet = await Client(0).CreateWalletAsync();
            if (Cluster.OwnerOf(wallet) == index)
            {
                return wallet;
            }
        }

        throw new InvalidOperationException($"no wallet of {AttemptsMax} landed on silo {index}");
    }

    /// <summary>
    /// A POST that must end in 201, retried with the same Idempotency-Key while it answers 503: a
    /// call in flight when a silo crashes fails with a retryable error, and the key makes it safe.
    /// </summary>
    private static async Task<JsonElement> RetriedCreateAsync(HttpClient client, string path, object body)
    {
        const int AttemptsMax = 20;
        var key = ApiCalls.NewKey();
        for (var attempt = 1; ; attempt++)
        {
            var response = await client.PostJsonAsync(path, body, key);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == AttemptsMax)
            {
                return await response.ExpectAsync(HttpStatusCode.Created);
            }

            await Task.Delay(InProcessCluster.HeartbeatPeriod);
        }
    }

    /// <summary>Writes <paramref name="silo"/>'s heartbeat every heartbeat period, as the silo itself would, until cancelled.</summary>
    private async Task HeartbeatAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Cluster.MembershipTable.HeartbeatAsync(silo, cancellationToken);
                await Task.Delay(InProcessCluster.HeartbeatPeriod, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>An operator client of silo <paramref name="index"/>'s HTTP API, one per slot and test (a restarted silo keeps its port).</summary>
    private HttpClient Client(int index) => _clients[index];

    private long CallsOf(int index, string method) =>
        Cluster[index].Calls.Snapshot().Where(s => s.GrainType == WalletGrain && s.Method == method).Sum(s => s.Calls);

    private int WalletActivations(int index) => Cluster[index].Statistics.ActivationsByGrainType().GetValueOrDefault(WalletGrain);
}
