using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace Wallet.Runtime.Tests;

public sealed class ActivationTests
{
    [Fact]
    public async Task Call_FirstCall_StateIsLoadedBeforeOnActivateAsync()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        storage.Seed("alice", "alice's saved state");

        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("alice");
        var observed = await grain.GetStateSeenOnActivate();

        Assert.Equal("alice's saved state", observed);
        Assert.Equal("alice's saved state", probe.SingleActivation("alice").StateSeen);
        Assert.Equal(1, storage.Reads("alice"));
    }

    [Fact]
    public async Task Call_ManyConcurrentFirstCallsToOneKey_OneActivation()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("popular");

        var calls = Enumerable.Range(0, 100).Select(_ => Task.Run(grain.GetInstanceId)).ToArray();
        var instances = await Eventually.Within(Task.WhenAll(calls), "100 first calls");

        Assert.Single(instances.Distinct());
        Assert.Single(probe.Activations("popular"));
        Assert.Equal(1, storage.Reads("popular"));
        Assert.Equal(1, silo.Statistics.ActivationCount);
    }

    [Fact]
    public async Task Call_DifferentKeys_DifferentActivations()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        storage.Seed("a", "state of a");
        storage.Seed("b", "state of b");
        var a = silo.GrainFactory.GetGrain<IActivationGrain>("a");
        var b = silo.GrainFactory.GetGrain<IActivationGrain>("b");

        Assert.NotEqual(await a.GetInstanceId(), await b.GetInstanceId());
        Assert.Equal("state of a", await a.GetStateSeenOnActivate());
        Assert.Equal("state of b", await b.GetStateSeenOnActivate());
        Assert.Equal("a", await a.GetKey());
        Assert.Equal("b", await b.GetKey());
        Assert.Equal(2, silo.Statistics.ActivationCount);
        Assert.Single(probe.Activations("a"));
        Assert.Single(probe.Activations("b"));
    }

    [Fact]
    public async Task CollectIdleActivations_IdleActivation_DeactivatedAndNextCallActivatesAfresh()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        storage.Seed("sleepy", "v1");
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("sleepy");
        var first = await grain.GetInstanceId();
        Assert.Equal(1, silo.Statistics.ActivationCount);

        // The reply is released just before the message loop notices its empty mailbox, so the
        // first sweep may still find the activation busy; it must be collected on a later one.
        await Eventually.True(
            async () => await silo.Statistics.CollectIdleActivationsAsync(TimeSpan.Zero) == 1,
            "the idle activation to be collected");

        Assert.Equal(0, silo.Statistics.ActivationCount);
        Assert.Equal([DeactivationReason.IdleCollected], probe.SingleActivation("sleepy").Deactivations);

        storage.Seed("sleepy", "v2");
        var second = await grain.GetInstanceId();

        Assert.NotEqual(first, second);
        Assert.Equal("v2", await grain.GetStateSeenOnActivate());
        Assert.Equal(2, storage.Reads("sleepy"));
        Assert.Equal(2, probe.Activations("sleepy").Count);
        Assert.Equal(1, silo.Statistics.ActivationCount);
    }

    [Fact]
    public async Task CollectIdleActivations_CollectionAgeNotReached_ActivationStays()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("fresh");
        var instance = await grain.GetInstanceId();

        // Sweep for a while, so the activation is surely idle during some of the sweeps.
        for (var sweep = 0; sweep < 10; sweep++)
        {
            Assert.Equal(0, await silo.Statistics.CollectIdleActivationsAsync(TimeSpan.FromMinutes(5)));
            await Task.Delay(20);
        }

        Assert.Equal(1, silo.Statistics.ActivationCount);
        Assert.Empty(probe.SingleActivation("fresh").Deactivations);
        Assert.Equal(instance, await grain.GetInstanceId());
        Assert.Equal(1, storage.Reads("fresh"));

        // Control: the same activation was idle, and only its age kept it.
        await Eventually.True(
            async () => await silo.Statistics.CollectIdleActivationsAsync(TimeSpan.Zero) == 1,
            "the activation to be collected with age zero");
    }

    [Fact]
    public async Task DeactivateOnIdle_GrainAsks_ActivationGoesAwayAndNextCallReactivates()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("retiring");
        var first = await grain.GetInstanceId();

        await grain.Retire();

        await Eventually.True(() => probe.SingleActivation("retiring").Deactivations.Count == 1, "OnDeactivateAsync");
        Assert.Equal([DeactivationReason.ApplicationRequested], probe.SingleActivation("retiring").Deactivations);
        await Eventually.True(() => silo.Statistics.ActivationCount == 0, "the activation to leave the catalog");

        var second = await grain.GetInstanceId();

        Assert.NotEqual(first, second);
        Assert.Equal(2, probe.Activations("retiring").Count);
        Assert.Equal(2, storage.Reads("retiring"));
    }

    [Fact]
    public async Task DeactivateOnIdle_CallsQueuedBehindTheRequest_AllServedBeforeDeactivation()
    {
        await using var silo = StartSilo(out _, out var probe);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("busy-retiring");
        var first = await grain.GetInstanceId();

        // Hold the activation in a turn so that Retire and the calls after it are all queued.
        var blocked = grain.Block();
        await Eventually.Within(probe.BlockEntered.Task, "the blocking turn to start");
        var retire = grain.Retire();
        var queued = Enumerable.Range(0, 20).Select(_ => grain.GetInstanceId()).ToArray();
        probe.ReleaseBlock.SetResult();
        await Eventually.Completes(blocked, "the blocking turn");
        await Eventually.Completes(retire, "Retire");
        var instances = await Eventually.Within(Task.WhenAll(queued), "calls queued behind Retire");

        Assert.All(instances, instance => Assert.Equal(first, instance));
        await Eventually.True(() => silo.Statistics.ActivationCount == 0, "the activation to leave the catalog");
        Assert.Equal([DeactivationReason.ApplicationRequested], probe.SingleActivation("busy-retiring").Deactivations);
    }

    [Fact]
    public async Task Call_WhileThePreviousActivationIsStillDeactivating_NewActivationWaitsForIt()
    {
        await using var silo = StartSilo(out var storage, out var probe);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        probe.HoldDeactivation(release.Task);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("overlap");
        var first = await grain.GetInstanceId();
        var collection = await StartCollectingAsync(silo);
        await Eventually.Within(probe.DeactivationEntered.Task, "OnDeactivateAsync to start");

        var call = grain.GetInstanceId();
        await Task.Delay(50);
        Assert.Single(probe.Activations("overlap"));
        Assert.False(call.IsCompleted, "a second activation served a call while the first was deactivating");

        release.SetResult();

        var second = await Eventually.Within(call, "the call to the next activation");
        Assert.Equal(1, await Eventually.Within(collection, "the sweep"));
        Assert.NotEqual(first, second);
        Assert.Equal(["activated 1", "deactivated 1", "activated 2"], probe.Events);
        Assert.Equal(2, storage.Reads("overlap"));
    }

    [Fact]
    public async Task Call_OnActivateAsyncThrows_CallFailsAndNextCallActivatesAgain()
    {
        await using var silo = StartSilo(out var storage, out _);
        storage.Seed("fragile", ActivationGrain.FailActivation);
        var grain = silo.GrainFactory.GetGrain<IActivationGrain>("fragile");

        var exception = await Assert.ThrowsAsync<ExpectedGrainException>(() => grain.GetInstanceId());

        Assert.Equal(ActivationGrain.FailActivation, exception.Message);
        Assert.Equal(0, silo.Statistics.ActivationCount);

        storage.Seed("fragile", "healthy");
        Assert.Equal("healthy", await grain.GetStateSeenOnActivate());
        Assert.Equal(2, storage.Reads("fragile"));
        Assert.Equal(1, silo.Statistics.ActivationCount);
    }

    /// <summary>Starts a sweep that is deactivating the one activation, and returns it unfinished.</summary>
    private static async Task<Task<int>> StartCollectingAsync(TestSilo silo)
    {
        // A sweep that finds the activation still ending its last turn completes at once with 0.
        var sweep = Task.FromResult(0);
        await Eventually.True(
            async () =>
            {
                sweep = silo.Statistics.CollectIdleActivationsAsync(TimeSpan.Zero);
                return !sweep.IsCompleted || await sweep == 1;
            },
            "a sweep to start deactivating the activation");
        return sweep;
    }

    private static TestSilo StartSilo(out ActivationStorage storage, out ActivationProbe probe)
    {
        var theStorage = storage = new ActivationStorage();
        var theProbe = probe = new ActivationProbe();
        return TestSilo.Start(
            s => s.AddGrain<IActivationGrain, ActivationGrain>(),
            services => services
                .AddSingleton<IGrainStorage<ActivationState>>(theStorage)
                .AddSingleton(theProbe));
    }
}

public interface IActivationGrain : IGrainWithStringKey
{
    Task<Guid> GetInstanceId();

    Task<string> GetStateSeenOnActivate();

    Task<string> GetKey();

    Task Retire();

    Task Block();
}

internal sealed class ActivationState
{
    public required string Value { get; init; }
}

/// <summary>Reads state from a dictionary and counts reads per key.</summary>
internal sealed class ActivationStorage : IGrainStorage<ActivationState>
{
    private readonly ConcurrentDictionary<string, string> _values = new();
    private readonly ConcurrentDictionary<string, int> _reads = new();

    public void Seed(string key, string value) => _values[key] = value;

    public int Reads(string key) => _reads.GetValueOrDefault(key);

    public async Task<ActivationState> ReadStateAsync(GrainId grainId, CancellationToken cancellationToken)
    {
        // Asynchronous, as a database read is: activation must wait for it.
        await Task.Yield();
        _reads.AddOrUpdate(grainId.Key, 1, static (_, n) => n + 1);
        return new ActivationState { Value = _values.GetValueOrDefault(grainId.Key, "empty") };
    }
}

/// <summary>What each activation saw, by key, in the order activations happened.</summary>
internal sealed class ActivationProbe
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<ActivationRecord>> _activations = new();

    public TaskCompletionSource BlockEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource ReleaseBlock { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly ConcurrentQueue<string> _events = new();
    private Task _deactivationRelease = Task.CompletedTask;
    private int _activationCount;

    public TaskCompletionSource DeactivationEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Activation and deactivation, numbered by activation, in the order they happened.</summary>
    public IReadOnlyList<string> Events => [.. _events];

    /// <summary>OnDeactivateAsync waits for <paramref name="release"/> before it completes.</summary>
    public void HoldDeactivation(Task release) => _deactivationRelease = release;

    public ActivationRecord Activated(string key, Guid instanceId, string stateSeen)
    {
        var record = new ActivationRecord(Interlocked.Increment(ref _activationCount), instanceId, stateSeen);
        _activations.GetOrAdd(key, _ => new()).Enqueue(record);
        _events.Enqueue($"activated {record.Number}");
        return record;
    }

    public async Task Deactivating(ActivationRecord record, DeactivationReason reason)
    {
        DeactivationEntered.TrySetResult();
        await _deactivationRelease;
        record.Deactivated(reason);
        _events.Enqueue($"deactivated {record.Number}");
    }

    public IReadOnlyList<ActivationRecord> Activations(string key) =>
        _activations.TryGetValue(key, out var records) ? [.. records] : [];

    public ActivationRecord SingleActivation(string key) => Assert.Single(Activations(key));
}

internal sealed class ActivationRecord(int number, Guid instanceId, string stateSeen)
{
    private readonly ConcurrentQueue<DeactivationReason> _deactivations = new();

    public int Number { get; } = number;

    public Guid InstanceId { get; } = instanceId;

    public string StateSeen { get; } = stateSeen;

    public IReadOnlyList<DeactivationReason> Deactivations => [.. _deactivations];

    public void Deactivated(DeactivationReason reason) => _deactivations.Enqueue(reason);
}

internal sealed class ActivationGrain(ActivationProbe probe) : Grain<ActivationState>, IActivationGrain
{
    private readonly Guid _instanceId = Guid.NewGuid();
    private ActivationRecord? _record;

    public const string FailActivation = "fail on activation";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // State throws if read before it is loaded, so this also proves the order.
        if (State.Value == FailActivation)
        {
            throw new ExpectedGrainException(FailActivation);
        }

        _record = probe.Activated(GetPrimaryKeyString(), _instanceId, State.Value);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        probe.Deactivating(_record!, reason);

    public Task<Guid> GetInstanceId() => Task.FromResult(_instanceId);

    public Task<string> GetStateSeenOnActivate() => Task.FromResult(_record!.StateSeen);

    public Task<string> GetKey() => Task.FromResult(GetPrimaryKeyString());

    public Task Retire()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public async Task Block()
    {
        probe.BlockEntered.SetResult();
        await probe.ReleaseBlock.Task;
    }
}
