using System.Diagnostics.Metrics;
using Wallet.Grains.Ledger;

namespace Wallet.Bench;

/// <summary>
/// What the ledger's meter counted over a window: group commits, the movements they carried (their
/// ratio is the average batch) and the time they took, and movement transactions Orleans aborted
/// (run again, or given up and answered 503) or left in doubt.
/// </summary>
public sealed record LedgerCounts(long Batches, long Items, long CommitMicroseconds, long Retried, long GaveUp, long InDoubt)
{
    public long Aborted => Retried + GaveUp;

    public double AverageBatch => Batches == 0 ? 0 : (double)Items / Batches;

    /// <summary>How long a group commit took on average, in milliseconds.</summary>
    public double AverageCommitMilliseconds => Batches == 0 ? 0 : CommitMicroseconds / 1000.0 / Batches;

    /// <summary>The share of <paramref name="seconds"/> that group commits were running (above 1: several at once).</summary>
    public double CommitBusy(double seconds) => CommitMicroseconds / 1e6 / seconds;

    public LedgerCounts Since(LedgerCounts before) =>
        new(Batches - before.Batches, Items - before.Items, CommitMicroseconds - before.CommitMicroseconds,
            Retried - before.Retried, GaveUp - before.GaveUp, InDoubt - before.InDoubt);
}

/// <summary>Listens to the ledger's meter (<see cref="LedgerMetrics"/>) in the bench's in-process silo.</summary>
public sealed class LedgerCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _batches;
    private long _items;
    private long _commitMicroseconds;
    private long _retried;
    private long _gaveUp;
    private long _inDoubt;

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
        };
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
        _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) => Interlocked.Add(ref _commitMicroseconds, (long)(seconds * 1e6)));
        _listener.Start();
    }

    public LedgerCounts Read() => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _items), Interlocked.Read(ref _commitMicroseconds), Interlocked.Read(ref _retried), Interlocked.Read(ref _gaveUp), Interlocked.Read(ref _inDoubt));

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
