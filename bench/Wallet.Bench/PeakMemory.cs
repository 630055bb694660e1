using System.Diagnostics;

namespace Wallet.Bench;

/// <summary>
/// How far the bench process's resident memory (the silo is in it) rises above where it was when
/// this started, sampled every 50 ms until disposed.
/// </summary>
public sealed class PeakMemory : IAsyncDisposable
{
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(50);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;
    private readonly long _before;
    private long _peak;

    public PeakMemory()
    {
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        _before = _peak = self.WorkingSet64;
        _sampler = Task.Run(async () =>
        {
            using var process = Process.GetCurrentProcess();
            while (!_stop.IsCancellationRequested)
            {
                process.Refresh();
                _peak = Math.Max(_peak, process.WorkingSet64);
                await Task.Delay(SamplePeriod, CancellationToken.None);
            }
        });
    }

    /// <summary>The highest rise seen so far, in bytes.</summary>
    public long GrowthBytes => _peak - _before;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        _stop.Dispose();
    }
}
