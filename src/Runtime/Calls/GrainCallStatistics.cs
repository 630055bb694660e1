using System.Collections.Concurrent;
using System.Diagnostics;

namespace Wallet.Runtime;

/// <summary>
/// The built-in incoming-call filter: calls, errors and latency per grain type and method.
/// A few interlocked adds per call, so it stays on.
/// </summary>
public sealed class GrainCallStatistics : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<(Type Interface, string Method), MethodCallStatistics> _methods = new();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var statistics = _methods.GetOrAdd(
            (context.TargetId.InterfaceType, context.InterfaceMethod.Name),
            static key => new MethodCallStatistics(key.Interface.Name, key.Method));
        var started = Stopwatch.GetTimestamp();
        var failed = true;
        try
        {
            await context.Invoke();
            failed = false;
        }
        finally
        {
            statistics.Record(Stopwatch.GetElapsedTime(started), failed);
        }
    }

    public IReadOnlyList<MethodCallSnapshot> Snapshot() =>
        [.. _methods.Values.Select(m => m.Snapshot()).OrderBy(s => s.GrainType).ThenBy(s => s.Method)];
}

/// <summary>Counters of one grain method. Latency is kept in power-of-two microsecond buckets.</summary>
public sealed class MethodCallStatistics(string grainType, string method)
{
    // Bucket i counts calls that took less than 2^i microseconds; the last one takes the rest (~35 min).
    private const int LatencyBucketCount = LatencyHistogram.BucketCount;

    private readonly long[] _latencyBuckets = new long[LatencyBucketCount];
    private long _calls;
    private long _errors;
    private long _totalMicroseconds;

    public void Record(TimeSpan elapsed, bool failed)
    {
        var microseconds = (long)elapsed.TotalMicroseconds;
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _totalMicroseconds, microseconds);
        if (failed)
        {
            Interlocked.Increment(ref _errors);
        }

        var bucket = Math.Min(LatencyBucketCount - 1, 64 - long.LeadingZeroCount(Math.Max(0, microseconds)));
        Interlocked.Increment(ref _latencyBuckets[bucket]);
    }

    public MethodCallSnapshot Snapshot()
    {
        var buckets = new long[LatencyBucketCount];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = Interlocked.Read(ref _latencyBuckets[i]);
        }

        return new MethodCallSnapshot(grainType, method, Interlocked.Read(ref _calls), Interlocked.Read(ref _errors),
            Interlocked.Read(ref _totalMicroseconds), buckets);
    }
}

/// <summary>A point-in-time copy of one method's counters.</summary>
public sealed record MethodCallSnapshot(string GrainType, string Method, long Calls, long Errors, long TotalMicroseconds, long[] LatencyBuckets)
{
    public double AverageMilliseconds => Calls == 0 ? 0 : TotalMicroseconds / 1000.0 / Calls;

    /// <summary>The upper bound, in milliseconds, of the bucket holding the given quantile.</summary>
    public double QuantileMilliseconds(double quantile) => LatencyHistogram.QuantileMilliseconds(LatencyBuckets, quantile);
}

/// <summary>Latency counted in power-of-two microsecond buckets: bucket i holds calls under 2^i µs.</summary>
public static class LatencyHistogram
{
    public const int BucketCount = 32;

    /// <summary>The upper bound, in milliseconds, of the bucket holding the given quantile; 0 with no calls.</summary>
    public static double QuantileMilliseconds(IReadOnlyList<long> buckets, double quantile)
    {
        var total = buckets.Sum();
        if (total == 0)
        {
            return 0;
        }

        var target = (long)Math.Ceiling(total * quantile);
        long seen = 0;
        for (var i = 0; i < buckets.Count; i++)
        {
            seen += buckets[i];
            if (seen >= target)
            {
                return (1L << i) / 1000.0;
            }
        }

        return (1L << (buckets.Count - 1)) / 1000.0;
    }

    /// <summary>Adds <paramref name="source"/> into <paramref name="target"/>, bucket by bucket (source may be shorter).</summary>
    public static void Add(long[] target, IReadOnlyList<long> source)
    {
        for (var i = 0; i < source.Count && i < target.Length; i++)
        {
            target[i] += source[i];
        }
    }
}
