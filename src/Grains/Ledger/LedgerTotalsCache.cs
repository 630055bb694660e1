namespace Wallet.Grains.Ledger;

/// <summary>
/// Money per currency (<see cref="LedgerStore.TotalsAsync"/>, one scan of <c>wallets</c>), read at most
/// every <see cref="MaxAge"/> however many dashboards and scrapers ask.
/// </summary>
public sealed class LedgerTotalsCache(LedgerStore ledger, TimeProvider clock)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyList<CurrencyTotals>? _totals;
    private long _readAt;

    public async Task<IReadOnlyList<CurrencyTotals>> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_totals is null || clock.GetElapsedTime(_readAt) >= MaxAge)
            {
                _totals = await ledger.TotalsAsync(cancellationToken);
                _readAt = clock.GetTimestamp();
            }

            return _totals;
        }
        finally
        {
            _gate.Release();
        }
    }
}
