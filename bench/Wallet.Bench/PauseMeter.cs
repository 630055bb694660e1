using System.Diagnostics;

namespace Wallet.Bench;

/// <summary>
/// The pauses of a window in the bench's process: the longest wake-up of a dedicated thread that
/// sleeps 1 ms at a time (late when the machine gave it no core, or a garbage collection held it
/// when it came back to managed code), the longest of a thread-pool loop doing the same with
/// <see cref="Task.Delay(int)"/> (late, too, when the pool's queue was long), the garbage collector's
/// pause time, its gen-2 collections and each gen-0 and gen-1 one. A request in the window waited
/// out each such pause. Each of the longest says how much of it the garbage collector paused the
/// process: the rest, the machine gave the process no core, and <see cref="CoreUse"/> says what ran
/// on the cores meanwhile.
/// </summary>
public sealed record Pauses(double LongestThreadMilliseconds, double LongestPoolMilliseconds, double GcPauseMilliseconds, int Gen2Collections,
    IReadOnlyList<(double AtSecond, double Milliseconds, double GcMilliseconds, IReadOnlyList<(string Name, double Milliseconds)> Cores)> Longest,
    IReadOnlyList<Collection> Ephemeral);

/// <summary>
/// One gen-0 or gen-1 collection: what it promoted (the bytes it found alive and moved up a
/// generation, which is most of what such a pause costs) and how long it paused the process.
/// </summary>
public readonly record struct Collection(int Generation, long PromotedBytes, double PauseMilliseconds);

/// <summary>Watches for the pauses of <see cref="Pauses"/>; <see cref="Mark"/> starts a window, <see cref="Since"/> ends it.</summary>
public sealed class PauseMeter : IDisposable
{
    // A wake-up later than this is kept: below it, a 1 ms sleep's own jitter.
    private const double KeptMilliseconds = 5;
    private const int LongestListed = 5;
    private const int CoreUsersListed = 4;

    private readonly Lock _lock = new();
    private readonly List<(long At, double Milliseconds, double Gc, bool Pool)> _late = [];
    private readonly List<(long At, Collection Collection)> _collections = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly Task _pool;
    private readonly CoreUse? _cores;

    /// <param name="cores">What ran on the cores, to describe each of the longest pauses; none if null.</param>
    public PauseMeter(CoreUse? cores = null)
    {
        _cores = cores;
        _thread = new Thread(WatchThread) { IsBackground = true, Name = "bench pause meter", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
        _pool = Task.Run(WatchPoolAsync);
    }

    public readonly record struct Window(long Started, TimeSpan GcPause, int Gen2);

    public Window Mark() => new(Stopwatch.GetTimestamp(), GC.GetTotalPauseDuration(), GC.CollectionCount(2));

    public Pauses Since(Window window)
    {
        List<(long At, double Milliseconds, double Gc, bool Pool)> late;
        List<Collection> collections;
        lock (_lock)
        {
            late = _late.Where(l => l.At >= window.Started).ToList();
            // Nothing before the newest window is asked for again.
            _late.RemoveAll(l => l.At < window.Started);
            collections = _collections.Where(c => c.At >= window.Started).Select(c => c.Collection).ToList();
            _collections.RemoveAll(c => c.At < window.Started);
        }

        var longest = late.Where(l => !l.Pool).OrderByDescending(l => l.Milliseconds).Take(LongestListed)
            .Select(l => ((double)(l.At - window.Started) / Stopwatch.Frequency, l.Milliseconds, l.Gc,
                _cores?.Between(l.At, l.At + (long)((l.Milliseconds + 1) / 1000 * Stopwatch.Frequency), CoreUsersListed) ?? []))
            .ToList();
        _cores?.Forget(window.Started);
        return new Pauses(
            late.Where(l => !l.Pool).Select(l => l.Milliseconds).DefaultIfEmpty(0).Max(),
            late.Where(l => l.Pool).Select(l => l.Milliseconds).DefaultIfEmpty(0).Max(),
            (GC.GetTotalPauseDuration() - window.GcPause).TotalMilliseconds,
            GC.CollectionCount(2) - window.Gen2,
            longest,
            collections);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        try
        {
            _pool.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private void WatchThread()
    {
        var lastEphemeral = GC.GetGCMemoryInfo(GCKind.Ephemeral).Index;
        for (var turn = 0; !_stop.IsCancellationRequested; turn++)
        {
            // Every 10th wake-up (about 10 ms): a collection is seconds apart under load, so none is missed.
            if (turn % 10 == 0)
            {
                lastEphemeral = KeepEphemeral(lastEphemeral);
            }

            var (before, gcBefore) = (Stopwatch.GetTimestamp(), GC.GetTotalPauseDuration());
            Thread.Sleep(1);
            Keep(before, gcBefore, pool: false);
        }
    }

    private async Task WatchPoolAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var (before, gcBefore) = (Stopwatch.GetTimestamp(), GC.GetTotalPauseDuration());
            await Task.Delay(1, _stop.Token);
            Keep(before, gcBefore, pool: true);
        }
    }

    // The newest gen-0 or gen-1 collection, if it came after the one seen last.
    private long KeepEphemeral(long lastIndex)
    {
        var info = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        if (info.Index != lastIndex && info.Index != 0)
        {
            lock (_lock)
            {
                _collections.Add((Stopwatch.GetTimestamp(), new Collection(info.Generation, info.PromotedBytes, info.PauseDurations[0].TotalMilliseconds)));
            }
        }

        return info.Index;
    }

    // A wake-up's lateness: what it took beyond the 1 ms asked for, and the GC's pauses meanwhile.
    private void Keep(long before, TimeSpan gcBefore, bool pool)
    {
        var late = Stopwatch.GetElapsedTime(before).TotalMilliseconds - 1;
        if (late > KeptMilliseconds)
        {
            var gc = (GC.GetTotalPauseDuration() - gcBefore).TotalMilliseconds;
            lock (_lock)
            {
                _late.Add((before, late, gc, pool));
            }
        }
    }
}
