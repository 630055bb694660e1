using System.Collections.Concurrent;

namespace Wallet.Grains.Ledger;

/// <summary>
/// What this silo's ledger did since it started: entries committed and card authorizations
/// decided, with decline codes and the fraud rules that fired. Interlocked adds on paths that
/// already wait for a database round trip, so it stays on; the dashboard and <c>/metrics</c> read it.
/// </summary>
public sealed class LedgerStatistics
{
    private readonly ConcurrentDictionary<string, Counter> _declineCodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Counter> _fraudRules = new(StringComparer.Ordinal);
    private long _entries;
    private long _approved;
    private long _declined;
    private long _reviews;

    /// <summary>Entries made durable by a ledger commit.</summary>
    public void RecordEntries(int count) => Interlocked.Add(ref _entries, count);

    /// <summary>A decision answered to a client: approved, or declined with its code.</summary>
    public void RecordAuthorization(string? declineCode, bool review, IReadOnlyList<string> fraudRules)
    {
        if (declineCode is null)
        {
            Interlocked.Increment(ref _approved);
        }
        else
        {
            Interlocked.Increment(ref _declined);
            _declineCodes.GetOrAdd(declineCode, static _ => new Counter()).Add(1);
        }

        if (review)
        {
            Interlocked.Increment(ref _reviews);
        }

        foreach (var rule in fraudRules)
        {
            _fraudRules.GetOrAdd(rule, static _ => new Counter()).Add(1);
        }
    }

    public LedgerCounters Snapshot() => new(
        Interlocked.Read(ref _entries),
        Interlocked.Read(ref _approved),
        Interlocked.Read(ref _declined),
        Interlocked.Read(ref _reviews),
        _declineCodes.ToDictionary(p => p.Key, p => p.Value.Value, StringComparer.Ordinal),
        _fraudRules.ToDictionary(p => p.Key, p => p.Value.Value, StringComparer.Ordinal));

    private sealed class Counter
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Add(long count) => Interlocked.Add(ref _value, count);
    }
}

/// <summary>A point-in-time copy of <see cref="LedgerStatistics"/>; every figure counts up from the silo's start.</summary>
public sealed record LedgerCounters(
    long Entries,
    long Approved,
    long Declined,
    long Reviews,
    IReadOnlyDictionary<string, long> DeclineCodes,
    IReadOnlyDictionary<string, long> FraudRules);
