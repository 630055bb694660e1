using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Wallet.Grains.Ledger;

namespace Wallet.Bench;

/// <summary>
/// What the ledger's meter counted over a window: group commits, the movements they carried (their
/// ratio is the average batch) and the time they took, and movement transactions Orleans aborted
/// (run again, or given up and answered 503) or left in doubt; and the grain activations Orleans
/// created (each loads its state from the database).
/// </summary>
public sealed record LedgerCounts(long Batches, long Items, long CommitMicroseconds, long Retried, long GaveUp, long InDoubt, long Activated)
{
    /// <summary>When these were read (a <see cref="Stopwatch"/> timestamp).</summary>
    public long At { get; init; }

    /// <summary>The longest group commit of the window, in milliseconds; 0 when none took longer than the counters keep.</summary>
    public double LongestCommitMilliseconds { get; init; }

    public long Aborted => Retried + GaveUp;

    public double AverageBatch => Batches == 0 ? 0 : (double)Items / Batches;

    /// <summary>How long a group commit took on average, in milliseconds.</summary>
    public double AverageCommitMilliseconds => Batches == 0 ? 0 : CommitMicroseconds / 1000.0 / Batches;

    /// <summary>The share of <paramref name="seconds"/> that group commits were running (above 1: several at once).</summary>
    public double CommitBusy(double seconds) => CommitMicroseconds / 1e6 / seconds;

    public LedgerCounts Since(LedgerCounts before) =>
        new(Batches - before.Batches, Items - before.Items, CommitMicroseconds - before.CommitMicroseconds,
            Retried - before.Retried, GaveUp - before.GaveUp, InDoubt - before.InDoubt, Activated - before.Activated)
        { At = before.At };
}

/// <summary>Listens to the ledger's meter (<see cref="LedgerMetrics"/>) in the bench's in-process silo.</summary>
public sealed class LedgerCounters : IDisposable
{
    // A group commit longer than this is kept with its time, for the longest of a window.
    private const double KeptCommitSeconds = 0.05;

    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(long At, double Seconds)> _slowCommits = new();
    private long _batches;
    private long _items;
    private long _commitMicroseconds;
    private long _retried;
    private long _gaveUp;
    private long _inDoubt;
    private long _activated;

    public LedgerCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LedgerMetrics.MeterName
                && instrument.Name is "wallet.commit.batches" or "wallet.commit.items" or "wallet.commit.duration"
                    or "wallet.transactions.aborted" or "wallet.transactions.in_doubt")
            {
                listener.EnableMeasurementEvents(instrument);
            }

            if (instrument.Meter.Name == "Microsoft.Orleans" && instrument.Name == "orleans-catalog-activation-created")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, value, _, _) => Interlocked.Add(ref _activated, value));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            switch (instrument.Name)
            {
                case "wallet.commit.batches":
                    Interlocked.Add(ref _batches, value);
                    break;
                case "wallet.commit.items":
                    Interlocked.Add(ref _items, value);
                    break;
                case "wallet.transactions.aborted" when Tag(tags, "outcome") is "retried":
                    Interlocked.Add(ref _retried, value);
                    break;
                case "wallet.transactions.aborted":
                    Interlocked.Add(ref _gaveUp, value);
                    break;
                default:
                    Interlocked.Add(ref _inDoubt, value);
                    break;
            }
        });
        _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            Interlocked.Add(ref _commitMicroseconds, (long)(seconds * 1e6));
            if (seconds > KeptCommitSeconds)
            {
                _slowCommits.Enqueue((Stopwatch.GetTimestamp(), seconds));
            }
        });
        _listener.Start();
    }

    public LedgerCounts Read() => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _items), Interlocked.Read(ref _commitMicroseconds), Interlocked.Read(ref _retried), Interlocked.Read(ref _gaveUp),
        Interlocked.Read(ref _inDoubt), Interlocked.Read(ref _activated))
    { At = Stopwatch.GetTimestamp() };

    /// <summary>What was counted since <paramref name="before"/>, with the window's longest group commit.</summary>
    public LedgerCounts Since(LedgerCounts before)
    {
        // The commits of earlier windows are not asked for again.
        while (_slowCommits.TryPeek(out var commit) && commit.At < before.At)
        {
            _slowCommits.TryDequeue(out _);
        }

        return Read().Since(before) with { LongestCommitMilliseconds = _slowCommits.Select(c => c.Seconds * 1000).DefaultIfEmpty(0).Max() };
    }

    public void Dispose() => _listener.Dispose();

    private static object? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value;
            }
        }

        return null;
    }
}
