using System.Diagnostics.Metrics;
using Wallet.Grains.Ledger;

namespace Wallet.Bench;

/// <summary>
/// Listens to the ledger's meter for its group commits, so a run can report its average batch:
/// movements committed divided by commit transactions.
/// </summary>
public sealed class CommitCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _batches;
    private long _items;

    public CommitCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LedgerMetrics.MeterName && instrument.Name is "wallet.commit.batches" or "wallet.commit.items")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "wallet.commit.batches")
            {
                Interlocked.Add(ref _batches, value);
            }
            else
            {
                Interlocked.Add(ref _items, value);
            }
        });
        _listener.Start();
    }

    public long Batches => Interlocked.Read(ref _batches);

    public long Items => Interlocked.Read(ref _items);

    public void Dispose() => _listener.Dispose();
}
