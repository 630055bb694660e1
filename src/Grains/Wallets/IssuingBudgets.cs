using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Which accounts that issue money (<c>@treasury</c>, <c>@promotions</c>) have a budget, as this silo
/// knows it. Without one such an account gives without a word, its legs posted in SQL at commit;
/// with one, every movement it gives to first has its grain set the amount aside (as for accounts
/// that may not go negative), so the budget is decided before the commit. A budget set through this
/// silo counts at once; one set through another silo within <see cref="Period"/>. Until then the
/// row's no-overdraw check still holds the budget: a movement past it fails its commit and is
/// tried again, and by then it is set aside.
/// </summary>
internal sealed partial class IssuingBudgets(IServiceProvider services, ILogger<IssuingBudgets> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private volatile HashSet<string> _budgeted = new(StringComparer.Ordinal);
    private long _changes;
    private bool _failing;

    /// <summary>Whether <paramref name="walletId"/> issues money within a budget.</summary>
    public bool IsBudgeted(string walletId) => _budgeted.Contains(walletId);

    /// <summary>A budget this silo set or removed, counted before the next read.</summary>
    public void Changed(string walletId, bool budgeted)
    {
        lock (_lock)
        {
            var next = new HashSet<string>(_budgeted, StringComparer.Ordinal);
            if (budgeted ? next.Add(walletId) : next.Remove(walletId))
            {
                _budgeted = next;
            }

            _changes++;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                // The database is found at the first read: a silo's own database starts after its hosted services are made.
                long changes;
                lock (_lock)
                {
                    changes = _changes;
                }

                var read = await services.GetRequiredService<WalletStore>().ReadBudgetedIssuersAsync(stoppingToken);
                lock (_lock)
                {
                    // A read that may have begun before a change made here is dropped; the next one has it.
                    if (changes == _changes)
                    {
                        _budgeted = read;
                    }
                }

                _failing = false;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // What was read last stays; the rows' check holds the budgets meanwhile.
                if (!_failing)
                {
                    LogFailed(logger, exception);
                    _failing = true;
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading which money-issuing accounts have a budget failed; it is read again every second")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
