using System.Collections.Concurrent;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Which of two wallets joins a movement's transaction first. Orleans makes the first participant
/// that writes the transaction's manager, and only a manager batches its commits; a hot wallet that
/// is not the manager confirms one transaction per storage round trip. So a wallet that this silo
/// saw in many movements lately (at least <see cref="HotMovementsPerSecond"/> in the current or the
/// last second) leads; otherwise, and when both are hot, the wallet with the lower id leads. The
/// order is the same for every movement between two wallets, so two movements never wait on each
/// other's locks in opposite orders, except in the moment one of them turns hot or cold. A
/// multi-leg entry orders its wallets by the same rule (<see cref="InJoinOrder"/>).
/// </summary>
internal sealed class HotWallets(TimeProvider clock)
{
    public const int HotMovementsPerSecond = 20;

    // Counters of wallets not seen for a while are dropped wholesale once there are this many.
    private const int TrackedMax = 100_000;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    // Wallets tracked, kept here: ConcurrentDictionary.Count takes every lock of the dictionary.
    private int _tracked;

    /// <summary>Counts a movement of <paramref name="walletId"/>.</summary>
    public void Saw(string walletId)
    {
        if (!_counters.TryGetValue(walletId, out var counter))
        {
            if (Interlocked.Increment(ref _tracked) > TrackedMax)
            {
                _counters.Clear();
                Interlocked.Exchange(ref _tracked, 1);
            }

            counter = _counters.GetOrAdd(walletId, static _ => new Counter());
        }

        counter.Add(Second());
    }

    /// <summary>True when <paramref name="first"/> joins before <paramref name="second"/>.</summary>
    public bool Leads(string first, string second)
    {
        var now = Second();
        return (IsHot(first, now), IsHot(second, now)) switch
        {
            (true, false) => true,
            (false, true) => false,
            _ => string.CompareOrdinal(first, second) < 0,
        };
    }

    /// <summary>
    /// The postings of a multi-leg entry in the order their wallets join its transaction: the hot
    /// ones first, then by id, each wallet's heat read once so that the order is one order.
    /// </summary>
    public IReadOnlyList<EntryPosting> InJoinOrder(IReadOnlyList<EntryPosting> postings)
    {
        var now = Second();
        return [.. postings.OrderBy(p => IsHot(p.WalletId, now) ? 0 : 1).ThenBy(p => p.WalletId, StringComparer.Ordinal)];
    }

    private bool IsHot(string walletId, long now) => _counters.TryGetValue(walletId, out var counter) && counter.Recent(now) >= HotMovementsPerSecond;

    private long Second() => clock.GetUtcNow().ToUnixTimeSeconds();

    // Movements in the current second and the one before; races between threads only blur a count.
    private sealed class Counter
    {
        private readonly Lock _gate = new();
        private long _second;
        private int _current;
        private int _previous;

        public void Add(long second)
        {
            lock (_gate)
            {
                Roll(second);
                _current++;
            }
        }

        public int Recent(long second)
        {
            lock (_gate)
            {
                Roll(second);
                return Math.Max(_current, _previous);
            }
        }

        private void Roll(long second)
        {
            if (second == _second)
            {
                return;
            }

            (_previous, _current) = (second == _second + 1 ? _current : 0, 0);
            _second = second;
        }
    }
}
