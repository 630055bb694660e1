using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Hosting;

namespace Wallet.Runtime.Catalog;

/// <summary>The silo's activations, by grain id: creates them on first call and collects idle ones.</summary>
internal sealed partial class GrainCatalog(
    IServiceProvider services,
    GrainTypeRegistry registry,
    IEnumerable<IIncomingGrainCallFilter> filters,
    IOptions<GrainRuntimeOptions> options,
    ILoggerFactory loggerFactory)
{
    // A message that keeps meeting activations on their way out gives up after this many tries.
    private const int EnqueueAttemptsMax = 1_000;

    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();
    private readonly ConcurrentDictionary<GrainId, Task> _deactivations = new();
    private readonly ILogger _logger = loggerFactory.CreateLogger("Wallet.Runtime.Catalog");
    private volatile bool _stopping;

    public GrainRuntimeOptions Options { get; } = options.Value;

    public IReadOnlyList<IIncomingGrainCallFilter> Filters { get; } = [.. filters];

    public IGrainFactory GrainFactory => services.GetRequiredService<IGrainFactory>();

    public int ActivationCount => _activations.Count;

    public IEnumerable<GrainId> ActiveGrainIds => _activations.Keys;

    /// <summary>
    /// The <paramref name="max"/> activations that received the most calls since the previous look,
    /// busiest first. Walks every activation (each keeps its own count of the last look, so the walk
    /// allocates nothing per activation): call it from one place, when someone is looking.
    /// </summary>
    public List<(GrainId Grain, long Calls)> HottestSinceLastLook(int max)
    {
        var hottest = new PriorityQueue<(GrainId Grain, long Calls), long>(max + 1);
        foreach (var activation in _activations.Values)
        {
            var calls = activation.TakeReceivedSinceLastLook();
            if (calls <= 0 || (hottest.Count == max && hottest.TryPeek(out _, out var least) && calls <= least))
            {
                continue;
            }

            hottest.Enqueue((activation.GrainId, calls), calls);
            if (hottest.Count > max)
            {
                hottest.Dequeue();
            }
        }

        var busiestFirst = new List<(GrainId, long)>(hottest.Count);
        while (hottest.TryDequeue(out var entry, out _))
        {
            busiestFirst.Add(entry);
        }

        busiestFirst.Reverse();
        return busiestFirst;
    }

    public void Send(GrainRequest request)
    {
        for (var attempt = 0; attempt < EnqueueAttemptsMax; attempt++)
        {
            if (_stopping)
            {
                throw new SiloUnavailableException("The silo is shutting down.");
            }

            var activation = _activations.GetOrAdd(request.TargetId, CreateActivation);
            if (activation.TryEnqueue(request))
            {
                return;
            }

            // The activation is on its way out and leaves the dictionary at once; try again.
            _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(request.TargetId, activation));
            Thread.Yield();
        }

        throw new SiloUnavailableException($"No activation of {request.TargetId} could take the call.");
    }

    public Grain CreateGrainInstance(GrainId grainId, ActivationData activation)
    {
        var grainClass = registry.GetGrainClass(grainId.InterfaceType);
        var grain = (Grain)ActivatorUtilities.CreateInstance(services, grainClass);
        grain.Attach(activation);
        registry.AttachStorage(grain, services);
        return grain;
    }

    public Task WaitForPreviousDeactivationAsync(GrainId grainId) =>
        _deactivations.TryGetValue(grainId, out var previous) ? previous : Task.CompletedTask;

    public void Remove(ActivationData activation) =>
        _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation));

    /// <summary>Collects activations idle for longer than <paramref name="idleFor"/>. Returns how many.</summary>
    public async Task<int> CollectIdleAsync(
        TimeSpan idleFor, CancellationToken cancellationToken, DeactivationReason reason = DeactivationReason.IdleCollected)
    {
        var idleMs = (long)idleFor.TotalMilliseconds;
        var collected = new List<Task>();
        foreach (var activation in _activations.Values)
        {
            if (activation.TryBeginIdleDeactivation(idleMs))
            {
                collected.Add(CompleteDeactivationAsync(activation, reason, cancellationToken));
            }
        }

        await Task.WhenAll(collected);
        if (collected.Count > 0)
        {
            LogCollected(_logger, collected.Count, _activations.Count);
        }

        return collected.Count;
    }

    /// <summary>Deactivates the idle activations <paramref name="collect"/> picks; busy ones stay. Returns how many it took.</summary>
    public async Task<int> CollectWhereAsync(Func<GrainId, bool> collect, CancellationToken cancellationToken)
    {
        var collected = new List<Task>();
        foreach (var activation in _activations.Values)
        {
            if (collect(activation.GrainId) && activation.TryBeginIdleDeactivation(0))
            {
                collected.Add(CompleteDeactivationAsync(activation, DeactivationReason.PlacementChanged, cancellationToken));
            }
        }

        await Task.WhenAll(collected);
        return collected.Count;
    }

    /// <summary>Stops taking calls and deactivates every activation once it is idle.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        while (!_activations.IsEmpty && !cancellationToken.IsCancellationRequested)
        {
            await CollectIdleAsync(TimeSpan.Zero, cancellationToken, DeactivationReason.ShuttingDown);
            if (!_activations.IsEmpty)
            {
                await Task.Delay(10, cancellationToken);
            }
        }
    }

    /// <summary>Called by an activation, under its lock, as it starts to leave.</summary>
    public void NoteDeactivating(GrainId grainId, Task deactivated) => _deactivations[grainId] = deactivated;

    /// <summary>Runs once an activation has been marked Deactivating: takes it out, then runs its OnDeactivateAsync.</summary>
    public async Task CompleteDeactivationAsync(ActivationData activation, DeactivationReason reason, CancellationToken cancellationToken = default)
    {
        Remove(activation);
        await activation.DeactivateAsync(reason, cancellationToken);
        if (_deactivations.TryGetValue(activation.GrainId, out var deactivated) && deactivated.IsCompleted)
        {
            _deactivations.TryRemove(new KeyValuePair<GrainId, Task>(activation.GrainId, deactivated));
        }
    }

    private ActivationData CreateActivation(GrainId grainId) =>
        new(grainId, this, _logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Collected {Count} idle activations; {Remaining} remain")]
    private static partial void LogCollected(ILogger logger, int count, int remaining);
}
